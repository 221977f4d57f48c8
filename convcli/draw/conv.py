"""The figures of a convolution: one per output cell, as conv_arithmetic draws them.

Each figure shows, for one output cell, every input channel (padded, the padding
cells dashed and showing the values the padding mode puts there), the kernel's taps
on it, the kernel slice, and with tensor files the products, each channel's sum and
the output value (the lesson's ``56 = 19 + 37``). Channels the output channel's group
does not see are drawn faded.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from convcli.draw.common import (
    check_position,
    check_size,
    listing,
    pair_text,
    positions,
    shapes_title,
    sides_text,
    sum_text,
    value_text,
)
from convcli.draw.layout import Cell, Figure, Frames, Grid, Item
from convcli.i18n import _
from convcli.ops.explain import explain_output
from convcli.ops.modes import run_convolution
from convcli.ops.padding import check_padding_mode, flip_kernel, pad_input
from convcli.shapes.axes import output_axes
from convcli.shapes.geometry import ConvGeometry, resolve_geometry
from convcli.shapes.layer import check_conv_shapes, lift_to_conv2d
from convcli.shapes.options import ConvOptions

__all__ = ["ConvProblem", "conv_figures", "conv_formula", "plan_conv"]

Array = npt.NDArray[Any]


@dataclass(frozen=True)
class ConvProblem:
    """What to draw: shapes as the user gave them, ``run``'s options, tensors if any."""

    input_shape: tuple[int, ...]
    kernel_shape: tuple[int, ...]
    options: ConvOptions = field(default_factory=ConvOptions)
    x: Array | None = None
    weight: Array | None = None
    bias: Array | None = None


def conv_formula(g: ConvGeometry, index: int) -> str:
    """The output-size formula of one axis with the geometry's numbers.

    Examples
    --------
    >>> g = resolve_geometry((5, 5), (3, 3), stride=2, padding=1)
    >>> conv_formula(g, 0)
    'm_h = floor((n_h + 2p_h - d_h(k_h-1) - 1)/s_h) + 1 = floor((5 + 2*1 - 1*(3-1) - 1)/2) + 1 = 3'
    """
    axis = "hw"[index]
    n, k = g.in_size[index], g.kernel_size[index]
    s, d = g.stride[index], g.dilation[index]
    before, after = g.padding[2 * index], g.padding[2 * index + 1]
    if before == after:
        pad_symbol, pad_value = f"2p_{axis}", f"2*{before}"
    else:
        pad_symbol, pad_value = f"p_{axis}0 + p_{axis}1", f"{before} + {after}"
    general = f"floor((n_{axis} + {pad_symbol} - d_{axis}(k_{axis}-1) - 1)/s_{axis}) + 1"
    numbers = f"floor(({n} + {pad_value} - {d}*({k}-1) - 1)/{s}) + 1"
    return f"m_{axis} = {general} = {numbers} = {g.out_size[index]}"


def _shape_text(shape: Sequence[int]) -> str:
    return "x".join(map(str, shape))


def _padding_text(g: ConvGeometry, options: ConvOptions) -> str:
    top, bottom, left, right = g.padding
    if top == bottom and left == right:
        text = pair_text((top, left))
    else:
        text = sides_text(top, bottom, left, right)
    return f"same = {text}" if options.padding == "same" else text


def _title(problem: ConvProblem, g: ConvGeometry, out_shape: tuple[int, ...]) -> tuple[str, ...]:
    o = problem.options
    first = shapes_title(
        "conv2d",
        _shape_text(problem.input_shape),
        _shape_text(problem.kernel_shape),
        _shape_text(out_shape),
    )
    settings = [
        _("stride {stride}, padding {padding}, dilation {dilation}, groups {groups}").format(
            stride=pair_text(g.stride),
            padding=_padding_text(g, o),
            dilation=pair_text(g.dilation),
            groups=o.groups,
        )
    ]
    if o.padding_mode != "zeros":
        settings.append(_("padding mode {mode}").format(mode=o.padding_mode))
    if o.flip:
        settings.append(_("kernel flipped 180 degrees (true convolution)"))
    return (first, listing(settings), conv_formula(g, 0), conv_formula(g, 1))


def conv_figures(
    problem: ConvProblem, at: Sequence[int] | None = None, *, animate: bool = False
) -> Sequence[Figure]:
    """The figures to draw: every output cell (``animate``), or the one at ``at``.

    A still without ``at`` shows the first output cell with the whole output filled in.

    Examples
    --------
    >>> figures = conv_figures(ConvProblem((5, 5), (3, 3), ConvOptions(stride=2, padding=1)),
    ...                        animate=True)
    >>> len(figures), figures[0].title[2][-1]
    (9, '3')
    """
    g, axes, out_shape, chosen = plan_conv(problem, at, animate=animate)
    has_values = problem.x is not None and problem.weight is not None
    input4, weight4 = lift_to_conv2d(problem.input_shape, problem.kernel_shape)
    batched = input4 if len(input4) == 4 else (1, *input4)
    values = _Values.of(problem, batched, weight4, g) if has_values else None
    title = _title(problem, g, out_shape)
    progressive = animate and at is None
    return Frames(
        chosen,
        lambda pos: _figure(
            problem, g, axes, out_shape, pos, title, values, progressive=progressive
        ),
    )


def plan_conv(
    problem: ConvProblem, at: Sequence[int] | None = None, *, animate: bool = False
) -> tuple[ConvGeometry, tuple[str, ...], tuple[int, ...], list[tuple[int, ...]]]:
    """Check a drawing from the shapes alone: geometry, output axes and shape, the steps.

    Raises the shape and option errors ``run`` raises, ``PositionError`` for a bad
    ``at`` and ``BudgetError`` for a drawing too big to read, before any tensor data is
    needed.

    Examples
    --------
    >>> g, axes, shape, steps = plan_conv(ConvProblem((2, 3, 3), (2, 2, 2)), animate=True)
    >>> axes, shape, steps[-1]
    (('m_h', 'm_w'), (2, 2), (1, 1))
    """
    o = problem.options
    input4, weight4 = lift_to_conv2d(problem.input_shape, problem.kernel_shape)
    batched = input4 if len(input4) == 4 else (1, *input4)
    bias_shape = None if problem.bias is None else tuple(problem.bias.shape)
    check_conv_shapes(batched, weight4, bias_shape, o.groups)
    n, c_i, h, w = batched
    c_o, per_group, k_h, k_w = weight4
    g = resolve_geometry(
        (h, w), (k_h, k_w), stride=o.stride, padding=o.padding, dilation=o.dilation
    )
    check_padding_mode(o.padding_mode, (h, w), g.padding)
    axes = output_axes(len(problem.input_shape), len(problem.kernel_shape))
    sizes = {"n": n, "c_o": c_o, "m_h": g.out_size[0], "m_w": g.out_size[1]}
    out_shape = tuple(sizes[a] for a in axes)
    frames = 1
    for size in out_shape:
        frames *= size
    if at is not None:
        check_position(tuple(at), axes, out_shape)
    ph, pw = g.padded_size
    cells = c_i * ph * pw + 2 * per_group * k_h * k_w  # kernel and products
    check_size(frames, cells + g.out_size[0] * g.out_size[1], still=not animate or at is not None)
    if at is not None:
        chosen = [tuple(at)]
    else:
        everything = positions(out_shape)
        chosen = list(everything) if animate else [next(everything)]
    return g, axes, out_shape, chosen


@dataclass(frozen=True)
class _Values:
    padded: Array  # (n, c_i, ph, pw): the input as the padding mode pads it
    kernel: Array  # (c_o, c_i/g, k_h, k_w), flipped when --flip
    output: Array  # (n, c_o, m_h, m_w)

    @staticmethod
    def of(
        problem: ConvProblem, batched: tuple[int, ...], weight4: tuple[int, ...], g: ConvGeometry
    ) -> _Values:
        assert problem.x is not None and problem.weight is not None
        x = np.asarray(problem.x).reshape(batched)
        weight = np.asarray(problem.weight).reshape(weight4)
        result = run_convolution(
            problem.x, problem.weight, problem.bias, mode="auto", options=problem.options
        )
        output = result.output.reshape((batched[0], weight4[0], *g.out_size))
        padded = pad_input(x, g.padding, problem.options.padding_mode)
        kernel = flip_kernel(weight) if problem.options.flip else weight
        return _Values(padded, kernel, output)


def _figure(
    problem: ConvProblem,
    g: ConvGeometry,
    axes: tuple[str, ...],
    out_shape: tuple[int, ...],
    position: tuple[int, ...],
    title: tuple[str, ...],
    values: _Values | None,
    *,
    progressive: bool,
) -> Figure:
    o = problem.options
    index = dict(zip(axes, position, strict=True))
    batch, out_channel, row, col = (
        index.get("n", 0),
        index.get("c_o", 0),
        index["m_h"],
        index["m_w"],
    )
    input4, weight4 = lift_to_conv2d(problem.input_shape, problem.kernel_shape)
    c_i = input4[-3]
    c_o, per_group, k_h, k_w = weight4
    group = out_channel // (c_o // o.groups)
    (s_h, s_w), (d_h, d_w) = g.stride, g.dilation
    tap_rows = [row * s_h + a * d_h for a in range(k_h)]
    tap_cols = [col * s_w + b * d_w for b in range(k_w)]
    taps = {(r, c) for r in tap_rows for c in tap_cols}
    top, _bottom, left, _right = g.padding
    h, w = g.in_size
    ph, pw = g.padded_size
    explained = (
        explain_output(problem.x, problem.weight, problem.bias, position, o)  # type: ignore[arg-type]
        if values is not None
        else None
    )
    box = (
        (tap_rows[0], tap_cols[0], tap_rows[-1] + 1, tap_cols[-1] + 1)
        if g.dilation != (1, 1)
        else None
    )
    rows: list[tuple[Item, ...]] = []
    for channel in range(c_i):
        seen = channel // per_group == group
        grid_cells = []
        for r in range(ph):
            line = []
            for c in range(pw):
                inside = top <= r < top + h and left <= c < left + w
                state = "input" if inside else "pad"
                if seen and (r, c) in taps:
                    state = "tap" if inside else "tap_pad"
                if not seen:
                    state = "faded"
                if values is not None:
                    text = value_text(values.padded[batch, channel, r, c])
                else:  # from shapes alone only zero padding has known values
                    text = "0" if not inside and o.padding_mode == "zeros" else ""
                line.append(Cell(text, state))
            grid_cells.append(tuple(line))
        name = _("input")
        if len(problem.input_shape) == 3:
            name = _("input channel {channel}").format(channel=channel)
        if len(problem.input_shape) == 4:
            name = _("input[{batch}] channel {channel}").format(batch=batch, channel=channel)
        if not seen:
            caption = _("{name}: not seen by output channel {out_channel} (group {group})").format(
                name=name, out_channel=out_channel, group=group
            )
            rows.append((Grid(caption, tuple(grid_cells)),))
            continue
        local = channel - group * per_group
        if any(g.padding):
            name = _("{name} padded ({mode})").format(name=name, mode=o.padding_mode)
        rows.append(
            (
                Grid(name, tuple(grid_cells), box=box),
                "x",
                *_kernel_items(problem, values, explained, out_channel, local, k_h, k_w),
            )
        )
    result = _output_grid(problem, axes, out_shape, position, values, progressive)
    return Figure(
        title, tuple(rows), ("->", result), _footer(position, explained, tap_rows, tap_cols, g)
    )


def _kernel_items(
    problem: ConvProblem,
    values: _Values | None,
    explained: Any,
    out_channel: int,
    local: int,
    k_h: int,
    k_w: int,
) -> tuple[Item, ...]:
    flip = problem.options.flip
    rank = len(problem.kernel_shape)
    if rank == 4:
        name = (
            _("kernel[{out_channel},{in_channel}] flipped")
            if flip
            else _("kernel[{out_channel},{in_channel}]")
        ).format(out_channel=out_channel, in_channel=local)
    elif rank == 3:
        name = (_("kernel[{in_channel}] flipped") if flip else _("kernel[{in_channel}]")).format(
            in_channel=local
        )
    else:
        name = _("kernel flipped") if flip else _("kernel")
    cells = []
    for a in range(k_h):
        line = []
        for b in range(k_w):
            if values is not None:
                text = value_text(values.kernel[out_channel, local, a, b])
            else:  # the tap's index in the kernel as given: --flip shows it rotated
                text = f"{k_h - 1 - a},{k_w - 1 - b}" if flip else f"{a},{b}"
            line.append(Cell(text, "kernel"))
        cells.append(tuple(line))
    kernel = Grid(name, tuple(cells))
    if explained is None:
        return (kernel,)
    term = explained.terms[local]
    products = tuple(
        tuple(Cell(value_text(term.products[a, b]), "product") for b in range(k_w))
        for a in range(k_h)
    )
    note = _("sum = {total}").format(total=value_text(term.total))
    return (kernel, "=", Grid(_("products"), products, note=note))


def _output_grid(
    problem: ConvProblem,
    axes: tuple[str, ...],
    out_shape: tuple[int, ...],
    position: tuple[int, ...],
    values: _Values | None,
    progressive: bool,
) -> Grid:
    index = dict(zip(axes, position, strict=True))
    batch, out_channel = index.get("n", 0), index.get("c_o", 0)
    m_h, m_w = out_shape[-2], out_shape[-1]
    here = (index["m_h"], index["m_w"])
    cells = []
    for r in range(m_h):
        line = []
        for c in range(m_w):
            if (r, c) == here:
                state = "current"
            elif progressive and (r, c) > here:
                state = "pending"
            else:
                state = "done"
            text = ""
            if values is not None and state != "pending":
                text = value_text(values.output[batch, out_channel, r, c])
            line.append(Cell(text, state))
        cells.append(tuple(line))
    name = _("output")
    if "c_o" in index:
        name = _("output channel {channel}").format(channel=out_channel)
    if "n" in index:
        name = (
            _("output[{batch}] channel {channel}").format(batch=batch, channel=out_channel)
            if "c_o" in index
            else _("output[{batch}]").format(batch=batch)
        )
    return Grid(name, tuple(cells))


def _footer(
    position: tuple[int, ...],
    explained: Any,
    tap_rows: list[int],
    tap_cols: list[int],
    g: ConvGeometry,
) -> tuple[str, ...]:
    where = ",".join(map(str, position))
    if explained is None:
        return (
            _(
                "output[{where}]: the kernel's taps on padded rows {rows} and columns {columns}"
            ).format(where=where, rows=_span(tap_rows), columns=_span(tap_cols)),
        )
    sums = sum_text([term.total for term in explained.terms])
    value = value_text(explained.value)
    if explained.bias is not None:
        bias = value_text(explained.bias)
        line = (
            _("output[{where}] = {sums} + bias ({bias}) = {value}")
            if explained.bias < 0
            else _("output[{where}] = {sums} + bias {bias} = {value}")
        )
        return (line.format(where=where, sums=sums, bias=bias, value=value),)
    if len(explained.terms) > 1:
        return (
            _("output[{where}] = {sums} = {value}").format(where=where, sums=sums, value=value),
        )
    return (_("output[{where}] = sum of the products = {value}").format(where=where, value=value),)


def _span(indices: list[int]) -> str:
    if len(indices) > 1 and len({b - a for a, b in itertools.pairwise(indices)}) == 1:
        step = indices[1] - indices[0]
        if step > 1:
            return _("{first}..{last} (every {step})").format(
                first=indices[0], last=indices[-1], step=step
            )
        return f"{indices[0]}..{indices[-1]}"
    return ",".join(map(str, indices))
