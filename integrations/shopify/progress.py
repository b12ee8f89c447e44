"""How far one job's publish has got: a typed, versioned record kept in the journal.

The publish flow saves a new ``Progress`` after every step on Shopify, through
a ``ProgressStore`` that makes it durable before it returns, so a restart after
any step picks up where it stopped and never repeats a step that took.

A record is plain JSON (``to_dict`` / ``from_dict``) with a ``version``.
``from_dict`` also reads the record earlier releases kept (string values, '-'
for "done, nothing to do", comma-joined lists), so a job published by one of
them is carried on, not started again.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Literal, Protocol

from pydantic import BaseModel, ConfigDict

from .media import name_hash

VERSION = 2


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Upload(_Record):
    """Image bytes on Shopify's staged upload target, not yet in a file."""

    resource_url: str
    filename: str
    sha256: str | None = None  # None: staged by a release that did not record it
    size: int | None = None


class Replacement(_Record):
    """New bytes for the file already on the product (``fileUpdate originalSource``)."""

    resource_url: str
    sha256: str
    size: int
    pending: bool = False          # the update may have been sent: look before sending it again
    size_before: int | None = None  # the file's size when it was sent
    updated_before: str | None = None  # and its updatedAt


class Progress(_Record):
    """One job's publish progress. Every operation returns a new record."""

    version: Literal[2] = VERSION
    # the product
    product_id: str | None = None
    product_title: str | None = None
    variant_id: str | None = None   # the single variant the product key matched
    candidates: tuple[dict[str, Any], ...] = ()  # near misses, for whoever runs 'booth link'
    # the file
    upload: Upload | None = None
    file_name: str | None = None    # the name the file is (being) created under
    file_pending: bool = False      # fileCreate may have been sent: look before sending it again
    file_id: str | None = None
    published_sha256: str | None = None  # the bytes the file holds (live once attached)
    published_size: int | None = None    # their length
    failed_files: tuple[str, ...] = ()   # files deleted as FAILED: the media retries spent
    media_error: str | None = None       # Shopify's reason the last one FAILED
    replacement: Replacement | None = None
    # the file on the product
    attach_pending: bool = False
    attached: bool = False
    detached: tuple[str, ...] | None = None  # media the replace policy took off (None: not done yet)
    variant_pending: bool = False
    variant_media: Literal["assigned", "skipped"] | None = None
    reordered: bool = False

    # ------------------------------------------------------------------ reading

    @property
    def published(self) -> bool:
        """A READY file is on the product (only a READY file can be attached)."""
        return self.attached and self.file_id is not None

    @property
    def superseded(self) -> bool:
        """The replace policy took this job's own image off again: a later job's image of the view is there."""
        return self.file_id is not None and self.file_id in (self.detached or ())

    def holds(self, sha256: str) -> bool:
        """Whether the file holds these bytes. A record from before the sha256 was
        kept knows only the 8 digits in the file's name."""
        if self.published_sha256 is not None:
            return self.published_sha256 == sha256
        return self.file_id is not None and name_hash(self.file_name) == sha256[:8]

    # ------------------------------------------------------------------ steps

    def advance(self, **changes: Any) -> "Progress":
        """The record with ``changes`` (field names as above), validated."""
        return self.model_validate({**self.model_dump(), **changes})

    def with_product(self, product_id: str, title: str | None = None, variant_id: str | None = None) -> "Progress":
        return self.advance(product_id=product_id, product_title=title, variant_id=variant_id, candidates=())

    def needing_review(self, candidates: list[dict[str, Any]]) -> "Progress":
        return self.advance(candidates=tuple(candidates))

    def reset_after_product(self) -> "Progress":
        """The steps after the product start over (``booth link`` then sets
        another product with ``with_product``); the uploaded file is kept and reused."""
        return self.advance(product_title=None, variant_id=None, candidates=(),
                            attach_pending=False, attached=False, detached=None, variant_pending=False,
                            variant_media=None, reordered=False)

    def creating(self, upload: Upload) -> "Progress":
        """The bytes are staged and fileCreate is about to be sent (the pending marker)."""
        return self.advance(upload=upload.model_dump(), file_name=upload.filename, file_pending=True)

    def created(self, file_id: str) -> "Progress":
        upload = self.upload or Upload(resource_url="", filename="")
        return self.advance(file_id=file_id, file_pending=False, upload=None, published_sha256=upload.sha256,
                            published_size=upload.size)

    def file_failed(self, file_id: str, message: str) -> "Progress":
        """One media retry spent on ``file_id``: it is listed before it is deleted,
        so the list is the retry counter and its own crash marker in one save."""
        failed = self.failed_files if file_id in self.failed_files else (*self.failed_files, file_id)
        return self.advance(failed_files=failed, media_error=message)

    def file_discarded(self) -> "Progress":
        """The file is gone (deleted as FAILED): the image is staged and created
        again, and every step after it runs again for the new file."""
        return self.advance(upload=None, file_name=None, file_pending=False, file_id=None, published_sha256=None,
                            published_size=None, replacement=None, attach_pending=False, attached=False, detached=None,
                            variant_pending=False, variant_media=None, reordered=False)

    def replacing(self, replacement: Replacement) -> "Progress":
        return self.advance(replacement=replacement.model_dump())

    def replaced(self) -> "Progress":
        """The file now holds the replacement's bytes, READY."""
        return self.advance(published_sha256=self.replacement.sha256, published_size=self.replacement.size,
                            replacement=None)

    # ------------------------------------------------------------------ JSON

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> "Progress":
        """A record as ``to_dict`` wrote it, or as earlier releases kept it
        (no ``version``); ValueError naming the problem for anything else."""
        data = dict(data or {})
        version = data.get("version")
        if version is None:
            return _from_legacy(data)
        if version != VERSION:
            raise ValueError(f"publish progress version {version!r} is not one this booth reads ({VERSION})")
        return cls.model_validate(data)


# ---------------------------------------------------------------------- stores

class ProgressStore(Protocol):
    """Where one job's progress is kept."""

    def load(self) -> Progress: ...

    def save(self, progress: Progress) -> None:
        """Durable before it returns: the flow saves after every step on Shopify."""
        ...


class DictProgressStore:
    """A ``ProgressStore`` over any store of one JSON object per job, such as
    the journal (``journal.remote(job_id)`` / ``journal.set_remote(job_id, data)``)."""

    def __init__(self, load_dict: Callable[[], dict], save_dict: Callable[[dict], None]) -> None:
        self._load_dict = load_dict
        self._save_dict = save_dict

    def load(self) -> Progress:
        return Progress.from_dict(self._load_dict())

    def save(self, progress: Progress) -> None:
        self._save_dict(progress.to_dict())


# ---------------------------------------------------------------------- the record before versions

LEGACY_KEYS = ("product_id", "variant_id", "product_title", "candidates", "staged_resource_url", "file_pending",
               "file_id", "attach_pending", "attached", "replaced", "variant_pending", "variant_media",
               "reordered", "failed_files", "media_error")


def _from_legacy(data: dict[str, Any]) -> Progress:
    """The key-by-key record (``LEGACY_KEYS``): every value a string, '' for
    "not done", '-' for "done, nothing to do", lists comma-joined, the
    candidates as a JSON string. Other keys carried nothing the flow read."""
    def text(key: str) -> str | None:
        value = data.get(key)
        return str(value) if value not in (None, "") else None

    def listed(key: str) -> tuple[str, ...]:
        return tuple(v for v in (text(key) or "").split(",") if v and v != "-")

    file_id, file_name, staged = text("file_id"), text("file_pending"), text("staged_resource_url")
    upload = None
    if staged:
        upload = Upload(resource_url=staged, filename=file_name or staged.rsplit("/", 1)[-1])
    replaced = text("replaced")
    variant = text("variant_media")
    return Progress(
        product_id=text("product_id"), product_title=text("product_title"), variant_id=text("variant_id"),
        candidates=_candidates(data.get("candidates")),
        upload=upload if not file_id else None, file_name=file_name,
        file_pending=bool(file_name) and not file_id, file_id=file_id,
        failed_files=listed("failed_files"), media_error=text("media_error"),
        attach_pending=bool(text("attach_pending")) and not text("attached"), attached=bool(text("attached")),
        detached=None if replaced is None else listed("replaced"),
        variant_pending=bool(text("variant_pending")) and not variant,
        variant_media=None if variant is None else ("skipped" if variant == "-" else "assigned"),
        reordered=bool(text("reordered")),
    )


def _candidates(value: Any) -> tuple[dict[str, Any], ...]:
    if isinstance(value, str):
        try:
            value = json.loads(value) if value else []
        except ValueError:
            return ()
    return tuple(c for c in value or () if isinstance(c, dict)) if isinstance(value, (list, tuple)) else ()
