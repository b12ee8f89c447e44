"""Layout and compositing: crop to the subject, scale it into the padded
canvas, align it, and lay it over the background."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from pipeline.profile import ComposeParams


@dataclass(frozen=True)
class Box:
    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    def scaled(self, s: float) -> "Box":
        return Box(self.x0 * s, self.y0 * s, self.x1 * s, self.y1 * s)

    def pixels(self) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1) as whole pixels, ends exclusive, covering the box."""
        return math.floor(self.x0), math.floor(self.y0), math.ceil(self.x1), math.ceil(self.y1)


@dataclass(frozen=True)
class Layout:
    """Where the subject goes: source box (full-resolution photo pixels) ->
    target box (canvas pixels, integers), and the scale between them."""

    source: Box
    target: tuple[int, int, int, int]  # x0, y0, x1, y1 on the canvas
    scale: float
    canvas: tuple[int, int]            # width, height

    def to_canvas(self) -> np.ndarray:
        """2x3 affine matrix from full-resolution photo pixels to canvas pixels."""
        tx0, ty0, tx1, ty1 = self.target
        sx = (tx1 - tx0) / self.source.width
        sy = (ty1 - ty0) / self.source.height
        return np.array([[sx, 0, tx0 - self.source.x0 * sx], [0, sy, ty0 - self.source.y0 * sy]], np.float32)


def subject_box(alpha: np.ndarray, threshold: float) -> Box | None:
    """Bounding box of ``alpha > threshold`` in alpha's pixels (x1, y1
    exclusive); None when no pixel is over it (an empty cut-out)."""
    mask = alpha > threshold
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None
    return Box(float(cols[0]), float(rows[0]), float(cols[-1] + 1), float(rows[-1] + 1))


@dataclass(frozen=True)
class Cut:
    """The sides where the photo's frame cuts through the product (a cable
    leaving the frame, a lamp cut at the top). There the product bleeds off
    the canvas: a straight cut floating inside the padding looks like a mistake."""

    top: bool = False
    right: bool = False
    bottom: bool = False
    left: bool = False


UNCUT = Cut()

_CUT_RUN = 0.004     # share of a border's length that one run of product must cover to cut it...
_CUT_RUN_MIN = 4     # ...and at least this many pixels: a few stray pixels are not a cut


def frame_cut(alpha: np.ndarray, threshold: float) -> Cut:
    """The sides of the frame that ``alpha > threshold`` (float32 HxW, any
    resolution) runs into along one unbroken run of product. The border row
    itself needs only half the threshold (a 1-px soft edge does not hide a
    cut) but must not be empty: a cut-out cropped tight to its product
    touches the frame without being cut by it."""
    if min(alpha.shape) < 2:
        return UNCUT
    t = threshold
    return Cut(top=_cut_along(alpha[0], alpha[1], t), right=_cut_along(alpha[:, -1], alpha[:, -2], t),
               bottom=_cut_along(alpha[-1], alpha[-2], t), left=_cut_along(alpha[:, 0], alpha[:, 1], t))


def _cut_along(edge: np.ndarray, inside: np.ndarray, threshold: float) -> bool:
    """Whether product crosses a border, ``edge`` its outermost line of alpha
    and ``inside`` the next, in a run long enough to be a cut."""
    line = ((edge > threshold / 2) & (inside > threshold)).astype(np.uint8)
    length = max(_CUT_RUN_MIN, round(_CUT_RUN * line.size))
    # Eroding by the run length leaves a one only where a run that long was.
    return bool(cv2.erode(line[None, :], np.ones((1, length), np.uint8)).any())


def _padded(params: ComposeParams, cut: Cut = UNCUT) -> tuple[float, float, float, float]:
    """(left, right, top, bottom) the subject must fit in: the padding, or the
    canvas edge itself on a cut side."""
    cw, ch = params.width, params.height
    pad = params.padding
    return (0.0 if cut.left else cw * pad.left / 100, float(cw) if cut.right else cw * (1 - pad.right / 100),
            0.0 if cut.top else ch * pad.top / 100, float(ch) if cut.bottom else ch * (1 - pad.bottom / 100))


def fit_scale(subject: Box, params: ComposeParams, cut: Cut = UNCUT) -> float:
    """The largest scale (canvas pixels per photo pixel) at which ``subject``
    fits the padding (the canvas edge on the sides in ``cut``)."""
    left, right, top, bottom = _padded(params, cut)
    scale = min((right - left) / subject.width, (bottom - top) / subject.height)
    return min(scale, 1.0) if not params.upscale else scale


def plan_layout(subject: Box, params: ComposeParams, scale: float | None = None, cut: Cut = UNCUT) -> Layout:
    """Scale ``subject`` (photo pixels) to fit the padded canvas, then align it.
    ``scale``: one shared by a product's views (never more than this view's own fit).
    ``cut``: the sides the photo's frame cuts the product on; the target box
    ends exactly on the canvas edge there."""
    cw, ch = params.width, params.height
    left, right, top, bottom = _padded(params, cut)
    fit = fit_scale(subject, params, cut)
    scale = fit if scale is None else min(scale, fit)
    w = max(1, round(subject.width * scale))
    h = max(1, round(subject.height * scale))
    x0 = _place(w, left, right, cut.left, cut.right, bottom_aligned=False)
    y0 = _place(h, top, bottom, cut.top, cut.bottom, bottom_aligned=params.align == "bottom")
    return Layout(source=subject, target=(x0, y0, x0 + w, y0 + h), scale=scale, canvas=(cw, ch))


def _place(size: int, lo: float, hi: float, lo_cut: bool, hi_cut: bool, bottom_aligned: bool) -> int:
    """Where a ``size`` long span starts in [lo, hi] on one axis: on the canvas
    edge of a cut side, else aligned. Cut on both sides, it is centred (it
    fills the axis when that axis sets the scale)."""
    if lo_cut != hi_cut:
        return round(lo) if lo_cut else round(hi) - size
    if bottom_aligned and not lo_cut:
        return round(hi - size)
    return round((lo + hi - size) / 2)


def background_canvas(params: ComposeParams, shadow: np.ndarray | None, opacity: float) -> np.ndarray:
    """The empty canvas with the shadow laid on it: uint8 HxWx3 for a colour,
    HxWx4 (black shadow in the alpha channel) for ``transparent``."""
    h, w = params.height, params.width
    if params.background == "transparent":
        canvas = np.zeros((h, w, 4), np.uint8)
        if shadow is not None:
            canvas[..., 3] = np.clip(shadow * (255 * opacity) + 0.5, 0, 255).astype(np.uint8)
        return canvas
    canvas = np.empty((h, w, 3), np.uint8)
    canvas[:] = params.background
    if shadow is not None:
        ys, xs = _nonzero_box(shadow)
        if ys is not None:
            # A flat colour darkened by the shadow: each channel is colour * shade.
            shade = 1 - opacity * shadow[ys, xs]
            canvas[ys, xs] = cv2.merge([cv2.convertScaleAbs(shade, alpha=c) for c in params.background])
    return canvas


def paste(canvas: np.ndarray, rgb: np.ndarray, alpha: np.ndarray, at: tuple[int, int]) -> np.ndarray:
    """Lay ``rgb`` (uint8 hxwx3) with ``alpha`` (float32 hxw) over ``canvas`` at
    (x, y). Returns a new canvas; the parts outside the canvas are dropped."""
    out = canvas.copy()
    x, y = at
    h, w = alpha.shape
    cx0, cy0 = max(x, 0), max(y, 0)
    cx1, cy1 = min(x + w, out.shape[1]), min(y + h, out.shape[0])
    if cx0 >= cx1 or cy0 >= cy1:
        return out
    src = (slice(cy0 - y, cy1 - y), slice(cx0 - x, cx1 - x))
    dst = (slice(cy0, cy1), slice(cx0, cx1))
    if out.shape[2] == 4:
        a = alpha[src][..., None]
        fg = rgb[src].astype(np.float32)
        under_a = out[dst][..., 3:4].astype(np.float32) * (1 / 255)
        under = out[dst][..., :3].astype(np.float32)
        out_a = a + under_a * (1 - a)
        colour = (fg * a + under * under_a * (1 - a)) / np.maximum(out_a, 1e-6)
        out[dst] = np.concatenate([colour, out_a * 255], axis=2).clip(0, 255).round().astype(np.uint8)
    else:
        weight = np.ascontiguousarray(alpha[src])
        out[dst] = cv2.blendLinear(np.ascontiguousarray(rgb[src]), np.ascontiguousarray(out[dst]),
                                   weight, 1 - weight)
    return out


def _nonzero_box(matte: np.ndarray, floor: float = 1e-3):
    mask = matte > floor
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None, None
    cols = np.flatnonzero(mask.any(axis=0))
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)
