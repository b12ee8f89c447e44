"""The contract every segmenter meets, and helpers they share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import cv2
import numpy as np


@dataclass(frozen=True)
class Doubt:
    """One thing a segmenter (or the confidence check) finds suspicious about a cut-out.

    ``kind``     a stable id, e.g. ``white-on-white``, ``shadow-kept``, ``frame-edge``,
                 ``fragmented``, ``undecided-edge``, ``sweep-fit``.
    ``severity`` 0..1, how strongly it says the cut-out is wrong (1: surely wrong).
    ``reason``   a short sentence for the person reviewing it, in the store's words.
    """

    kind: str
    severity: float
    reason: str

    def __post_init__(self) -> None:
        if not self.kind or not self.reason:
            raise ValueError("a doubt needs a kind and a reason")
        if not 0.0 <= self.severity <= 1.0:
            raise ValueError(f"severity must be in [0, 1], got {self.severity}")


@dataclass(frozen=True)
class Segmentation:
    """What a segmenter says about one photo, at its working resolution.

    ``alpha``      float32 HxW in [0, 1]: 1 is product, 0 is sweep. Same aspect
                   ratio as the photo, any size (the refine stage upsamples it).
    ``background`` float32 HxWx3 sRGB 0..255, the sweep as it would look with no
                   product in front of it (same size as ``alpha``), or None when
                   unknown; used to decontaminate edge colours.
    ``shadow``     float32 HxW in [0, 1], the photo's own shadow on the sweep
                   (0 = lit sweep, 1 = black), or None when the segmenter cannot
                   tell; used by the ``keep-original`` shadow mode.
    ``doubts``     what the segmenter itself found suspicious about this cut-out
                   (``pipeline.confidence.assess`` weighs them); empty when nothing.
    """

    alpha: np.ndarray
    background: np.ndarray | None = None
    shadow: np.ndarray | None = None
    doubts: tuple[Doubt, ...] = ()

    def __post_init__(self) -> None:
        a = self.alpha
        if a.ndim != 2 or a.dtype != np.float32:
            raise ValueError(f"alpha must be a 2-D float32 array, got {a.dtype} {a.shape}")
        for name in ("background", "shadow"):
            extra = getattr(self, name)
            if extra is not None and extra.shape[:2] != a.shape:
                raise ValueError(f"{name} is {extra.shape[:2]}, alpha is {a.shape}")
        if not isinstance(self.doubts, tuple) or not all(isinstance(d, Doubt) for d in self.doubts):
            raise ValueError("doubts must be a tuple of Doubt")


NO_SWEEP = "no-sweep"
NO_PRODUCT = "no-product"


@dataclass(frozen=True)
class NoCutout:
    """The honest answer that a photo cannot be cut out: an expected outcome
    (a photo shot off the sweep, an empty sweep), not an error.

    ``kind``   a stable id: ``NO_SWEEP`` (nothing light to cut against),
               ``NO_PRODUCT`` (nothing in front of the sweep).
    ``reason`` what a person can do about it, in the store's words.
    """

    kind: str
    reason: str

    def __post_init__(self) -> None:
        if not self.kind or not self.reason:
            raise ValueError("a NoCutout needs a kind and a reason")


@runtime_checkable
class Segmenter(Protocol):
    """Cuts the product out of a photo.

    Built once per process (a model session is expensive), then called for every
    photo. ``segment`` takes an HxWx3 uint8 sRGB array at full resolution, never
    modifies it, and returns a :class:`Segmentation`, or :class:`NoCutout` when
    the photo cannot be cut out at all.
    """

    name: str

    def segment(self, rgb: np.ndarray) -> Segmentation | NoCutout: ...


def working_size(shape: tuple[int, ...], long_side: int) -> tuple[int, int]:
    """(width, height) that fits ``long_side`` keeping the aspect ratio; never upscales."""
    h, w = shape[:2]
    scale = min(1.0, long_side / max(h, w))
    return max(1, round(w * scale)), max(1, round(h * scale))


def downsample(rgb: np.ndarray, long_side: int) -> np.ndarray:
    """Area-averaged downsample (fast and alias-free at 4000 px)."""
    size = working_size(rgb.shape, long_side)
    if size == (rgb.shape[1], rgb.shape[0]):
        return rgb
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def estimate_background(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """A flat background estimate for segmenters that do not model the sweep.

    The median colour of the pixels the segmenter calls sweep (alpha < 0.05),
    white where there are none. Returns float32 HxWx3 at ``alpha``'s size.
    """
    small = rgb if rgb.shape[:2] == alpha.shape else cv2.resize(
        rgb, alpha.shape[::-1], interpolation=cv2.INTER_AREA)
    sweep = small[alpha < 0.05]
    colour = np.median(sweep, axis=0) if len(sweep) else np.full(3, 255.0)
    return np.broadcast_to(colour.astype(np.float32), (*alpha.shape, 3)).copy()
