"""The model registry: which segmentation models booth knows, where to get
them, how to check them, and under what licence they may be used.

``fetch`` downloads into ``<models_dir>/<name>.onnx.part`` (resuming a partial
file with an HTTP Range request), checks the hash, and only then moves the
file into place atomically: a file whose hash does not match is discarded and
never installed. ``resolver(models_dir)`` gives ``build_segmenter`` the
installed, verified file for a name, and refuses anything else.

A model whose hash is not published cannot be verified: ``fetch`` refuses it
unless told ``trust_unverified``, and then records the sha256 of what it got
beside the file (trust on first use) so later checks catch any change.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import httpx
import structlog


log = structlog.get_logger("models")

DEFAULT_MODEL = "birefnet-general"
HF_HOSTS = ("huggingface.co", "hf.co")  # hosts that get HF_TOKEN as a Bearer token
_RELEASES = "https://github.com/danielgatis/rembg/releases/download/v0.0.0"


# --------------------------------------------------------------------------- errors


class ModelError(Exception):
    """Root: a model could not be found, fetched or trusted."""


class UnknownModel(ModelError):
    pass


class NotInstalled(ModelError):
    pass


class NoDownload(ModelError):
    """The registry knows no URL for this model."""


class UnverifiedModel(ModelError):
    """The model's hash is not known, so its file cannot be checked."""


class HashMismatch(ModelError):
    """The file is not the one the registry describes; it is refused."""


class DownloadFailed(ModelError):
    """The transfer failed; a partial file is kept for the next attempt to resume."""


# --------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class ModelEntry:
    name: str
    url: str | None
    hash: str | None  # "md5:<hex>" or "sha256:<hex>"; None = not published
    size_mb: float  # approximate, for display; the server's Content-Length drives the progress bar
    licence: str
    commercial_use: bool | None  # None: the weights' terms are not stated
    note: str = ""

    @property
    def filename(self) -> str:
        return f"{self.name}.onnx"

    @property
    def licence_warning(self) -> str | None:
        if self.commercial_use is False:
            return (f"LICENCE: {self.name} is licensed {self.licence}, NOT for commercial use; a store "
                    f"needs a commercial licence from the rights holder (or use {DEFAULT_MODEL}, MIT)")
        if self.commercial_use is None:
            return (f"LICENCE: the terms of {self.name}'s weights are not stated ({self.licence}); "
                    "check them before commercial use")
        return None


REGISTRY: dict[str, ModelEntry] = {e.name: e for e in (
    ModelEntry("birefnet-general", f"{_RELEASES}/BiRefNet-general-epoch_244.onnx",
               "md5:7a35a0141cbbc80de11d9c9a28f52697", 973, "MIT", True, "recommended; 1024 px"),
    ModelEntry("birefnet-lite", f"{_RELEASES}/BiRefNet-general-bb_swin_v1_tiny-epoch_232.onnx",
               "md5:4fab47adc4ff364be1713e97b7e66334", 224, "MIT", True, "Swin-T backbone: faster, coarser"),
    ModelEntry("birefnet-massive", f"{_RELEASES}/BiRefNet-massive-TR_DIS5K_TR_TEs-epoch_420.onnx",
               "md5:33e726a2136a3d59eb0fdf613e31e3e9", 973, "MIT", True, "trained on more data"),
    ModelEntry("birefnet-hr", None, None, 973, "MIT", True,
               "2048 px; no published ONNX: export it and set segmenter.path"),
    ModelEntry("isnet-general-use", f"{_RELEASES}/isnet-general-use.onnx",
               "md5:fc16ebd8b0c10d971d3513d564d01e29", 176, "Apache-2.0 code, weights unstated", None),
    ModelEntry("u2net", f"{_RELEASES}/u2net.onnx",
               "md5:60024c5c889badc19c04ad937298a77b", 176, "Apache-2.0", True, "320 px, older"),
    ModelEntry("u2netp", f"{_RELEASES}/u2netp.onnx",
               "md5:8e83ca70e441ab06c318d82300c84806", 4.6, "Apache-2.0", True, "320 px, tiny"),
    ModelEntry("rmbg-1.4", "https://huggingface.co/briaai/RMBG-1.4/resolve/main/onnx/model.onnx", None, 176,
               "bria-rmbg-1.4 (non-commercial)", False, "gated on Hugging Face: needs HF_TOKEN"),
    ModelEntry("rmbg-2.0", f"{_RELEASES}/bria-rmbg-2.0.onnx",
               "sha256:5b486f08200f513f460da46dd701db5fbb47d79b4be4b708a19444bcd4e79958", 1024,
               "CC BY-NC 4.0", False, "BiRefNet architecture"),
)}


def entry(name: str, registry: dict[str, ModelEntry] | None = None) -> ModelEntry:
    registry = REGISTRY if registry is None else registry
    try:
        return registry[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(registry), n=1)
        hint = f"did you mean {close[0]!r}?" if close else "see `booth models list`"
        raise UnknownModel(f"no model named {name!r} in the registry ({hint})") from None


def installed_path(name: str, models_dir: Path) -> Path:
    return Path(models_dir) / f"{name}.onnx"


# --------------------------------------------------------------------------- hashes


def parse_hash(value: str) -> tuple[str, str]:
    algo, _, digest = value.partition(":")
    if algo not in ("md5", "sha256") or not digest:
        raise ValueError(f"hash {value!r} is not 'md5:<hex>' or 'sha256:<hex>'")
    return algo, digest.lower()


def file_hash(path: Path, algo: str = "sha256") -> str:
    with open(path, "rb") as f:
        return f"{algo}:{hashlib.file_digest(f, algo).hexdigest()}"


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".hash.json")


def _read_sidecar(path: Path) -> dict:
    try:
        return json.loads(_sidecar(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _write_sidecar(path: Path, digest: str, trusted: bool) -> None:
    """Record what was verified (and the file's size and mtime, so a start-up
    check can skip re-hashing a gigabyte that has not changed)."""
    st = path.stat()
    record = {"hash": digest, "size": st.st_size, "mtime_ns": st.st_mtime_ns, "trusted_on_first_use": trusted}
    tmp = _sidecar(path).with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1), encoding="utf-8")
    os.replace(tmp, _sidecar(path))


def expected_hash(model: ModelEntry, path: Path) -> str | None:
    """The registry's hash, else the one recorded when the file was trusted on first use."""
    if model.hash:
        return model.hash
    record = _read_sidecar(path)
    return record.get("hash") if record.get("trusted_on_first_use") else None


# --------------------------------------------------------------------------- verify


@dataclass(frozen=True)
class Verification:
    name: str
    path: Path
    status: Literal["ok", "missing", "mismatch", "unverified"]
    message: str

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def verify(model: str | ModelEntry, models_dir: Path, *, full: bool = True) -> Verification:
    """Check the installed file against its hash. ``full=False`` trusts an
    unchanged file (same size and mtime as when it was last verified)."""
    model = model if isinstance(model, ModelEntry) else entry(model)
    path = installed_path(model.name, models_dir)
    if not path.is_file():
        return Verification(model.name, path, "missing",
                            f"{model.name}: not installed ({path}); run `booth models fetch {model.name}`")
    expected = expected_hash(model, path)
    if expected is None:
        return Verification(model.name, path, "unverified",
                            f"{model.name}: {path} cannot be verified: no published hash and none recorded "
                            "(fetch it with --trust-unverified, or point segmenter.path at your own file)")
    algo, _ = parse_hash(expected)
    record, st = _read_sidecar(path), path.stat()
    if not full and record.get("hash") == expected and record.get("size") == st.st_size \
            and record.get("mtime_ns") == st.st_mtime_ns:
        return Verification(model.name, path, "ok", f"{model.name}: ok ({expected}, unchanged since verified)")
    actual = file_hash(path, algo)
    if actual != expected:
        return Verification(model.name, path, "mismatch",
                            f"{model.name}: HASH MISMATCH in {path}: expected {expected}, got {actual}; "
                            "the file is refused and will not be loaded (delete it and fetch it again)")
    _write_sidecar(path, expected, trusted=model.hash is None)
    return Verification(model.name, path, "ok", f"{model.name}: ok ({expected})")


def installed_state(model: ModelEntry, models_dir: Path) -> str:
    """'not installed', 'verified' or 'not verified', without hashing anything."""
    path = installed_path(model.name, models_dir)
    if not path.is_file():
        return "not installed"
    record, st = _read_sidecar(path), path.stat()
    unchanged = record.get("size") == st.st_size and record.get("mtime_ns") == st.st_mtime_ns
    return "verified" if unchanged and record.get("hash") == expected_hash(model, path) else "not verified"


def resolver(models_dir: Path, registry: dict[str, ModelEntry] | None = None) -> Callable[[str], Path]:
    """``resolve(name) -> Path`` for ``build_segmenter``: the installed file, verified
    (quick check when unchanged), with the licence warning logged. Raises
    ``ModelError`` (not installed, unverifiable, hash mismatch) otherwise."""

    def resolve(name: str) -> Path:
        model = entry(name, registry)
        if model.licence_warning:
            log.warning(model.licence_warning, model=name, licence=model.licence)
        result = verify(model, models_dir, full=False)
        if result.status == "mismatch":
            raise HashMismatch(result.message)
        if result.status == "unverified":
            raise UnverifiedModel(result.message)
        if result.status == "missing":
            raise NotInstalled(result.message)
        return result.path

    return resolve


# --------------------------------------------------------------------------- fetch


def auth_headers(url: str, token: str | None, token_hosts: Iterable[str] = HF_HOSTS) -> dict[str, str]:
    """``Authorization: Bearer`` for hosts that need a token (Hugging Face's gated
    models); httpx drops it again if a redirect leaves the host (the CDN)."""
    host = urlsplit(url).hostname or ""
    if token and any(host == h or host.endswith("." + h) for h in token_hosts):
        return {"Authorization": f"Bearer {token}"}
    return {}


def fetch(
    model: str | ModelEntry,
    models_dir: Path,
    *,
    trust_unverified: bool = False,
    progress: bool = True,
    token: str | None = None,
    token_hosts: Iterable[str] = HF_HOSTS,
    attempts: int = 3,
    timeout: float = 60.0,
) -> Path:
    """Download, verify and install ``model``; returns the installed path.

    ``token`` defaults to ``$HF_TOKEN``. A dropped connection is retried
    ``attempts`` times, each resuming where the last stopped; after the last
    the partial file stays for the next ``fetch`` to resume."""
    model = model if isinstance(model, ModelEntry) else entry(model)
    if model.url is None:
        raise NoDownload(f"{model.name}: no download is known ({model.note or 'none published'}); "
                         "place the file yourself and set segmenter.path to it")
    if model.hash is None and not trust_unverified:
        raise UnverifiedModel(
            f"{model.name}: no published hash, so the download could not be verified; refusing it. "
            "Pass --trust-unverified to accept it: its sha256 is then recorded and checked from then on")
    models_dir = Path(models_dir)
    models_dir.mkdir(parents=True, exist_ok=True)
    dest = installed_path(model.name, models_dir)
    part = dest.with_name(dest.name + ".part")
    token = token if token is not None else os.environ.get("HF_TOKEN") or None
    headers = auth_headers(model.url, token, token_hosts)
    for attempt in range(1, attempts + 1):
        try:
            _download(model, part, headers, progress, timeout)
            break
        except httpx.TransportError as exc:
            kept = part.stat().st_size if part.exists() else 0
            if attempt == attempts:
                raise DownloadFailed(f"{model.name}: download failed ({type(exc).__name__}: {exc}); "
                                     f"{kept} bytes kept in {part}: run fetch again to resume") from exc
            log.warning("download interrupted, resuming", model=model.name, attempt=attempt, kept_bytes=kept)
            time.sleep(min(2 ** attempt, 10) / 10)
    return _install(model, part, dest)


def _download(model: ModelEntry, part: Path, headers: dict[str, str], progress: bool, timeout: float) -> None:
    from tqdm import tqdm

    have = part.stat().st_size if part.exists() else 0
    request_headers = dict(headers)
    if have:
        request_headers["Range"] = f"bytes={have}-"
    with httpx.Client(follow_redirects=True, timeout=httpx.Timeout(timeout, connect=30.0)) as client, \
            client.stream("GET", model.url, headers=request_headers) as response:
        status = response.status_code
        if status == 416 and have:
            return  # the partial file is already complete: nothing left to send
        if status in (401, 403):
            raise DownloadFailed(f"{model.name}: {model.url} answered HTTP {status}: the host wants a login; "
                                 "set HF_TOKEN to a token whose account accepted the model's terms")
        if status not in (200, 206):
            raise DownloadFailed(f"{model.name}: {model.url} answered HTTP {status}")
        if status == 206 and not response.headers.get("content-range", "").startswith(f"bytes {have}-"):
            part.unlink(missing_ok=True)  # a range we did not ask for: start over on the next attempt
            raise httpx.TransportError(f"unexpected Content-Range {response.headers.get('content-range')!r}")
        if status == 200:
            have = 0  # the server ignored the range and sends the whole file: start over
        length = response.headers.get("content-length")
        total = have + int(length) if length and length.isdigit() else None
        with open(part, "ab" if have else "wb") as f, tqdm(
                total=total, initial=have, unit="B", unit_scale=True, unit_divisor=1024,
                desc=model.name, disable=not progress, leave=True) as bar:
            for chunk in response.iter_bytes():  # as received: a drop loses nothing already read
                f.write(chunk)
                bar.update(len(chunk))
            f.flush()
            os.fsync(f.fileno())


def _install(model: ModelEntry, part: Path, dest: Path) -> Path:
    """Verify ``part`` and move it into place; a mismatch deletes it, never installs it."""
    if model.hash:
        algo, _ = parse_hash(model.hash)
        actual = file_hash(part, algo)
        if actual != model.hash:
            part.unlink(missing_ok=True)
            raise HashMismatch(f"{model.name}: HASH MISMATCH: expected {model.hash}, got {actual}; "
                               "the download was discarded and not installed")
        digest, trusted = model.hash, False
    else:
        digest, trusted = file_hash(part, "sha256"), True
        log.warning("installing an unverified model (trusted on first use)", model=model.name, sha256=digest)
    os.replace(part, dest)  # atomic: a loader never sees half a model
    folder = os.open(dest.parent, os.O_RDONLY)  # and durable
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
    _write_sidecar(dest, digest, trusted)
    return dest
