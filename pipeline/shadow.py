"""Shadows on the new background, as a matte in [0, 1] at canvas size
(0 = no shadow, 1 = full strength; the profile's opacity scales it later).

Shadows are soft, so they are drawn at a quarter of the canvas resolution and
upsampled: the same picture for a fraction of the cost.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from pipeline.compose import Layout
from pipeline.profile import ShadowParams

_Q = 4  # drawing resolution divisor
_TOUCH = 0.04  # a lowest point within this share of the subject's height of the floor stands on it...
_AIR = 0.10    # ...one this far above the floor or more is in the air: no contact shadow under it
_KEEP_FLOOR = (0.03, 0.10)  # a kept photo shadow under the first is sweep mottling, over the second kept whole
_KEEP_SMOOTH = 0.01         # its blur, share of the subject's long side: no torn-paper edge
_KEEP_NEAR = (0.25, 0.6)    # kept whole this near the product (share of its long side), gone this far
_KEEP_BORDER = 0.04         # faded out over this share of the canvas toward its edges


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
    if params.mode == "keep-original":
        # The photo's own shadow and nothing else: a drawn one on top would be a second shadow.
        if photo_shadow is None:
            return None
        matte = _keep(photo_shadow, layout, work_scale, placed, max(sub_w, sub_h))
    else:
        matte = _drawn(params, placed, sub_w, sub_h)
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


@dataclass(frozen=True)
class _Ground:
    """Where the placed product meets the floor, per column of the small canvas."""

    lowest: np.ndarray          # float32: the bottom edge of the product in each column (rows)
    touch: np.ndarray           # float32 0..1: how surely that point stands on the floor (0: in the air)
    line: tuple[float, float]   # (a, b): the contact line y = a + b*x through the touching points


def _ground(placed: np.ndarray, sub_h: float) -> _Ground | None:
    """The product's contact points: in each column its lowest silhouette row,
    counted as touching the floor when it is near the lowest of all (feet at
    different heights both stand; an arm hanging above the floor does not).
    None when there is no floor in the picture to stand on: the product runs
    off the bottom of the canvas (or nothing is placed)."""
    solid = placed > 0.5
    has = solid.any(axis=0)
    if not has.any() or solid[-1].any():
        return None
    lowest = (placed.shape[0] - np.argmax(solid[::-1], axis=0)).astype(np.float32)
    above = (lowest[has].max() - lowest) / sub_h
    touch = (np.clip((_AIR - above) / (_AIR - _TOUCH), 0, 1) * has).astype(np.float32)
    return _Ground(lowest, touch, _contact_line(lowest, touch))


def _contact_line(lowest: np.ndarray, touch: np.ndarray) -> tuple[float, float]:
    """The straight line the touching points lie nearest (weighted by how surely they touch)."""
    xs = np.flatnonzero(touch)
    if xs[-1] - xs[0] < 2:
        return float(lowest[xs].max()), 0.0
    b, a = np.polyfit(xs, lowest[xs], 1, w=touch[xs])
    return float(a), float(b)


def _drawn(params: ShadowParams, placed: np.ndarray, sub_w: float, sub_h: float) -> np.ndarray:
    """The drawn shadows of ``contact``, ``cast`` and ``contact+cast``, all from the same contact points."""
    ground = _ground(placed, sub_h)
    if ground is None:
        return np.zeros_like(placed)
    blur = max(0.5, params.blur / 100 * sub_w)
    parts = []
    if params.mode in ("contact", "contact+cast"):
        parts.append(_contact(ground, placed.shape, sub_h * params.contact_height / 100, blur))
    if params.mode in ("cast", "contact+cast"):
        parts.append(_cast(placed, ground, params, blur) * 0.6)
    return np.maximum.reduce(parts) if len(parts) > 1 else parts[0]


def _contact(ground: _Ground, shape: tuple[int, int], height: float, blur: float) -> np.ndarray:
    """Darkness right under each point where the product touches the floor,
    fading with the distance from it."""
    sigma_y = max(0.75, height / 2)
    on = ground.touch > 0
    r0 = max(0, int(ground.lowest[on].min() - 4 * sigma_y))
    r1 = min(shape[0], int(math.ceil(ground.lowest[on].max() + 4 * sigma_y)) + 1)
    ys = np.arange(r0, r1, dtype=np.float32)[:, None]
    matte = np.zeros(shape, np.float32)
    matte[r0:r1] = np.exp(-0.5 * ((ys - ground.lowest) / sigma_y) ** 2) * ground.touch
    # Blur only the rows the band and its blur reach: the rest of the canvas stays 0.
    sigma_v = max(0.5, blur * 0.25)
    b0, b1 = max(0, r0 - math.ceil(4 * sigma_v)), min(shape[0], r1 + math.ceil(4 * sigma_v))
    matte[b0:b1] = cv2.GaussianBlur(matte[b0:b1], (0, 0), sigmaX=blur, sigmaY=sigma_v)
    return matte


def _cast(placed: np.ndarray, ground: _Ground, params: ShadowParams, blur: float) -> np.ndarray:
    """The silhouette laid down on the floor, away from the light, hinged on
    the contact line so it starts at the feet, not at the box's bottom."""
    theta = math.radians(params.direction)
    lc, ls = params.length * math.cos(theta), params.length * math.sin(theta)
    a, b = ground.line
    # Height over the contact line h = a + b*x - y; a point goes to (x + lc*h, a + b*x - ls*h).
    m = np.float32([[1 + lc * b, -lc, lc * a], [b * (1 - ls), ls, a * (1 - ls)]])
    projected = cv2.warpAffine(placed, m, placed.shape[::-1], flags=cv2.INTER_LINEAR)
    return cv2.GaussianBlur(projected, (0, 0), blur * 2)


def _keep(photo_shadow: np.ndarray, layout: Layout, work_scale: float, placed: np.ndarray,
          sub_long: float) -> np.ndarray:
    """The photo's own shadow, carried to the canvas with the product and
    cleaned: smooth, with the sweep's faint mottling dropped, only near the
    product and faded out toward the canvas border."""
    m = layout.to_canvas().astype(np.float64)
    m[:, :2] *= work_scale        # working pixels -> full-resolution pixels first
    m /= _Q                       # then to the small canvas
    shadow = cv2.warpAffine(photo_shadow.astype(np.float32), m.astype(np.float32), placed.shape[::-1],
                            flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    shadow = cv2.GaussianBlur(shadow, (0, 0), max(0.5, _KEEP_SMOOTH * sub_long))
    lo, hi = _KEEP_FLOOR
    shadow *= np.clip((shadow - lo) / (hi - lo), 0, 1)   # a soft threshold: no ragged edge
    return shadow * _near_product(placed, sub_long) * _border_fade(placed.shape)


def _near_product(placed: np.ndarray, sub_long: float) -> np.ndarray:
    """1 near the placed product, falling smoothly to 0 at ``_KEEP_NEAR[1]`` of its long side away."""
    away = cv2.distanceTransform((placed <= 0.5).astype(np.uint8), cv2.DIST_L2, 3)
    near, far = (f * sub_long for f in _KEEP_NEAR)
    t = np.clip((far - away) / (far - near), 0, 1)
    return t * t * (3 - 2 * t)


def _border_fade(shape: tuple[int, int]) -> np.ndarray:
    """1 inside, falling to 0 over ``_KEEP_BORDER`` of the canvas toward each edge."""
    h, w = shape
    ramp = [np.clip(np.minimum(np.arange(n), np.arange(n)[::-1]) / max(1.0, _KEEP_BORDER * n), 0, 1)
            for n in (h, w)]
    return np.minimum.outer(ramp[0], ramp[1]).astype(np.float32)
