"""Refine, compose, shadow, brand and encode, on small synthetic photos."""

from __future__ import annotations

import io
import re

import cv2
import numpy as np
import pytest
from PIL import Image, ImageCms
from pydantic import ValidationError

from pipeline import finish
from pipeline.core import cut_out, full_alpha, segment_photo
from pipeline.encode import encode
from pipeline.errors import OutputTooLarge
from pipeline.load import Photo
from pipeline.profile import EncodeParams, Profile
from pipeline.refine import decontaminate, guided_upsample
from pipeline.segment.base import NO_PRODUCT, NO_SWEEP, NoCutout, Segmentation
from pipeline.template import check_template, fill_template


def _square_photo(size=800, box=(200, 248, 600, 648), colour=(25, 25, 30), sweep=240, blur=1.5):
    img = np.full((size, size, 3), sweep, np.uint8)
    x0, y0, x1, y1 = box
    img[y0:y1, x0:x1] = colour
    img = cv2.GaussianBlur(img, (0, 0), blur)  # a real lens: edges are a few pixels soft
    return img


def _coarse(size, box, work=200):
    """A blocky working-resolution matte, as a segmenter gives it."""
    s = work / size
    a = np.zeros((work, work), np.float32)
    x0, y0, x1, y1 = (round(v * s) for v in box)
    a[y0:y1, x0:x1] = 1
    return a


def _profile(**over) -> Profile:
    base = {"compose": {"width": 400, "height": 400, "padding": 10}, "shadow": {"mode": "none"}}
    for k, v in over.items():
        base.setdefault(k, {}).update(v)
    return Profile.model_validate(base)


def _seg(size=800, box=(200, 248, 600, 648), sweep=240, work=200):
    return Segmentation(alpha=_coarse(size, box, work), background=np.full((work, work, 3), sweep, np.float32))


def _subject_bbox(image, bg=(255, 255, 255), tol=110):
    diff = np.abs(image[..., :3].astype(int) - np.array(bg)).max(axis=2) > tol
    ys, xs = np.nonzero(diff)
    return xs.min(), ys.min(), xs.max() + 1, ys.max() + 1


# ------------------------------------------------------------------ refine

def test_guided_upsample_follows_the_photos_edge_not_the_blocky_matte():
    img = _square_photo(blur=0.8)
    truth = np.zeros((800, 800), np.float32)
    truth[250:650, 203:600] = 1   # the segmenter's edge is 3 px off the real one at x=200
    coarse = cv2.resize(truth, (100, 100), interpolation=cv2.INTER_AREA)
    alpha = guided_upsample(coarse, img, radius=2, eps=1e-3)
    assert alpha.shape == (800, 800) and alpha.dtype == np.float32
    assert alpha[450, 400] > 0.95 and alpha[100, 100] < 0.05
    row = alpha[450, 180:220]
    crossing = 180 + int(np.argmax(row > 0.5))
    assert abs(crossing - 200) <= 1               # snapped to the photo's edge
    assert ((row > 0.05) & (row < 0.5)).sum() <= 2  # outside: a crisp fall-off


def test_refined_matte_is_solid_inside_and_crisp_at_the_edge():
    from pipeline.profile import RefineParams
    from pipeline.refine import refine

    img = _square_photo(blur=0.8)
    truth = np.zeros((800, 800), np.float32)
    truth[250:650, 203:600] = 1
    coarse = cv2.resize(truth, (200, 200), interpolation=cv2.INTER_AREA)
    background = np.full((200, 200, 3), 240, np.float32)
    _, alpha = refine(img, coarse, background, RefineParams(), subject_px=400)
    row = alpha[450, 180:240]
    assert (row[23:] > 0.97).all()                # no translucent rim inside the product
    assert ((row > 0.03) & (row < 0.97)).sum() <= 4


def test_decontamination_removes_the_sweep_from_edge_pixels():
    sweep = np.array([245, 245, 245], np.float32)
    dark = np.array([20, 20, 20], np.float32)
    true_alpha = np.clip((np.arange(40, dtype=np.float32) - 10) / 8, 0, 1)[None, :].repeat(12, axis=0)
    rgb = (true_alpha[..., None] * dark + (1 - true_alpha[..., None]) * sweep).round().astype(np.uint8)
    rough = np.clip((true_alpha - 0.3) * 3, 0, 1)   # a filtered matte that is too narrow
    before = rgb.copy()
    out, alpha = decontaminate(rgb, rough, np.broadcast_to(sweep, (12, 40, 3)))
    assert np.abs(alpha - true_alpha).max() < 0.03          # the real mix, read off the colours
    edge = true_alpha > 0.15
    assert np.abs(out[edge].astype(int) - 20).max() <= 3   # pure product colour, no white mixed in
    assert (rgb == before).all()


def test_a_product_standing_in_its_own_shadow_mixes_with_the_shadow_not_the_lit_sweep():
    """Below a product's base the edge band lies on the photo's shadow; read
    against the lit sweep a shadow pixel looked 60% product, a dark seam under
    the base. The backdrop an edge pixel mixes with is the one beside it."""
    sweep, shade, blue = (np.array(c, np.float32) for c in ((246, 238, 224), (139, 136, 130), (40, 90, 160)))
    true_alpha = np.clip((20.5 - np.arange(40, dtype=np.float32)) / 2, 0, 1)[:, None].repeat(30, axis=1)
    backdrop = np.where(np.arange(40)[:, None, None] >= 18, shade, sweep)      # the shadow below the base
    rgb = (true_alpha[..., None] * blue + (1 - true_alpha[..., None]) * backdrop).round().astype(np.uint8)
    rough = (true_alpha > 0.5).astype(np.float32)
    out, alpha = decontaminate(rgb, rough, np.broadcast_to(sweep, (40, 30, 3)).copy(), band_px=3)
    assert alpha[22:].max() < 0.05                                   # the shadow is not product
    assert np.abs(alpha - true_alpha).max() < 0.1


def test_no_white_halo_on_dark_gear_over_a_dark_background():
    """Composite a dark product on a black canvas: the edge must not glow."""
    img = _square_photo(colour=(20, 20, 22), sweep=245, blur=2.0)
    profile = _profile(compose={"background": "#000000"})
    out = finish(Photo(rgb=img), _seg(sweep=245), profile).image
    assert out.max() <= 60, f"a light fringe of {out.max()} remains around the product"


def test_without_decontamination_the_halo_is_there():
    """The control for the test above: it can fail."""
    img = _square_photo(colour=(20, 20, 22), sweep=245, blur=2.0)
    profile = _profile(compose={"background": "#000000"}, refine={"decontaminate": False})
    out = finish(Photo(rgb=img), _seg(sweep=245), profile).image
    assert out.max() > 60


# ------------------------------------------------------------------ compose

@pytest.mark.parametrize("padding", [0, 10, 25])
def test_padding_is_exact(padding):
    profile = _profile(compose={"padding": padding})
    out = finish(Photo(rgb=_square_photo()), _seg(), profile).image
    x0, y0, x1, y1 = _subject_bbox(out)
    pad = round(400 * padding / 100)
    # The square subject fills the padded box exactly (within a pixel of soft edge).
    assert abs(x0 - pad) <= 1 and abs(400 - x1 - pad) <= 1
    assert abs(y0 - pad) <= 1 and abs(400 - y1 - pad) <= 1


def test_per_side_padding_and_bottom_alignment():
    box = (200, 300, 600, 500)  # wide and low
    profile = _profile(compose={"padding": {"top": 5, "right": 10, "bottom": 20, "left": 10}, "align": "bottom"})
    out = finish(Photo(rgb=_square_photo(box=box)), _seg(box=box), profile).image
    x0, y0, x1, y1 = _subject_bbox(out)
    assert abs(x0 - 40) <= 1 and abs(400 - x1 - 40) <= 1     # width-limited: left/right padding exact
    assert abs(400 - y1 - 80) <= 1                           # standing on the floor at 20 %


def test_centre_alignment_centres_vertically():
    box = (200, 300, 600, 500)
    out = finish(Photo(rgb=_square_photo(box=box)), _seg(box=box), _profile()).image
    x0, y0, x1, y1 = _subject_bbox(out)
    assert abs((y0 + y1) / 2 - 200) <= 1


def test_canvas_size_and_colour():
    profile = _profile(compose={"width": 300, "height": 200, "background": "#102030"})
    out = finish(Photo(rgb=_square_photo()), _seg(), profile).image
    assert out.shape == (200, 300, 3)
    assert tuple(out[2, 2]) == (0x10, 0x20, 0x30)


def test_transparent_background_gives_rgba():
    profile = _profile(compose={"background": "transparent"}, encode={"format": "png"})
    result = finish(Photo(rgb=_square_photo()), _seg(), profile)
    assert result.image.shape[2] == 4
    assert result.image[2, 2, 3] == 0 and result.image[200, 200, 3] == 255
    assert Image.open(io.BytesIO(result.encoded)).mode == "RGBA"


def test_transparent_jpeg_is_a_config_error():
    with pytest.raises(ValidationError, match="transparent"):
        Profile.model_validate({"compose": {"background": "transparent"}, "encode": {"format": "jpeg"}})


def test_an_empty_cutout_is_answered_with_no_product():
    class Empty:
        name = "empty"

        def segment(self, rgb):
            return Segmentation(alpha=np.zeros((50, 50), np.float32))

    answer = cut_out(Photo(rgb=np.full((200, 200, 3), 240, np.uint8)), Empty(), _profile())
    assert answer == NoCutout(NO_PRODUCT, answer.reason) and "no product" in answer.reason


def test_the_segmenters_no_cutout_is_passed_on():
    class NoSweep:
        name = "no-sweep"

        def segment(self, rgb):
            return NoCutout(NO_SWEEP, "dark backdrop")

    assert cut_out(Photo(rgb=np.zeros((200, 200, 3), np.uint8)), NoSweep(), _profile()) == NoCutout(
        NO_SWEEP, "dark backdrop")


def test_finish_does_not_modify_its_inputs():
    img = _square_photo()
    seg = _seg()
    before_img, before_alpha = img.copy(), seg.alpha.copy()
    finish(Photo(rgb=img), seg, _profile(shadow={"mode": "contact+cast"}))
    assert (img == before_img).all() and (seg.alpha == before_alpha).all()


def test_an_already_cut_out_png_keeps_its_own_alpha():
    rgba = np.zeros((300, 300, 4), np.uint8)
    rgba[100:200, 50:250] = (200, 30, 30, 255)

    class Refuses:
        name = "refuses"

        def segment(self, rgb):
            raise AssertionError("the photo's own alpha should be used")

    seg = segment_photo(Photo(rgb=rgba[..., :3].copy(), alpha=rgba[..., 3].copy()), Refuses())
    assert seg.alpha[150, 150] == 1 and seg.alpha[10, 10] == 0


# ------------------------------------------------------------------ shadow

def _shadow_strength(mode, **extra):
    profile = _profile(shadow={"mode": mode, "opacity": 0.5, **extra}, compose={"padding": 15})
    box = (200, 248, 600, 648)
    seg = _seg(box=box)
    if mode == "keep-original":
        shadow = np.zeros_like(seg.alpha)
        shadow[165:175, 40:160] = 0.8  # the photo's shadow just under the product (working px)
        seg = Segmentation(alpha=seg.alpha, background=seg.background, shadow=shadow)
    out = finish(Photo(rgb=_square_photo(box=box)), seg, profile).image
    return out


def test_no_shadow_leaves_the_canvas_white():
    out = _shadow_strength("none")
    assert (out[345:400, :] == 255).all()


def test_contact_shadow_darkens_under_the_product_only():
    out = _shadow_strength("contact")
    under = out[342:346, 150:250].mean()     # just below the base (base at y=340)
    above = out[10:40, :].mean()
    assert under < 235 and above == 255


def test_cast_shadow_falls_away_from_the_light():
    out = _shadow_strength("cast", direction=150, length=0.6)  # light from the right: shadow back-left
    left, right = out[200:340, 0:58].mean(), out[200:340, 342:400].mean()
    assert left < right - 5


def test_keep_original_carries_the_photos_own_shadow():
    out = _shadow_strength("keep-original")
    assert out[342:352, 100:300].mean() < 235
    assert (out[5:30] == 255).all()


# ------------------------------------------------------------------ brand

def test_text_bar_is_drawn_with_placeholders():
    profile = _profile(brand={"bar": {"text": "USED {title} {sku}", "position": "bottom",
                                      "background": "#000000", "opacity": 1.0, "size": 5}})
    out = finish(Photo(rgb=_square_photo()), _seg(), profile, {"title": "Canon R5"}).image
    bar = out[-30:, :]
    assert bar.mean() < 60                   # a black bar along the bottom
    assert (bar > 200).any()                 # with white text in it
    assert (out[:20] == 255).all()           # nothing at the top


def test_fill_template_leaves_unknown_fields_blank():
    assert fill_template("{title} #{serial}", {"title": "Sony A7 IV"}) == "Sony A7 IV #"
    assert fill_template("{title", {}) == "{title"  # never checked: shown as written, never a crash
    assert fill_template("{title.nope}", {"title": "x"}) == "{title.nope}"


@pytest.mark.parametrize("template, problem", [
    ("{title", "expected '}'"), ("{0} and {}", "is not a field name"), ("{title.upper}", "is not a field name"),
    ("{sku[0]}", "is not a field name"), ("{title:{width}}", "nested fields"),
])
def test_check_template_refuses_what_fill_could_not_do(template, problem):
    with pytest.raises(ValueError, match=re.escape(problem)):
        check_template(template)
    assert check_template("{title} #{serial} {{literal}} {sku:>10}") == "{title} #{serial} {{literal}} {sku:>10}"


def test_logo_is_placed_in_its_corner(tmp_path):
    logo = np.zeros((20, 40, 4), np.uint8)
    logo[...] = (255, 0, 0, 255)
    path = tmp_path / "logo.png"
    Image.fromarray(logo).save(path)
    profile = _profile(brand={"logo": {"path": str(path), "position": "top-left", "scale": 20,
                                       "opacity": 1.0, "margin": 2}})
    out = finish(Photo(rgb=_square_photo()), _seg(), profile).image
    assert tuple(out[20, 20]) == (255, 0, 0)       # 8 px margin, 80 px wide logo
    assert tuple(out[20, 380]) == (255, 255, 255)


def test_missing_logo_file_is_a_config_error(tmp_path):
    with pytest.raises(ValidationError, match="logo file not found"):
        Profile.model_validate({"brand": {"logo": {"path": str(tmp_path / "nope.png")}}})


# ------------------------------------------------------------------ encode

def test_jpeg_has_srgb_icc_and_no_exif():
    out = finish(Photo(rgb=_square_photo()), _seg(), _profile())
    image = Image.open(io.BytesIO(out.encoded))
    assert image.format == "JPEG"
    profile = ImageCms.ImageCmsProfile(io.BytesIO(image.info["icc_profile"]))
    assert "sRGB" in ImageCms.getProfileDescription(profile)
    assert not image.getexif()


def test_byte_cap_steps_quality_down():
    rng = np.random.default_rng(1)
    noisy = rng.integers(0, 255, (256, 256, 3), dtype=np.uint8)
    full = len(encode(noisy, EncodeParams(quality=95)))
    capped = encode(noisy, EncodeParams(quality=95, min_quality=30, max_bytes=full * 6 // 10))
    assert len(capped) <= full * 6 // 10


def test_byte_cap_that_cannot_be_met_is_an_error():
    rng = np.random.default_rng(1)
    noisy = rng.integers(0, 255, (128, 128, 3), dtype=np.uint8)
    with pytest.raises(OutputTooLarge):
        encode(noisy, EncodeParams(quality=90, min_quality=85, max_bytes=1000))


@pytest.mark.parametrize("fmt", ["png", "webp"])
def test_other_formats(fmt):
    data = encode(np.zeros((32, 32, 3), np.uint8), EncodeParams(format=fmt))
    assert Image.open(io.BytesIO(data)).format == fmt.upper()


def test_full_alpha_is_at_the_photos_size():
    img = _square_photo()
    alpha = full_alpha(Photo(rgb=img), _seg())
    assert alpha.shape == (800, 800)
    assert alpha[450, 400] > 0.95 and alpha[50, 50] < 0.05
