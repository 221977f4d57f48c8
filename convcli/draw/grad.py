"""The figure of one input cell's gradient (梯度): where ``dX[cell]`` comes from.

For each output channel that reads the cell: ``dY`` with the outputs that read it
highlighted, the kernel slice with the tap each of them used, and their products; on the
right the whole ``dX`` with the cell; below, the sum with its numbers and the identity
(``dX`` is the transposed convolution of ``dY`` with the kernel; of a transposed
convolution, the ordinary one: ``conv2d(dY, K)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from convcli.draw.common import check_size, listing, pair_text, positions, sum_text, value_text
from convcli.draw.layout import Cell, Figure, Grid, Item
from convcli.i18n import _
from convcli.ops.grad_explain import GradExplanation, GradTerm, explain_grad
from convcli.shapes.axes import axis_names, output_axes
from convcli.shapes.geometry import resolve_geometry
from convcli.shapes.layer import lift_to_conv2d
from convcli.shapes.options import ConvOptions
from convcli.shapes.transposed import TransposedOptions, options_geometry

__all__ = ["grad_figures"]

Array = npt.NDArray[Any]


def grad_figures(
    x: Array,
    kernel: Array,
    bias: Array | None,
    options: ConvOptions | TransposedOptions,
    at: Sequence[int] | None = None,
    *,
    animate: bool = False,
    grad_output: Array | None = None,
) -> list[Figure]:
    """One figure per input cell (``animate``, without ``at``), or the cell at ``at``
    (an index in the input's rank; default: the first cell). ``TransposedOptions`` draw
    the backward pass of ``conv_transpose2d`` (the kernel ``(c_i, c_o/g, k_h, k_w)``).

    Examples
    --------
    >>> figures = grad_figures(np.arange(9.0).reshape(3, 3), np.ones((2, 2)), None,
    ...                        ConvOptions(), (1, 1))
    >>> figures[0].footer[0]
    'dX[1,1] = 1 + 1 + 1 + 1 = 4'
    """
    cells = list(positions(x.shape)) if animate and at is None else [tuple(at or (0,) * x.ndim)]
    if isinstance(options, TransposedOptions):
        x4, w4 = x.shape, kernel.shape
    else:
        x4, w4 = lift_to_conv2d(x.shape, kernel.shape)
    check_size(len(cells), x.size + kernel.size * 3, still=not animate)
    figures = []
    for cell in cells:
        e = explain_grad(x, kernel, bias, options, "input", tuple(cell), grad_output)
        figures.append(_figure(e, x, kernel, options, x4, w4))
    return figures


def _title(
    x: Array, kernel: Array, options: ConvOptions | TransposedOptions, index: tuple[int, ...]
) -> tuple[str, ...]:
    where = ",".join(map(str, index))
    if isinstance(options, TransposedOptions):
        t = options_geometry(x.shape, kernel.shape, options)
        settings = [
            _("stride {stride}, dilation {dilation}, groups {groups}").format(
                stride=pair_text(t.stride), dilation=pair_text(t.dilation), groups=options.groups
            ),
            _("padding {padding}, output_padding {output_padding}").format(
                padding=pair_text(t.padding), output_padding=pair_text(t.output_padding)
            ),
        ]
        return (
            _(
                "backward pass of the transposed convolution: the gradient of input cell "
                "X[{where}], dX = sum dY * K"
            ).format(where=where),
            listing(settings),
        )
    g = resolve_geometry(
        (x.shape[-2], x.shape[-1]),
        (kernel.shape[-2], kernel.shape[-1]),
        stride=options.stride,
        padding=options.padding,
        dilation=options.dilation,
    )
    settings = [
        _("stride {stride}, dilation {dilation}, groups {groups}").format(
            stride=pair_text(g.stride), dilation=pair_text(g.dilation), groups=options.groups
        )
    ]
    if any(g.padding):
        settings.append(
            _("padding {mode}").format(mode=options.padding_mode)
            if options.padding_mode != "zeros"
            else _("zero padding")
        )
    if options.flip:
        settings.append(_("kernel flipped 180 degrees (true convolution)"))
    return (
        _("backward pass: the gradient of input cell X[{where}], dX = sum dY * K").format(
            where=where
        ),
        listing(settings),
    )


def _figure(
    e: GradExplanation,
    x: Array,
    kernel: Array,
    options: ConvOptions | TransposedOptions,
    x4: tuple[int, ...],
    w4: tuple[int, ...],
) -> Figure:
    transposed = isinstance(options, TransposedOptions)
    lead = ("n",) if x.ndim == 4 else ()
    if transposed:
        in_axes: tuple[str, ...] = (*lead, "c_i", "n_h", "n_w")
        out_axes: tuple[str, ...] = (*lead, "c_o", "m_h", "m_w")
    else:
        in_axes = axis_names("input", x.ndim)
        out_axes = output_axes(x.ndim, kernel.ndim)
    cell = dict(zip(in_axes, e.index, strict=True))
    batch, channel = cell.get("n", 0), cell.get("c_i", 0)
    groups = int(options.groups)
    if transposed:  # (c_i, c_o/g, k_h, k_w): input channel c reads kernel[c, o_local]
        c_i, c_og, k_h, k_w = w4
        c_o, c_ig = c_og * groups, c_i // groups
    else:
        c_o, c_ig, k_h, k_w = w4
        c_og = c_o // groups
    group = channel // c_ig
    local = channel - group * c_ig
    dy = e.grads.grad_output
    dy4 = dy.reshape(x4[0] if len(x4) == 4 else 1, c_o, *dy.shape[-2:])
    w = kernel.reshape(w4)
    by_channel: dict[int, list[GradTerm]] = {}
    for t in e.terms:
        out = dict(zip(out_axes, t.output, strict=True))
        by_channel.setdefault(out.get("c_o", 0), []).append(t)
    rows: list[tuple[Item, ...]] = []
    for o in range(group * c_og, (group + 1) * c_og):
        terms = by_channel.get(o, [])
        reads = {(t.output[-2], t.output[-1]) for t in terms}
        used = {(t.tap[-2], t.tap[-1]) for t in terms}
        if transposed:
            piece = w[channel, o - group * c_og]
            k_name = _("kernel[{in_channel},{out_channel}]").format(
                in_channel=channel, out_channel=o - group * c_og
            )
        else:
            piece = w[o, local]
            k_name = _("kernel[{out_channel},{in_channel}]").format(out_channel=o, in_channel=local)
        dy_cells = tuple(
            tuple(
                Cell(value_text(dy4[batch, o, r, c]), "tap" if (r, c) in reads else "input")
                for c in range(dy4.shape[3])
            )
            for r in range(dy4.shape[2])
        )
        k_cells = tuple(
            tuple(
                Cell(value_text(piece[a, b]), "tap" if (a, b) in used else "kernel")
                for b in range(k_w)
            )
            for a in range(k_h)
        )
        name = (
            _("dY channel {channel}").format(channel=o) if transposed or kernel.ndim == 4 else "dY"
        )
        products = tuple(Cell(value_text(t.product), "product") for t in terms) or (
            Cell("0", "faded"),
        )
        note = _("sum = {total}").format(total=value_text(_sum(terms)))
        rows.append(
            (
                Grid(name, dy_cells),
                "x",
                Grid(k_name, k_cells),
                "=",
                Grid(_("dY * K"), (products,), note=note),
            )
        )
    grad = e.grads.grad_input.reshape(x4 if len(x4) == 4 else (1, *x4))
    here = (cell["n_h"], cell["n_w"])
    dx_cells = tuple(
        tuple(
            Cell(
                value_text(grad[batch, channel, r, c]),
                "current" if (r, c) == here else "done",
            )
            for c in range(grad.shape[3])
        )
        for r in range(grad.shape[2])
    )
    dx_name = _("dX channel {channel}").format(channel=channel) if x.ndim >= 3 else "dX"
    where = ",".join(map(str, e.index))
    sums = sum_text([t.product for t in e.terms]) if e.terms else "0"
    whole = (
        _(
            "The whole of dX is the ordinary convolution (correlation) conv2d of dY with K, "
            "with the same stride, padding, dilation and groups."
        )
        if transposed
        else _("The whole of dX is the transposed convolution of dY with K.")
    )
    footer = (f"dX[{where}] = {sums} = {value_text(e.computed)}", whole)
    return Figure(
        _title(x, kernel, options, e.index), tuple(rows), ("->", Grid(dx_name, dx_cells)), footer
    )


def _sum(terms: list[GradTerm]) -> Any:
    if not terms:
        return 0
    return np.sum(np.array([t.product for t in terms]))
