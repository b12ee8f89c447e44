"""Branding: a semi-transparent text bar and/or a logo over the finished canvas.

Fonts and logos are loaded once and cached (they are per-profile constants).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from pipeline.profile import BarParams, BrandParams, LogoParams
from pipeline.template import fill_template


@lru_cache(maxsize=16)
def _font(path: Path | None, px: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(path), px) if path else ImageFont.load_default(size=px)


@lru_cache(maxsize=16)
def _logo(path: Path) -> np.ndarray:
    """The logo as premultiplied-ready float32 RGBA in [0, 1]."""
    image = Image.open(path)
    image.load()
    return np.asarray(image.convert("RGBA"), np.float32) / 255


def brand(canvas: np.ndarray, params: BrandParams, fields: Mapping[str, str]) -> np.ndarray:
    """Returns a new canvas (uint8 HxWx3 or HxWx4) with the bar and logo drawn."""
    out = canvas
    if params.bar is not None:
        out = draw_bar(out, params.bar, fill_template(params.bar.text, fields))
    if params.logo is not None:
        out = draw_logo(out, params.logo)
    return out if out is not canvas else canvas.copy()


def draw_bar(canvas: np.ndarray, params: BarParams, text: str) -> np.ndarray:
    h, w = canvas.shape[:2]
    px = max(6, round(params.size / 100 * h))
    bar_h = round(px * 1.9)
    y0 = 0 if params.position == "top" else h - bar_h
    layer = Image.new("RGBA", (w, bar_h), (*params.background, round(255 * params.opacity)))
    if text:
        draw = ImageDraw.Draw(layer)
        font = _font(params.font, px)
        draw.text((w / 2, bar_h / 2), text, font=font, fill=(*params.colour, 255), anchor="mm")
    return _over(canvas, np.asarray(layer, np.float32) / 255, 0, y0)


def draw_logo(canvas: np.ndarray, params: LogoParams) -> np.ndarray:
    h, w = canvas.shape[:2]
    logo = _logo(params.path)
    lw = max(1, round(params.scale / 100 * w))
    lh = max(1, round(logo.shape[0] * lw / logo.shape[1]))
    interp = cv2.INTER_AREA if lw < logo.shape[1] else cv2.INTER_CUBIC
    logo = np.clip(cv2.resize(logo, (lw, lh), interpolation=interp), 0, 1)
    logo[..., 3] *= params.opacity
    m = round(params.margin / 100 * min(w, h))
    x = {"left": m, "right": w - lw - m}.get(params.position.split("-")[-1], (w - lw) // 2)
    y = {"top": m, "bottom": h - lh - m}.get(params.position.split("-")[0], (h - lh) // 2)
    return _over(canvas, logo, x, y)


def _over(canvas: np.ndarray, rgba: np.ndarray, x: int, y: int) -> np.ndarray:
    """Lay float RGBA in [0,1] over ``canvas`` at (x, y); returns a new canvas."""
    out = canvas.copy()
    h, w = rgba.shape[:2]
    x0, y0 = max(x, 0), max(y, 0)
    x1, y1 = min(x + w, out.shape[1]), min(y + h, out.shape[0])
    if x0 >= x1 or y0 >= y1:
        return out
    src = rgba[y0 - y:y1 - y, x0 - x:x1 - x]
    a = src[..., 3:4]
    region = out[y0:y1, x0:x1].astype(np.float32) / 255
    colour = region[..., :3] * (1 - a) + src[..., :3] * a
    if out.shape[2] == 4:
        under = region[..., 3:4]
        new_a = a + under * (1 - a)
        colour = (src[..., :3] * a + region[..., :3] * under * (1 - a)) / np.maximum(new_a, 1e-6)
        colour = np.concatenate([colour, new_a], axis=2)
    out[y0:y1, x0:x1] = np.clip(colour * 255 + 0.5, 0, 255).astype(np.uint8)
    return out
