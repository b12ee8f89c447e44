"""What to do after a job's stage raised, read off the exception's type.

    Superseded              the original changed or vanished: forget this version
    BadPhoto, too large     the photo can never succeed: quarantine it now, with its reason
                            (CannotCut: the pipeline's NoCutout answer, e.g. no sweep)
    a permanent Shopify no  the shop needs a person: needs_review (kind "product")
    Transient               disk full, a folder that cannot be written or read, Shopify
                            down, throttled or answering 5xx, a model failing at run
                            time (the GPU out of memory): wait and try again, with
                            capped backoff, for as long as it takes -- an outage is not a
                            bad photo
    anything else           unexpected (a bug, an odd file): retried, then quarantined
                            after ``workers.max_attempts``
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from pipeline.errors import BadPhoto, OutputTooLarge, SegmenterError, TruncatedImage

if TYPE_CHECKING:  # pipeline.segment pulls in numpy and OpenCV: not at CLI start-up
    from pipeline.segment import NoCutout


class JobError(Exception):
    """Root of the worker's own errors."""

    transient = False


class Superseded(JobError):
    """The original changed (or vanished) after intake: this version never settled."""


class Transient(JobError):
    """Something outside the photo is wrong for now; the job waits and tries again."""

    transient = True


class OutputUnavailable(Transient):
    """The output folder cannot be written (missing, not a folder, full, read-only)."""


class OriginalUnreadable(Transient):
    """The original cannot be read right now (permissions, a share gone away)."""


class CannotCut(BadPhoto):
    """The pipeline answered that this photo cannot be cut out (``NoCutout``):
    the same bytes will get the same answer, so the job ends in quarantine with
    the answer's reason."""

    def __init__(self, answer: NoCutout) -> None:
        super().__init__(answer.reason)
        self.kind = answer.kind
        self.reason = answer.kind.replace("-", " ")  # "no sweep", "no product"


class Verdict(StrEnum):
    FORGET = "forget"
    QUARANTINE = "quarantine"
    REVIEW = "review"
    WAIT = "wait"    # transient: no limit on attempts
    RETRY = "retry"  # unexpected: limited by workers.max_attempts


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` says the world, not the photo, is at fault for now."""
    if isinstance(exc, (Transient, OSError, MemoryError, SegmenterError)):
        return True  # a model that fails at run time: the GPU out of memory, a driver reset
    from daemon.journal import JournalError
    if isinstance(exc, JournalError):
        return True
    try:
        from integrations.shopify.errors import PublishError
    except ImportError:  # pragma: no cover - a build without the Shopify client
        return False
    return isinstance(exc, PublishError) and not exc.permanent


def verdict(exc: BaseException, attempts: int, max_attempts: int) -> Verdict:
    """What to do after a stage raised ``exc`` on the ``attempts``-th try."""
    if isinstance(exc, Superseded):
        return Verdict.FORGET
    if isinstance(exc, TruncatedImage) and attempts <= 1:
        return Verdict.RETRY  # perhaps still being written after a long pause: look once more
    if isinstance(exc, (BadPhoto, OutputTooLarge)):
        return Verdict.QUARANTINE
    if getattr(exc, "permanent", None) is True:
        return Verdict.REVIEW  # the photo is fine; the shop needs a person (scope, product state...)
    if is_transient(exc):
        return Verdict.WAIT
    return Verdict.RETRY if attempts < max_attempts else Verdict.QUARANTINE
