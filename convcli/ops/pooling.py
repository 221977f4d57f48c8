"""2-D pooling with PyTorch's semantics: max, average and their adaptive forms.

Pure numpy. A window's maximum (or sum) is taken a row of taps at a time, then a
column of taps at a time, each a strided view of the (padded) input: ``k_h + k_w``
whole-array passes instead of ``k_h * k_w``, and no window is ever materialised.

dtype rules:

- max pooling keeps the input's dtype (bool, integers, floats: a maximum is exact) and
  propagates NaN, as PyTorch does; complex numbers have no maximum and are refused;
- average pooling sums in the accumulation dtype (int64 for bools and integers, exactly;
  float32 for float16) and divides once: integer inputs give float64 (PyTorch divides
  in the integer dtype and truncates), float16 gives float16, complex gives complex.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, overload

import numpy as np
import numpy.typing as npt

from convcli.errors import ConvcliError, NumericError, OptionError, ShapeError
from convcli.i18n import N_, _
from convcli.i18n.typeset import beside
from convcli.ops.conv import _operand
from convcli.ops.modes import RunResult
from convcli.ops.numerics import INT64_MAX
from convcli.shapes.geometry import IntOrPair, as_int
from convcli.shapes.pooling import (
    POOL_KINDS,
    AdaptiveSize,
    PoolGeometry,
    PoolOptions,
    adaptive_output_size,
    adaptive_window,
    resolve_pool_geometry,
)

__all__ = [
    "BLOCK_VALUES",
    "PoolPlan",
    "adaptive_avg_pool2d",
    "adaptive_max_pool2d",
    "avg_divisors",
    "avg_pool2d",
    "max_pool2d",
    "plan_pool",
    "pool",
    "pool_dtypes",
    "pool_in_blocks",
    "pool_indices",
    "run_pool",
    "run_pool_indices",
]

Array = npt.NDArray[Any]
# Input values pooled between two progress reports: a few tens of milliseconds.
BLOCK_VALUES = 2**24
Shape = tuple[int, ...]
Reduce = Callable[..., Array]


def pool_dtypes(dtype: npt.DTypeLike, kind: str) -> tuple[np.dtype[Any], np.dtype[Any]]:
    """``(accumulation, result)`` dtypes of pooling ``kind`` ("max"/"avg") over ``dtype``.

    Examples
    --------
    >>> pool_dtypes(np.int8, "max"), pool_dtypes(np.int8, "avg")
    ((dtype('int8'), dtype('int8')), (dtype('int64'), dtype('float64')))
    >>> pool_dtypes(np.float16, "avg")
    (dtype('float32'), dtype('float16'))
    """
    dt = np.dtype(dtype).newbyteorder("=")
    if kind == "max":
        if dt.kind == "c":
            raise NumericError(
                _(
                    "max pooling needs ordered values: input has dtype {dt}, and complex numbers "
                    "have no maximum (pool the real part or the magnitude)"
                ).format(dt=dt)
            )
        return dt, dt
    if dt.kind in "biu":
        return np.dtype(np.int64), np.dtype(np.float64)
    if dt == np.float16:
        return np.dtype(np.float32), dt
    return dt, dt


@dataclass(frozen=True)
class PoolPlan:
    """One pooling sized from shapes and dtype before anything is allocated."""

    output_shape: Shape
    output_dtype: np.dtype[Any]
    workspace_bytes: int


def plan_pool(
    input_shape: Shape,
    dtype: npt.DTypeLike,
    kind: str,
    *,
    kernel_size: IntOrPair | None = None,
    stride: IntOrPair | None = None,
    padding: IntOrPair = 0,
    dilation: IntOrPair = 1,
    ceil_mode: bool = False,
    output_size: AdaptiveSize = None,
) -> PoolPlan:
    """Output shape, dtype and workspace of a pooling (``kind``: max, avg, adaptive-max,
    adaptive-avg), checking every argument first.

    The workspace is the padded input copy, the intermediate reduced along one axis and
    the window sums, all in the accumulation dtype, and the max scan's masks (an upper
    bound).

    Examples
    --------
    >>> p = plan_pool((1, 64, 112, 112), np.float32, "max", kernel_size=3, stride=2, padding=1)
    >>> p.output_shape, p.output_dtype
    ((1, 64, 56, 56), dtype('float32'))
    """
    if len(input_shape) not in (3, 4):
        raise ShapeError(
            _("input must be 3-D (c, h, w) or 4-D (n, c, h, w), got {len_input_shape}-D").format(
                len_input_shape=len(input_shape)
            )
        )
    in_size = (input_shape[-2], input_shape[-1])
    planes = int(np.prod(input_shape[:-2]))
    acc, out = pool_dtypes(dtype, "max" if kind.endswith("max") else "avg")
    if kind in ("adaptive-max", "adaptive-avg"):
        size = adaptive_output_size(in_size, output_size)
        padded = in_size
    elif kind in ("max", "avg"):
        if kernel_size is None:
            raise OptionError(_("{kind} pooling needs a kernel_size").format(kind=kind))
        geom = resolve_pool_geometry(
            in_size,
            kernel_size,
            stride=stride,
            padding=padding,
            dilation=dilation if kind == "max" else 1,
            ceil_mode=ceil_mode,
        )
        size = geom.out_size
        padded = _padded_extent(geom)
    else:
        raise OptionError(
            _("pooling kind must be max, avg, adaptive-max or adaptive-avg: {kind!r}").format(
                kind=kind
            )
        )
    # The padded (or cast) copy, the intermediate reduced along one axis (max: along the
    # rows first; avg: down first) and a copy of it while it is gathered, the sums before
    # dividing; and the scan's two boolean masks over the intermediate.
    between = max(size[0] * padded[1], padded[0] * size[1])
    per_plane = padded[0] * padded[1] + 2 * between + size[0] * size[1]
    workspace = planes * (per_plane * acc.itemsize + 2 * between)
    return PoolPlan((*input_shape[:-2], *size), out, workspace)


@overload
def max_pool2d(
    x: npt.ArrayLike,
    kernel_size: IntOrPair,
    stride: IntOrPair | None = None,
    padding: IntOrPair = 0,
    dilation: IntOrPair = 1,
    ceil_mode: bool = False,
    return_indices: Literal[False] = False,
) -> Array: ...
@overload
def max_pool2d(
    x: npt.ArrayLike,
    kernel_size: IntOrPair,
    stride: IntOrPair | None = None,
    padding: IntOrPair = 0,
    dilation: IntOrPair = 1,
    ceil_mode: bool = False,
    *,
    return_indices: Literal[True],
) -> tuple[Array, Array]: ...
@overload
def max_pool2d(
    x: npt.ArrayLike,
    kernel_size: IntOrPair,
    stride: IntOrPair | None = None,
    padding: IntOrPair = 0,
    dilation: IntOrPair = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Array | tuple[Array, Array]: ...
def max_pool2d(
    x: npt.ArrayLike,
    kernel_size: IntOrPair,
    stride: IntOrPair | None = None,
    padding: IntOrPair = 0,
    dilation: IntOrPair = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Array | tuple[Array, Array]:
    """2-D max pooling with ``torch.nn.functional.max_pool2d`` semantics.

    Parameters
    ----------
    x : array_like, shape (c, h, w) or (n, c, h, w)
    kernel_size : int or (int, int)
    stride : int or (int, int), optional
        Defaults to ``kernel_size``.
    padding : int or (int, int)
        Implicit ``-inf`` padding on each side, at most ``kernel_size // 2``.
    dilation : int or (int, int)
    ceil_mode : bool
        Round the output size up; a window that would start in the right padding is
        dropped.
    return_indices : bool
        Also return where each maximum is, as PyTorch does (see Returns).

    Returns
    -------
    ndarray, the input's dtype
        A NaN in a window makes that output NaN.
    indices : ndarray of int64, only with ``return_indices``
        Each maximum's flat index ``row * w + col`` into its own (unpadded) input
        plane, PyTorch's convention: the first maximum in the window's row-by-row scan
        wins a tie; a window holding NaN points at its last NaN (PyTorch's CPU kernel
        takes every NaN it meets).

    Examples
    --------
    >>> x = np.arange(16).reshape(1, 4, 4)
    >>> max_pool2d(x, 2)
    array([[[ 5,  7],
            [13, 15]]])
    >>> max_pool2d(x, 3, stride=2, padding=1)
    array([[[ 5,  7],
            [13, 15]]])
    >>> values, indices = max_pool2d(np.array([[[1, 3], [3, 2]]]), 2, return_indices=True)
    >>> values.tolist(), indices.tolist()
    ([[[3]]], [[[1]]])
    """
    xa = _pool_operand(x)
    acc, _ = pool_dtypes(xa.dtype, "max")
    geom = resolve_pool_geometry(
        xa.shape[-2:], kernel_size, stride=stride, padding=padding, dilation=dilation,
        ceil_mode=ceil_mode,
    )  # fmt: skip
    padded = _pad(xa, geom, _lowest(acc), acc)
    if return_indices:
        return _argmax_windows(padded, geom)
    return _max_windows(padded, geom)


def avg_pool2d(
    x: npt.ArrayLike,
    kernel_size: IntOrPair,
    stride: IntOrPair | None = None,
    padding: IntOrPair = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Array:
    """2-D average pooling with ``torch.nn.functional.avg_pool2d`` semantics.

    Parameters
    ----------
    x : array_like, shape (c, h, w) or (n, c, h, w)
    kernel_size : int or (int, int)
    stride : int or (int, int), optional
        Defaults to ``kernel_size``.
    padding : int or (int, int)
        Implicit zero padding on each side, at most ``kernel_size // 2``.
    ceil_mode : bool
        Round the output size up; a window that would start in the right padding is
        dropped.
    count_include_pad : bool
        Divide by the window's size including the explicit padding (never the part of a
        ceil-mode window beyond it), or only by the input cells it covers.
    divisor_override : int, optional
        Divide every sum by this instead (not zero).

    Returns
    -------
    ndarray
        float64 for bool and integer inputs, else the input's dtype.

    Examples
    --------
    >>> x = np.arange(16).reshape(1, 4, 4)
    >>> avg_pool2d(x, 2)
    array([[[ 2.5,  4.5],
            [10.5, 12.5]]])
    >>> avg_pool2d(np.ones((1, 2, 2)), 2, padding=1)
    array([[[0.25, 0.25],
            [0.25, 0.25]]])
    >>> avg_pool2d(np.ones((1, 2, 2)), 2, padding=1, count_include_pad=False)
    array([[[1., 1.],
            [1., 1.]]])
    """
    xa = _pool_operand(x)
    acc, out = pool_dtypes(xa.dtype, "avg")
    geom = resolve_pool_geometry(
        xa.shape[-2:], kernel_size, stride=stride, padding=padding, ceil_mode=ceil_mode
    )
    if divisor_override is not None:
        divisor_override = as_int(divisor_override, "divisor_override")
        if divisor_override == 0:
            raise OptionError(_("divisor_override must not be zero, got 0"))
    _check_sum(xa, geom.kernel_size[0] * geom.kernel_size[1])
    padded = _pad(xa, geom, 0, acc)
    with np.errstate(all="ignore"):  # IEEE results for inf and NaN inputs, without warnings
        total = _reduce_windows(padded, geom, np.add)
        if divisor_override is not None:
            divisors: Array = np.array(divisor_override, dtype=_divide_dtype(acc, out))
        else:
            divisors = avg_divisors(geom, count_include_pad).astype(_divide_dtype(acc, out))
        result: Array = (total / divisors).astype(out, copy=False)
    return result


@overload
def adaptive_max_pool2d(
    x: npt.ArrayLike, output_size: AdaptiveSize, return_indices: Literal[False] = False
) -> Array: ...
@overload
def adaptive_max_pool2d(
    x: npt.ArrayLike, output_size: AdaptiveSize, *, return_indices: Literal[True]
) -> tuple[Array, Array]: ...
@overload
def adaptive_max_pool2d(
    x: npt.ArrayLike, output_size: AdaptiveSize, return_indices: bool = False
) -> Array | tuple[Array, Array]: ...
def adaptive_max_pool2d(
    x: npt.ArrayLike, output_size: AdaptiveSize, return_indices: bool = False
) -> Array | tuple[Array, Array]:
    """2-D adaptive max pooling, ``torch.nn.functional.adaptive_max_pool2d``.

    Output index ``i`` of an axis of ``n`` values covers ``floor(i*n/m)`` to
    ``ceil((i+1)*n/m)``. With ``return_indices``, ``(values, indices)``: int64 flat
    indices ``row * w + col`` into each input plane, ties and NaN as ``max_pool2d``'s.

    Examples
    --------
    >>> adaptive_max_pool2d(np.arange(25).reshape(1, 5, 5), 2)
    array([[[12, 14],
            [22, 24]]])
    >>> adaptive_max_pool2d(np.arange(25).reshape(1, 5, 5), 2, return_indices=True)[1]
    array([[[12, 14],
            [22, 24]]])
    """
    xa = _pool_operand(x)
    pool_dtypes(xa.dtype, "max")
    size = adaptive_output_size(xa.shape[-2:], output_size)
    if return_indices:
        return _adaptive_argmax(xa, size)
    # Along each row first, then down: the first maximum in the row-by-row scan wins.
    columns = _adaptive_axis(xa, xa.shape[-1], size[1], -1, _scan_max)
    return _adaptive_axis(columns, xa.shape[-2], size[0], -2, _scan_max)


def adaptive_avg_pool2d(x: npt.ArrayLike, output_size: AdaptiveSize) -> Array:
    """2-D adaptive average pooling, ``torch.nn.functional.adaptive_avg_pool2d``.

    Examples
    --------
    >>> adaptive_avg_pool2d(np.arange(25).reshape(1, 5, 5), 2)
    array([[[ 6.,  8.],
            [16., 18.]]])
    >>> adaptive_avg_pool2d(np.arange(8).reshape(2, 2, 2), 1)
    array([[[1.5]],
    <BLANKLINE>
           [[5.5]]])
    """
    xa = _pool_operand(x)
    acc, out = pool_dtypes(xa.dtype, "avg")
    size = adaptive_output_size(xa.shape[-2:], output_size)
    h, w = xa.shape[-2:]
    _check_sum(xa, (-(-h // size[0]) + 1) * (-(-w // size[1]) + 1))
    with np.errstate(all="ignore"):  # IEEE results for inf and NaN inputs, without warnings
        if size == (1, 1):
            # Global pooling: one matrix-vector product sums each plane (BLAS for floats).
            flat = xa.astype(acc, copy=False).reshape(*xa.shape[:-2], h * w)
            total = (flat @ np.ones(h * w, dtype=acc))[..., None, None]
        else:
            total = _adaptive(xa.astype(acc, copy=False), size, np.sum)
        counts = np.multiply.outer(_adaptive_lengths(h, size[0]), _adaptive_lengths(w, size[1]))
        counts = counts.astype(_divide_dtype(acc, out))
        result: Array = (total / counts).astype(out, copy=False)
    return result


def avg_divisors(geom: PoolGeometry, count_include_pad: bool) -> npt.NDArray[np.int64]:
    """The divisor of every output of ``avg_pool2d`` (PyTorch's ``pool_size`` rule).

    A window from ``start = i*s - p`` counts up to ``min(start + k, n + p)``: the explicit
    padding when ``count_include_pad``, never a ceil-mode overhang beyond it.

    Examples
    --------
    >>> from convcli.shapes.pooling import resolve_pool_geometry
    >>> g = resolve_pool_geometry((3, 3), 2, padding=1, ceil_mode=True)
    >>> avg_divisors(g, True).tolist(), avg_divisors(g, False).tolist()
    ([[4, 4], [4, 4]], [[1, 2], [2, 4]])
    """
    per_axis = []
    for axis in range(2):
        n, k = geom.in_size[axis], geom.kernel_size[axis]
        s, p = geom.stride[axis], geom.padding[axis]
        sizes = []
        for i in range(geom.out_size[axis]):
            start = i * s - p
            end = min(start + k, n + p)
            sizes.append(end - start if count_include_pad else min(end, n) - max(start, 0))
        per_axis.append(np.array(sizes, dtype=np.int64))
    return np.multiply.outer(per_axis[0], per_axis[1])


# --- the strided reductions ----------------------------------------------------------------


def _pool_operand(x: npt.ArrayLike) -> Array:
    xa = _operand(x, "input", None)
    if xa.ndim not in (3, 4):
        raise ShapeError(
            _("input must be 3-D (c, h, w) or 4-D (n, c, h, w), got {xa_ndim}-D").format(
                xa_ndim=xa.ndim
            )
        )
    return xa


def _padded_extent(geom: PoolGeometry) -> tuple[int, int]:
    """Rows/columns from the first window's start to the last window's last tap."""
    return (
        (geom.out_size[0] - 1) * geom.stride[0] + geom.effective_kernel[0],
        (geom.out_size[1] - 1) * geom.stride[1] + geom.effective_kernel[1],
    )


def _pad(x: Array, geom: PoolGeometry, fill: Any, dtype: np.dtype[Any]) -> Array:
    """``x`` in ``dtype``, padded with ``fill`` to exactly cover every window's taps."""
    ext_h, ext_w = _padded_extent(geom)
    p_h, p_w = geom.padding
    h, w = x.shape[-2:]
    if (p_h, p_w) == (0, 0) and ext_h <= h and ext_w <= w:
        return x.astype(dtype, copy=False)  # every window lies inside: no copy
    padded = np.full((*x.shape[:-2], ext_h, ext_w), fill, dtype=dtype)
    rows, cols = min(h, ext_h - p_h), min(w, ext_w - p_w)
    padded[..., p_h : p_h + rows, p_w : p_w + cols] = x[..., :rows, :cols]
    return padded


def _reduce_windows(padded: Array, geom: PoolGeometry, op: np.ufunc) -> Array:
    """``op``-reduce every window: over its rows of taps, then over its columns of taps."""
    (k_h, k_w), (s_h, s_w), (d_h, d_w) = geom.kernel_size, geom.stride, geom.dilation
    m_h, m_w = geom.out_size
    span_h, span_w = (m_h - 1) * s_h + 1, (m_w - 1) * s_w + 1
    rows = padded[..., 0:span_h:s_h, :].copy()
    for u in range(1, k_h):
        op(rows, padded[..., u * d_h : u * d_h + span_h : s_h, :], out=rows)
    result: Array = rows[..., 0:span_w:s_w].copy()
    for v in range(1, k_w):
        op(result, rows[..., v * d_w : v * d_w + span_w : s_w], out=result)
    return result


def _take_max(best: Array, taps: Array) -> None:
    """PyTorch's step of a max scan, in place: a tap replaces the best so far when it is
    larger or NaN. Equal values keep the first (``-0.0`` before ``0.0`` stays ``-0.0``),
    a later NaN replaces an earlier one; ``np.maximum`` decides neither."""
    take = taps > best
    if taps.dtype.kind in "fc":
        take |= np.isnan(taps)
    np.copyto(best, taps, where=take)


def _max_windows(padded: Array, geom: PoolGeometry) -> Array:
    """Every window's maximum as PyTorch scans it: along each row of taps first, then
    down the rows, so the first maximum row by row wins a tie (the signed zeros)."""
    (k_h, k_w), (s_h, s_w), (d_h, d_w) = geom.kernel_size, geom.stride, geom.dilation
    m_h, m_w = geom.out_size
    span_h, span_w = (m_h - 1) * s_h + 1, (m_w - 1) * s_w + 1
    across: Array = padded[..., :, 0:span_w:s_w].copy()
    for v in range(1, k_w):
        _take_max(across, padded[..., :, v * d_w : v * d_w + span_w : s_w])
    result: Array = across[..., 0:span_h:s_h, :].copy()
    for u in range(1, k_h):
        _take_max(result, across[..., u * d_h : u * d_h + span_h : s_h, :])
    return result


def _scan_max(x: Array, axis: int, keepdims: bool = False) -> Array:
    """The maximum along ``axis`` by PyTorch's scan (``_take_max``): ``np.max``'s order
    is numpy's own, which decides between ``-0.0`` and ``0.0`` differently."""
    moved = np.moveaxis(x, axis, 0)
    best: Array = moved[0].copy()
    for i in range(1, moved.shape[0]):
        _take_max(best, moved[i])
    return np.expand_dims(best, axis) if keepdims else best


def _scan_step(best: Array, tap: Array, taps: Array, number: int, valid: Any = True) -> None:
    """One tap of PyTorch's CPU scan: take a value above the best so far, or a NaN
    (``tap`` keeps the number of the tap taken, a small integer, turned into indices
    once at the end)."""
    take = taps > best
    if taps.dtype.kind in "fc":
        take |= np.isnan(taps)
    if valid is not True:
        take &= valid
    np.copyto(best, taps, where=take)
    np.copyto(tap, np.int32(number), where=take)


def _first_valid(base: npt.NDArray[np.int64], d: int) -> npt.NDArray[np.int64]:
    """How many steps of ``d`` from ``base`` (maybe negative) reach 0 or beyond."""
    return np.where(base < 0, (-base + d - 1) // d, 0)


def _argmax_windows(padded: Array, geom: PoolGeometry) -> tuple[Array, Array]:
    """Every window's maximum and its flat input index, scanning taps row by row.

    The best starts at the padding's fill (never beaten by padding, which holds the
    lowest value) and the index at the window's first input cell, as PyTorch's kernel.
    """
    (k_h, k_w), (s_h, s_w), (d_h, d_w) = geom.kernel_size, geom.stride, geom.dilation
    (m_h, m_w), (p_h, p_w), w = geom.out_size, geom.padding, geom.in_size[1]
    span_h, span_w = (m_h - 1) * s_h + 1, (m_w - 1) * s_w + 1
    rows = np.arange(m_h, dtype=np.int64) * s_h - p_h
    cols = np.arange(m_w, dtype=np.int64) * s_w - p_w
    best: Array = np.full((*padded.shape[:-2], m_h, m_w), _lowest(padded.dtype), padded.dtype)
    first = _first_valid(rows, d_h)[:, None] * k_w + _first_valid(cols, d_w)[None, :]
    tap: Array = np.broadcast_to(first, best.shape).astype(np.int32)
    for u in range(k_h):
        for v in range(k_w):
            taps = padded[..., u * d_h : u * d_h + span_h : s_h, v * d_w : v * d_w + span_w : s_w]
            _scan_step(best, tap, taps, u * k_w + v)
    u_taken, v_taken = np.divmod(tap, k_w)
    index = (rows[:, None] + u_taken * d_h) * w + (cols[None, :] + v_taken * d_w)
    return best, index.astype(np.int64, copy=False)


def _adaptive_argmax(x: Array, size: tuple[int, int]) -> tuple[Array, Array]:
    """Every adaptive window's maximum and flat index: taps ``(u, v)`` from each window's
    start, row by row, those past the window's end masked out."""
    h, w = x.shape[-2:]
    bounds = [
        np.array([adaptive_window(i, n, m) for i in range(m)], dtype=np.int64).reshape(m, 2)
        for n, m in ((h, size[0]), (w, size[1]))
    ]
    (r0, r1), (q0, q1) = (bounds[0][:, 0], bounds[0][:, 1]), (bounds[1][:, 0], bounds[1][:, 1])
    best: Array = np.full((*x.shape[:-2], *size), _lowest(x.dtype), x.dtype)
    tap: Array = np.zeros(best.shape, dtype=np.int32)
    l_w = int((q1 - q0).max())
    for u in range(int((r1 - r0).max())):
        picked = x[..., np.minimum(r0 + u, h - 1), :]
        for v in range(l_w):
            valid = ((r0 + u) < r1)[:, None] & ((q0 + v) < q1)[None, :]
            taps = picked[..., np.minimum(q0 + v, w - 1)]
            _scan_step(best, tap, taps, u * l_w + v, valid)
    u_taken, v_taken = np.divmod(tap, l_w)
    index = (r0[:, None] + u_taken) * w + (q0[None, :] + v_taken)
    return best, index.astype(np.int64, copy=False)


def _adaptive(x: Array, size: tuple[int, int], reduce: Reduce) -> Array:
    """Reduce adaptive windows: whole rows of windows first, then columns."""
    h, w = x.shape[-2:]
    rows = _adaptive_axis(x, h, size[0], -2, reduce)
    return _adaptive_axis(rows, w, size[1], -1, reduce)


def _adaptive_axis(x: Array, n: int, m: int, axis: int, reduce: Reduce) -> Array:
    if n % m == 0:  # equal windows: one reshape and one reduction
        k = n // m
        shape = list(x.shape)
        shape[axis : axis + 1 if axis != -1 else None] = [m, k]
        return reduce(x.reshape(shape), axis=axis)
    parts = []
    for i in range(m):
        start, end = adaptive_window(i, n, m)
        window = x[..., start:end, :] if axis == -2 else x[..., start:end]
        parts.append(reduce(window, axis=axis, keepdims=True))
    return np.concatenate(parts, axis=axis)


def _adaptive_lengths(n: int, m: int) -> npt.NDArray[np.int64]:
    return np.array([end - start for start, end in (adaptive_window(i, n, m) for i in range(m))])


def _lowest(dtype: np.dtype[Any]) -> Any:
    if dtype.kind == "b":
        return False
    if dtype.kind in "iu":
        return np.iinfo(dtype).min
    return -np.inf


def _divide_dtype(acc: np.dtype[Any], out: np.dtype[Any]) -> np.dtype[Any]:
    if acc.kind in "iu":
        return np.dtype(np.float64)
    if acc.kind == "c":  # a real divisor: complex division by x+0j mangles inf parts
        return np.dtype(np.float32 if acc == np.complex64 else np.float64)
    return acc


def _check_sum(x: Array, terms: int) -> None:
    if x.dtype.kind in "iu" and x.size:
        bound = max(abs(int(x.max())), abs(int(x.min()))) * terms
        if bound > INT64_MAX:
            raise NumericError(
                _(
                    "integer window sums could reach {bound}, beyond int64: convert the input to "
                    "float64"
                ).format(bound=bound)
            )


def pool(x: npt.ArrayLike, options: PoolOptions) -> Array:
    """The pooling ``options`` describe (its ``kind`` picks the function).

    Examples
    --------
    >>> pool(np.arange(16).reshape(1, 4, 4), PoolOptions("max", kernel_size=2)).tolist()
    [[[5, 7], [13, 15]]]
    """
    if options.kind in ("adaptive-max", "adaptive-avg"):
        adaptive = adaptive_max_pool2d if options.kind == "adaptive-max" else adaptive_avg_pool2d
        return adaptive(x, options.output_size)
    if options.kernel_size is None:
        raise OptionError(
            _("{options_kind} pooling needs a kernel size").format(options_kind=options.kind)
        )
    if options.kind == "max":
        return max_pool2d(
            x,
            options.kernel_size,
            stride=options.stride,
            padding=options.padding,
            dilation=options.dilation,
            ceil_mode=options.ceil_mode,
        )
    if options.kind == "avg":
        return avg_pool2d(
            x,
            options.kernel_size,
            stride=options.stride,
            padding=options.padding,
            ceil_mode=options.ceil_mode,
            count_include_pad=options.count_include_pad,
            divisor_override=options.divisor_override,
        )
    raise OptionError(
        _("pooling kind must be one of {join_POOL_KINDS}, got {options_kind!r}").format(
            join_POOL_KINDS=", ".join(POOL_KINDS), options_kind=options.kind
        )
    )


def pool_indices(x: npt.ArrayLike, options: PoolOptions) -> tuple[Array, Array]:
    """``(values, indices)`` of a max or adaptive-max pooling, PyTorch's
    ``return_indices=True`` (int64 flat indices ``row * w + col`` into each input plane).

    Examples
    --------
    >>> values, indices = pool_indices(np.arange(16).reshape(1, 4, 4), PoolOptions("max", 2))
    >>> indices.tolist()
    [[[5, 7], [13, 15]]]
    """
    if options.kind == "adaptive-max":
        values, indices = adaptive_max_pool2d(x, options.output_size, return_indices=True)
        return values, indices
    if options.kind != "max" or options.kernel_size is None:
        raise OptionError(
            _(
                "indices are max pooling's (max, adaptive-max), not {kind}'s: PyTorch's "
                "return_indices has no meaning for an average"
            ).format(kind=options.kind)
        )
    values, indices = max_pool2d(
        x,
        options.kernel_size,
        stride=options.stride,
        padding=options.padding,
        dilation=options.dilation,
        ceil_mode=options.ceil_mode,
        return_indices=True,
    )
    return values, indices


def pool_in_blocks(
    x: Array,
    options: PoolOptions,
    progress: Callable[[int, int], None],
    *,
    block_values: int = BLOCK_VALUES,
) -> Array:
    """``pool(x, options)`` a block of planes at a time, calling ``progress(done, total)``
    after each: every plane is pooled on its own, so the result is the same.

    A refusal is the whole computation's (``pool(x, options)`` words it).

    Examples
    --------
    >>> seen = []
    >>> y = pool_in_blocks(np.arange(64.0).reshape(4, 4, 4), PoolOptions("max", 2),
    ...                    lambda done, total: seen.append((done, total)), block_values=16)
    >>> np.array_equal(y, pool(np.arange(64.0).reshape(4, 4, 4), PoolOptions("max", 2))), seen
    (True, [(0, 4), (1, 4), (2, 4), (3, 4), (4, 4)])
    """
    planes = int(np.prod(x.shape[:-2])) if x.ndim in (3, 4) else 0
    plane = x.shape[-2] * x.shape[-1] if x.ndim >= 2 else 0
    if planes * plane <= 2 * block_values or not x.flags.c_contiguous:
        output = pool(x, options)
        progress(1, 1)
        return output
    flat = x.reshape(planes, *x.shape[-2:])  # a view: C-contiguous
    step = max(1, block_values // plane)
    total = -(-planes // step)
    progress(0, total)
    pieces: Array | None = None
    try:
        for done, start in enumerate(range(0, planes, step), start=1):
            piece = pool(flat[start : start + step], options)
            if pieces is None:
                pieces = np.empty((planes, *piece.shape[-2:]), dtype=piece.dtype)
            pieces[start : start + step] = piece
            progress(done, total)
    except ConvcliError:
        pool(x, options)  # the refusal in the whole input's numbers
        raise
    assert pieces is not None
    return pieces.reshape(*x.shape[:-2], *pieces.shape[-2:])


def run_pool(
    x: Array, options: PoolOptions, progress: Callable[[int, int], None] | None = None
) -> RunResult:
    """``pool`` as ``convcli pool`` computes and describes it (``progress(done, total)``,
    when given, called after each block of planes: ``pool_in_blocks``).

    Examples
    --------
    >>> r = run_pool(np.ones((2, 4, 4)), PoolOptions("adaptive-avg", output_size=1))
    >>> r.output.shape, r.output_axes
    ((2, 1, 1), ('c', 'm_h', 'm_w'))
    """
    output = pool(x, options) if progress is None else pool_in_blocks(x, options, progress)
    return _pool_result(x, options, output)


def run_pool_indices(x: Array, options: PoolOptions) -> tuple[RunResult, Array]:
    """``run_pool`` of a max or adaptive-max pooling, with PyTorch's ``return_indices``.

    Examples
    --------
    >>> r, indices = run_pool_indices(np.arange(16).reshape(1, 4, 4), PoolOptions("max", 2))
    >>> r.output.tolist(), indices.tolist()
    ([[[5, 7], [13, 15]]], [[[5, 7], [13, 15]]])
    """
    output, indices = pool_indices(x, options)
    return _pool_result(x, options, output), indices


def _pool_result(x: Array, options: PoolOptions, output: Array) -> RunResult:
    methods = {
        "max": N_("max_pool2d: the largest value of each window (NaN wins)"),
        "avg": N_("avg_pool2d: the sum of each window over its divisor"),
        "adaptive-max": N_("adaptive_max_pool2d: the largest value of each adaptive window"),
        "adaptive-avg": N_("adaptive_avg_pool2d: the mean of each adaptive window"),
    }
    method = _(methods[options.kind])
    if options.kind == "avg":
        if options.divisor_override is not None:
            method = beside(
                method, _("(divisor {n}, overridden)").format(n=options.divisor_override)
            )
        elif not options.count_include_pad:
            method = beside(method, _("(the padding not counted)"))
    batch = ("n",) if x.ndim == 4 else ()
    return RunResult(
        output=output,
        method=method,
        input_axes=(*batch, "c", "n_h", "n_w"),
        kernel_axes=(),
        output_axes=(*batch, "c", "m_h", "m_w"),
    )
