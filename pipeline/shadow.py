"""Shadows on the new background, as a matte in [0, 1] at canvas size
(0 = no shadow, 1 = full strength; the profile's opacity scales it later).

Shadows are soft, so they are drawn at a quarter of the canvas resolution and
upsampled: the same picture for a fraction of the cost.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from pipeline.compose import Layout
from pipeline.profile import ShadowParams

_Q = 4  # drawing resolution divisor


def shadow_matte(params: ShadowParams, layout: Layout, subject_alpha: np.ndarray, at: tuple[int, int],
                 photo_shadow: np.ndarray | None, work_scale: float) -> np.ndarray | None:
    """``subject_alpha``: float32 matte as pasted on the canvas with its top-left
    corner at ``at`` (x, y). ``photo_shadow``:
    the segmenter's shadow matte at working resolution (for ``keep-original``),
    ``work_scale`` = full-resolution pixels per working pixel. Returns float32
    canvas-sized matte, or None when the mode is ``none`` (or nothing to keep)."""
    if params.mode == "none" or params.opacity == 0:
        return None
    cw, ch = layout.canvas
    small_size = (max(1, cw // _Q), max(1, ch // _Q))
    placed = _place_small(subject_alpha, at, small_size)
    x0, y0, x1, y1 = (v / _Q for v in layout.target)
    sub_w, sub_h = max(x1 - x0, 1.0), max(y1 - y0, 1.0)
    blur = max(0.5, params.blur / 100 * sub_w)
    parts = []
    if params.mode in ("contact", "contact+cast"):
        parts.append(_contact(placed, y1, sub_h, params.contact_height / 100, blur))
    if params.mode in ("cast", "contact+cast"):
        parts.append(_cast(placed, y1, params, blur) * 0.6)
    if params.mode == "keep-original":
        if photo_shadow is None:
            return None
        parts.append(_keep(photo_shadow, layout, work_scale, small_size))
    matte = np.maximum.reduce(parts) if len(parts) > 1 else parts[0]
    dx, dy = params.offset
    if dx or dy:
        shift = np.float32([[1, 0, dx / 100 * small_size[0]], [0, 1, -dy / 100 * small_size[1]]])
        matte = cv2.warpAffine(matte, shift, small_size)
    return np.clip(cv2.resize(matte, (cw, ch), interpolation=cv2.INTER_LINEAR), 0, 1)


def _place_small(alpha: np.ndarray, at: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
    x0, y0 = at
    out = np.zeros((size[1], size[0]), np.float32)
    w = max(1, round(alpha.shape[1] / _Q))
    h = max(1, round(alpha.shape[0] / _Q))
    small = cv2.resize(alpha, (w, h), interpolation=cv2.INTER_AREA)
    sx, sy = round(x0 / _Q), round(y0 / _Q)
    ex, ey = min(sx + w, size[0]), min(sy + h, size[1])
    if sx < ex and sy < ey:
        out[max(sy, 0):ey, max(sx, 0):ex] = small[max(-sy, 0):ey - sy, max(-sx, 0):ex - sx]
    return out


def _contact(placed: np.ndarray, base_y: float, sub_h: float, height: float, blur: float) -> np.ndarray:
    """A soft dark band under the product's base, as wide as its footprint."""
    base_rows = placed[max(0, int(base_y - 0.12 * sub_h)):int(math.ceil(base_y))]
    footprint = base_rows.max(axis=0) if base_rows.size else np.zeros(placed.shape[1], np.float32)
    sigma_y = max(0.75, height * sub_h / 2)
    ys = np.arange(placed.shape[0], dtype=np.float32)
    profile = np.exp(-0.5 * ((ys - base_y) / sigma_y) ** 2)
    matte = np.outer(profile, footprint).astype(np.float32)
    return cv2.GaussianBlur(matte, (0, 0), sigmaX=blur, sigmaY=max(0.5, blur * 0.25))


def _cast(placed: np.ndarray, base_y: float, params: ShadowParams, blur: float) -> np.ndarray:
    """The silhouette laid down on the floor, away from the light."""
    theta = math.radians(params.direction)
    lc, ls = params.length * math.cos(theta), params.length * math.sin(theta)
    m = np.float32([[1, -lc, lc * base_y], [0, ls, base_y * (1 - ls)]])
    projected = cv2.warpAffine(placed, m, placed.shape[::-1], flags=cv2.INTER_LINEAR)
    return cv2.GaussianBlur(projected, (0, 0), blur * 2)


def _keep(photo_shadow: np.ndarray, layout: Layout, work_scale: float, size: tuple[int, int]) -> np.ndarray:
    """The photo's own shadow, carried to the canvas with the product."""
    m = layout.to_canvas().astype(np.float64)
    m[:, :2] *= work_scale        # working pixels -> full-resolution pixels first
    m /= _Q                       # then to the small canvas
    return cv2.warpAffine(photo_shadow.astype(np.float32), m.astype(np.float32), size,
                          flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
