"""The compute core: the lesson's published numbers, the dtype contract, argument errors.

The only literal results here are the lesson's (Dive into Deep Learning, "Multiple Input
and Multiple Output Channels"); everything else is computed from the definition.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from reference import conv2d_reference

from convcli import conv2d, corr2d, corr2d_multi_in, corr2d_multi_in_out, corr2d_multi_in_out_1x1

Array = npt.NDArray[Any]
INT64_MAX = 2**63 - 1

# The lesson's example: two 3x3 input channels and a 2-channel 2x2 kernel.
X = np.array([[[0, 1, 2], [3, 4, 5], [6, 7, 8]], [[1, 2, 3], [4, 5, 6], [7, 8, 9]]])
K = np.array([[[0, 1], [2, 3]], [[1, 2], [3, 4]]])
K3 = np.stack([K, K + 1, K + 2])
LESSON_MULTI_IN = [[56, 72], [104, 120]]
LESSON_MULTI_IN_OUT = [LESSON_MULTI_IN, [[76, 100], [148, 172]], [[96, 128], [192, 224]]]

LAYOUTS: dict[str, Callable[[Array], Any]] = {
    "C int64": lambda a: a,
    "nested lists": lambda a: a.tolist(),
    "float64": lambda a: a.astype(np.float64),
    "big-endian int32": lambda a: a.astype(">i4"),
    "big-endian int64": lambda a: a.astype(">i8"),
    "big-endian float64": lambda a: a.astype(">f8"),
    "Fortran order": np.asfortranarray,
    "Fortran big-endian float32": lambda a: np.asfortranarray(a.astype(">f4")),
    "strided view": lambda a: np.repeat(a, 2, axis=-1)[..., ::2],
}


def _read_only(a: Array) -> Array:
    b = a.copy()
    b.flags.writeable = False
    return b


LAYOUTS["read-only"] = _read_only


# --- the lesson ---------------------------------------------------------------------


@pytest.mark.parametrize("layout", LAYOUTS.values(), ids=LAYOUTS.keys())
def test_lesson_corr2d_multi_in(layout: Callable[[Array], Any]) -> None:
    out = corr2d_multi_in(layout(X), layout(K))
    assert out.tolist() == LESSON_MULTI_IN
    assert out.dtype.isnative


@pytest.mark.parametrize("layout", LAYOUTS.values(), ids=LAYOUTS.keys())
def test_lesson_corr2d_multi_in_out(layout: Callable[[Array], Any]) -> None:
    out = corr2d_multi_in_out(layout(X), layout(K3))
    assert out.tolist() == LESSON_MULTI_IN_OUT
    assert out.dtype.isnative


@pytest.mark.parametrize("layout", LAYOUTS.values(), ids=LAYOUTS.keys())
def test_lesson_numbers_through_conv2d(layout: Callable[[Array], Any]) -> None:
    assert conv2d(layout(X), layout(K[None])).tolist() == [LESSON_MULTI_IN]
    assert conv2d(layout(X), layout(K3)).tolist() == LESSON_MULTI_IN_OUT
    batched = conv2d(layout(np.stack([X, X])), layout(K3))
    assert batched.tolist() == [LESSON_MULTI_IN_OUT, LESSON_MULTI_IN_OUT]
    assert batched.dtype.isnative


def test_lesson_corr2d_multi_in_is_the_sum_of_corr2d() -> None:
    assert (corr2d(X[0], K[0]) + corr2d(X[1], K[1])).tolist() == LESSON_MULTI_IN


def test_lesson_1x1_equals_corr2d_multi_in_out() -> None:
    # The lesson's check: random normal X (3, 3, 3) and K (2, 3, 1, 1), difference < 1e-6.
    rng = np.random.default_rng(0)
    x, k = rng.normal(0, 1, (3, 3, 3)), rng.normal(0, 1, (2, 3, 1, 1))
    y1, y2 = corr2d_multi_in_out_1x1(x, k), corr2d_multi_in_out(x, k)
    assert y1.shape == y2.shape == (2, 3, 3)
    assert float(np.abs(y1 - y2).sum()) < 1e-6


# --- padding="same" ------------------------------------------------------------------


@pytest.mark.parametrize("axis", [0, 1], ids=["rows", "columns"])
@pytest.mark.parametrize(("k", "dilation"), [(2, 1), (4, 1), (2, 3), (3, 2), (4, 2)])
def test_same_padding_puts_the_extra_row_or_column_bottom_right(
    axis: int, k: int, dilation: int
) -> None:
    # A one-hot kernel at tap t reads x shifted by t*d - before, where PyTorch pads
    # before = total // 2 at the top/left and the rest (one more when odd) bottom/right.
    x = np.arange(1, 1 + 6 * 7).reshape(1, 6, 7)
    before = dilation * (k - 1) // 2
    for t in range(k):
        shape = [1, 1, 1, 1]
        shape[2 + axis] = k
        weight = np.zeros(shape, int)
        weight.flat[t] = 1
        out = conv2d(x, weight, padding="same", dilation=dilation)
        shift = t * dilation - before
        expected = np.zeros_like(x)
        n = x.shape[1 + axis]
        src = [slice(None)] * 3
        dst = [slice(None)] * 3
        src[1 + axis] = slice(max(shift, 0), n + min(shift, 0))
        dst[1 + axis] = slice(max(-shift, 0), n + min(-shift, 0))
        expected[tuple(dst)] = x[tuple(src)]
        assert out.tolist() == expected.tolist(), f"tap {t}"


# --- the dtype contract -------------------------------------------------------------

FLOAT16_ONES: dict[str, Callable[[], Array]] = {
    "conv2d": lambda: conv2d(np.ones((1, 64, 64), np.float16), np.ones((1, 1, 64, 64), np.float16)),
    "conv2d big-endian": lambda: conv2d(
        np.ones((1, 64, 64), ">f2"), np.ones((1, 1, 64, 64), ">f2")
    ),
    "corr2d": lambda: corr2d(np.ones((64, 64), np.float16), np.ones((64, 64), np.float16)),
    "corr2d_multi_in": lambda: corr2d_multi_in(
        np.ones((4, 32, 32), np.float16), np.ones((4, 32, 32), np.float16)
    ),
    "corr2d_multi_in_out": lambda: corr2d_multi_in_out(
        np.ones((4, 32, 32), np.float16), np.ones((1, 4, 32, 32), np.float16)
    ),
    "corr2d_multi_in_out_1x1": lambda: corr2d_multi_in_out_1x1(
        np.ones((4096, 1, 1), np.float16), np.ones((1, 4096, 1, 1), np.float16)
    ),
}


@pytest.mark.parametrize("compute", FLOAT16_ONES.values(), ids=FLOAT16_ONES.keys())
def test_float16_accumulates_in_float32(compute: Callable[[], Array]) -> None:
    # 4096 ones: a float16 running sum would stall at 2048 (2048 + 1 rounds to 2048).
    out = compute()
    assert out.dtype == np.float16
    assert out.size == 1
    assert float(out.item()) == 4096.0


@pytest.mark.parametrize(("x_value", "w_value"), [(127, 127), (-128, -128), (-128, 127)])
def test_int8_sums_exactly_in_int64(x_value: int, w_value: int) -> None:
    c_i, size = 64, 16
    x = np.full((c_i, size, size), x_value, np.int8)
    weight = np.full((1, c_i, size, size), w_value, np.int8)
    out = conv2d(x, weight)
    assert out.dtype == np.int64
    assert out.tolist() == [[[x_value * w_value * c_i * size * size]]]
    assert corr2d_multi_in(x, weight[0]).tolist() == [[x_value * w_value * c_i * size * size]]


def test_uint8_does_not_wrap() -> None:
    x, weight = np.full((3, 4, 4), 255, np.uint8), np.full((2, 3, 4, 4), 255, np.uint8)
    out = conv2d(x, weight, bias=np.array([255, 0], np.uint8))
    assert out.dtype == np.int64
    assert out.tolist() == [[[255 * 255 * 48 + 255]], [[255 * 255 * 48]]]


def test_bool_counts_in_int64() -> None:
    x = np.ones((1, 20, 20), bool)
    out = conv2d(x, np.ones((1, 1, 16, 16), bool), bias=np.array([True]))
    assert out.dtype == np.int64
    assert out.shape == (1, 5, 5)
    assert set(out.ravel().tolist()) == {16 * 16 + 1}


@pytest.mark.parametrize(
    ("x", "weight", "bias"),
    [
        pytest.param([[[2**53 + 1]]], [[[[1]]]], None, id="2**53 + 1"),
        pytest.param([[[2**52 + 1] * 3]], [[[[1, 1, 1]]]], None, id="3 * (2**52 + 1)"),
        pytest.param([[[2**62]]], [[[[1]]]], [2**62 - 1], id="int64 max"),
        pytest.param([[[-(2**62)]]], [[[[1]]]], [-(2**62) + 1], id="near int64 min"),
        pytest.param([[[3_037_000_499]]], [[[[3_037_000_499]]]], None, id="sqrt int64 max"),
    ],
)
def test_int64_results_beyond_float64_are_exact(
    x: list[Any], weight: list[Any], bias: list[int] | None
) -> None:
    x_arr, w_arr = np.array(x, np.int64), np.array(weight, np.int64)
    b_arr = None if bias is None else np.array(bias, np.int64)
    out = conv2d(x_arr, w_arr, b_arr)
    assert out.dtype == np.int64
    assert out.tolist() == conv2d_reference(x_arr, w_arr, b_arr, exact_ints=True).tolist()


OVERFLOWS: dict[str, Callable[[], Any]] = {
    "conv2d sum": lambda: conv2d(np.full((1, 1, 2), 2**62, np.int64), np.ones((1, 1, 1, 2), int)),
    "conv2d bias": lambda: conv2d(
        np.full((1, 1, 1), 2**62, np.int64), np.ones((1, 1, 1, 1), int), bias=[2**62]
    ),
    "conv2d product": lambda: conv2d(
        np.full((1, 1, 1), 2**32, np.int64), np.full((1, 1, 1, 1), 2**31, np.int64)
    ),
    "uint64": lambda: conv2d(
        np.full((1, 1, 1), 2**64 - 1, np.uint64), np.ones((1, 1, 1, 1), np.uint64)
    ),
    "corr2d": lambda: corr2d(np.full((1, 2), 2**62, np.int64), np.ones((1, 2), int)),
    "corr2d_multi_in": lambda: corr2d_multi_in(
        np.full((2, 1, 1), 2**62, np.int64), np.ones((2, 1, 1), int)
    ),
    "corr2d_multi_in_out": lambda: corr2d_multi_in_out(
        np.full((2, 1, 1), 2**62, np.int64), np.ones((1, 2, 1, 1), int)
    ),
    "corr2d_multi_in_out_1x1": lambda: corr2d_multi_in_out_1x1(
        np.full((2, 1, 1), 2**62, np.int64), np.ones((1, 2, 1, 1), int)
    ),
}


@pytest.mark.parametrize("compute", OVERFLOWS.values(), ids=OVERFLOWS.keys())
def test_integer_overflow_is_refused_with_a_float64_hint(compute: Callable[[], Any]) -> None:
    with pytest.raises(ValueError, match="float64"):
        compute()


@pytest.mark.parametrize(
    ("x_dtype", "w_dtype", "expected"),
    [
        ("float32", "float32", "float32"),
        ("float64", "float64", "float64"),
        ("float16", "float16", "float16"),
        ("complex64", "complex64", "complex64"),
        ("complex128", "complex128", "complex128"),
        ("int8", "int8", "int64"),
        ("uint8", "int8", "int64"),
        ("int32", "int16", "int64"),
        ("bool", "bool", "int64"),
        ("int8", "float32", "float32"),
        ("int16", "float16", "float32"),
        ("float32", "float64", "float64"),
        ("float16", "float32", "float32"),
        ("float32", "complex64", "complex64"),
        ("float64", "complex64", "complex128"),
        ("int64", "uint64", "float64"),
        (">f4", ">f4", "float32"),
    ],
)
def test_result_dtype(x_dtype: str, w_dtype: str, expected: str) -> None:
    rng = np.random.default_rng(1)
    x = rng.integers(0, 4, (2, 5, 5)).astype(x_dtype)
    weight = rng.integers(0, 4, (3, 2, 2, 2)).astype(w_dtype)
    out = conv2d(x, weight, padding=1)
    assert out.dtype == np.dtype(expected)
    # Small integers: exact in every dtype, so the values must match the definition exactly.
    np.testing.assert_array_equal(out, conv2d_reference(x, weight, padding=1))


def test_complex_values() -> None:
    x = np.array([[[1 + 2j, -1j], [3, 0.5 + 0.5j]]], np.complex128)
    weight = np.array([[[[3 - 1j, 2j]]]], np.complex128)
    out = conv2d(x, weight, bias=np.array([1j]))
    assert out.dtype == np.complex128
    rows = [x[0, r, 0] * weight[0, 0, 0, 0] + x[0, r, 1] * weight[0, 0, 0, 1] + 1j for r in (0, 1)]
    np.testing.assert_allclose(out, np.array(rows).reshape(1, 2, 1), rtol=1e-15)


SAME_VALUES: dict[str, Callable[[Array], Array]] = {
    "Fortran order": np.asfortranarray,
    "big-endian": lambda a: a.astype(a.dtype.newbyteorder(">")),
    "Fortran big-endian": lambda a: np.asfortranarray(a.astype(a.dtype.newbyteorder(">"))),
    "negative strides": lambda a: a[..., ::-1].copy()[..., ::-1],
    "strided view": lambda a: np.repeat(a, 2, axis=-1)[..., ::2],
}


@pytest.mark.parametrize("padding", [0, 1, (2, 0), "same", "valid"])
@pytest.mark.parametrize("layout", SAME_VALUES.values(), ids=SAME_VALUES.keys())
def test_memory_layout_does_not_change_the_numbers(
    layout: Callable[[Array], Array], padding: Any
) -> None:
    rng = np.random.default_rng(2)
    x, weight = rng.standard_normal((2, 4, 7, 6)), rng.standard_normal((6, 2, 3, 2))
    bias = rng.standard_normal(6)
    options: dict[str, Any] = {"padding": padding, "dilation": (1, 2), "groups": 2}
    out = conv2d(layout(x), layout(weight), layout(bias), **options)
    assert out.dtype == np.float64
    assert out.dtype.isnative
    expected = conv2d_reference(x, weight, bias, **options)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


# numpy integers are ints: torch takes them too (they often come from shapes or files).
NUMPY_INTEGERS: dict[str, dict[str, Any]] = {
    "stride": {"stride": np.int64(2)},
    "stride pair": {"stride": (np.int32(2), 1)},
    "padding": {"padding": np.int64(1)},
    "padding pair": {"padding": (np.int64(1), np.int64(0))},
    "dilation": {"dilation": np.int64(2)},
    "groups": {"groups": np.int64(2)},
}


@pytest.mark.parametrize("options", NUMPY_INTEGERS.values(), ids=NUMPY_INTEGERS.keys())
def test_numpy_integer_arguments_count_as_ints(options: dict[str, Any]) -> None:
    rng = np.random.default_rng(4)
    x, weight = rng.integers(-3, 4, (2, 6, 6)), rng.integers(-3, 4, (2, 1, 2, 2))
    as_python: dict[str, Any] = {
        name: tuple(int(v) for v in value) if isinstance(value, tuple) else int(value)
        for name, value in {"groups": 2, **options}.items()
    }
    out = conv2d(x, weight, **{"groups": 2, **options})
    assert out.tolist() == conv2d_reference(x, weight, **as_python).tolist()


# --- invalid arguments --------------------------------------------------------------

ONES_X = np.ones((2, 5, 5))
ONES_W = np.ones((4, 2, 3, 3))

# Each call, and the patterns its message must show: what was received.
INVALID: dict[str, tuple[Callable[[], Any], list[str]]] = {
    "input 2-D": (lambda: conv2d(np.ones((5, 5)), ONES_W), [r"\b2-D\b"]),
    "input 5-D": (lambda: conv2d(np.ones((1, 1, 2, 5, 5)), ONES_W), [r"\b5-D\b"]),
    "weight 3-D": (lambda: conv2d(ONES_X, np.ones((2, 3, 3))), [r"weight", r"\b3-D\b"]),
    "corr2d X 3-D": (lambda: corr2d(np.ones((1, 3, 3)), np.ones((2, 2))), [r"\b3-D\b"]),
    "corr2d_multi_in K 2-D": (lambda: corr2d_multi_in(ONES_X, np.ones((2, 2))), [r"\b2-D\b"]),
    "corr2d_multi_in_out K 3-D": (
        lambda: corr2d_multi_in_out(ONES_X, np.ones((2, 2, 2))),
        [r"\b3-D\b"],
    ),
    "conv2d channel mismatch": (
        lambda: conv2d(ONES_X, np.ones((4, 3, 3, 3))),
        [r"expects 3 input channels", r"input has 2\b"],
    ),
    "corr2d_multi_in channel mismatch": (
        lambda: corr2d_multi_in(ONES_X, np.ones((3, 2, 2))),
        [r"expects 3 input channels", r"input has 2\b"],
    ),
    "corr2d_multi_in_out channel mismatch": (
        lambda: corr2d_multi_in_out(ONES_X, np.ones((1, 3, 2, 2))),
        [r"expects 3 input channels", r"input has 2\b"],
    ),
    "1x1 channel mismatch": (
        lambda: corr2d_multi_in_out_1x1(ONES_X, np.ones((1, 3, 1, 1))),
        [r"expects 3 input channels", r"input has 2\b"],
    ),
    "groups do not divide c_i": (
        lambda: conv2d(np.ones((3, 5, 5)), np.ones((2, 1, 3, 3)), groups=2),
        [r"groups", r"\b2\b", r"\b3 input"],
    ),
    "groups do not divide c_o": (
        lambda: conv2d(ONES_X, np.ones((3, 1, 3, 3)), groups=2),
        [r"groups", r"\b2\b", r"\b3 output"],
    ),
    "weight channels per group": (
        lambda: conv2d(np.ones((4, 5, 5)), np.ones((2, 1, 3, 3)), groups=2),
        [r"expects 2 input channels", r"input has 4\b"],
    ),
    "bias 2-D": (lambda: conv2d(ONES_X, ONES_W, bias=np.ones((4, 1))), [r"bias", r"2-D"]),
    "bias length": (
        lambda: conv2d(ONES_X, ONES_W, bias=np.ones(3)),
        [r"bias", r"\(3,\)", r"\b4\b"],
    ),
    "stride 0": (lambda: conv2d(ONES_X, ONES_W, stride=0), [r"stride", r"\b0\b"]),
    "stride -1": (lambda: conv2d(ONES_X, ONES_W, stride=-1), [r"stride", r"-1\b"]),
    "stride pair with 0": (lambda: conv2d(ONES_X, ONES_W, stride=(1, 0)), [r"stride", r"\(1, 0\)"]),
    "stride float": (lambda: conv2d(ONES_X, ONES_W, stride=1.5), [r"stride", r"1\.5"]),  # type: ignore[arg-type]
    "padding -1": (lambda: conv2d(ONES_X, ONES_W, padding=-1), [r"padding", r"-1\b"]),
    "padding pair with -2": (
        lambda: conv2d(ONES_X, ONES_W, padding=(0, -2)),
        [r"padding", r"\(0, -2\)"],
    ),
    "padding unknown word": (
        lambda: conv2d(ONES_X, ONES_W, padding="full"),  # type: ignore[arg-type]
        [r"padding", r"'full'"],
    ),
    "dilation 0": (lambda: conv2d(ONES_X, ONES_W, dilation=0), [r"dilation", r"\b0\b"]),
    "dilation pair with -1": (
        lambda: conv2d(ONES_X, ONES_W, dilation=(-1, 1)),
        [r"dilation", r"\(-1, 1\)"],
    ),
    "groups 0": (lambda: conv2d(ONES_X, ONES_W, groups=0), [r"groups", r"\b0\b"]),
    "groups -2": (lambda: conv2d(ONES_X, ONES_W, groups=-2), [r"groups", r"-2\b"]),
    "groups float": (lambda: conv2d(ONES_X, ONES_W, groups=1.5), [r"groups", r"1\.5"]),  # type: ignore[arg-type]
    "same with stride 2": (
        lambda: conv2d(ONES_X, ONES_W, padding="same", stride=2),
        [r"same", r"stride", r"\b2\b"],
    ),
    "kernel larger than input": (
        lambda: conv2d(np.ones((1, 3, 3)), np.ones((1, 1, 4, 4))),
        [r"\b4\b", r"\b3\b"],
    ),
    "dilated kernel larger than input": (
        lambda: conv2d(np.ones((1, 5, 5)), np.ones((1, 1, 3, 3)), dilation=3),
        [r"\b7\b", r"\b5\b"],
    ),
    "kernel larger than padded input": (
        lambda: conv2d(np.ones((1, 3, 3)), np.ones((1, 1, 6, 6)), padding=1),
        [r"\b6\b", r"\b5\b"],
    ),
    "corr2d kernel larger than input": (
        lambda: corr2d(np.ones((3, 3)), np.ones((4, 2))),
        [r"4x2|\b4\b", r"3x3|\b3\b"],
    ),
    "corr2d_multi_in kernel larger than input": (
        lambda: corr2d_multi_in(np.ones((2, 3, 3)), np.ones((2, 2, 5))),
        [r"2x5|\b5\b", r"3x3|\b3\b"],
    ),
    "1x1 function with a 2x2 kernel": (
        lambda: corr2d_multi_in_out_1x1(ONES_X, np.ones((1, 2, 2, 2))),
        [r"1x1", r"2x2|\(2, 2\)"],
    ),
    "empty input": (lambda: conv2d(np.ones((2, 0, 5)), ONES_W), [r"\(2, 0, 5\)"]),
}

BAD_DTYPES: dict[str, npt.DTypeLike] = {
    "str": "<U3",
    "bytes": "S2",
    "object": object,
    "datetime": "datetime64[s]",
    "timedelta": "timedelta64[ms]",
    "structured": [("a", "<i4"), ("b", "<f8")],
}


def _refused_dtype_calls(dtype: npt.DTypeLike) -> dict[str, tuple[Callable[[], Any], list[str]]]:
    bad = np.zeros((2, 5, 5), dtype=dtype)
    received = [re.escape(str(bad.dtype))]

    def as_input() -> Any:
        return conv2d(bad, ONES_W)

    def as_weight() -> Any:
        return conv2d(ONES_X, np.zeros((4, 2, 3, 3), bad.dtype))

    def as_bias() -> Any:
        return conv2d(ONES_X, ONES_W, bias=np.zeros(4, bad.dtype))

    def in_corr2d() -> Any:
        return corr2d(bad[0], np.ones((2, 2)))

    def in_1x1() -> Any:
        return corr2d_multi_in_out_1x1(bad, np.ones((1, 2, 1, 1)))

    return {
        "input": (as_input, [r"input", *received]),
        "weight": (as_weight, [r"weight", *received]),
        "bias": (as_bias, [r"bias", *received]),
        "corr2d": (in_corr2d, received),
        "corr2d_multi_in_out_1x1": (in_1x1, received),
    }


for _name, _dtype in BAD_DTYPES.items():
    for _where, _case in _refused_dtype_calls(_dtype).items():
        INVALID[f"{_where} {_name}"] = _case


@pytest.mark.parametrize(("call", "received"), INVALID.values(), ids=INVALID.keys())
def test_invalid_arguments_say_what_was_received(
    call: Callable[[], Any], received: list[str]
) -> None:
    with pytest.raises(ValueError) as caught:
        call()
    message = str(caught.value)
    missing = [pattern for pattern in received if not re.search(pattern, message)]
    assert not missing, f"message {message!r} does not show {missing}"


def test_string_inputs_are_refused_not_parsed() -> None:
    with pytest.raises(ValueError, match="<U1"):
        conv2d([[["1", "2"], ["3", "4"]]], [[[["1"]]]])


# --- a problem big enough for conv2d to split over threads --------------------------


@pytest.mark.parametrize("dtype", ["float64", "int32"])
def test_depthwise_over_2_16_outputs_matches_the_definition(dtype: str) -> None:
    # 16 channels of 64x64 outputs: enough outputs for conv2d to share the work out.
    rng = np.random.default_rng(3)
    x = rng.integers(-3, 4, (1, 16, 64, 64)).astype(dtype)
    weight = rng.integers(-3, 4, (16, 1, 3, 3)).astype(dtype)
    bias = rng.integers(-3, 4, 16).astype(dtype)
    out = conv2d(x, weight, bias, padding="same", groups=16)
    # Integer values: every sum is exact, so the comparison is too.
    np.testing.assert_array_equal(out, conv2d_reference(x, weight, bias, padding="same", groups=16))


def test_int64_with_uint64_is_exact_or_refused() -> None:
    """numpy sends int64 with uint64 to float64: exact below 2**53, refused beyond."""
    w = np.ones((1, 1, 1, 1), dtype=np.int64)
    small = np.full((1, 2, 2), 2**40 + 1, dtype=np.uint64)
    assert conv2d(small, w).tolist() == [[[2**40 + 1] * 2] * 2]
    with pytest.raises(ValueError, match=r"2\*\*53"):
        conv2d(np.full((1, 2, 2), 2**60 + 1, dtype=np.uint64), w)
    with pytest.raises(ValueError, match=r"2\*\*53"):
        corr2d_multi_in_out(np.full((1, 2, 2), 2**60 + 1, dtype=np.uint64), w)


@pytest.mark.parametrize(
    ("options", "fields"),
    [
        ({"stride": 2}, ["stride"]),
        ({"padding": 1, "flip": True}, ["padding", "flip"]),
        ({"padding_mode": "reflect", "groups": 2}, ["groups", "padding_mode"]),
    ],
)
def test_named_modes_refuse_options_in_the_library_s_words(
    options: dict[str, Any], fields: list[str]
) -> None:
    """The core names ConvOptions fields, never a command-line flag (the CLI maps them)."""
    from convcli.errors import OptionError
    from convcli.ops.modes import run_convolution
    from convcli.shapes.options import ConvOptions

    assert ConvOptions(**options).changed() == fields
    with pytest.raises(OptionError) as caught:
        run_convolution(X, K3, mode="multi-out", options=ConvOptions(**options))
    assert ", ".join(fields) in str(caught.value)
    assert "--" not in str(caught.value)
