"""Property tests of pooling and transposed convolution: vs the loop definitions in
tests/reference_layers.py and vs PyTorch, over the whole option space (ceil mode,
count_include_pad, output_padding limits, groups, dilation, rectangular windows, batch
and no batch), and refusals exactly where PyTorch refuses.

The number of examples comes from the hypothesis profile (1,000 under CI=true).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from reference_layers import (
    adaptive_avg_pool2d_reference,
    adaptive_max_pool2d_reference,
    avg_pool2d_reference,
    conv_transpose2d_reference,
    max_pool2d_reference,
    pool_size_reference,
)
from test_properties import ELEMENTS, assert_close, int_or_pair, torch_single_thread

from convcli import (
    adaptive_avg_pool2d,
    adaptive_max_pool2d,
    avg_pool2d,
    conv_transpose2d,
    max_pool2d,
)
from convcli.errors import ConvcliError
from convcli.ops.explain_layers import explain_pool, explain_transposed
from convcli.ops.verify_transposed import verify_transposed
from convcli.shapes.pooling import PoolOptions
from convcli.shapes.transposed import TransposedOptions

__all__ = ["torch_single_thread"]  # the fixture, shared with test_properties

Array = npt.NDArray[Any]
Pair = tuple[int, int]
ALL_DTYPES = tuple(ELEMENTS)
REAL_DTYPES = tuple(name for name in ALL_DTYPES if not name.startswith("complex"))
FLOATS_WITH_NAN: dict[str, st.SearchStrategy[Any]] = {
    "float16": st.floats(width=16, allow_infinity=True, allow_nan=True),
    "float32": st.floats(width=32, allow_infinity=True, allow_nan=True),
    "float64": st.floats(allow_infinity=True, allow_nan=True),
}


def _pair(value: int | Pair) -> Pair:
    return (value, value) if isinstance(value, int) else value


def arrays(dtype: str, shape: tuple[int, ...], special: bool = False) -> st.SearchStrategy[Array]:
    elements = FLOATS_WITH_NAN[dtype] if special and dtype in FLOATS_WITH_NAN else ELEMENTS[dtype]
    return hnp.arrays(np.dtype(dtype), shape, elements=elements)


# --- transposed convolution ----------------------------------------------------------------


@dataclass(frozen=True)
class Transposed:
    x: Array
    weight: Array
    bias: Array | None
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def terms(self) -> int:
        return int(self.x.shape[-3] // self.options["groups"] * np.prod(self.weight.shape[2:]))

    def run(self, **extra: Any) -> Array:
        out: Array = conv_transpose2d(self.x, self.weight, self.bias, **self.options, **extra)
        return out


@st.composite
def transposed_convolutions(draw: st.DrawFn, dtypes: tuple[str, ...] = ALL_DTYPES) -> Transposed:
    dtype = draw(st.sampled_from(dtypes))
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    c_i = groups * draw(st.integers(1, 2))
    c_og = draw(st.integers(1, 2))
    k = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = draw(int_or_pair(1, 3))
    dilation = draw(int_or_pair(1, 3))
    s, d = _pair(stride), _pair(dilation)
    # output_padding up to its limit: below the stride or below the dilation.
    op = (draw(st.integers(0, max(s[0], d[0]) - 1)), draw(st.integers(0, max(s[1], d[1]) - 1)))
    size = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    # Padding up to what leaves an output of at least 1.
    most = [((size[a] - 1) * s[a] + d[a] * (k[a] - 1) + op[a]) // 2 for a in (0, 1)]
    padding = (draw(st.integers(0, min(3, most[0]))), draw(st.integers(0, min(3, most[1]))))
    batch = draw(st.sampled_from([(), (1,), (2,)]))
    x = draw(arrays(dtype, (*batch, c_i, *size)))
    weight = draw(arrays(dtype, (c_i, c_og, *k)))
    bias = draw(arrays(dtype, (c_og * groups,))) if draw(st.booleans()) else None
    output_padding: int | Pair = op[0] if op[0] == op[1] and draw(st.booleans()) else op
    options = {
        "stride": stride,
        "padding": padding if padding[0] != padding[1] else padding[0],
        "output_padding": output_padding,
        "groups": groups,
        "dilation": dilation,
    }
    return Transposed(x, weight, bias, options)


def _transposed_magnitude(case: Transposed) -> Array:
    def magnitude(a: Array) -> Array:
        return np.abs(a.astype(np.complex128))

    return conv_transpose2d_reference(
        magnitude(case.x),
        magnitude(case.weight),
        None if case.bias is None else magnitude(case.bias),
        **case.options,
    ).real


def _expected_dtype(*arrays: Array | None) -> np.dtype[Any]:
    promoted = np.result_type(*(a for a in arrays if a is not None))
    return np.dtype(np.int64) if promoted.kind in "biu" else promoted


@given(transposed_convolutions())
def test_conv_transpose2d_matches_the_definition(case: Transposed) -> None:
    _check_transposed(case, case.run())


def _check_transposed(case: Transposed, out: Array) -> None:
    expected = conv_transpose2d_reference(case.x, case.weight, case.bias, **case.options)
    assert out.dtype == _expected_dtype(case.x, case.weight, case.bias)
    assert out.shape == expected.shape
    if out.dtype.kind in "iu":
        np.testing.assert_array_equal(out, expected, strict=True)
    else:
        assert_close(out, expected, _transposed_magnitude(case), case.terms)


@given(transposed_convolutions(), st.integers(1, 2**16))
def test_conv_transpose2d_tiles_do_not_change_the_result(case: Transposed, workspace: int) -> None:
    # A tiny workspace cuts the input into blocks of rows whose stamps overlap.
    _check_transposed(case, case.run(workspace_bytes=workspace))


@pytest.mark.torch
@given(case=transposed_convolutions(dtypes=("float32", "float64")), by_size=st.booleans())
def test_conv_transpose2d_matches_pytorch(
    case: Transposed, by_size: bool, torch_single_thread: Any
) -> None:
    torch = torch_single_thread

    def tensor(a: Array | None) -> Any:
        return None if a is None else torch.from_numpy(a)

    expected = torch.nn.functional.conv_transpose2d(
        tensor(case.x), tensor(case.weight), tensor(case.bias), **case.options
    ).numpy()
    op, stride = _pair(case.options["output_padding"]), _pair(case.options["stride"])
    # The same output asked for by its size, as nn.ConvTranspose2d takes it: that reaches
    # output_padding below the stride only (not one below the dilation alone).
    if by_size and op[0] < stride[0] and op[1] < stride[1]:
        options = dict(case.options, output_padding=0)
        out: Array = conv_transpose2d(
            case.x, case.weight, case.bias, **options, output_size=expected.shape[-2:]
        )
    else:
        out = case.run()
    assert out.dtype == expected.dtype
    assert_close(out, expected.astype(np.float64), _transposed_magnitude(case), case.terms, sides=2)


@st.composite
def transposed_arguments(draw: st.DrawFn) -> dict[str, Any]:
    """Any arguments, valid or not, for small shapes."""
    c_i = draw(st.integers(1, 4))
    return {
        "x": (draw(st.sampled_from([(), (1,)])), c_i, draw(st.integers(1, 4)), 3),
        "weight": (draw(st.integers(1, 4)), draw(st.integers(1, 2)), draw(st.integers(1, 5)), 2),
        "bias": draw(st.none() | st.integers(1, 4)),
        "stride": draw(st.integers(0, 3)),
        "padding": draw(st.integers(-1, 5)),
        "output_padding": draw(st.integers(-1, 3)),
        "groups": draw(st.integers(0, 3)),
        "dilation": draw(st.integers(0, 3)),
    }


@pytest.mark.torch
@given(arguments=transposed_arguments())
def test_conv_transpose2d_refuses_where_pytorch_refuses(
    arguments: dict[str, Any], torch_single_thread: Any
) -> None:
    torch = torch_single_thread
    batch, c_i, h, w = arguments.pop("x")
    x = np.ones((*batch, c_i, h, w))
    weight = np.ones(arguments.pop("weight"))
    bias_size = arguments.pop("bias")
    bias = None if bias_size is None else np.ones(bias_size)
    try:
        expected = torch.nn.functional.conv_transpose2d(
            torch.from_numpy(x),
            torch.from_numpy(weight),
            None if bias is None else torch.from_numpy(bias),
            **arguments,
        ).numpy()
    except RuntimeError:
        expected = None
    if expected is None or expected.size == 0:
        with pytest.raises(ConvcliError):
            conv_transpose2d(x, weight, bias, **arguments)
    else:
        np.testing.assert_allclose(conv_transpose2d(x, weight, bias, **arguments), expected)


# --- pooling -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Pool:
    x: Array
    options: dict[str, Any]


@st.composite
def poolings(draw: st.DrawFn, kind: str, dtypes: tuple[str, ...], special: bool = True) -> Pool:
    """A valid max (``kind="max"``) or avg pooling, including ceil-mode edges."""
    dtype = draw(st.sampled_from(dtypes))
    k = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    kernel_size: int | Pair = k[0] if k[0] == k[1] else k
    stride = draw(st.none() | int_or_pair(1, 3))
    s = k if stride is None else _pair(stride)
    p = (draw(st.integers(0, k[0] // 2)), draw(st.integers(0, k[1] // 2)))
    d = _pair(draw(int_or_pair(1, 3))) if kind == "max" else (1, 1)
    ceil_mode = draw(st.booleans())
    # The smallest input with an output of 1, plus 0..4.
    size = (
        max(1, d[0] * (k[0] - 1) + 1 - 2 * p[0]) + draw(st.integers(0, 4)),
        max(1, d[1] * (k[1] - 1) + 1 - 2 * p[1]) + draw(st.integers(0, 4)),
    )
    batch = draw(st.sampled_from([(), (1,), (2,)]))
    x = draw(arrays(dtype, (*batch, draw(st.integers(1, 2)), *size), special=special))
    options: dict[str, Any] = {
        "kernel_size": kernel_size,
        "stride": stride,
        "padding": p if p[0] != p[1] else p[0],
        "ceil_mode": ceil_mode,
    }
    assert all(pool_size_reference(size[a], k[a], s[a], p[a], d[a], ceil_mode) >= 1 for a in (0, 1))
    if kind == "max":
        options["dilation"] = d if d[0] != d[1] else d[0]
    else:
        options["count_include_pad"] = draw(st.booleans())
        options["divisor_override"] = draw(st.none() | st.sampled_from([1, 3, -2]))
    return Pool(x, options)


def _same_values(out: Array, expected: Array) -> None:
    assert out.shape == expected.shape
    np.testing.assert_array_equal(out.astype(expected.dtype), expected)


@given(poolings("max", REAL_DTYPES))
def test_max_pool2d_matches_the_definition(pool: Pool) -> None:
    out = max_pool2d(pool.x, **pool.options)
    assert out.dtype == pool.x.dtype
    _same_values(out, max_pool2d_reference(pool.x, **pool.options))


@given(poolings("avg", ALL_DTYPES, special=False))
def test_avg_pool2d_matches_the_definition(pool: Pool) -> None:
    out = avg_pool2d(pool.x, **pool.options)
    kind = pool.x.dtype.kind
    assert out.dtype == (np.float64 if kind in "biu" else pool.x.dtype)
    expected = avg_pool2d_reference(pool.x, **pool.options)
    magnitude = np.abs(avg_pool2d_reference(np.abs(pool.x.astype(np.complex128)), **pool.options))
    k = _pair(pool.options["kernel_size"])
    assert_close(out, expected, magnitude, k[0] * k[1] + 2)


@pytest.mark.torch
@given(pool=poolings("max", ("float32", "float64")))
def test_max_pool2d_matches_pytorch(pool: Pool, torch_single_thread: Any) -> None:
    torch = torch_single_thread
    expected = torch.nn.functional.max_pool2d(torch.from_numpy(pool.x), **pool.options).numpy()
    _same_values(max_pool2d(pool.x, **pool.options), expected)


@pytest.mark.torch
@given(pool=poolings("avg", ("float32", "float64"), special=False))
def test_avg_pool2d_matches_pytorch(pool: Pool, torch_single_thread: Any) -> None:
    torch = torch_single_thread
    expected = torch.nn.functional.avg_pool2d(torch.from_numpy(pool.x), **pool.options).numpy()
    out = avg_pool2d(pool.x, **pool.options)
    magnitude = avg_pool2d_reference(np.abs(pool.x).astype(np.float64), **pool.options)
    k = _pair(pool.options["kernel_size"])
    assert out.dtype == expected.dtype
    assert_close(out, expected.astype(np.float64), np.abs(magnitude), k[0] * k[1] + 2, sides=2)


@st.composite
def adaptive_poolings(draw: st.DrawFn, dtypes: tuple[str, ...], special: bool) -> Pool:
    dtype = draw(st.sampled_from(dtypes))
    size = (draw(st.integers(1, 7)), draw(st.integers(1, 7)))
    out = (draw(st.integers(1, 8)), draw(st.integers(1, 8)))
    batch = draw(st.sampled_from([(), (1,), (2,)]))
    x = draw(arrays(dtype, (*batch, draw(st.integers(1, 2)), *size), special=special))
    output_size: int | Pair = out[0] if out[0] == out[1] else out
    return Pool(x, {"output_size": output_size})


@given(adaptive_poolings(REAL_DTYPES, special=True))
def test_adaptive_max_pool2d_matches_the_definition(pool: Pool) -> None:
    out = adaptive_max_pool2d(pool.x, **pool.options)
    assert out.dtype == pool.x.dtype
    _same_values(out, adaptive_max_pool2d_reference(pool.x, **pool.options))


@given(adaptive_poolings(ALL_DTYPES, special=False))
def test_adaptive_avg_pool2d_matches_the_definition(pool: Pool) -> None:
    out = adaptive_avg_pool2d(pool.x, **pool.options)
    expected = adaptive_avg_pool2d_reference(pool.x, **pool.options)
    magnitude = adaptive_avg_pool2d_reference(
        np.abs(pool.x.astype(np.complex128)), **pool.options
    ).real
    terms = 4 * max(pool.x.shape[-2:]) ** 2
    assert_close(out, expected, magnitude, terms)


@pytest.mark.torch
@given(pool=adaptive_poolings(("float32", "float64"), special=True))
def test_adaptive_max_pool2d_matches_pytorch(pool: Pool, torch_single_thread: Any) -> None:
    torch = torch_single_thread
    x = torch.from_numpy(pool.x)
    expected = torch.nn.functional.adaptive_max_pool2d(x, **pool.options).numpy()
    _same_values(adaptive_max_pool2d(pool.x, **pool.options), expected)


@pytest.mark.torch
@given(pool=adaptive_poolings(("float32", "float64"), special=False))
def test_adaptive_avg_pool2d_matches_pytorch(pool: Pool, torch_single_thread: Any) -> None:
    torch = torch_single_thread
    x = torch.from_numpy(pool.x)
    expected = torch.nn.functional.adaptive_avg_pool2d(x, **pool.options).numpy()
    out = adaptive_avg_pool2d(pool.x, **pool.options)
    magnitude = adaptive_avg_pool2d_reference(np.abs(pool.x).astype(np.float64), **pool.options)
    terms = 4 * max(pool.x.shape[-2:]) ** 2
    assert out.dtype == expected.dtype
    assert_close(out, expected.astype(np.float64), magnitude, terms, sides=2)


# --- return_indices ------------------------------------------------------------------------
# Few distinct values: ties in most windows, NaN and -inf often (the padding's own fill).
TIED = st.sampled_from([0.0, 1.0, -np.inf, np.nan])


def _tied(data: st.DataObject, x: Array) -> Array:
    if x.dtype.kind != "f" or not data.draw(st.booleans()):
        return x
    tied: Array = data.draw(hnp.arrays(x.dtype, x.shape, elements=TIED))
    return tied


def _points_at_values(x: Array, values: Array, indices: Array, options: dict[str, Any]) -> None:
    """Each index names a cell of its own input plane that holds the value; a window of
    padding only (dilation can skip every input row or column) keeps the padding's value
    and, as in PyTorch, an index that names no cell of its window."""
    assert indices.dtype == np.int64 and indices.shape == values.shape
    h, w = x.shape[-2:]
    covers = (
        max_pool2d(np.ones(x.shape, dtype=bool), **options)
        if "kernel_size" in options
        else np.ones(values.shape, dtype=bool)
    )
    assert ((indices[covers] >= 0) & (indices[covers] < h * w)).all()
    flat = x.reshape(*x.shape[:-2], h * w)
    where = np.where(covers, indices, 0).reshape(*indices.shape[:-2], -1)
    picked = np.take_along_axis(flat, where, axis=-1).reshape(values.shape)
    np.testing.assert_array_equal(picked[covers], values[covers])
    kind = x.dtype.kind
    lowest = False if kind == "b" else (-np.inf if kind == "f" else np.iinfo(x.dtype).min)
    assert (values[~covers] == lowest).all()


@given(poolings("max", REAL_DTYPES), st.data())
def test_max_pool2d_indices_point_at_the_maxima(pool: Pool, data: st.DataObject) -> None:
    x = _tied(data, pool.x)
    values, indices = max_pool2d(x, **pool.options, return_indices=True)
    _same_values(values, max_pool2d_reference(x, **pool.options))
    _points_at_values(x, values, indices, pool.options)


@given(adaptive_poolings(REAL_DTYPES, special=True), st.data())
def test_adaptive_max_pool2d_indices_point_at_the_maxima(pool: Pool, data: st.DataObject) -> None:
    x = _tied(data, pool.x)
    values, indices = adaptive_max_pool2d(x, **pool.options, return_indices=True)
    _same_values(values, adaptive_max_pool2d_reference(x, **pool.options))
    _points_at_values(x, values, indices, pool.options)


@given(poolings("max", ("float64", "int8")), st.data())
def test_explained_winner_is_the_returned_index(pool: Pool, data: st.DataObject) -> None:
    """``pool --at``'s winner is the cell ``return_indices`` names (ties, NaN)."""
    x = _tied(data, pool.x)
    values, indices = max_pool2d(x, **pool.options, return_indices=True)
    position = tuple(data.draw(st.integers(0, size - 1)) for size in values.shape)
    explained = explain_pool(x, PoolOptions("max", **pool.options), position)
    if explained.winner is not None:
        row, col = explained.winner
        assert row * x.shape[-1] + col == indices[position]


@pytest.mark.torch
@given(pool=poolings("max", ("float32", "float64", "int64", "int32")), data=st.data())
def test_max_pool2d_indices_match_pytorch(
    pool: Pool, data: st.DataObject, torch_single_thread: Any
) -> None:
    """Ties (the first maximum in scan order), NaN (the last NaN), padding, dilation and
    ceil mode: the indices PyTorch's CPU kernel returns."""
    torch = torch_single_thread
    x = _tied(data, pool.x)
    expected, where = torch.nn.functional.max_pool2d(
        torch.from_numpy(x), **pool.options, return_indices=True
    )
    values, indices = max_pool2d(x, **pool.options, return_indices=True)
    _same_values(values, expected.numpy())
    assert indices.dtype == np.int64
    np.testing.assert_array_equal(indices, where.numpy())


@pytest.mark.torch
@given(pool=adaptive_poolings(("float32", "float64"), special=True), data=st.data())
def test_adaptive_max_pool2d_indices_match_pytorch(
    pool: Pool, data: st.DataObject, torch_single_thread: Any
) -> None:
    torch = torch_single_thread
    x = _tied(data, pool.x)
    expected, where = torch.nn.functional.adaptive_max_pool2d(
        torch.from_numpy(x), **pool.options, return_indices=True
    )
    values, indices = adaptive_max_pool2d(x, **pool.options, return_indices=True)
    _same_values(values, expected.numpy())
    assert indices.dtype == np.int64
    np.testing.assert_array_equal(indices, where.numpy())


@st.composite
def pool_arguments(draw: st.DrawFn) -> tuple[str, tuple[int, ...], dict[str, Any]]:
    """Any pooling arguments, valid or not."""
    kind = draw(st.sampled_from(["max", "avg"]))
    shape = (*draw(st.sampled_from([(), (1,)])), 2, draw(st.integers(1, 6)), 3)
    options: dict[str, Any] = {
        "kernel_size": draw(st.integers(0, 5) | st.tuples(st.integers(0, 4), st.integers(1, 4))),
        "stride": draw(st.none() | st.integers(0, 3)),
        "padding": draw(st.integers(-1, 3)),
        "ceil_mode": draw(st.booleans()),
    }
    if kind == "max":
        options["dilation"] = draw(st.integers(0, 3))
    else:
        options["divisor_override"] = draw(st.none() | st.integers(-1, 1))
    return kind, shape, options


@pytest.mark.torch
@given(case=pool_arguments())
def test_pooling_refuses_where_pytorch_refuses(
    case: tuple[str, tuple[int, ...], dict[str, Any]], torch_single_thread: Any
) -> None:
    torch = torch_single_thread
    kind, shape, options = case
    x = np.arange(np.prod(shape), dtype=np.float64).reshape(shape)
    ours = max_pool2d if kind == "max" else avg_pool2d
    theirs = getattr(torch.nn.functional, f"{kind}_pool2d")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = theirs(torch.from_numpy(x), **options).numpy()
    except RuntimeError:
        expected = None
    if expected is None or expected.size == 0:
        with pytest.raises(ConvcliError):
            ours(x, **options)
    else:
        np.testing.assert_allclose(ours(x, **options), expected)


# --- the two independent computations and the explanations ---------------------------------


@given(transposed_convolutions(dtypes=("float64", "int64", "int16", "complex128", "float32")))
def test_transposed_direct_and_zero_inserted_forms_agree(case: Transposed) -> None:
    check = verify_transposed(
        case.x, case.weight, case.bias, TransposedOptions(**case.options), seed=1
    )
    assert check.comparison.agree, check.comparison
    assert check.adjoint.agree, (check.adjoint_conv2d_side, check.adjoint_transposed_side)
    assert check.direct.dtype == check.zero_inserted.dtype


@given(transposed_convolutions(dtypes=("int64", "int8")), st.data())
def test_explained_stamps_sum_to_the_output(case: Transposed, data: st.DataObject) -> None:
    out = case.run()
    position = tuple(data.draw(st.integers(0, size - 1)) for size in out.shape)
    explained = explain_transposed(
        case.x, case.weight, case.bias, position, TransposedOptions(**case.options)
    )
    bias = 0 if explained.bias is None else explained.bias
    assert sum(stamp.product for stamp in explained.stamps) + bias == out[position]
    direct = sum(int(np.sum(w.astype(np.int64) * k)) for _, w, k in explained.direct_windows)
    assert direct + bias == out[position]


@given(poolings("avg", ("int64", "float64"), special=False), st.data())
def test_explained_pool_window_gives_the_output(pool: Pool, data: st.DataObject) -> None:
    options = PoolOptions("avg", **pool.options)
    out = avg_pool2d(pool.x, **pool.options)
    position = tuple(data.draw(st.integers(0, size - 1)) for size in out.shape)
    explained = explain_pool(pool.x, options, position)
    assert explained.divisor is not None
    np.testing.assert_allclose(explained.total / explained.divisor, out[position], rtol=1e-12)
