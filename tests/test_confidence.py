"""The cut-out confidence on small synthetic photos: white-studio's own doubts,
the checks that hold for every segmenter, a photo's own transparency, and a
real ONNX session whose model cannot make up its mind."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from pipeline.confidence import MIN_CONFIDENCE, Assessment, assess, combine
from pipeline.metrics import iou
from pipeline.segment.base import Doubt, Segmentation
from pipeline.segment.contracts import ModelContract
from pipeline.segment.onnx import OnnxSegmenter
from pipeline.segment.white_studio import WhiteStudioParams, WhiteStudioSegmenter
from tests.onnx_builders import mask_model

SIZE = 400
NEUTRAL = (244, 244, 241)
WARM = (242, 236, 224)


@pytest.fixture(scope="module")
def segmenter() -> WhiteStudioSegmenter:
    return WhiteStudioSegmenter(WhiteStudioParams())


def sweep(colour=NEUTRAL, noise: float = 1.2, seed: int = 0) -> np.ndarray:
    """float32 HxWx3: a light sweep, a little darker in the corners, with sensor noise."""
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) / (SIZE - 1) * 2 - 1
    falloff = 1 - 0.04 * (x * x + y * y) / 2
    grain = np.random.default_rng(seed).normal(0, noise, (SIZE, SIZE, 3)).astype(np.float32)
    return np.array(colour, np.float32) * falloff[..., None] + grain


def rect(top: int, left: int, bottom: int, right: int) -> np.ndarray:
    mask = np.zeros((SIZE, SIZE), np.float32)
    mask[max(top, 0):bottom, max(left, 0):right] = 1
    return mask


def put(image: np.ndarray, mask: np.ndarray, colour) -> np.ndarray:
    a = mask[..., None]
    return image * (1 - a) + np.array(colour, np.float32) * a


def contact_shadow(image: np.ndarray, cx: int, cy: int, rx: int, strength: float = 0.3) -> np.ndarray:
    shade = np.zeros((SIZE, SIZE), np.float32)
    cv2.ellipse(shade, (cx, cy), (rx, 8), 0, 0, 360, 1.0, -1)
    return image * (1 - strength * cv2.GaussianBlur(shade, (0, 0), 6))[..., None]


def photo(image: np.ndarray) -> np.ndarray:
    return np.clip(image + 0.5, 0, 255).astype(np.uint8)


def kinds(segmentation: Segmentation) -> set[str]:
    return {d.kind for d in segmentation.doubts}


# ----------------------------------------------------------------------------- white-studio

def test_a_clean_dark_product_on_white_gets_high_confidence(segmenter):
    product = rect(120, 110, 290, 290)
    rgb = photo(put(contact_shadow(sweep(), 200, 292, 100), product, (28, 30, 36)))
    seg = segmenter.segment(rgb)
    assert iou(seg.alpha, product) > 0.97
    result = assess(rgb, seg)
    assert result.confidence >= 0.9
    assert result.reasons == ()
    assert result.confidence >= MIN_CONFIDENCE


def test_a_white_product_whose_inside_was_lost_is_held_as_white_on_white(segmenter):
    # A white box as bright as the sweep, lit from above: its shaded sides and base and a
    # dark port show, its top edge does not, so its inside runs on into the sweep.
    body = rect(110, 120, 300, 280)
    outline = rect(110, 120, 300, 122) + rect(110, 278, 300, 280) + rect(298, 120, 300, 280)
    image = put(put(sweep(), body, NEUTRAL), outline, (200, 200, 198))
    image = put(image, rect(250, 180, 262, 220), (60, 60, 62))
    rgb = photo(image)
    seg = segmenter.segment(rgb)
    assert iou(seg.alpha, body) < 0.8  # the inside matched the sweep and was left out
    result = assess(rgb, seg)
    assert result.confidence < MIN_CONFIDENCE
    assert "white-on-white" in kinds(seg)
    assert "white as the backdrop" in result.reasons[0]


def _hard_shadow_photo() -> tuple[np.ndarray, np.ndarray]:
    # Hard light from the upper right: the box's shadow falls on the floor to its lower left.
    product = rect(120, 200, 260, 320)
    cast = np.zeros((SIZE, SIZE), np.float32)
    cv2.fillConvexPoly(cast, np.array([[200, 200], [200, 260], [320, 260], [230, 330], [110, 330]]), 1.0)
    cast = cv2.GaussianBlur(cast, (0, 0), 0.8) * (1 - product)
    return photo(put(sweep(WARM) * (1 - 0.55 * cast[..., None]), product, (40, 60, 120))), product


def test_a_hard_cast_shadow_is_taken_out_by_its_evidence():
    rgb, product = _hard_shadow_photo()
    seg = WhiteStudioSegmenter().segment(rgb)  # hard_shadows: auto
    assert iou(seg.alpha, product) > 0.95
    assert "shadow-kept" not in kinds(seg)


def test_a_kept_hard_cast_shadow_is_held_with_a_shadow_reason():
    rgb, product = _hard_shadow_photo()
    seg = WhiteStudioSegmenter(WhiteStudioParams(hard_shadows=False)).segment(rgb)
    assert iou(seg.alpha, product) < 0.9  # kept, as asked
    result = assess(rgb, seg)
    assert "shadow-kept" in kinds(seg)
    assert result.confidence < MIN_CONFIDENCE
    assert any("shadow" in reason for reason in result.reasons)


def test_a_smooth_grey_part_that_is_no_shadow_does_not_say_shadow(segmenter):
    # A shaded grey barrel lying on the sweep, with a marking ring: all product.
    barrel = rect(150, 80, 250, 320)
    y = np.arange(SIZE, dtype=np.float32)[:, None]
    shading = 0.6 + 0.5 * np.cos((y - 185) / 70)  # brightest a little above its axis
    image = sweep() * (1 - barrel[..., None]) + (np.float32(95) * shading)[..., None] * barrel[..., None]
    rgb = photo(put(image, rect(150, 180, 250, 190), (210, 210, 210)))
    seg = segmenter.segment(rgb)
    assert iou(seg.alpha, barrel) > 0.97
    assert "shadow-kept" not in kinds(seg)


def test_a_product_cut_by_the_frame_lowers_the_confidence_and_says_why(segmenter):
    product = rect(100, -10, 330, 200)  # runs out through the left edge
    rgb = photo(put(sweep(), product, (70, 75, 85)))
    seg = segmenter.segment(rgb)
    result = assess(rgb, seg)
    assert result.confidence < 0.9
    assert any("frame" in reason for reason in result.reasons)


def test_coloured_light_spilled_round_a_glossy_product_is_said(segmenter):
    product = rect(120, 140, 260, 260)
    glow = np.zeros((SIZE, SIZE), np.float32)
    cv2.ellipse(glow, (200, 270), (110, 40), 0, 0, 360, 1.0, -1)
    glow = cv2.GaussianBlur(glow, (0, 0), 25) * 0.4
    tint = np.array([1.0, 0.4, 0.4], np.float32)
    image = sweep() * ((1 - glow[..., None]) + glow[..., None] * tint)
    rgb = photo(put(image, product, (200, 20, 28)))
    seg = segmenter.segment(rgb)
    result = assess(rgb, seg)
    if iou(seg.alpha, product) < 0.95:  # the spill was kept: that must be said
        assert result.confidence < MIN_CONFIDENCE
        assert "colour-spill" in kinds(seg)


def _coarse_grain(strength: float, seed: int = 5) -> np.ndarray:
    """float32 HxW: a texture far coarser than the sweep's noise (paper, a glossy floor)."""
    noise = np.random.default_rng(seed).normal(0, 1, (SIZE, SIZE)).astype(np.float32)
    return cv2.GaussianBlur(noise, (0, 0), 1.2) * strength


def test_the_floors_texture_kept_beside_a_product_is_said_and_a_fabric_inside_its_outline_is_not(segmenter):
    """A patch of coarse floor texture running on from under a dark product's
    corner is found by grain alone, outside the hull of the product's colour
    and edges: where the cut-out keeps it, it is held with that reason (a
    mouse's glossy floor passed at 0.76). A pale fabric product whose grain lies
    inside its own outline raises no such doubt."""
    product = rect(140, 120, 250, 260)
    patch = np.zeros((SIZE, SIZE), np.float32)
    cv2.ellipse(patch, (265, 255), (45, 22), 0, 0, 360, 1.0, -1)
    patch = cv2.GaussianBlur(patch, (0, 0), 4) * (1 - product)
    rgb = photo(put(sweep(), product, (40, 40, 45)) + (_coarse_grain(10) * patch)[..., None])
    seg = segmenter.segment(rgb)
    assert np.count_nonzero((seg.alpha >= 0.5) & (product == 0)) > 500      # the texture was kept...
    assert "floor-texture" in kinds(seg)                                       # ...and that is said
    assert assess(rgb, seg).confidence < MIN_CONFIDENCE

    fabric = rect(120, 120, 280, 280)
    image = sweep() * (1 - 0.08 * fabric[..., None]) + (_coarse_grain(10) * fabric)[..., None]
    rgb = photo(put(image, fabric - rect(123, 123, 277, 277), (150, 150, 150)))   # with its seam round it
    seg = segmenter.segment(rgb)
    assert iou(seg.alpha, fabric) > 0.98
    assert "floor-texture" not in kinds(seg)


def test_assess_does_not_modify_its_inputs(segmenter):
    product = rect(120, 110, 290, 290)
    rgb = photo(put(sweep(), product, (28, 30, 36)))
    seg = segmenter.segment(rgb)
    before_rgb, before_alpha = rgb.copy(), seg.alpha.copy()
    assess(rgb, seg)
    assert np.array_equal(rgb, before_rgb) and np.array_equal(seg.alpha, before_alpha)


# ----------------------------------------------------------------------------- own transparency

def test_a_photo_with_its_own_clean_transparency_gets_high_confidence():
    alpha = np.zeros((300, 200), np.float32)
    cv2.ellipse(alpha, (100, 150), (98, 148), 0, 0, 360, 1.0, -1, lineType=cv2.LINE_AA)  # touches the canvas
    rgb = np.full((300, 200, 3), 90, np.uint8)
    result = assess(rgb, Segmentation(alpha=alpha))
    assert result.confidence >= 0.9 and result.reasons == ()


def test_own_transparency_in_many_pieces_is_doubted():
    rng = np.random.default_rng(1)
    alpha = np.zeros((300, 300), np.float32)
    alpha[60:240, 60:240] = 1
    for y, x in rng.integers(0, 290, (12, 2)):
        alpha[y:y + 6, x:x + 6] = 1  # loose pieces round it
    result = assess(np.zeros((300, 300, 3), np.uint8), Segmentation(alpha=alpha))
    assert result.confidence < MIN_CONFIDENCE
    assert any("pieces" in reason for reason in result.reasons)


def test_an_empty_cut_out_has_no_confidence():
    result = assess(np.zeros((100, 100, 3), np.uint8), Segmentation(alpha=np.zeros((100, 100), np.float32)))
    assert result.confidence == 0.0
    assert result.reasons == ("no product was found in the photo",)


# ----------------------------------------------------------------------------- ONNX

def test_an_onnx_model_that_cannot_decide_gets_low_confidence(tmp_path):
    # The model answers probabilities between 0.1 and 0.8 (as IS-Net does) and the
    # contract applies no activation: most of the subject is neither product nor sweep.
    contract = ModelContract(input_size=256, activation="none")
    model = OnnxSegmenter(mask_model(contract, tmp_path / "unsure.onnx", emit="probabilities", outputs=1),
                          contract, providers=["cpu"])
    rgb = photo(put(sweep(), rect(100, 100, 300, 300), (30, 200, 60)))
    seg = model.segment(rgb)
    assert "undecided" in kinds(seg)
    result = assess(rgb, seg)
    assert result.confidence < MIN_CONFIDENCE
    assert any("unsure" in reason for reason in result.reasons)


def test_a_sure_onnx_model_on_a_clean_sweep_passes(tmp_path):
    contract = ModelContract(input_size=256)
    model = OnnxSegmenter(mask_model(contract, tmp_path / "sure.onnx", outputs=1), contract, providers=["cpu"])
    # The test model's product is whatever is red-ish and not blue: a red box on a blue-grey sweep.
    rgb = photo(put(sweep((120, 130, 245)), rect(120, 120, 280, 280), (230, 40, 30)))
    seg = model.segment(rgb)
    assert iou(seg.alpha, cv2.resize(rect(120, 120, 280, 280), seg.alpha.shape[::-1])) > 0.95
    assert assess(rgb, seg).confidence >= MIN_CONFIDENCE


# ----------------------------------------------------------------------------- combining

def test_the_strongest_doubt_of_each_kind_counts_and_reasons_come_strongest_first():
    doubts = [Doubt("frame-edge", 0.2, "frame"), Doubt("frame-edge", 0.3, "frame, more"),
              Doubt("shadow-kept", 0.9, "shadow"), Doubt("tiny", 0.05, "tiny")]
    result = combine(doubts)
    assert result.confidence == pytest.approx((1 - 0.3) * (1 - 0.9) * (1 - 0.05), abs=1e-4)
    assert result.reasons == ("shadow", "frame, more")  # a 0.05 doubt is not worth a line


def test_at_most_four_reasons_are_given():
    result = combine([Doubt(f"kind-{i}", 0.5, f"reason {i}") for i in range(6)])
    assert len(result.reasons) == 4
    assert isinstance(result, Assessment)


def test_bad_input_is_refused_with_a_clear_error():
    seg = Segmentation(alpha=np.zeros((100, 100), np.float32))
    with pytest.raises(ValueError, match="uint8"):
        assess(np.zeros((100, 100, 3), np.float32), seg)
    with pytest.raises(ValueError, match="shape"):
        assess(np.zeros((100, 300, 3), np.uint8), seg)
    with pytest.raises(ValueError, match="severity"):
        Doubt("tiny", 1.5, "too sure")
