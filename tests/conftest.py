"""Shared fixtures: small synthetic photos, the shared test data, the repo root."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
SHARED_TESTDATA = REPO.parent / "shared" / "testdata"


@pytest.fixture
def testdata() -> Path:
    if not SHARED_TESTDATA.is_dir():
        pytest.skip(f"shared test photos not found at {SHARED_TESTDATA}")
    return SHARED_TESTDATA


def sweep_photo(size: int = 600, product: str = "dark", seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A product on a slightly vignetted near-white sweep, and its true mask.

    ``product``: 'dark' (a camera body), 'red', or 'white' (white with a grey rim).
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size - 0.5
    sweep = 248 - 14 * (xx ** 2 + yy ** 2)
    img = np.repeat(sweep[..., None], 3, axis=2)
    mask = np.zeros((size, size), np.uint8)
    c = size // 2
    cv2.rectangle(mask, (c - size // 4, c - size // 6), (c + size // 4, c + size // 5), 255, -1)
    cv2.circle(mask, (c, c - size // 6), size // 10, 255, -1)
    colour = {"dark": (28, 28, 32), "red": (190, 40, 35), "white": (236, 236, 232)}[product]
    body = np.empty_like(img)
    body[:] = colour
    body += rng.normal(0, 3, body.shape).astype(np.float32)
    if product == "white":
        rim = cv2.morphologyEx(mask, cv2.MORPH_GRADIENT, np.ones((5, 5), np.uint8)) > 0
        body[rim] = 150
    img = np.where(mask[..., None] > 0, body, img)
    return np.clip(img, 0, 255).astype(np.uint8), mask


def encode_bytes(array: np.ndarray, fmt: str = "JPEG", **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, fmt, **kw)
    return buf.getvalue()
