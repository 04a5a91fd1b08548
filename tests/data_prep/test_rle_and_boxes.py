"""Run-length codes and boxes derived from masks."""
import numpy as np
import pytest

from data_prep.boxes import MIN_BOX_AREA_FRACTION, boxes_from_mask
from data_prep.rle import (RLEError, decode_absolute_rle, decode_relative_rle,
                           encode_absolute_rle, encode_relative_rle)


def random_mask(rng, h, w, density=0.3):
    return rng.random((h, w)) < density


@pytest.mark.parametrize('shape', [(7, 5), (32, 48), (1, 9)])
def test_relative_rle_round_trips(shape):
    rng = np.random.default_rng(0)
    for density in (0.0, 0.05, 0.5, 1.0):
        mask = random_mask(rng, *shape, density)
        rle = encode_relative_rle(mask)
        assert np.array_equal(decode_relative_rle(rle, *shape), mask)
    assert encode_relative_rle(np.zeros(shape, bool)) == '-1'


@pytest.mark.parametrize('shape', [(7, 5), (32, 48)])
def test_absolute_rle_round_trips(shape):
    rng = np.random.default_rng(1)
    for density in (0.0, 0.1, 0.7):
        mask = random_mask(rng, *shape, density)
        assert np.array_equal(
            decode_absolute_rle(encode_absolute_rle(mask), *shape), mask)


def test_relative_rle_is_column_major_and_relative():
    # 4 rows x 3 columns. Column-major flat index = x * H + y.
    # "1 2 3 1": skip 1, fill 2 (flat 1, 2), skip 3, fill 1 (flat 6).
    mask = decode_relative_rle('1 2 3 1', height=4, width=3)
    expected = np.zeros((4, 3), bool)
    expected[1, 0] = expected[2, 0] = True  # flat 1, 2: column 0, rows 1-2
    expected[2, 1] = True                   # flat 6: column 1, row 2
    assert np.array_equal(mask, expected)
    assert not decode_relative_rle('-1', 4, 3).any()
    assert not decode_relative_rle(' -1', 4, 3).any()


def test_absolute_rle_is_row_major_and_one_based():
    mask = decode_absolute_rle('1 2 6 1', height=2, width=3)
    assert np.array_equal(mask, [[1, 1, 0], [0, 0, 1]])


def test_bad_run_length_strings_are_errors():
    with pytest.raises(RLEError, match='more than the 4x4 image'):
        decode_relative_rle('10 7', 4, 4)  # ends at pixel 17 > 16
    with pytest.raises(RLEError, match='beyond the 2x2 image'):
        decode_absolute_rle('3 3', 2, 2)
    with pytest.raises(RLEError, match='pairs'):
        decode_relative_rle('1 2 3', 4, 4)
    with pytest.raises(RLEError, match='non-integer'):
        decode_relative_rle('1 x', 4, 4)
    with pytest.raises(RLEError, match='counted from 1'):
        decode_absolute_rle('0 2', 4, 4)


def test_boxes_from_hand_made_mask():
    mask = np.zeros((100, 200), np.uint8)
    mask[10:30, 20:50] = 1        # 600 px
    mask[60:80, 150:151] = 1      # 20 px: below 1e-4 * 20000 = 2? no: kept
    mask[90, 5] = 1               # a 1-pixel speck
    mask[40:42, 100:103] = 1      # touches the next one diagonally
    mask[42, 103] = 1
    boxes = boxes_from_mask(mask, min_area=5)
    assert boxes == [(20.0, 10.0, 50.0, 30.0), (100.0, 40.0, 104.0, 43.0),
                     (150.0, 60.0, 151.0, 80.0)]
    # The default minimum is a fraction of the image area.
    default = boxes_from_mask(mask)
    assert max(1, round(MIN_BOX_AREA_FRACTION * mask.size)) == 2
    assert (5.0, 90.0, 6.0, 91.0) not in default and len(default) == 3
    assert boxes_from_mask(np.zeros((8, 8))) == []
