"""Decode a photo into an sRGB uint8 array: EXIF orientation applied, ICC
profile converted to sRGB, any bit depth or mode (grey, CMYK, palette, RGBA,
16-bit PNG/TIFF) handled. Bad input raises a ``BadPhoto`` subclass with a
one-line reason; nothing here crashes on a hostile file."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from pipeline.errors import EmptyFile, NotAnImage, TooManyPixels, TruncatedImage, UnsupportedImage
from pipeline.profile import LoadParams

Image.MAX_IMAGE_PIXELS = None  # the cap is ours (LoadParams.max_pixels), checked before decoding

try:  # HEIC/HEIF (phones, some booths): decoded through libheif when pillow-heif is installed
    from pillow_heif import register_heif_opener
except ImportError:  # pragma: no cover
    pass
else:
    register_heif_opener()

_SRGB = ImageCms.createProfile("sRGB")


@dataclass(frozen=True)
class Photo:
    """A decoded photo. ``rgb`` is HxWx3 uint8 sRGB; ``alpha`` is the file's own
    transparency (HxW uint8) when it had any, else None."""

    rgb: np.ndarray
    alpha: np.ndarray | None = None
    format: str = ""
    converted_from: str | None = None  # the ICC profile's name when one was converted


# Magic numbers of the formats the loader reads: a file that starts with none
# of them is not an image, whatever its name says, and is refused unread.
_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"II*\x00", b"MM\x00*",
               b"BM", b"II+\x00", b"MM\x00+")
PROBE_BYTES = 1 << 20  # enough for any header (EXIF and ICC segments come before a JPEG's size)


def _known_signature(head: bytes) -> bool:
    if head.startswith(_SIGNATURES):
        return True
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return True
    return head[4:8] == b"ftyp"  # HEIC, HEIF, AVIF


def probe(head: bytes, params: LoadParams = LoadParams(), *, complete: bool = False) -> None:
    """Refuse a photo from its first bytes, before the rest is read: not an
    image at all, or more pixels than ``params.max_pixels``. ``complete``: the
    bytes are the whole file. Raises a ``BadPhoto``; returns when the file may
    be an image (decoding it is what tells for sure)."""
    if not head:
        raise EmptyFile("the file is empty (0 bytes)")
    if not _known_signature(head):
        raise NotAnImage("unknown or corrupt header: no image format recognised")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            image = Image.open(io.BytesIO(head))
    except Exception:  # noqa: BLE001 - a header longer than ``head``: decoding will tell
        if complete:
            raise NotAnImage("unknown or corrupt header: no image format recognised") from None
        return
    _check_size(*image.size, params)


def _check_size(width: int, height: int, params: LoadParams) -> None:
    if width * height > params.max_pixels:
        raise TooManyPixels(f"{width}x{height} = {width * height:,} pixels exceeds the cap of {params.max_pixels:,}")
    if width < 1 or height < 1:
        raise NotAnImage(f"zero-size image ({width}x{height})")


def load_photo(data: bytes, params: LoadParams = LoadParams()) -> Photo:
    """Decode a photo's bytes (reading them from disk is the caller's business)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"load_photo takes the photo's bytes, got {type(data).__name__}")
    if not data:
        raise EmptyFile("the file is empty (0 bytes)")
    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise NotAnImage("unknown or corrupt header: no image format recognised") from None
    except Exception as exc:  # a malformed header can raise almost anything
        raise NotAnImage(f"unreadable header: {exc}") from None
    _check_size(*image.size, params)
    fmt = image.format or ""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            image.load()
            ImageOps.exif_transpose(image, in_place=True)  # no copy of 48 MB when upright
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        text = str(exc)
        if "truncated" in text.lower() or "premature" in text.lower() or isinstance(exc, EOFError):
            raise TruncatedImage(f"the file ends early ({text})") from None
        raise NotAnImage(f"cannot decode {fmt or 'image'}: {text}") from None
    rgb, alpha = _to_rgb(image)
    converted = None
    icc = image.info.get("icc_profile")
    if icc and rgb is not None:
        rgb, converted = _to_srgb(rgb, icc)
    return Photo(rgb=rgb, alpha=alpha, format=fmt, converted_from=converted)


def _to_rgb(image: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    mode = image.mode
    alpha = None
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(image, dtype=np.float32)
        top = 65535.0 if mode.startswith("I;16") or arr.max() > 255 else 255.0
        grey = np.clip(arr * (255.0 / top) + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2), None
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif mode in ("LA", "La", "PA", "RGBa"):
        image = image.convert("RGBA")
    elif mode == "1":
        image = image.convert("L")
    if image.mode == "RGBA":
        arr = np.asarray(image)
        alpha = arr[..., 3].copy()
        if alpha.min() == 255:
            alpha = None
        return np.ascontiguousarray(arr[..., :3]), alpha
    if image.mode == "CMYK":
        # Adobe writes inverted CMYK JPEGs; Pillow's converter handles the common case.
        image = image.convert("RGB")
    elif image.mode in ("L", "YCbCr", "LAB", "HSV"):
        image = image.convert("RGB")
    if image.mode != "RGB":
        try:
            image = image.convert("RGB")
        except ValueError as exc:
            raise UnsupportedImage(f"pixel mode {mode} cannot be converted to RGB: {exc}") from None
    return np.asarray(image), alpha


def _to_srgb(rgb: np.ndarray, icc: bytes) -> tuple[np.ndarray, str | None]:
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        name = ImageCms.getProfileDescription(profile).strip()
    except (OSError, ImageCms.PyCMSError):
        return rgb, None  # an unreadable profile: keep the pixels as they are
    if "srgb" in name.lower().replace(" ", "") or profile.profile.xcolor_space.strip() != "RGB":
        return rgb, None
    try:
        transform = ImageCms.buildTransform(profile, _SRGB, "RGB", "RGB",
                                            renderingIntent=ImageCms.Intent.PERCEPTUAL)
        out = ImageCms.applyTransform(Image.fromarray(rgb), transform)
    except ImageCms.PyCMSError:
        return rgb, None
    return np.asarray(out), name
