"""Property tests: convcli against the definition (tests/reference.py) and PyTorch.

Configurations are drawn over the whole option space; the number of examples comes from
the hypothesis profile in conftest.py (1,000 under CI=true).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from reference import Padding, conv2d_reference, resolve_padding

from convcli import conv2d, corr2d, corr2d_multi_in, corr2d_multi_in_out, corr2d_multi_in_out_1x1

Array = npt.NDArray[Any]
Pair = tuple[int, int]
INT64_MAX = 2**63 - 1

# Element ranges keep every sum inside int64 (at most 3 * 7 * 7 = 147 products, and
# 2**27 * 2**27 * 147 + 2**27 < 2**63); values near 2**27 are drawn often so that
# products of about 2**54 leave float64's exact range and an inexact integer path shows.
WIDE_INTEGERS = st.one_of(
    st.integers(-(2**27), 2**27),
    st.integers(2**27 - 64, 2**27),
    st.integers(-(2**27), -(2**27) + 64),
)
ELEMENTS: dict[str, st.SearchStrategy[Any]] = {
    "bool": st.booleans(),
    "int8": st.integers(-128, 127),
    "uint8": st.integers(0, 255),
    "int16": st.integers(-(2**15), 2**15 - 1),
    "int32": WIDE_INTEGERS,
    "int64": WIDE_INTEGERS,
    "float16": st.floats(-8, 8, width=16),
    "float32": st.floats(-100, 100, width=32),
    "float64": st.floats(-1000, 1000),
    "complex64": st.complex_numbers(
        max_magnitude=10, width=64, allow_nan=False, allow_infinity=False
    ),
    "complex128": st.complex_numbers(max_magnitude=10, allow_nan=False, allow_infinity=False),
}
INTEGER_DTYPES = ("bool", "int8", "uint8", "int16", "int32", "int64")
ALL_DTYPES = tuple(ELEMENTS)


@dataclass(frozen=True)
class Conv:
    """One drawn ``conv2d`` call."""

    x: Array
    weight: Array
    bias: Array | None
    stride: int | Pair
    padding: Padding
    dilation: int | Pair
    groups: int

    def options(self) -> dict[str, Any]:
        return {
            "stride": self.stride,
            "padding": self.padding,
            "dilation": self.dilation,
            "groups": self.groups,
        }

    def run(self) -> Array:
        out: Array = conv2d(self.x, self.weight, self.bias, **self.options())
        return out

    def reference(self, **kwargs: Any) -> Array:
        return conv2d_reference(self.x, self.weight, self.bias, **self.options(), **kwargs)

    @property
    def terms(self) -> int:
        """Products summed into one output (before the bias)."""
        _c_o, c_per_group, k_h, k_w = self.weight.shape
        return int(c_per_group * k_h * k_w)


def int_or_pair(low: int, high: int) -> st.SearchStrategy[int | Pair]:
    side = st.integers(low, high)
    return st.one_of(side, st.tuples(side, side))


def _pair(value: int | Pair) -> Pair:
    return (value, value) if isinstance(value, int) else value


def arrays_of(dtype: str, shape: tuple[int, ...]) -> st.SearchStrategy[Array]:
    return hnp.arrays(np.dtype(dtype), shape, elements=ELEMENTS[dtype])


@st.composite
def convolutions(draw: st.DrawFn, dtypes: tuple[str, ...] = ALL_DTYPES) -> Conv:
    """A valid conv2d call: any grouping, kernel 1..7, stride, dilation, padding, bias."""
    dtype = draw(st.sampled_from(dtypes))
    grouping = draw(st.sampled_from(["single", "grouped", "depthwise"]))
    if grouping == "single":
        groups, c_i, c_o = 1, draw(st.integers(1, 3)), draw(st.integers(1, 3))
    elif grouping == "grouped":
        groups = 2
        c_i, c_o = 2 * draw(st.integers(1, 2)), 2 * draw(st.integers(1, 2))
    else:
        groups = c_i = draw(st.integers(2, 3))
        c_o = c_i * draw(st.integers(1, 2))
    k = (draw(st.integers(1, 7)), draw(st.integers(1, 7)))
    # Dilate a big kernel less, so the dilated span (and the input) stays small.
    dilation = draw(int_or_pair(1, max(1, min(3, 12 // max(k)))))
    padding: Padding = draw(
        st.one_of(
            st.sampled_from(["same", "valid"]),
            st.integers(0, 3),
            st.tuples(st.integers(0, 3), st.integers(0, 3)),
        )
    )
    stride = 1 if padding == "same" else draw(int_or_pair(1, 3))
    d = _pair(dilation)
    spans = (d[0] * (k[0] - 1), d[1] * (k[1] - 1))
    if padding == "same":
        totals = spans
    elif padding == "valid":
        totals = (0, 0)
    else:
        p = _pair(padding)
        totals = (2 * p[0], 2 * p[1])
    # The smallest input the dilated kernel fits in (extra 0: it just fits), plus 0..3.
    size = tuple(max(1, spans[a] + 1 - totals[a]) + draw(st.integers(0, 3)) for a in (0, 1))
    batch = draw(st.sampled_from([(), (1,), (2,)]))
    x = draw(arrays_of(dtype, (*batch, c_i, *size)))
    weight = draw(arrays_of(dtype, (c_o, c_i // groups, *k)))
    bias = draw(arrays_of(dtype, (c_o,))) if draw(st.booleans()) else None
    return Conv(x, weight, bias, stride, padding, dilation, groups)


def contract_dtype(*arrays: Array | None) -> np.dtype[Any]:
    """Integers and bools give int64; everything else numpy's promotion (float16 stays)."""
    promoted = np.result_type(*(a for a in arrays if a is not None))
    return np.dtype(np.int64) if promoted.kind in "biu" else promoted


def tolerance(out_dtype: np.dtype[Any], terms: int, magnitude: Array, exact: Array) -> Array:
    """A bound on the rounding error of a float conv2d, per output element.

    ``magnitude`` is sum |x||w| + |bias| of each output and ``exact`` the exact result.
    Accumulating ``terms`` products and a bias costs at most about (terms + 1) eps of
    the magnitude (twice that for complex products), plus as many steps of the subnormal
    grid. A float16 result must then be the float32 sum rounded once to float16: half a
    float16 ulp of the result. (Tighter than eps16 * magnitude, so that accumulating in
    float16 itself is caught.)
    """
    accumulation = np.float32 if out_dtype == np.float16 else out_dtype
    eps = float(np.finfo(accumulation).eps)
    complex_factor = 2 if out_dtype.kind == "c" else 1
    bound = (terms + 4) * complex_factor * eps * magnitude
    if out_dtype == np.float16:
        bound = 2 * bound + float(np.finfo(np.float16).eps) / 2 * np.abs(exact)
    # Near zero every product and sum may also round to the subnormal grid.
    underflow = (terms + 2) * complex_factor * float(np.finfo(accumulation).smallest_subnormal)
    return bound + underflow + float(np.finfo(out_dtype).smallest_subnormal)


def assert_close(
    out: Array,
    expected: Array,
    magnitude: Array,
    terms: int,
    *,
    sides: int = 1,
    slack: Array | float = 0.0,
) -> None:
    """``out`` within ``tolerance`` of ``expected``; ``sides=2`` when both of them rounded,
    ``slack`` for any further rounding ``expected`` went through."""
    assert out.shape == expected.shape
    error = np.abs(out.astype(expected.dtype) - expected)
    allowed = sides * tolerance(out.dtype, terms, magnitude, expected) + slack
    worst = np.unravel_index(np.argmax(error - allowed), error.shape)
    assert np.all(error <= allowed), (
        f"at {worst}: got {out[worst]!r}, expected {expected[worst]!r}, "
        f"error {error[worst]:.3g} > allowed {allowed[worst]:.3g}"
    )


def magnitude_of(conv: Conv) -> Array:
    """sum |x||w| + |bias| per output, by the reference."""
    x, weight = np.abs(conv.x.astype(np.complex128)), np.abs(conv.weight.astype(np.complex128))
    bias = None if conv.bias is None else np.abs(conv.bias.astype(np.complex128))
    return conv2d_reference(x, weight, bias, **conv.options())


def assert_matches_reference(conv: Conv, out: Array) -> None:
    """Equal for integers, within ``tolerance`` for floats; a batch also sample by sample."""
    expected = conv.reference()
    magnitude = None if out.dtype.kind in "iu" else magnitude_of(conv)
    results = [(out, expected, magnitude)]
    if conv.x.ndim == 4:
        for i, sample in enumerate(conv.x):
            single = conv2d(sample, conv.weight, conv.bias, **conv.options())
            results.append((single, expected[i], None if magnitude is None else magnitude[i]))
    for got, want, scale in results:
        assert got.shape == want.shape
        if scale is None:
            np.testing.assert_array_equal(got, want, strict=True)
        else:
            assert_close(got, want, scale, conv.terms)


@given(convolutions())
def test_conv2d_matches_the_definition(conv: Conv) -> None:
    out = conv.run()
    assert out.dtype == contract_dtype(conv.x, conv.weight, conv.bias)
    assert out.flags.c_contiguous
    if conv.padding == "same":
        assert out.shape[-2:] == conv.x.shape[-2:]
    assert_matches_reference(conv, out)


@pytest.fixture(scope="module")
def torch_single_thread() -> Iterator[Any]:
    """torch, on one thread: for tensors this small, threads only contend on a 2-core box."""
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield torch
    torch.set_num_threads(threads)


@pytest.mark.torch
@given(conv=convolutions(dtypes=("float32", "float64")))
def test_conv2d_matches_pytorch(conv: Conv, torch_single_thread: Any) -> None:
    torch = torch_single_thread
    functional = torch.nn.functional

    def tensor(a: Array | None) -> Any:
        return None if a is None else torch.from_numpy(a)

    options = conv.options()
    with warnings.catch_warnings():
        # torch warns that padding="same" with an even kernel pads a copy of the input.
        warnings.filterwarnings("ignore", message="Using padding='same'", category=UserWarning)
        expected = functional.conv2d(
            tensor(conv.x), tensor(conv.weight), tensor(conv.bias), **options
        )
        magnitude = functional.conv2d(
            tensor(np.abs(conv.x).astype(np.float64)),
            tensor(np.abs(conv.weight).astype(np.float64)),
            None if conv.bias is None else tensor(np.abs(conv.bias).astype(np.float64)),
            **options,
        )
    out = conv.run()
    assert out.dtype == conv.x.dtype
    expected_values = expected.numpy().astype(np.float64)
    assert_close(out, expected_values, magnitude.numpy(), conv.terms, sides=2)


# Above this many multiply-adds conv2d leaves its one-shot path for tiled kernels
# (pointwise GEMM, im2col, depthwise direct); small examples alone would never get there.
TINY_MACS = 2**15


@dataclass(frozen=True)
class LargeConv:
    conv: Conv
    workspace_bytes: int | None
    exact: bool  # integer values only, whatever the dtype: every sum is exact


@st.composite
def large_convolutions(draw: st.DrawFn) -> LargeConv:
    """Just over TINY_MACS, with integer values that every dtype holds and sums exactly
    (or, for floats, sometimes fractional values).

    Values come from a drawn seed (the inputs are too big to draw element by element);
    a small ``workspace_bytes`` cuts the work into many tiles, down to single columns.
    """
    family = draw(st.sampled_from(["dense", "grouped", "depthwise", "pointwise"]))
    dtype = draw(st.sampled_from((*ALL_DTYPES, "int64 wide")))
    if family == "pointwise":
        groups, c_i, c_o, k = 1, draw(st.integers(2, 12)), draw(st.integers(2, 12)), (1, 1)
    elif family == "dense":
        groups, c_i, c_o = 1, draw(st.integers(1, 3)), draw(st.integers(1, 4))
    elif family == "grouped":
        groups = draw(st.integers(2, 3))
        c_i, c_o = groups * draw(st.integers(2, 3)), groups * draw(st.integers(1, 2))
    else:
        groups = c_i = draw(st.integers(2, 6))
        c_o = c_i * draw(st.integers(1, 2))
    if family != "pointwise":
        k = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    plain = st.just(1)
    dilation = draw(plain | int_or_pair(1, 2))
    padding: Padding = draw(
        st.one_of(
            st.just(0),
            st.sampled_from(["same", "valid"]),
            st.integers(0, 2),
            st.tuples(st.integers(0, 2), st.integers(0, 2)),
        )
    )
    stride = 1 if padding == "same" else draw(plain | int_or_pair(1, 3))
    n = draw(st.sampled_from([0, 1, 2]))  # 0: unbatched
    (s_h, s_w), (d_h, d_w) = _pair(stride), _pair(dilation)
    top, bottom, left, right = resolve_padding(padding, k, (d_h, d_w))
    # Output pixels to pass TINY_MACS by up to 50%, in a drawn aspect ratio.
    per_pixel = max(n, 1) * c_o * (c_i // groups) * k[0] * k[1]
    pixels = (TINY_MACS // per_pixel + 1) * draw(st.sampled_from([1.0, 1.2, 1.5]))
    m_w = max(1, int(pixels**0.5 * draw(st.sampled_from([1.0, 0.5, 2.0, 0.1]))))
    m_h = max(1, int(-(-pixels // m_w)))
    h = max(1, (m_h - 1) * s_h + d_h * (k[0] - 1) + 1 - top - bottom)
    w = max(1, (m_w - 1) * s_w + d_w * (k[1] - 1) + 1 - left - right)

    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    name = "int64" if dtype == "int64 wide" else dtype
    limit = 2**26 if dtype == "int64 wide" else 3

    # Floats also get fractional values: then rounding shows, and a tolerance applies.
    exact = np.dtype(name).kind in "biu" or draw(st.booleans())

    def values(shape: tuple[int, ...], dtype: str, limit: int) -> Array:
        if dtype == "bool":
            return rng.integers(0, 2, shape).astype(bool)
        low = 0 if dtype == "uint8" else -limit

        def real() -> Array:
            if exact:
                return rng.integers(low, limit, shape, endpoint=True)
            return rng.uniform(-limit, limit, shape)

        if dtype.startswith("complex"):
            return (real() + 1j * real()).astype(dtype)
        return real().astype(dtype)

    # Mostly one dtype; sometimes the weight or the bias has another (numpy promotion).
    w_name, b_name = (draw(st.sampled_from((name, name, name, *ALL_DTYPES))) for _ in "wb")
    batch = (n,) if n else ()
    x = values((*batch, c_i, h, w), name, limit)
    weight = values((c_o, c_i // groups, *k), w_name, limit if w_name == name else 3)
    bias = values((c_o,), b_name, limit if b_name == name else 3) if draw(st.booleans()) else None
    layout = draw(st.sampled_from(list(LAYOUTS)))
    x, weight = LAYOUTS[layout](x), LAYOUTS[layout](weight)
    # 1 byte: one output column per tile, the extreme (and slowest) case, so drawn less.
    workspace = draw(st.sampled_from([None, None, 2**12, 2**12, 2**16, 1]))
    # Wide int64 values promoted to a float (a float weight or bias) leave float64's exact
    # range: then a tolerance applies too.
    if dtype == "int64 wide" and contract_dtype(x, weight, bias).kind in "fc":
        exact = False
    return LargeConv(Conv(x, weight, bias, stride, padding, dilation, groups), workspace, exact)


# The same values in other memory layouts: kernels must not assume C order or native bytes.
LAYOUTS: dict[str, Any] = {
    "C": lambda a: a,
    "Fortran": np.asfortranarray,
    "big-endian": lambda a: a.astype(a.dtype.newbyteorder(">")),
    "strided view": lambda a: np.repeat(a, 2, axis=-1)[..., ::2],
    "negative strides": lambda a: a[..., ::-1].copy()[..., ::-1],
}


@given(large_convolutions())
def test_tiled_conv2d_matches_the_definition(large: LargeConv) -> None:
    conv = large.conv
    options = conv.options()
    if large.workspace_bytes is not None:
        options["workspace_bytes"] = large.workspace_bytes
    out: Array = conv2d(conv.x, conv.weight, conv.bias, **options)
    assert out.dtype == contract_dtype(conv.x, conv.weight, conv.bias)
    if not large.exact:
        assert_matches_reference(conv, out)
        return
    # Integer values and exact sums (float16 included: every |sum| <= 9 * 75 + 3 < 2048).
    expected = conv.reference()
    assert out.shape == expected.shape
    assert np.array_equal(out, expected), (
        f"{np.count_nonzero(out != expected)} of {out.size} outputs differ"
    )


@st.composite
def dtype_mixes(draw: st.DrawFn) -> Conv:
    """Small-integer values in independently drawn dtypes (exact in all of them)."""
    names = (*INTEGER_DTYPES, "uint64", "float16", "float32", "float64", "complex64", "complex128")
    x_dtype, w_dtype, b_dtype = (draw(st.sampled_from(names)) for _ in range(3))
    small = st.integers(0, 3)

    def values(dtype: str, shape: tuple[int, ...]) -> st.SearchStrategy[Array]:
        elements = st.booleans() if dtype == "bool" else small
        return hnp.arrays(np.dtype(dtype), shape, elements=elements)

    x = draw(values(x_dtype, (2, 3, 3)))
    weight = draw(values(w_dtype, (2, 2, 2, 2)))
    bias = draw(st.none() | values(b_dtype, (2,)))
    return Conv(x, weight, bias, stride=1, padding=0, dilation=1, groups=1)


@given(dtype_mixes())
def test_result_dtype_follows_the_contract(conv: Conv) -> None:
    out = conv.run()
    assert out.dtype == contract_dtype(conv.x, conv.weight, conv.bias)
    np.testing.assert_array_equal(out, conv.reference())
    for lesson in (corr2d_multi_in_out, corr2d_multi_in_out_1x1):
        k = conv.weight[:, :, :1, :1] if lesson is corr2d_multi_in_out_1x1 else conv.weight
        assert lesson(conv.x, k).dtype == contract_dtype(conv.x, k)
    assert corr2d_multi_in(conv.x, conv.weight[0]).dtype == contract_dtype(conv.x, conv.weight)
    assert corr2d(conv.x[0], conv.weight[0, 0]).dtype == contract_dtype(conv.x, conv.weight)


@st.composite
def lesson_inputs(draw: st.DrawFn, one_by_one: bool = False) -> tuple[Array, Array]:
    """The lesson's shapes: X (c_i, n_h, n_w), K (c_o, c_i, k_h, k_w)."""
    dtype = draw(st.sampled_from(ALL_DTYPES))
    c_i, c_o = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    n = (draw(st.integers(1, 6)), draw(st.integers(1, 6)))
    k = (1, 1) if one_by_one else (draw(st.integers(1, n[0])), draw(st.integers(1, n[1])))
    return draw(arrays_of(dtype, (c_i, *n))), draw(arrays_of(dtype, (c_o, c_i, *k)))


def assert_same_result(
    got: Array, expected: Array, X: Array, K: Array, *, roundings: int = 0
) -> None:
    """Exactly equal for integers; for floats, as close as two summation orders can be.

    ``roundings``: how often ``expected`` was rounded to the result dtype on its way (a
    sum of rounded partial results), each costing up to half an ulp of the magnitude.
    """
    assert got.dtype == expected.dtype
    if got.dtype.kind in "iu":
        np.testing.assert_array_equal(got, expected, strict=True)
        return
    magnitude = conv2d_reference(np.abs(X.astype(np.complex128)), np.abs(K.astype(np.complex128)))
    terms = int(np.prod(K.shape[1:]))
    slack = roundings * float(np.finfo(got.dtype).eps) / 2 * magnitude
    want = expected.astype(np.complex128 if got.dtype.kind == "c" else np.float64)
    assert_close(got, want, magnitude, terms, sides=2, slack=slack)


@given(lesson_inputs())
def test_corr2d_multi_in_is_corr2d_summed_over_channels(inputs: tuple[Array, Array]) -> None:
    X, K = inputs[0], inputs[1][0]
    got = corr2d_multi_in(X, K)
    per_channel = [corr2d(x, k) for x, k in zip(X, K, strict=True)]
    total = np.sum(per_channel, axis=0, dtype=per_channel[0].dtype)
    assert_same_result(got, total, X, K[None], roundings=2 * len(X))
    assert_same_result(got, conv2d(X, K[None])[0], X, K[None])
    if X.dtype.kind in "iu":
        np.testing.assert_array_equal(got, conv2d_reference(X, K[None])[0], strict=True)


@given(lesson_inputs())
def test_corr2d_multi_in_out_is_conv2d(inputs: tuple[Array, Array]) -> None:
    X, K = inputs
    got = corr2d_multi_in_out(X, K)
    assert_same_result(got, conv2d(X, K), X, K)
    stacked = np.stack([corr2d_multi_in(X, k) for k in K])
    assert_same_result(got, stacked, X, K)


@given(lesson_inputs(one_by_one=True))
def test_corr2d_multi_in_out_1x1_is_corr2d_multi_in_out(inputs: tuple[Array, Array]) -> None:
    X, K = inputs
    assert_same_result(corr2d_multi_in_out_1x1(X, K), corr2d_multi_in_out(X, K), X, K)


# Mostly small numbers, with values at and near the int64 limits mixed in.
NEAR_LIMITS = st.one_of(
    st.integers(-3, 3),
    st.sampled_from([2**31, 3_037_000_499, 2**62, INT64_MAX, -(2**62), -(2**63)]),
    st.integers(-(2**63), INT64_MAX),
)


@st.composite
def near_int64_limits(draw: st.DrawFn) -> Conv:
    c_i, c_o = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    k = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    size = (k[0] + draw(st.integers(0, 1)), k[1] + draw(st.integers(0, 1)))
    int64 = np.dtype(np.int64)
    x = draw(hnp.arrays(int64, (c_i, *size), elements=NEAR_LIMITS))
    weight = draw(hnp.arrays(int64, (c_o, c_i, *k), elements=NEAR_LIMITS))
    bias = draw(st.none() | hnp.arrays(int64, (c_o,), elements=NEAR_LIMITS))
    return Conv(x, weight, bias, stride=1, padding=0, dilation=1, groups=1)


def assert_exact_or_refused(compute: Any, expected: Array) -> None:
    """Either the exact int64 result or a ValueError pointing to float64, never a wrap."""
    try:
        out = compute()
    except ValueError as error:
        assert "float64" in str(error)
    else:
        assert out.dtype == np.int64
        assert out.tolist() == expected.tolist()


@given(near_int64_limits())
def test_integer_overflow_never_wraps(conv: Conv) -> None:
    X, K = conv.x, conv.weight
    exact = conv.reference(exact_ints=True)
    assert_exact_or_refused(conv.run, exact)
    assert_exact_or_refused(
        lambda: corr2d_multi_in_out(X, K), conv2d_reference(X, K, exact_ints=True)
    )
    assert_exact_or_refused(
        lambda: corr2d_multi_in(X, K[0]), conv2d_reference(X, K[:1], exact_ints=True)[0]
    )
    assert_exact_or_refused(
        lambda: corr2d(X[0], K[0, 0]), conv2d_reference(X[:1], K[:1, :1], exact_ints=True)[0]
    )
    K11 = K[:, :, :1, :1]
    assert_exact_or_refused(
        lambda: corr2d_multi_in_out_1x1(X, K11), conv2d_reference(X, K11, exact_ints=True)
    )
