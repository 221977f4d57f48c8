"""``conv2d`` remembers a float call's checks and plan by shapes, dtypes and options:
the next identical call must compute the same values for new operands, and a call that
differs only in an argument's type or in values that integers are checked on must still
go through every check."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
from reference import conv2d_reference

from convcli import conv2d
from convcli.errors import ConvcliError
from convcli.ops import conv as conv_module

CASES: list[tuple[tuple[int, ...], tuple[int, ...], dict[str, Any]]] = [
    ((2, 3, 3), (3, 2, 2, 2), {}),  # the lesson: tiny, one sample, one group
    ((2, 2, 4, 5), (4, 1, 2, 3), {"groups": 2, "padding": (1, 0)}),  # tiny, batched, grouped
    ((1, 3, 6, 7), (2, 3, 3, 3), {"stride": 2, "dilation": (1, 2), "padding": 2}),
    ((1, 8, 20, 20), (8, 8, 3, 3), {"padding": 1}),  # im2col_gemm
]


def _integer_valued(rng: np.random.Generator, shape: tuple[int, ...], dtype: Any) -> Any:
    return rng.integers(-4, 5, size=shape).astype(dtype)


@pytest.mark.parametrize(("x_shape", "w_shape", "options"), CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("with_bias", [False, True])
def test_repeated_calls_compute_new_operands(
    x_shape: tuple[int, ...],
    w_shape: tuple[int, ...],
    options: dict[str, Any],
    dtype: Any,
    with_bias: bool,
) -> None:
    rng = np.random.default_rng(len(x_shape) * 7 + w_shape[0])
    for _ in range(3):  # the first call plans, the next ones are remembered
        x = _integer_valued(rng, x_shape, dtype)
        w = _integer_valued(rng, w_shape, dtype)
        b = _integer_valued(rng, (w_shape[0],), dtype) if with_bias else None
        y = conv2d(x, w, b, **options)
        assert y.dtype == np.dtype(dtype)
        expected = conv2d_reference(x if x.ndim == 4 else x[None], w, b, **options)
        if x.ndim == 3:
            expected = expected[0]
        np.testing.assert_array_equal(y, expected)


def test_a_remembered_call_is_the_same_call() -> None:
    x = np.arange(18, dtype=np.float32).reshape(2, 3, 3)
    w = np.ones((3, 2, 2, 2), np.float32)
    conv2d(x, w)
    conv2d(x, w)
    assert any(key[0] == (2, 3, 3) for key in conv_module._REMEMBERED)
    # A float bias is rounded to the compute dtype first, remembered or not.
    bias = np.array([0.1, 1e-9, 3.0], np.float64)
    first, second = conv2d(x, w, bias), conv2d(x, w, bias)
    np.testing.assert_array_equal(first, second)
    assert first.dtype == np.float64


@pytest.mark.parametrize("bad", [1.0, True, (1.0, 1), (1, True)])
def test_arguments_of_another_type_are_still_checked(bad: object) -> None:
    x = np.ones((2, 3, 3), np.float32)
    w = np.ones((3, 2, 2, 2), np.float32)
    conv2d(x, w, stride=1)
    conv2d(x, w, stride=1)  # remembered under stride 1, which equals 1.0 and True
    with pytest.raises(ConvcliError):
        conv2d(x, w, stride=bad)  # type: ignore[arg-type]
    with pytest.raises(ConvcliError):
        conv2d(x, w, dilation=bad)  # type: ignore[arg-type]


def test_integer_operands_are_checked_on_every_call() -> None:
    # int64 with uint64 computes in float64: refused when sums could round, whatever
    # an earlier call of the same shapes held.
    w = np.ones((1, 1, 1, 2), np.uint64)
    small = np.ones((1, 1, 1, 2), np.int64)
    large = np.full((1, 1, 1, 2), 2**60, np.int64)
    for _ in range(2):
        np.testing.assert_array_equal(conv2d(small, w), [[[[2.0]]]])
    with pytest.raises(ConvcliError):
        conv2d(large, w)
    # int32 accumulates exactly in int64 whatever was remembered before.
    xi = np.full((1, 1, 1, 2), 2**30, np.int32)
    wi = np.full((1, 1, 1, 2), 2**30, np.int32)
    for _ in range(2):
        assert conv2d(xi, wi)[0, 0, 0, 0] == 2**61


def test_views_and_subclasses_compute_correctly() -> None:
    rng = np.random.default_rng(3)
    base = _integer_valued(rng, (2, 4, 6, 8), np.float64)
    w = _integer_valued(rng, (3, 2, 2, 2), np.float64)
    contiguous = np.ascontiguousarray(base[:, ::2, :, ::2])
    conv2d(contiguous, w)
    # Same shape and dtype, but a strided view: the remembered kernel copies it.
    view = base[:, 1::2, :, 1::2]
    np.testing.assert_array_equal(conv2d(view, w), conv2d_reference(view, w))
    np.testing.assert_array_equal(
        conv2d(np.asfortranarray(contiguous), w), conv2d_reference(contiguous, w)
    )


def test_remembered_calls_stay_silent_on_inf_and_nan() -> None:
    # IEEE results without warnings, on the first call and on the remembered ones.
    x = np.full((2, 3, 3), 3e38, np.float32)
    x[0, 0, 0] = np.inf
    x[1, 0, 0] = -np.inf
    w = np.full((3, 2, 2, 2), 3e38, np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        results = [conv2d(x, w, np.ones(3, np.float32)) for _ in range(3)]
    for y in results:
        assert np.isinf(y[:, 1:, 1:]).all()
        assert np.isnan(y[:, 0, 0]).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("x_shape", "w_shape"),
    [((1, 1, 1, 2), (1, 1, 1, 1)), ((1, 1, 1, 1), (3, 1, 1, 1)), ((1, 1, 2, 2), (1, 1, 1, 1))],
)
def test_an_inf_times_a_zero_weight_is_nan_when_a_factor_is_one_number(
    dtype: Any, x_shape: tuple[int, ...], w_shape: tuple[int, ...]
) -> None:
    # One input channel and one tap: np.dot would scale a vector (0 * inf = 0) where
    # PyTorch's product gives NaN, the IEEE product, for every output that reads the inf.
    x = np.ones(x_shape, dtype)
    x.reshape(-1)[0] = np.inf
    w = np.zeros(w_shape, dtype)
    expected = conv2d_reference(x, w)
    assert np.isnan(expected).any()
    with np.errstate(invalid="ignore"):
        for _ in range(2):  # the first call and the remembered one
            np.testing.assert_array_equal(conv2d(x, w), expected)
