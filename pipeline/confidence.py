"""How sure a cut-out is: the segmenter's own doubts plus checks that hold for
every segmenter, combined into one confidence the review gate compares with
its threshold.

``assess(rgb, segmentation) -> Assessment`` is pure and cheap: it reads only
the segmentation (at its working resolution) and never modifies its inputs.
Each doubt has a severity in [0, 1]; per kind the strongest counts, and the
confidence is the product of ``1 - severity`` over the kinds, so one sure
doubt holds a cut-out and several moderate ones add up. The reasons are the
doubts' own words, strongest first.

Generic checks, from the alpha alone:

- ``no-product``: nothing was cut out;
- ``tiny``: the product covers very little of the photo (few pixels to cut with);
- ``fills-frame``: the product covers nearly all of it (little backdrop to cut against);
- ``frame-edge``: the product runs out of the photo (at most 0.4: a poor listing
  photo, but not by itself a wrong cut-out);

``fills-frame`` and ``frame-edge`` do not apply to a photo that carried its own
transparency: a cut-out file is cropped to its product.
- ``fragmented``: the cut-out is many separate pieces;
- ``undecided-edge``: a wide band of half-transparent alpha around the product.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from pipeline.segment.base import Doubt, Segmentation

MIN_CONFIDENCE = 0.55  # the default review threshold (review.min_confidence); see docs/segmentation.md
MAX_REASONS = 4
MIN_REASON_SEVERITY = 0.1  # weaker doubts change the confidence a little but are not worth a line

_CROSS = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
_BAND_REACH = 4
_REACH = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * _BAND_REACH + 1, 2 * _BAND_REACH + 1))
_DUST = 0.0002   # parts smaller than this share of the photo are ignored (dust, noise)
_FRAGMENT = 0.05  # a part smaller than this share of the largest is a fragment, not a second product
# Running out of the frame makes a poor listing photo but not by itself a wrong cut-out: alone it
# lowers the confidence to 0.6 at most, with another doubt it holds the photo.
_FRAME_EDGE = 0.4


@dataclass(frozen=True)
class Assessment:
    """``confidence`` 0..1, higher = more likely right; ``reasons`` why it is
    lower, in the store's words, most important first (at most four)."""

    confidence: float
    reasons: tuple[str, ...] = ()


def assess(rgb: np.ndarray, segmentation: Segmentation) -> Assessment:
    """The confidence of ``segmentation`` as a cut-out of ``rgb`` (HxWx3 uint8,
    any size with the alpha's aspect ratio). A segmentation with no sweep model
    (``background`` None) is taken for the photo's own transparency."""
    _check(rgb, segmentation.alpha)
    own = segmentation.background is None
    return combine([*segmentation.doubts, *generic_doubts(segmentation.alpha, own_alpha=own)])


def combine(doubts: list[Doubt] | tuple[Doubt, ...]) -> Assessment:
    """One assessment from doubts: the strongest per kind, multiplied together."""
    strongest: dict[str, Doubt] = {}
    for doubt in doubts:
        if doubt.kind not in strongest or doubt.severity > strongest[doubt.kind].severity:
            strongest[doubt.kind] = doubt
    ranked = sorted(strongest.values(), key=lambda d: d.severity, reverse=True)
    confidence = float(np.prod([1.0 - d.severity for d in ranked])) if ranked else 1.0
    reasons = tuple(d.reason for d in ranked if d.severity >= MIN_REASON_SEVERITY)[:MAX_REASONS]
    return Assessment(confidence=round(confidence, 4), reasons=reasons)


def generic_doubts(alpha: np.ndarray, *, own_alpha: bool = False) -> list[Doubt]:
    """The checks that hold for every segmenter, from ``alpha`` (float32 HxW in [0, 1])."""
    subject = (alpha >= 0.5).view(np.uint8)
    area = np.count_nonzero(subject) / subject.size
    if area * subject.size < 1 or area < _DUST / 10:
        return [Doubt("no-product", 1.0, "no product was found in the photo")]
    found = [
        Doubt("tiny", _ramp(0.006 - area, 0.0, 0.005), "the product is very small in the photo"),
        Doubt("fragmented", fragmented(subject), "the cut-out is in many separate pieces"),
        Doubt("undecided-edge", _ramp(edge_band_width(alpha, subject), 3.5, 7.0),
              "the edge of the cut-out is unclear in places"),
    ]
    if not own_alpha:  # a cut-out file is cropped to its product: filling it and touching its edges is normal
        found += [Doubt("fills-frame", _ramp(area, 0.7, 0.9),
                        "the product fills the photo, with little backdrop to cut it from"),
                  Doubt("frame-edge", _FRAME_EDGE * _ramp(frame_contact(subject), 0.005, 0.1),
                        "the product runs out of the photo's frame")]
    return [d for d in found if d.severity > 0]


def frame_contact(subject: np.ndarray) -> float:
    """Share of the frame's edge that the product (uint8 0/1) covers."""
    edge = np.concatenate([subject[0], subject[-1], subject[1:-1, 0], subject[1:-1, -1]])
    return float(np.count_nonzero(edge) / max(len(edge), 1))


def fragmented(subject: np.ndarray) -> float:
    """0..1: how much the cut-out falls apart into fragments -- parts too big to
    be dust but much smaller than the largest part (two products are two large
    parts, not fragments)."""
    n, _, stats, _ = cv2.connectedComponentsWithStats(subject, connectivity=8)
    areas = np.sort(stats[1:, cv2.CC_STAT_AREA])[::-1]
    areas = areas[areas >= _DUST * subject.size]
    if len(areas) < 2:
        return 0.0
    pieces = areas[areas < _FRAGMENT * areas[0]]
    if len(pieces) < 2:
        return 0.0  # one small part beside the product is a second product (a lens cap)
    return max(_ramp(len(pieces), 1, 6), _ramp(pieces.sum() / areas.sum(), 0.05, 0.3))


def edge_band_width(alpha: np.ndarray, subject: np.ndarray) -> float:
    """Average width in working pixels of the half-transparent band (alpha
    between 0.05 and 0.95) along the product's outline, counted up to
    ``_BAND_REACH`` pixels either side of it: a soft edge, not a see-through
    part inside the product (glass is half-transparent and right)."""
    outline = (subject - cv2.erode(subject, _CROSS, borderValue=1)).view(bool)
    near = cv2.dilate(outline.view(np.uint8), _REACH) > 0
    soft = np.count_nonzero(near & (alpha > 0.05) & (alpha < 0.95))
    return soft / max(np.count_nonzero(outline), 1)


def _ramp(x: float, lo: float, hi: float) -> float:
    return float(min(1.0, max(0.0, (x - lo) / (hi - lo))))


def _check(rgb: np.ndarray, alpha: np.ndarray) -> None:
    if not isinstance(rgb, np.ndarray) or rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        got = f"{rgb.dtype} {rgb.shape}" if isinstance(rgb, np.ndarray) else type(rgb).__name__
        raise ValueError(f"assess needs the photo as an HxWx3 uint8 array, got {got}")
    (h, w), (ah, aw) = rgb.shape[:2], alpha.shape
    if abs(h / w - ah / aw) > 0.02 * max(h / w, ah / aw) + 1.5 / min(aw, ah):
        raise ValueError(f"the alpha ({aw}x{ah}) does not have the photo's shape ({w}x{h})")
