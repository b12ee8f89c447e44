"""Compose and shadow on the hard cases: products cut by the frame, feet at
different heights, the photo's own shadow kept."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from pipeline import finish
from pipeline.compose import Cut, frame_cut
from pipeline.load import Photo
from pipeline.profile import Profile
from pipeline.segment.base import Segmentation
from pipeline.segment.white_studio import WhiteStudioSegmenter

RED = (200, 30, 30)
SWEEP = 240


def _photo(boxes, size=800, colour=RED):
    """A sweep with the product drawn as the union of ``boxes`` (x0, y0, x1, y1)."""
    img = np.full((size, size, 3), SWEEP, np.uint8)
    for x0, y0, x1, y1 in boxes:
        img[y0:y1, x0:x1] = colour
    return cv2.GaussianBlur(img, (0, 0), 1.0)


def _seg(boxes, size=800, work=200, shadow=None):
    """The segmenter's answer for ``_photo(boxes)``, at working resolution."""
    s = work / size
    alpha = np.zeros((work, work), np.float32)
    for box in boxes:
        x0, y0, x1, y1 = (round(v * s) for v in box)
        alpha[y0:y1, x0:x1] = 1
    return Segmentation(alpha=alpha, background=np.full((work, work, 3), SWEEP, np.float32), shadow=shadow)


def _profile(width=400, height=400, mode="none", **compose):
    return Profile.model_validate({"compose": {"width": width, "height": height, "padding": 10, **compose},
                                   "shadow": {"mode": mode, "opacity": 0.5}})


def _product_mask(image):
    """Where the canvas shows the red product (the sweep and any shadow are neutral)."""
    pixels = image.astype(int)
    return pixels[..., 0] - pixels[..., 1] > 100


# ------------------------------------------------------------------ frame edge

@pytest.mark.parametrize("width, height", [(400, 400), (397, 411), (1000, 700)])
def test_a_product_cut_at_the_top_and_right_bleeds_off_those_edges(width, height):
    boxes = [(400, 0, 800, 500)]   # runs out of the photo's top and right
    out = finish(Photo(rgb=_photo(boxes)), _seg(boxes), _profile(width, height)).image
    mask = _product_mask(out)
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    assert rows[0] == 0 and cols[-1] == width - 1
    # The whole cut reaches the canvas edge: no line of background between it and the edge.
    assert mask[0, cols[0] + 2:].all() and mask[:rows[-1] - 1, -1].all()
    # The uncut sides keep their padding.
    assert abs(height - 1 - rows[-1] - round(height * 0.1)) <= 1
    assert cols[0] >= round(width * 0.1) - 1


def test_a_product_cut_top_and_bottom_fills_the_canvas_height():
    boxes = [(300, 0, 500, 800)]   # fills the frame from top to bottom
    out = finish(Photo(rgb=_photo(boxes)), _seg(boxes), _profile()).image
    mask = _product_mask(out)
    assert mask[0, 190:210].all() and mask[-1, 190:210].all()
    cols = np.flatnonzero(mask.any(axis=0))
    assert abs((cols[0] + cols[-1] + 1) / 2 - 200) <= 1      # still centred across


def test_a_cut_product_of_a_product_set_keeps_the_shared_scale():
    boxes = [(400, 0, 800, 500)]
    out = finish(Photo(rgb=_photo(boxes)), _seg(boxes), _profile(), scale=0.5).image
    mask = _product_mask(out)
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    assert rows[0] == 0 and cols[-1] == 399                   # still on the cut edges
    assert abs(rows[-1] + 1 - 250) <= 1 and abs(cols[-1] + 1 - cols[0] - 200) <= 1   # at half size


def test_a_cut_views_own_scale_in_a_set_is_the_scale_it_is_laid_out_at():
    from pipeline.core import own_scale

    boxes = [(400, 0, 800, 500)]
    photo, seg, profile = Photo(rgb=_photo(boxes)), _seg(boxes), _profile()
    alone = _product_mask(finish(photo, seg, profile).image)
    shared = _product_mask(finish(photo, seg, profile, scale=own_scale(photo.rgb.shape, seg, profile)).image)
    assert (alone == shared).all()


@pytest.mark.parametrize("align", ["center", "bottom"])
def test_an_uncut_product_keeps_its_padding_on_every_side(align):
    boxes = [(200, 300, 600, 500)]
    out = finish(Photo(rgb=_photo(boxes)), _seg(boxes), _profile(align=align)).image
    mask = _product_mask(out)
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    assert abs(cols[0] - 40) <= 1 and abs(399 - cols[-1] - 40) <= 1
    assert rows[0] > 40 and 399 - rows[-1] >= 39


def test_a_cut_out_cropped_tight_to_its_product_is_not_cut():
    """A PNG cut-out whose product stops a pixel short of its edges keeps its padding."""
    rgba = np.zeros((400, 400, 4), np.uint8)
    rgba[1:399, 1:399] = (*RED, 255)
    photo = Photo(rgb=np.ascontiguousarray(rgba[..., :3]), alpha=np.ascontiguousarray(rgba[..., 3]))
    seg = Segmentation(alpha=rgba[..., 3].astype(np.float32) / 255)
    out = finish(photo, seg, _profile()).image
    mask = _product_mask(out)
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    assert abs(rows[0] - 40) <= 1 and abs(cols[0] - 40) <= 1 and abs(399 - rows[-1] - 40) <= 1


def test_stray_pixels_on_the_border_are_not_a_cut_but_a_soft_edge_is():
    alpha = np.zeros((200, 200), np.float32)
    alpha[0:3, 50:52] = 1          # two stray pixels on the top border
    alpha[1:150, 199] = 0.3        # the right border: a soft 1-px edge...
    alpha[1:150, 100:199] = 1      # ...of a product running out of the frame
    assert frame_cut(alpha, 0.5) == Cut(right=True)


# ------------------------------------------------------------------ contact shadow

# A body on two feet; the right foot stands higher in the photo (further back).
_BODY, _LEFT_FOOT, _RIGHT_FOOT = (250, 200, 550, 560), (260, 560, 360, 640), (440, 560, 540, 615)


def _two_feet(mode):
    boxes = [_BODY, _LEFT_FOOT, _RIGHT_FOOT]
    photo, seg = Photo(rgb=_photo(boxes)), _seg(boxes)
    bare = finish(photo, seg, _profile(600, 600, align="bottom")).image
    shaded = finish(photo, seg, _profile(600, 600, mode=mode, align="bottom")).image
    mask = _product_mask(bare)
    lowest = mask.shape[0] - 1 - np.argmax(mask[::-1], axis=0)
    cols = np.flatnonzero(mask.any(axis=0))
    third = (cols[-1] - cols[0]) / 6   # the feet are the outer thirds of the product's width
    left, gap, right = round(cols[0] + third), round((cols[0] + cols[-1]) / 2), round(cols[-1] - third)
    darkness = 255 - shaded.astype(np.float32).mean(axis=2)
    return darkness, lowest, (left, gap, right)


def test_each_foot_gets_its_contact_shadow_right_under_it():
    darkness, lowest, (left, gap, right) = _two_feet("contact")
    assert lowest[right] < lowest[left] - 10                # the feet stand at different heights
    under_left, under_right = darkness[lowest[left] + 2, left], darkness[lowest[right] + 2, right]
    assert under_left > 20 and under_right > 20
    assert darkness[lowest[right] + 2, gap] < 0.3 * min(under_left, under_right)   # not under the gap
    # Not a band at the lower foot's level: under the higher foot, the floor that low is light.
    assert darkness[lowest[left] + 2, right] < 0.3 * under_right


def test_contact_and_cast_give_no_separate_shadow_below_a_foot():
    darkness, lowest, (_, _, right) = _two_feet("contact+cast")
    below = darkness[lowest[right] + 2:, right]
    assert below[0] > 20
    assert (np.diff(below) <= 0.5).all(), "a second shadow further down the floor"


# ------------------------------------------------------------------ keep-original

_PRODUCT = [(250, 250, 550, 550)]   # on the canvas at 100..300 (padding 25 %), its base at y = 300


def _kept(shadow, **compose):
    profile = _profile(mode="keep-original", **{"padding": 25, **compose})
    return finish(Photo(rgb=_photo(_PRODUCT)), _seg(_PRODUCT, shadow=shadow), profile).image


def test_keep_original_draws_no_shadow_of_its_own():
    beside = np.zeros((200, 200), np.float32)
    beside[60:140, 150:190] = 0.6           # the photo's shadow falls to the right only
    out = _kept(beside)
    assert out[150:250, 340:380].mean() < 240       # it is kept...
    assert (out[302:330, 120:280] == 255).all()     # ...and nothing is drawn under the base
    assert (_kept(None)[302:] == 255).all()         # no shadow to keep: none drawn instead


def test_the_kept_shadow_is_only_near_the_product_and_clear_of_the_canvas_border():
    rng = np.random.default_rng(3)
    shadow = rng.uniform(0, 0.04, (200, 200)).astype(np.float32)   # a mottled sweep
    shadow[138:150, 60:140] = 0.6           # the real shadow, under the base
    shadow[170:, :] = shadow[:, 170:] = 0.5  # the sweep darkens toward the photo's bottom and right
    out = _kept(shadow, width=800, height=800, padding=30)           # the product at 240..560
    assert out[564:590, 300:500].mean() < 225                        # the real shadow is kept
    assert out[400:500, 700:720].mean() < 250                        # so is the darker sweep nearby...
    assert (out[-2:] == 255).all() and (out[:, -2:] == 255).all()    # ...faded out at the canvas border
    assert out[:40].min() == 255 and out[:, :40].min() == 255        # nothing far from the product
    assert out[300:500, 580:620].min() >= 254                        # the mottling beside it is gone


def test_a_warm_sweeps_shadow_is_kept_neutral():
    """The segmenter measures the photo's shadow on a warm sweep; on the
    white canvas it is grey, not the sweep's tint."""
    warm = np.array([246, 238, 224], np.float32)
    img = np.broadcast_to(warm, (800, 800, 3)).copy()
    yy, xx = np.mgrid[0:800, 0:800]
    fall = np.exp(-(((xx - 400) / 220) ** 2 + ((yy - 610) / 28) ** 2))
    img *= (1 - 0.45 * fall)[..., None]                              # the product's soft shadow
    img[300:600, 250:550] = (40, 90, 160)
    img = cv2.GaussianBlur(img.clip(0, 255).astype(np.uint8), (0, 0), 1.0)
    seg = WhiteStudioSegmenter().segment(img)
    out = finish(Photo(rgb=img), seg, _profile(mode="keep-original")).image
    floor = out[362:380, 120:280].astype(int)   # under the base (at y = 360)
    assert floor.mean() < 245                                        # there is a shadow...
    assert (floor.max(axis=2) - floor.min(axis=2)).max() <= 1        # ...and it is grey
