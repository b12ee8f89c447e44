"""Helpers for tests that publish against the fake: a dict-backed RemoteIds,
a config pointing at the fake, tiny images, requests."""

from __future__ import annotations

import hashlib
import io
import threading
from pathlib import Path

from PIL import Image

from integrations.shopify.config import PublishParams, ShopifyConfig
from integrations.shopify.publish import PublishRequest

TOKEN = "shpat_fake_static_token_0123456789"


class DictIds:
    """RemoteIds in memory; ``log`` keeps every put in order."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.log: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def get(self, key: str) -> str | None:
        return self.values.get(key)

    def put(self, key: str, value: str) -> None:
        with self._lock:
            self.values[key] = value
            self.log.append((key, value))


class Crash(Exception):
    """The process died right after a journal commit."""


class CrashAfter(DictIds):
    """Commits the put, then 'crashes' when ``key`` is stored (with ``value``,
    when one is given: ``""`` is a key being cleared)."""

    def __init__(self, key: str, value: str | None = None) -> None:
        super().__init__()
        self.key = key
        self.value = value

    def put(self, key: str, value: str) -> None:
        super().put(key, value)
        if key == self.key and self.value in (None, value):
            self.key = None
            raise Crash(key)


def shop_config(url: str, **changes) -> ShopifyConfig:
    values = dict(enabled=True, admin_url=url, timeout=2.0, retry_initial=0.01, retry_max=0.05,
                  poll_interval=0.005, poll_timeout=5.0, max_retry_seconds=30.0)
    values.update(changes)
    return ShopifyConfig(**values)


def tiny_image(folder: Path, name: str, seed: int = 0, fmt: str = "JPEG") -> tuple[Path, str]:
    """An 8x8 image with distinct bytes per seed, and its sha256."""
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (seed % 256, (seed * 7) % 256, (seed * 13) % 256)).save(buf, fmt)
    path = folder / name
    path.write_bytes(buf.getvalue() + seed.to_bytes(4, "big"))  # trailing bytes keep hashes distinct
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


def request_for(path: Path, sha: str, product_key: str, *, view: str | None = "front", index: int | None = 0,
                job_id: str = "1", category: str = "cameras", params: PublishParams | None = None,
                fields: dict | None = None) -> PublishRequest:
    return PublishRequest(job_id=job_id, image_path=path, image_sha256=sha, category=category,
                          product_key=product_key, view=view, index=index, fields=fields or {},
                          params=params or PublishParams())
