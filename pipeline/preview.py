"""Pictures for a person to judge a cut-out by: the photo, the mask laid over
it, the finished image on a checkerboard. Pure: arrays in, uint8 RGB out."""

from __future__ import annotations

import cv2
import numpy as np

_TINT = np.array([255, 60, 60], np.float32)
_EDGE = (0, 200, 255)


def fit(image: np.ndarray, long_side: int, upscale: bool = False) -> np.ndarray:
    """``image`` scaled so its long side is ``long_side`` (area-averaged down;
    up only with ``upscale``, else a smaller image stays as it is)."""
    h, w = image.shape[:2]
    s = long_side / max(h, w) if upscale else min(1.0, long_side / max(h, w))
    if s == 1.0:
        return image.copy()
    return cv2.resize(image, (max(1, round(w * s)), max(1, round(h * s))),
                      interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)


def mask_overlay(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """The product tinted, the sweep dimmed, the 0.5 edge outlined: uint8 RGB at ``rgb``'s size.
    ``alpha`` is float32 in [0, 1] at any size with the same aspect ratio."""
    a = cv2.resize(alpha, rgb.shape[1::-1], interpolation=cv2.INTER_LINEAR)[..., None]
    overlay = rgb * (0.35 + 0.65 * a) * (1 - 0.25 * a) + _TINT * 0.25 * a
    edge = cv2.Canny((a[..., 0] > 0.5).astype(np.uint8) * 255, 50, 150) > 0
    overlay[edge] = _EDGE
    return overlay.clip(0, 255).astype(np.uint8)


def on_checkerboard(image: np.ndarray) -> np.ndarray:
    """An RGBA image over a light checkerboard (RGB images come back as they are)."""
    if image.shape[2] == 3:
        return image
    h, w = image.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    board = np.where(((yy // 16 + xx // 16) % 2)[..., None] == 0, 235, 200).astype(np.float32)
    a = image[..., 3:4].astype(np.float32) / 255
    return (image[..., :3] * a + board * (1 - a)).astype(np.uint8)


def jpeg(image: np.ndarray, quality: int = 85) -> bytes:
    """uint8 RGB -> JPEG bytes."""
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("cannot encode the preview")
    return data.tobytes()
