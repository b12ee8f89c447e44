"""How close a cut-out is to a reference mask.

Every function takes a prediction and a reference of the same HxW shape,
each either float alpha in [0, 1] or a uint8 mask 0..255 (a bool mask works
too). For the binary measures a float counts as product at >= 0.5 and a uint8
at >= 128. Inputs are never modified.
"""

from __future__ import annotations

import cv2
import numpy as np


def iou(pred: np.ndarray, truth: np.ndarray) -> float:
    """Intersection over union of the two binary masks; 1.0 when both are empty."""
    p, t = _binary_pair(pred, truth)
    union = np.count_nonzero(p | t)
    return 1.0 if union == 0 else np.count_nonzero(p & t) / union


def mae(pred: np.ndarray, truth: np.ndarray) -> float:
    """Mean absolute difference of the soft alphas, in [0, 1]."""
    _same_shape(pred, truth)
    return cv2.norm(_unit(pred), _unit(truth), cv2.NORM_L1) / pred.size


def boundary_f(pred: np.ndarray, truth: np.ndarray, tolerance_px: float | None = None) -> float:
    """Boundary F-measure: the harmonic mean of the share of predicted contour
    pixels within ``tolerance_px`` of the reference contour (precision) and the
    share of reference contour pixels within it of the predicted one (recall).

    The tolerance defaults to 0.2% of the image diagonal (at least one
    pixel). The frame's edge is not a contour. 1.0 when neither mask has a
    contour, 0.0 when only one has.
    """
    p, t = _binary_pair(pred, truth)
    if tolerance_px is None:
        tolerance_px = max(1.0, 0.002 * float(np.hypot(*p.shape)))
    if tolerance_px < 0:
        raise ValueError(f"tolerance_px must be >= 0, got {tolerance_px}")
    p_edge, t_edge = _contour(p), _contour(t)
    n_p, n_t = np.count_nonzero(p_edge), np.count_nonzero(t_edge)
    if n_p == 0 or n_t == 0:
        return 1.0 if n_p == n_t else 0.0
    precision = np.count_nonzero(p_edge & _near(t_edge, tolerance_px)) / n_p
    recall = np.count_nonzero(t_edge & _near(p_edge, tolerance_px)) / n_t
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def _same_shape(pred: np.ndarray, truth: np.ndarray) -> None:
    if pred.shape != truth.shape or pred.ndim != 2:
        raise ValueError(f"expected two HxW arrays of one shape, got {pred.shape} and {truth.shape}")


def _unit(mask: np.ndarray) -> np.ndarray:
    """float32 in [0, 1] from float alpha, uint8 0..255 or bool."""
    if mask.dtype == np.uint8:
        unit = mask.astype(np.float32)
        unit *= 1 / 255
        return unit
    if mask.dtype == bool or np.issubdtype(mask.dtype, np.floating):
        return mask.astype(np.float32)
    raise ValueError(f"expected float alpha, uint8 or bool, got {mask.dtype}")


def _binary(mask: np.ndarray) -> np.ndarray:
    if mask.dtype == np.uint8:
        return mask >= 128
    return _unit(mask) >= 0.5


def _binary_pair(pred: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    _same_shape(pred, truth)
    return _binary(pred), _binary(truth)


def _contour(mask: np.ndarray) -> np.ndarray:
    """bool: product pixels with a sweep pixel among their 4 neighbours."""
    m = mask.view(np.uint8)
    # Eroding with a border of 1 keeps the frame's edge from counting as contour.
    eroded = cv2.erode(m, cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3)),
                       borderType=cv2.BORDER_CONSTANT, borderValue=1)
    return mask & (eroded == 0)


def _near(edge: np.ndarray, tolerance_px: float) -> np.ndarray:
    """bool: pixels within ``tolerance_px`` (Euclidean) of an ``edge`` pixel."""
    distance = cv2.distanceTransform((~edge).view(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return distance <= tolerance_px
