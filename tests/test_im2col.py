"""verify_im2col: any convolution is a matrix product on unfolded patches."""

from __future__ import annotations

import numpy as np
import pytest
from test_explain import random_case

from convcli.ops.lesson import lesson_input, lesson_kernel_multi_in, lesson_kernel_multi_out
from convcli.ops.verify import unfold, verify_im2col
from convcli.shapes.geometry import resolve_geometry
from convcli.shapes.options import ConvOptions


def test_lesson_columns_are_the_windows() -> None:
    check = verify_im2col(lesson_input(), lesson_kernel_multi_in())
    assert check.column_matrix_shape == (8, 4) and check.weight_matrix_shape == (1, 8)
    # column 0 is output (0, 0)'s window: channel 0 then channel 1, row by row
    assert check.columns[0, 0, :, 0].tolist() == [0, 1, 3, 4, 1, 2, 4, 5]
    assert check.weights[0, 0].tolist() == [0, 1, 2, 3, 1, 2, 3, 4]
    assert check.matrix_product.tolist() == [[56, 72], [104, 120]]
    assert check.comparison.agree and check.comparison.max_abs_diff == 0


def test_lesson_multi_out_rows_and_shapes() -> None:
    check = verify_im2col(lesson_input(), lesson_kernel_multi_out(), np.array([1.0, 2.0, 3.0]))
    assert check.weights.shape == (1, 3, 8)
    assert check.matrix_product[:, 0, 0].tolist() == [57, 78, 99]
    assert check.output_axes == ("c_o", "m_h", "m_w")


def test_unfold_takes_stride_and_dilation() -> None:
    x = np.arange(25).reshape(1, 1, 5, 5)
    g = resolve_geometry((5, 5), (2, 2), stride=2, dilation=2)
    columns = unfold(x, (2, 2), g, 1)[0, 0]
    assert g.out_size == (2, 2)
    assert columns[:, 0].tolist() == [0, 2, 10, 12]
    assert columns[:, 1].tolist() == [2, 4, 12, 14]
    assert columns[:, 2].tolist() == [10, 12, 20, 22]


def test_groups_have_their_own_blocks() -> None:
    rng = np.random.default_rng(4)
    x = rng.integers(-5, 6, (2, 6, 5, 5))
    w = rng.integers(-5, 6, (4, 3, 2, 2))
    check = verify_im2col(x, w, None, ConvOptions(groups=2, padding=1))
    assert check.columns.shape == (2, 2, 12, 36)
    assert check.weights.shape == (2, 2, 12)
    assert check.comparison.agree and check.comparison.max_abs_diff == 0


@pytest.mark.parametrize("seed", range(80))
def test_random_configurations_agree(seed: int) -> None:
    x, k, bias, options, _ = random_case(seed)
    try:
        check = verify_im2col(x, k, bias, options)
    except ValueError:
        return  # shapes that do not fit, refused as run refuses them
    assert check.comparison.agree, (check.comparison, options)
    assert check.matrix_product.shape == check.direct.shape
    assert check.matrix_product.dtype == check.direct.dtype


def test_float_disagreement_beyond_a_zero_tolerance() -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((64, 8, 8), dtype=np.float32)
    w = rng.standard_normal((8, 64, 3, 3), dtype=np.float32)
    loose = verify_im2col(x, w)
    assert loose.comparison.agree
    strict = verify_im2col(x, w, atol=0.0)
    assert strict.comparison.max_abs_diff > 0 and not strict.comparison.agree


def test_too_big_to_unfold() -> None:
    with pytest.raises(ValueError, match="unfolded input would hold"):
        verify_im2col(np.zeros((64, 256, 256), np.int8), np.zeros((1, 64, 9, 9), np.int8))


def test_non_finite_inputs_agree_where_both_ways_give_the_same_ieee_values() -> None:
    x = np.arange(18.0).reshape(2, 3, 3)
    x[0, 0, 0], x[1, 2, 2] = np.nan, np.inf
    check = verify_im2col(x, np.ones((1, 2, 2, 2)), None, ConvOptions(padding=1))
    assert check.comparison.agree
    assert np.isnan(check.direct).any() and np.isinf(check.direct).any()
    assert check.comparison.max_abs_diff == 0.0
