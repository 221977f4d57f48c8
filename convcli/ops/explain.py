"""Where one output value comes from: ``convcli explain``.

Pure numpy. ``explain_output`` takes the tensors ``convcli run`` takes and one
position of its output, and returns every number of that output's sum: for each
input channel of the output channel's group, the window of the (padded) input the
kernel sees, the kernel slice, their elementwise products and the channel's sum;
then the total, the bias and the value. The lesson's output (0, 0) of the
multi-input example is ``19 + 37 = 56``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from convcli.errors import PositionError
from convcli.i18n import _
from convcli.ops.layout import to_nchw, to_oihw
from convcli.ops.numerics import check_numeric, checked_accumulation
from convcli.ops.padding import check_padding_mode, flip_kernel, source_index
from convcli.shapes.axes import output_axes
from convcli.shapes.geometry import ConvGeometry, resolve_geometry
from convcli.shapes.layer import check_conv_shapes, lift_to_conv2d
from convcli.shapes.options import ConvOptions

__all__ = ["ChannelTerm", "Explanation", "check_in_range", "explain_output"]

Array = npt.NDArray[Any]


@dataclass(frozen=True)
class ChannelTerm:
    """One input channel's share of an output value.

    ``window`` holds the input values under the kernel taps (``k_h x k_w``, dilated
    taps only); ``padding`` marks the taps that fall in the padding, whose values are
    zeros or, with another padding mode, copies of the input cells named by
    ``source_rows`` / ``source_cols`` (``None``: a zero).
    """

    channel: int
    kernel_index: tuple[int, ...]
    window: Array
    padding: npt.NDArray[np.bool_]
    source_rows: tuple[int | None, ...]
    source_cols: tuple[int | None, ...]
    kernel: Array
    products: Array
    total: Any


@dataclass(frozen=True)
class Explanation:
    """Every number that makes up one output value, in the order they are added."""

    position: tuple[int, ...]
    output_shape: tuple[int, ...]
    output_axes: tuple[str, ...]
    batch: int
    out_channel: int
    row: int
    col: int
    group: int
    input_rows: tuple[int, ...]
    input_cols: tuple[int, ...]
    terms: tuple[ChannelTerm, ...]
    total: Any
    bias: Any
    value: Any
    geometry: ConvGeometry
    options: ConvOptions
    kernel_ndim: int

    @property
    def padded_taps(self) -> int:
        """How many of the taps read padding (over all channels)."""
        return sum(int(term.padding.sum()) for term in self.terms)


def explain_output(
    x: npt.ArrayLike,
    weight: npt.ArrayLike,
    bias: npt.ArrayLike | None,
    position: Sequence[int],
    options: ConvOptions | None = None,
    *,
    input_layout: str = "nchw",
    kernel_layout: str = "oihw",
) -> Explanation:
    """Explain the output value at ``position`` of ``convcli run`` on these tensors.

    Parameters
    ----------
    x : array_like, shape (n_h, n_w), (c_i, n_h, n_w) or (n, c_i, n_h, n_w)
    weight : array_like, shape (k_h, k_w), (c_i, k_h, k_w) or (c_o, c_i/g, k_h, k_w)
        Read by rank, as ``run --mode auto`` reads it.
    bias : array_like, shape (c_o,), optional
    position : sequence of int
        An index of the output: ``i, j`` (2-D or 3-D kernel), ``n, i, j`` (3-D kernel,
        batched input), ``o, i, j`` (4-D kernel) or ``n, o, i, j`` (batched).
    options : ConvOptions
        stride, padding, dilation, groups, padding mode and flip, as ``run``'s.
    input_layout, kernel_layout : str
        "nhwc" and "hwio" read TensorFlow's layouts, as ``conv2d``'s parameters; the
        position indexes the output in PyTorch's layout.

    Returns
    -------
    Explanation

    Examples
    --------
    >>> X = np.stack([np.arange(9).reshape(3, 3), np.arange(1, 10).reshape(3, 3)])
    >>> K = np.array([[[0, 1], [2, 3]], [[1, 2], [3, 4]]])
    >>> e = explain_output(X, K, None, (0, 0))
    >>> [int(t.total) for t in e.terms], int(e.value)
    ([19, 37], 56)
    >>> e.terms[0].window.tolist(), e.terms[0].products.tolist()
    ([[0, 1], [3, 4]], [[0, 1], [6, 12]])
    """
    options = options or ConvOptions()
    xa, wa = to_nchw(x, input_layout), to_oihw(weight, kernel_layout)
    ba = None if bias is None else np.asarray(bias)
    for array, name in ((xa, "input"), (wa, "kernel"), (ba, "bias")):
        if array is not None:
            check_numeric(array, name)
            if array.size == 0:
                raise PositionError(
                    _("{name} is empty (shape {array_shape})").format(
                        name=name, array_shape=array.shape
                    )
                )
    input_shape, weight_shape = lift_to_conv2d(xa.shape, wa.shape)
    # Checked as given (3-D or 4-D), before a batch axis is added: a 5-D input is "5-D".
    check_conv_shapes(input_shape, weight_shape, None if ba is None else ba.shape, options.groups)
    xb = xa.reshape(input_shape)
    xb = xb if xb.ndim == 4 else xb[None]
    w = wa.reshape(weight_shape)
    _n, _c_i, h, wd = xb.shape
    c_o, c_per_group, k_h, k_w = w.shape
    geometry = resolve_geometry(
        (h, wd),
        (k_h, k_w),
        stride=options.stride,
        padding=options.padding,
        dilation=options.dilation,
    )
    check_padding_mode(options.padding_mode, (h, wd), geometry.padding)
    axes = output_axes(xa.ndim, wa.ndim)
    sizes = {"n": xb.shape[0], "c_o": c_o, "m_h": geometry.out_size[0], "m_w": geometry.out_size[1]}
    output_shape = tuple(sizes[axis] for axis in axes)
    index = _check_position(tuple(position), axes, output_shape)
    batch, out_channel = index.get("n", 0), index.get("c_o", 0)
    row, col = index["m_h"], index["m_w"]

    # run's dtype rule and exactness checks (int64 x uint64 past 2**53 is refused).
    acc = checked_accumulation(xb, w, ba, c_per_group * k_h * k_w)
    kernel = flip_kernel(w) if options.flip else w
    top, _bottom, left, _right = geometry.padding
    (s_h, s_w), (d_h, d_w) = geometry.stride, geometry.dilation
    padded_rows = [row * s_h + a * d_h for a in range(k_h)]
    padded_cols = [col * s_w + b * d_w for b in range(k_w)]
    mode = options.padding_mode
    source_rows = tuple(source_index(p, h, top, mode) for p in padded_rows)
    source_cols = tuple(source_index(p, wd, left, mode) for p in padded_cols)
    inside_rows = np.array([0 <= p - top < h for p in padded_rows])
    inside_cols = np.array([0 <= p - left < wd for p in padded_cols])
    padding = ~np.outer(inside_rows, inside_cols)

    group = out_channel // (c_o // options.groups)
    # IEEE results for inf and NaN inputs (inf * 0 is NaN), without warnings.
    with np.errstate(all="ignore"):
        terms = []
        for local in range(c_per_group):
            channel = group * c_per_group + local
            window = np.zeros((k_h, k_w), dtype=acc.acc)
            for a, r in enumerate(source_rows):
                for b, c in enumerate(source_cols):
                    if r is not None and c is not None:
                        window[a, b] = xb[batch, channel, r, c]
            k_slice = kernel[out_channel, local].astype(acc.acc)
            products = window * k_slice
            terms.append(
                ChannelTerm(
                    channel=channel,
                    kernel_index=_kernel_index(wa.ndim, out_channel, local),
                    window=window,
                    padding=padding,
                    source_rows=source_rows,
                    source_cols=source_cols,
                    kernel=k_slice,
                    products=products,
                    total=products.sum(dtype=acc.acc),
                )
            )
        total = np.sum([term.total for term in terms], dtype=acc.acc)
        bias_value = None if ba is None else ba[out_channel].astype(acc.acc)
        value = total if bias_value is None else total + bias_value
    return Explanation(
        position=tuple(position),
        output_shape=output_shape,
        output_axes=axes,
        batch=batch,
        out_channel=out_channel,
        row=row,
        col=col,
        group=group,
        input_rows=tuple(p - top for p in padded_rows),
        input_cols=tuple(p - left for p in padded_cols),
        terms=tuple(terms),
        total=total,
        bias=bias_value,
        value=np.asarray(value).astype(acc.out)[()],
        geometry=geometry,
        options=options,
        kernel_ndim=wa.ndim,
    )


def _check_position(
    position: tuple[int, ...], axes: tuple[str, ...], shape: tuple[int, ...]
) -> dict[str, int]:
    if len(position) != len(axes):
        names = ",".join({"n": "n", "c_o": "o", "m_h": "i", "m_w": "j"}[a] for a in axes)
        shown = "x".join(map(str, shape))
        raise PositionError(
            _(
                "position needs {len_axes} indices {names} for an output of shape {shown} "
                "({join_axes}), got {len_position}"
            ).format(
                len_axes=len(axes),
                names=names,
                shown=shown,
                join_axes=" ".join(axes),
                len_position=len(position),
            )
        )
    check_in_range(position, axes, shape)
    return dict(zip(axes, position, strict=True))


def _kernel_index(kernel_ndim: int, out_channel: int, local: int) -> tuple[int, ...]:
    """Where the kernel slice sits in the kernel as the user gave it."""
    if kernel_ndim == 4:
        return (out_channel, local)
    if kernel_ndim == 3:
        return (local,)
    return ()


def check_in_range(position: Sequence[int], axes: Sequence[str], shape: Sequence[int]) -> None:
    """Raise ``PositionError`` unless each index of ``position`` lies inside its axis.

    Examples
    --------
    >>> check_in_range((0, 3), ("m_h", "m_w"), (2, 2))
    Traceback (most recent call last):
    ...
    convcli.errors.PositionError: position 0,3 is out of range: m_w=3 but the output has m_w in 0..1
    """
    for axis, size, i in zip(axes, shape, position, strict=True):
        if not 0 <= i < size:
            raise PositionError(
                _(
                    "position {join_map_str_position} is out of range: {axis}={i} but the output "
                    "has {axis} in 0..{size_1}"
                ).format(
                    join_map_str_position=",".join(map(str, position)),
                    axis=axis,
                    i=i,
                    size_1=size - 1,
                )
            )
