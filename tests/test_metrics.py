import numpy as np
import pytest

from pipeline.metrics import boundary_f, iou, mae


def square(size=200, top=50, left=50, side=100, dtype=bool):
    m = np.zeros((size, size), bool)
    m[top:top + side, left:left + side] = True
    if dtype == np.uint8:
        return m.astype(np.uint8) * 255
    return m.astype(dtype)


def test_iou_of_two_half_overlapping_squares():
    a = square(left=50)
    b = square(left=100)  # overlaps a on 50 of its 100 columns
    assert iou(a, b) == pytest.approx(5000 / 15000)


@pytest.mark.parametrize("dtype", [bool, np.uint8, np.float32, np.float64])
def test_iou_reads_every_documented_dtype_the_same(dtype):
    assert iou(square(dtype=dtype), square(left=60)) == pytest.approx(9000 / 11000)


def test_hard_masks_threshold_at_one_half():
    truth = np.ones((2, 2), bool)
    assert iou(np.full((2, 2), 0.5, np.float32), truth) == 1.0
    assert iou(np.full((2, 2), 0.49, np.float32), truth) == 0.0
    assert iou(np.full((2, 2), 128, np.uint8), truth) == 1.0
    assert iou(np.full((2, 2), 127, np.uint8), truth) == 0.0


def test_iou_of_two_empty_masks_is_perfect():
    empty = np.zeros((8, 8), np.float32)
    assert iou(empty, empty) == 1.0


def test_mae_compares_soft_values():
    truth = np.zeros((4, 4), np.uint8)
    assert mae(np.full((4, 4), 0.25, np.float32), truth) == pytest.approx(0.25)
    assert mae(np.full((4, 4), 255, np.uint8), np.ones((4, 4), np.float32)) == 0.0


def test_the_frame_edge_is_not_a_boundary():
    # Both masks run off the right of the frame; only their left edges count.
    pred, truth = np.zeros((50, 50), bool), np.zeros((50, 50), bool)
    pred[:, 20:] = True
    truth[:, 21:] = True
    assert boundary_f(pred, truth, tolerance_px=1) == 1.0
    assert boundary_f(pred, truth, tolerance_px=0) == 0.0


def test_boundary_f_is_perfect_for_identical_masks_and_within_tolerance():
    assert boundary_f(square(), square()) == 1.0
    assert boundary_f(square(left=52), square(), tolerance_px=2) == 1.0


def test_boundary_f_drops_when_the_edge_is_further_off_than_the_tolerance():
    shifted = boundary_f(square(left=58), square(), tolerance_px=2)
    assert shifted < 0.7
    assert boundary_f(square(left=58), square(), tolerance_px=8) == 1.0


def test_boundary_f_default_tolerance_is_a_fifth_of_a_percent_of_the_diagonal():
    # 1000 x 1000: the diagonal is 1414 px, the tolerance 2.8 px.
    truth = square(size=1000, top=300, left=300, side=400)
    assert boundary_f(square(size=1000, top=300, left=302, side=400), truth) == 1.0
    assert boundary_f(square(size=1000, top=300, left=306, side=400), truth) < 0.7


def test_boundary_f_with_one_empty_mask_is_zero():
    assert boundary_f(np.zeros((50, 50), bool), square(size=50, top=10, left=10, side=20)) == 0.0
    assert boundary_f(np.zeros((50, 50), bool), np.zeros((50, 50), bool)) == 1.0


def test_inputs_are_not_modified():
    pred = np.linspace(0, 1, 100, dtype=np.float32).reshape(10, 10)
    before = pred.copy()
    iou(pred, pred > 0.3)
    mae(pred, pred)
    boundary_f(pred, pred)
    assert np.array_equal(pred, before)


def test_rejects_masks_of_different_sizes():
    with pytest.raises(ValueError, match="shape"):
        iou(np.zeros((4, 4)), np.zeros((4, 5)))


def test_rejects_an_unsupported_dtype():
    with pytest.raises(ValueError, match="int32"):
        mae(np.zeros((4, 4), np.int32), np.zeros((4, 4), np.uint8))
