"""The exception tree of the image pipeline.

Retry and quarantine decisions read off the type: a ``BadPhoto`` will fail the
same way every time (quarantine it), anything else under ``PipelineError`` may
succeed on a later attempt.
"""


class PipelineError(Exception):
    """Root of every error the pipeline raises on purpose."""


class BadPhoto(PipelineError):
    """The input itself is unusable; retrying the same bytes cannot help."""

    reason = "bad photo"


class NotAnImage(BadPhoto):
    reason = "not an image"


class TruncatedImage(BadPhoto):
    reason = "truncated image"


class TooManyPixels(BadPhoto):
    reason = "too many pixels"


class EmptyFile(BadPhoto):
    reason = "empty file"


class FileTooLarge(BadPhoto):
    reason = "file too large"


class UnsupportedImage(BadPhoto):
    reason = "unsupported image"


class OutputTooLarge(PipelineError):
    """The encoder could not meet the byte cap even at its lowest quality."""


class SegmenterError(PipelineError):
    """A segmenter could not be built or failed at run time."""
