"""``conv2d_into`` takes a weight stored tap-major, ``(c_i/groups, k_h, k_w, c_o)`` seen
as ``(c_o, c_i/groups, k_h, k_w)``, without copying it (conv_transpose2d's phases hand
their sub-kernels over that way). Every algorithm must read such a view correctly."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from reference import conv2d_reference

from convcli import conv2d, conv_transpose2d
from convcli.ops.algorithms import choose_algorithm

CASES: list[tuple[tuple[int, ...], tuple[int, ...], dict[str, Any], str]] = [
    ((2, 3, 3), (3, 2, 2, 2), {}, "tiny"),
    ((1, 32, 32, 32), (16, 32, 1, 1), {}, "gemm_1x1"),
    ((2, 8, 24, 25), (6, 8, 3, 3), {"padding": 1}, "im2col_gemm"),
    ((1, 16, 40, 40), (8, 8, 3, 2), {"stride": 2, "groups": 2}, "im2col_gemm"),
    ((1, 32, 40, 40), (64, 1, 3, 3), {"padding": 1, "groups": 32}, "depthwise_direct"),
]


def _tap_major(w: Any) -> Any:
    view = np.ascontiguousarray(np.moveaxis(w, 0, -1)).transpose(3, 0, 1, 2)
    assert np.moveaxis(view, 0, -1).flags.c_contiguous and not view.flags.c_contiguous
    return view


@pytest.mark.parametrize(("x_shape", "w_shape", "options", "algorithm"), CASES)
def test_a_tap_major_weight_gives_the_same_result(
    x_shape: tuple[int, ...], w_shape: tuple[int, ...], options: dict[str, Any], algorithm: str
) -> None:
    assert choose_algorithm(x_shape, w_shape, **options) == algorithm
    rng = np.random.default_rng(len(x_shape) + w_shape[0])
    x = rng.integers(-4, 5, x_shape).astype(np.float64)
    w = rng.integers(-4, 5, w_shape).astype(np.float64)
    expected = conv2d_reference(x if x.ndim == 4 else x[None], w, **options)
    if x.ndim == 3:
        expected = expected[0]
    for _ in range(2):  # first call and remembered call
        np.testing.assert_array_equal(conv2d(x, _tap_major(w), **options), expected)


def test_transposed_phases_match_the_definition() -> None:
    # conv_transpose2d(x, w) is the gradient of conv2d with respect to its input:
    # <conv2d(y, w), x> == <y, conv_transpose2d(x, w)> for any y (exact on integers).
    rng = np.random.default_rng(5)
    x = rng.integers(-3, 4, (2, 12, 7, 6)).astype(np.float64)
    w = rng.integers(-3, 4, (12, 5, 4, 4)).astype(np.float64)
    up = conv_transpose2d(x, w, stride=2, padding=1)
    y = rng.integers(-3, 4, up.shape).astype(np.float64)
    down = conv2d_reference(y, w, stride=2, padding=1)
    assert float((down * x).sum()) == float((y * up).sum())
