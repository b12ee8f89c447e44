"""Encoding: JPEG (sRGB ICC embedded, chosen chroma subsampling), PNG or WebP;
no EXIF at all (so no GPS or camera serials leak); a byte cap met by stepping
quality down. Writing the bytes to disk is the daemon's business (``daemon.files``)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageCms

from pipeline.errors import OutputTooLarge
from pipeline.profile import EncodeParams

SRGB_ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
_SUBSAMPLING = {"4:4:4": 0, "4:2:2": 1, "4:2:0": 2}


def encode(image: np.ndarray, params: EncodeParams) -> bytes:
    """``image`` uint8 HxWx3 or HxWx4. Returns the file's bytes, at most
    ``params.max_bytes`` long, or raises ``OutputTooLarge``."""
    if image.shape[2] == 4 and params.format == "jpeg":
        raise ValueError("JPEG has no transparency: use encode.format png or webp")
    pil = Image.fromarray(image)
    quality = params.quality
    while True:
        data = _save(pil, params, quality)
        if len(data) <= params.max_bytes:
            return data
        if params.format == "png" or quality <= params.min_quality:
            raise OutputTooLarge(f"{len(data):,} bytes at quality {quality} exceeds the cap of "
                                 f"{params.max_bytes:,} bytes")
        quality = max(params.min_quality, quality - 5)


def _save(pil: Image.Image, params: EncodeParams, quality: int) -> bytes:
    buf = io.BytesIO()
    icc = {"icc_profile": SRGB_ICC} if params.embed_icc else {}
    if params.format == "jpeg":
        pil.save(buf, "JPEG", quality=quality, subsampling=_SUBSAMPLING[params.subsampling], **icc)
    elif params.format == "webp":
        pil.save(buf, "WEBP", quality=quality, method=4, **icc)
    else:
        pil.save(buf, "PNG", compress_level=4, **icc)
    return buf.getvalue()
