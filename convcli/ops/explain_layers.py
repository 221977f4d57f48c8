"""Where one output of a transposed convolution or a pooling comes from.

Pure numpy. ``explain_transposed`` lists every input value and kernel tap that reaches
one output (the scatter view: input ``(a, b)`` stamps tap ``(u, v)`` at
``(a*s - p + u*d, b*s - p + v*d)``) and the same sum read directly, as a window of the
zero-inserted input under the flipped kernel. ``explain_pool`` gives the window, its
cells, and the winner (max) or the sum and the divisor (average).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from convcli.errors import PositionError, ShapeError
from convcli.i18n import _
from convcli.ops.numerics import accumulation_for
from convcli.ops.pooling import avg_divisors, pool
from convcli.ops.transposed import conv_transpose_with
from convcli.shapes.pooling import PoolGeometry, PoolOptions, adaptive_window, resolve_pool_geometry
from convcli.shapes.transposed import (
    TransposedGeometry,
    TransposedOptions,
    check_transposed_shapes,
    options_geometry,
)

__all__ = [
    "PoolExplanation",
    "Stamp",
    "TransposedExplanation",
    "explain_pool",
    "explain_transposed",
]

Array = npt.NDArray[Any]


def _position(
    position: tuple[int, ...], shape: tuple[int, ...], axes: tuple[str, ...]
) -> tuple[int, ...]:
    if len(position) != len(shape):
        names = ",".join(axes)
        raise PositionError(
            _("expected {len_shape} indices ({names}), got {len_position}").format(
                len_shape=len(shape), names=names, len_position=len(position)
            )
        )
    for index, size, axis in zip(position, shape, axes, strict=True):
        if not 0 <= index < size:
            raise PositionError(
                _("{axis}={index} is outside the output ({axis} < {size})").format(
                    axis=axis, index=index, size=size
                )
            )
    return position


@dataclass(frozen=True)
class Stamp:
    """One product reaching the output: input ``x[channel, row, col]`` times tap ``(u, v)``."""

    channel: int
    row: int
    col: int
    tap: tuple[int, int]
    value: Any
    weight: Any
    product: Any


@dataclass(frozen=True)
class TransposedExplanation:
    """Every product of one output of ``conv_transpose2d``, and the direct view of it."""

    position: tuple[int, ...]
    output_axes: tuple[str, ...]
    out_channel: int
    kernel_out: int
    row: int
    col: int
    group: int
    stamps: tuple[Stamp, ...]
    total: Any
    bias: Any
    value: Any
    geometry: TransposedGeometry
    groups: int
    direct_rows: tuple[int, ...]
    direct_cols: tuple[int, ...]
    direct_windows: tuple[tuple[int, Array, Array], ...]


def explain_transposed(
    x: Array,
    kernel: Array,
    bias: Array | None,
    position: tuple[int, ...],
    options: TransposedOptions,
) -> TransposedExplanation:
    """The products that reach output ``position`` (``o,i,j`` or ``n,o,i,j``).

    Examples
    --------
    >>> e = explain_transposed(np.array([[[1, 2]]]), np.array([[[[1, 10]]]]), None,
    ...                        (0, 0, 1), TransposedOptions(stride=1))
    >>> [(s.col, s.tap, s.product) for s in e.stamps], e.value
    ([(0, (0, 1), 10), (1, (0, 0), 2)], 12)
    """
    groups = int(options.groups)
    check_transposed_shapes(x.shape, kernel.shape, None if bias is None else bias.shape, groups)
    output = conv_transpose_with(x, kernel, bias, options)
    g = options_geometry(x.shape, kernel.shape, options)
    axes = ("n", "c_o", "m_h", "m_w") if x.ndim == 4 else ("c_o", "m_h", "m_w")
    _position(position, output.shape, axes)
    n = position[0] if x.ndim == 4 else 0
    o, i, j = position[-3:]
    xb = x if x.ndim == 4 else x[None]
    c_og = kernel.shape[1]
    c_ig = kernel.shape[0] // groups
    group = o // c_og
    acc: Any = accumulation_for(x, kernel, bias).acc.type  # numbers of the accumulation dtype
    (s_h, s_w), (p_h, p_w), (d_h, d_w) = g.stride, g.padding, g.dilation
    stamps = []
    for c in range(group * c_ig, (group + 1) * c_ig):
        for u in range(g.kernel_size[0]):
            a, rem_a = divmod(i + p_h - u * d_h, s_h)
            if rem_a or not 0 <= a < xb.shape[2]:
                continue
            for v in range(g.kernel_size[1]):
                b, rem_b = divmod(j + p_w - v * d_w, s_w)
                if rem_b or not 0 <= b < xb.shape[3]:
                    continue
                value = xb[n, c, a, b]
                weight = kernel[c, o - group * c_og, u, v]
                with np.errstate(all="ignore"):
                    product = acc(value) * acc(weight)
                stamps.append(Stamp(c, a, b, (u, v), value.item(), weight.item(), product.item()))
    stamps.sort(key=lambda stamp: (stamp.channel, stamp.row, stamp.col))
    total = acc(0)
    with np.errstate(all="ignore"):
        for stamp in stamps:
            total = total + acc(stamp.product)
    direct_rows, direct_cols, windows = _direct_view(xb[n], kernel, g, group, o - group * c_og,
                                                     c_ig, i, j)  # fmt: skip
    return TransposedExplanation(
        position=position,
        output_axes=axes,
        out_channel=o,
        kernel_out=o - group * c_og,
        row=i,
        col=j,
        group=group,
        stamps=tuple(stamps),
        total=total.item(),
        bias=None if bias is None else bias[o].item(),
        value=output[position].item(),
        geometry=g,
        groups=groups,
        direct_rows=direct_rows,
        direct_cols=direct_cols,
        direct_windows=windows,
    )


def _direct_view(
    x: Array,
    kernel: Array,
    g: TransposedGeometry,
    group: int,
    o_in_group: int,
    c_ig: int,
    i: int,
    j: int,
) -> tuple[tuple[int, ...], tuple[int, ...], tuple[tuple[int, Array, Array], ...]]:
    """The window of the zero-inserted input under the flipped kernel, per input channel.

    Rows of the zero-inserted, padded input are numbered from its top; row ``r`` holds
    input row ``(r - top) / s`` when that is a whole number inside the input, else a zero.
    """
    top, _, left, _ = g.direct_padding
    (s_h, s_w), (d_h, d_w) = g.stride, g.dilation
    rows = tuple(i + u * d_h for u in range(g.kernel_size[0]))
    cols = tuple(j + v * d_w for v in range(g.kernel_size[1]))
    windows = []
    for c in range(group * c_ig, (group + 1) * c_ig):
        window = np.zeros((len(rows), len(cols)), dtype=x.dtype)
        for ri, r in enumerate(rows):
            a, rem_a = divmod(r - top, s_h)
            if rem_a or not 0 <= a < x.shape[1]:
                continue
            for ci, q in enumerate(cols):
                b, rem_b = divmod(q - left, s_w)
                if not rem_b and 0 <= b < x.shape[2]:
                    window[ri, ci] = x[c, a, b]
        flipped = kernel[c, o_in_group, ::-1, ::-1]
        windows.append((c, window, np.ascontiguousarray(flipped)))
    return rows, cols, tuple(windows)


@dataclass(frozen=True)
class PoolExplanation:
    """One pooled output: its window, the cells, and the winner or the sum and divisor."""

    position: tuple[int, ...]
    output_axes: tuple[str, ...]
    kind: str
    rows: tuple[int, ...]
    cols: tuple[int, ...]
    cells: Array
    inside: npt.NDArray[np.bool_]
    winner: tuple[int, int] | None
    total: Any
    divisor: int | None
    padding_counted: bool
    value: Any
    geometry: PoolGeometry | None


def explain_pool(x: Array, options: PoolOptions, position: tuple[int, ...]) -> PoolExplanation:
    """The window of one pooled output (``c,i,j`` or ``n,c,i,j``) and how it reduces.

    Examples
    --------
    >>> x = np.arange(16).reshape(1, 4, 4)
    >>> e = explain_pool(x, PoolOptions("max", kernel_size=2), (0, 1, 1))
    >>> e.rows, e.cols, e.winner, e.value
    ((2, 3), (2, 3), (3, 3), 15)
    """
    if x.ndim not in (3, 4):
        raise ShapeError(
            _("input must be 3-D (c, h, w) or 4-D (n, c, h, w), got {x_ndim}-D").format(
                x_ndim=x.ndim
            )
        )
    output = pool(x, options)
    axes = ("n", "c", "m_h", "m_w") if x.ndim == 4 else ("c", "m_h", "m_w")
    _position(position, output.shape, axes)
    plane = x[position[:-2]]
    i, j = position[-2:]
    h, w = plane.shape
    geom = None
    if options.kind.startswith("adaptive"):
        m_h, m_w = output.shape[-2:]
        r0, r1 = adaptive_window(i, h, m_h)
        q0, q1 = adaptive_window(j, w, m_w)
        rows, cols = tuple(range(r0, r1)), tuple(range(q0, q1))
        divisor: int | None = len(rows) * len(cols)
        counted = False
    else:
        assert options.kernel_size is not None
        geom = resolve_pool_geometry(
            (h, w),
            options.kernel_size,
            stride=options.stride,
            padding=options.padding,
            dilation=options.dilation if options.kind == "max" else 1,
            ceil_mode=options.ceil_mode,
        )
        (k_h, k_w), (s_h, s_w) = geom.kernel_size, geom.stride
        (p_h, p_w), (d_h, d_w) = geom.padding, geom.dilation
        rows = tuple(i * s_h - p_h + u * d_h for u in range(k_h))
        cols = tuple(j * s_w - p_w + v * d_w for v in range(k_w))
        counted = options.kind == "avg" and options.count_include_pad
        if options.kind == "avg":
            if options.divisor_override is not None:
                divisor = options.divisor_override
            else:
                divisor = int(avg_divisors(geom, options.count_include_pad)[i, j])
        else:
            divisor = None
    inside = np.array([[0 <= r < h and 0 <= q < w for q in cols] for r in rows])
    cells = np.zeros(inside.shape, dtype=x.dtype)
    for ri, r in enumerate(rows):
        for ci, q in enumerate(cols):
            if inside[ri, ci]:
                cells[ri, ci] = plane[r, q]
    value = output[position].item()
    winner = None
    total: Any = None
    if options.kind.endswith("max"):
        winner = _winner(cells, inside, rows, cols)
    else:
        wide = np.complex128 if x.dtype.kind == "c" else np.float64
        with np.errstate(all="ignore"):
            total = cells[inside].astype(wide).sum().item()
            if x.dtype.kind in "biu":
                total = int(cells[inside].astype(np.int64).sum())
    return PoolExplanation(
        position=position,
        output_axes=axes,
        kind=options.kind,
        rows=rows,
        cols=cols,
        cells=cells,
        inside=inside,
        winner=winner,
        total=total,
        divisor=divisor,
        padding_counted=counted,
        value=value,
        geometry=geom,
    )


def _winner(
    cells: Array, inside: npt.NDArray[np.bool_], rows: tuple[int, ...], cols: tuple[int, ...]
) -> tuple[int, int] | None:
    """The input cell holding the maximum, the one PyTorch's ``return_indices`` names: the
    last NaN in the row-by-row scan, else the first largest value."""
    found = [(ri, ci) for ri in range(len(rows)) for ci in range(len(cols)) if inside[ri, ci]]
    if not found:
        return None  # every tap in the padding: the output is the lowest value
    values = [cells[at] for at in found]
    if cells.dtype.kind == "f":
        nans = [at for at, value in zip(found, values, strict=True) if np.isnan(value)]
        if nans:
            return rows[nans[-1][0]], cols[nans[-1][1]]
    best = found[int(np.argmax(np.array(values)))]
    return rows[best[0]], cols[best[1]]
