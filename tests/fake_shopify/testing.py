"""Helpers for tests that publish against the fake: a progress store in memory
(kept as JSON, the way the journal keeps it), one that 'crashes' after a
chosen save, a config pointing at the fake, tiny images, requests."""

from __future__ import annotations

import hashlib
import io
import json
import threading
from pathlib import Path

from PIL import Image

from integrations.shopify.config import PublishParams, ShopifyConfig
from integrations.shopify.progress import DictProgressStore, Progress
from integrations.shopify.publish import PublishRequest

TOKEN = "shpat_fake_static_token_0123456789"
ANY = object()


class MemoryStore(DictProgressStore):
    """A ``ProgressStore`` holding one JSON text, like a journal row; ``saves``
    keeps every saved record in order."""

    def __init__(self, data: dict | None = None) -> None:
        self.text = json.dumps(data or {})
        self.saves: list[Progress] = []
        self._lock = threading.Lock()
        super().__init__(lambda: json.loads(self.text), self._write)

    def _write(self, data: dict) -> None:
        with self._lock:
            self.text = json.dumps(data)
            self.saves.append(Progress.from_dict(data))

    @property
    def progress(self) -> Progress:
        return self.load()

    @property
    def data(self) -> dict:
        return json.loads(self.text)


class Crash(Exception):
    """The process died right after a journal commit."""


class CrashAfter(MemoryStore):
    """Commits the save, then 'crashes', the first time a save changes ``field``
    (to ``value``, when one is given; ``value`` may also be a test of the new
    value). Only once: the next process goes on."""

    def __init__(self, field: str, value: object = ANY, data: dict | None = None) -> None:
        super().__init__(data)
        self.field, self.value = field, value

    def save(self, progress: Progress) -> None:
        if self.field is None:
            return super().save(progress)
        before = getattr(self.load(), self.field)
        super().save(progress)
        after = getattr(progress, self.field)
        wanted = self.value(after) if callable(self.value) else self.value in (ANY, after)
        if after != before and wanted:
            field, self.field = self.field, None
            raise Crash(f"after saving {field} = {after!r}")


def shop_config(url: str, **changes) -> ShopifyConfig:
    values = dict(enabled=True, admin_url=url, timeout=2.0, retry_initial=0.01, retry_max=0.05,
                  poll_interval=0.005, poll_timeout=5.0, max_retry_seconds=30.0)
    values.update(changes)
    return ShopifyConfig(**values)


def tiny_image(folder: Path, name: str, seed: int = 0, fmt: str = "JPEG", pad: int = 0) -> tuple[Path, str]:
    """An 8x8 image with distinct bytes per seed (``pad`` more bytes make it
    larger), and its sha256."""
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (seed % 256, (seed * 7) % 256, (seed * 13) % 256)).save(buf, fmt)
    path = folder / name
    path.write_bytes(buf.getvalue() + seed.to_bytes(4, "big") + b"\0" * pad)  # trailing bytes keep hashes distinct
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


def request_for(path: Path, sha: str, product_key: str, *, view: str | None = "front", index: int | None = 0,
                job_id: str = "1", category: str = "cameras", params: PublishParams | None = None,
                fields: dict | None = None) -> PublishRequest:
    return PublishRequest(job_id=job_id, image_path=path, image_sha256=sha, category=category,
                          product_key=product_key, view=view, index=index, fields=fields or {},
                          params=params or PublishParams())
