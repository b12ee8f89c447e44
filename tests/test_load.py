"""Load: orientation, colour management, modes and bit depths, and typed errors for bad input."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageCms

from pipeline.errors import EmptyFile, NotAnImage, TooManyPixels, TruncatedImage
from pipeline.load import load_photo
from pipeline.profile import LoadParams
from tests.conftest import encode_bytes


def _marked(w=64, h=32) -> np.ndarray:
    """Red left half, blue right half: orientation is visible."""
    img = np.zeros((h, w, 3), np.uint8)
    img[:, : w // 2] = (220, 20, 20)
    img[:, w // 2:] = (20, 20, 220)
    return img


def test_exif_orientation_is_applied():
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW to display
    data = encode_bytes(_marked(), "JPEG", quality=95, exif=exif.tobytes())
    photo = load_photo(data)
    assert photo.rgb.shape == (64, 32, 3)          # portrait now
    top, bottom = photo.rgb[2, 16], photo.rgb[-3, 16]
    assert top[0] > 150 and top[2] < 80            # red (the left) is now on top
    assert bottom[2] > 150 and bottom[0] < 80


def _swapped_primaries_profile() -> bytes:
    """sRGB with its red and blue primaries swapped and a new name: a real RGB
    profile under which (220, 20, 20) means blue."""
    icc = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    count = int.from_bytes(icc[128:132], "big")
    entries = {}
    for i in range(count):
        at = 132 + 12 * i
        entries[bytes(icc[at:at + 4])] = at
    r, b = entries[b"rXYZ"], entries[b"bXYZ"]
    icc[r + 4:r + 12], icc[b + 4:b + 12] = icc[b + 4:b + 12], icc[r + 4:r + 12]
    return bytes(icc).replace(b"sRGB", b"swap").replace("sRGB".encode("utf-16-be"), "swap".encode("utf-16-be"))


def test_icc_profile_is_converted_to_srgb():
    rgb = np.full((16, 16, 3), (220, 20, 20), np.uint8)
    photo = load_photo(encode_bytes(rgb, "PNG", icc_profile=_swapped_primaries_profile()))
    assert photo.converted_from is not None
    r, _, b = photo.rgb[8, 8].astype(int)
    assert b > 150 and r < 100                     # the profile said this red-coded pixel is blue


def test_srgb_pixels_are_left_alone():
    rgb = np.full((16, 16, 3), (40, 200, 40), np.uint8)
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    photo = load_photo(encode_bytes(rgb, "PNG", icc_profile=srgb))
    assert photo.converted_from is None and (photo.rgb == rgb).all()


@pytest.mark.parametrize("mode", ["L", "P", "CMYK", "RGBA", "LA", "I;16", "1"])
def test_every_mode_becomes_rgb(mode):
    base = Image.fromarray(_marked())
    if mode == "I;16":
        arr = (np.arange(64 * 32).reshape(32, 64) * 30).astype(np.uint16)
        image = Image.fromarray(arr)
        fmt = "PNG"
    else:
        image = base.convert(mode)
        fmt = "TIFF" if mode == "CMYK" else "PNG"
    buf = io.BytesIO()
    image.save(buf, fmt)
    photo = load_photo(buf.getvalue())
    assert photo.rgb.dtype == np.uint8 and photo.rgb.shape == (32, 64, 3)


def test_16_bit_grey_is_scaled_not_clipped():
    arr = np.full((8, 8), 65535 // 2, np.uint16)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG")
    assert abs(int(load_photo(buf.getvalue()).rgb[0, 0, 0]) - 128) <= 1


def test_rgba_keeps_its_transparency():
    rgba = np.zeros((20, 20, 4), np.uint8)
    rgba[5:15, 5:15] = (200, 10, 10, 255)
    photo = load_photo(encode_bytes(rgba, "PNG"))
    assert photo.alpha is not None
    assert photo.alpha[10, 10] == 255 and photo.alpha[0, 0] == 0


def test_tiff_input():
    photo = load_photo(encode_bytes(_marked(), "TIFF"))
    assert photo.rgb.shape == (32, 64, 3)


def test_empty_file():
    with pytest.raises(EmptyFile):
        load_photo(b"")


def test_not_an_image():
    with pytest.raises(NotAnImage) as err:
        load_photo(b"%PDF-1.4 this is a pdf, not a photo" * 10)
    assert "corrupt header" in str(err.value)


def test_truncated_jpeg():
    rng = np.random.default_rng(0)
    data = encode_bytes(rng.integers(0, 255, (256, 256, 3), dtype=np.uint8), "JPEG", quality=90)
    with pytest.raises(TruncatedImage) as err:
        load_photo(data[: len(data) // 2])
    assert "ends early" in str(err.value)


def test_pixel_cap_is_checked_before_decoding():
    data = encode_bytes(np.zeros((300, 400, 3), np.uint8), "PNG")
    with pytest.raises(TooManyPixels) as err:
        load_photo(data, LoadParams(max_pixels=100_000))
    assert "400x300" in str(err.value)


def test_load_takes_bytes_only_reading_files_is_the_callers_business(tmp_path):
    path = tmp_path / "x.jpg"
    path.write_bytes(encode_bytes(_marked(), "JPEG"))
    assert load_photo(path.read_bytes()).rgb.shape == (32, 64, 3)
    with pytest.raises(TypeError, match="bytes"):
        load_photo(path)


def test_the_first_bytes_refuse_what_is_no_image_or_has_too_many_pixels():
    from pipeline.load import probe

    with pytest.raises(EmptyFile):
        probe(b"")
    with pytest.raises(NotAnImage):
        probe(b"%PDF-1.4 not a photo" * 100)
    big = encode_bytes(np.zeros((400, 300, 3), np.uint8), "PNG")
    with pytest.raises(TooManyPixels, match="400 = 120,000 pixels"):
        probe(big[:64], LoadParams(max_pixels=100_000))  # the size is in the first bytes
    probe(big[:64], LoadParams())  # a header, not yet the whole file: decoding will tell
