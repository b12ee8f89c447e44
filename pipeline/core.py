"""cut_out, then finish = refine -> compose -> shadow -> brand -> encode.

The daemon runs ``load_photo``, ``cut_out`` and ``finish`` as separate
overlapping stages; ``booth process`` runs the same three (``daemon.runner``).
A photo that cannot be cut out is an answer, not an error: ``cut_out`` returns
``NoCutout`` with its reason.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import cv2
import numpy as np

from pipeline.brand import brand
from pipeline.compose import Box, Layout, background_canvas, fit_scale, frame_cut, paste, plan_layout, subject_box
from pipeline.encode import encode
from pipeline.load import Photo
from pipeline.profile import Profile
from pipeline.refine import guided_upsample, refine
from pipeline.segment.base import NO_PRODUCT, NoCutout, Segmentation, Segmenter, downsample
from pipeline.shadow import shadow_matte

_MARGIN_PX = 8  # canvas pixels kept around the subject box so soft edges are not cut


@dataclass(frozen=True)
class Result:
    """A finished image. ``image`` is the canvas (HxWx3, or HxWx4 when the
    background is transparent), ``encoded`` the file's bytes, ``extension``
    its file extension; ``timings`` is milliseconds per stage."""

    image: np.ndarray
    encoded: bytes
    extension: str
    segmentation: Segmentation
    timings: dict[str, float] = field(default_factory=dict)


class _Clock:
    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self._t = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.timings[stage] = self.timings.get(stage, 0.0) + (now - self._t) * 1000
        self._t = now


def segment_photo(photo: Photo, segmenter: Segmenter, working_size: int = 1024) -> Segmentation | NoCutout:
    """The photo's own transparency when it has some (a PNG already cut
    out), else what the segmenter says (``NoCutout`` when it cannot cut)."""
    if photo.alpha is not None:
        alpha = downsample(photo.alpha, working_size).astype(np.float32) * (1 / 255)
        return Segmentation(alpha=alpha)
    return segmenter.segment(photo.rgb)


def cut_out(photo: Photo, segmenter: Segmenter, profile: Profile) -> Segmentation | NoCutout:
    """``segment_photo``, and ``NoCutout`` too when the cut-out holds no product
    to lay out (an empty sweep): what ``finish`` can work with, or why not."""
    cut = segment_photo(photo, segmenter)
    if isinstance(cut, Segmentation) and photo_subject(photo.rgb.shape, cut, profile) is None:
        return NoCutout(NO_PRODUCT, "the segmenter found no product in the photo (is the photo empty or not "
                                    "on a sweep?)")
    return cut


def photo_subject(photo_shape: tuple[int, ...], segmentation: Segmentation, profile: Profile) -> Box | None:
    """The product's box in the full-resolution photo's pixels (None: an empty cut-out)."""
    full_h, full_w = photo_shape[:2]
    work_h, work_w = segmentation.alpha.shape
    sx, sy = full_w / work_w, full_h / work_h
    box = subject_box(segmentation.alpha, profile.compose.subject_threshold)
    return None if box is None else Box(box.x0 * sx, box.y0 * sy, box.x1 * sx, box.y1 * sy)


def _subject(photo_shape: tuple[int, ...], segmentation: Segmentation, profile: Profile) -> Box:
    if (box := photo_subject(photo_shape, segmentation, profile)) is None:
        raise ValueError("the cut-out holds no product: cut_out() answers NoCutout for such a photo")
    return box


def own_scale(photo_shape: tuple[int, ...], segmentation: Segmentation, profile: Profile) -> float:
    """The scale this photo would get on its own: a product's views share the smallest."""
    cut = frame_cut(segmentation.alpha, profile.compose.subject_threshold)
    return fit_scale(_subject(photo_shape, segmentation, profile), profile.compose, cut)


def finish(photo: Photo, segmentation: Segmentation, profile: Profile,
           fields: Mapping[str, str] | None = None, scale: float | None = None) -> Result:
    """Everything after segmentation, for one photo. Pure: inputs are not modified.
    ``scale``: canvas pixels per photo pixel shared by a product's views (None:
    this photo's own fit)."""
    clock = _Clock()
    rgb, seg = photo.rgb, segmentation
    full_h, full_w = rgb.shape[:2]
    work_h, work_w = seg.alpha.shape
    sx, sy = full_w / work_w, full_h / work_h
    subject = _subject(rgb.shape, seg, profile)
    cut = frame_cut(seg.alpha, profile.compose.subject_threshold)
    layout = plan_layout(subject, profile.compose, scale, cut)
    k = layout.scale
    # The source region we carry over: the subject plus a margin for soft edges.
    m = _MARGIN_PX / k
    X0, Y0 = max(0, math.floor(subject.x0 - m)), max(0, math.floor(subject.y0 - m))
    X1, Y1 = min(full_w, math.ceil(subject.x1 + m)), min(full_h, math.ceil(subject.y1 + m))
    # Each end is rounded on its own from the target box, so a product cut by
    # the frame reaches the canvas edge with no 1-px gap of background.
    (ax0, ay0), (ax1, ay1) = _on_canvas(layout, (X0, Y0)), _on_canvas(layout, (X1, Y1))
    at, size = (ax0, ay0), (max(1, ax1 - ax0), max(1, ay1 - ay0))
    interp = cv2.INTER_AREA if k < 1 else cv2.INTER_CUBIC
    crop = cv2.resize(rgb[Y0:Y1, X0:X1], size, interpolation=interp)
    coarse, background = _coarse_region(seg, (X0 / sx, Y0 / sy, X1 / sx, Y1 / sy))
    clock.lap("compose")
    fg, alpha = refine(crop, coarse, background, profile.refine, subject_px=max(size))
    clock.lap("refine")
    matte = shadow_matte(profile.shadow, layout, alpha, at, seg.shadow, sx)
    canvas = background_canvas(profile.compose, matte, profile.shadow.opacity)
    clock.lap("shadow")
    canvas = paste(canvas, fg, alpha, at)
    clock.lap("compose")
    canvas = brand(canvas, profile.brand, fields or {})
    clock.lap("brand")
    data = encode(canvas, profile.encode)
    clock.lap("encode")
    return Result(canvas, data, profile.encode.extension, seg, clock.timings)


def _on_canvas(layout: Layout, point: tuple[float, float]) -> tuple[int, int]:
    """A full-resolution photo point on the canvas, in whole pixels."""
    m = layout.to_canvas().astype(np.float64)
    return round(m[0, 0] * point[0] + m[0, 2]), round(m[1, 1] * point[1] + m[1, 2])


def full_alpha(photo: Photo, segmentation: Segmentation, radius_frac: float = 0.004,
               eps: float = 1e-3) -> np.ndarray:
    """The matte at the photo's own size (float32 in [0,1]), edge-aware, for
    ``--mask-dir`` and ``booth eval``."""
    h, w = photo.rgb.shape[:2]
    alpha = segmentation.alpha
    if alpha.shape == (h, w):
        return alpha.copy()
    radius = max(1, round(radius_frac * max(h, w) * alpha.shape[1] / w))
    return guided_upsample(alpha, photo.rgb, radius, eps)


def _coarse_region(seg: Segmentation, box: tuple[float, float, float, float]):
    """Crop the working-resolution alpha (and sweep model) to ``box`` (working
    pixels, fractional), resampled so it covers exactly the same region as the
    full-resolution crop."""
    x0, y0, x1, y1 = box
    size = (max(2, round(x1 - x0)), max(2, round(y1 - y0)))
    m = np.float32([[size[0] / (x1 - x0), 0, -x0 * size[0] / (x1 - x0)],
                    [0, size[1] / (y1 - y0), -y0 * size[1] / (y1 - y0)]])
    alpha = cv2.warpAffine(seg.alpha, m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    background = None
    if seg.background is not None:
        background = cv2.warpAffine(seg.background, m, size, flags=cv2.INTER_LINEAR,
                                    borderMode=cv2.BORDER_REPLICATE)
    return alpha, background
