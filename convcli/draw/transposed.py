"""The figures of a transposed convolution, two ways.

The direct view (conv_arithmetic's, the default): a stride-1 convolution over the input
with ``s-1`` zeros inserted between values and ``d(k-1)-p`` zeros around them (plus
``output_padding`` at the bottom/right; a negative amount crops), with the kernel
flipped and its channel axes swapped; one figure per output cell.

The scatter view (``scatter=True``): every input value stamps the kernel, scaled by
itself, onto an uncropped output canvas at ``(i*s, j*s)``; ``padding`` then crops ``p``
from each side. One figure per input cell, the canvas accumulating.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from convcli.draw.common import (
    check_position,
    check_size,
    pair_text,
    positions,
    shapes_title,
    sides_text,
    sum_text,
    value_text,
)
from convcli.draw.layout import Cell, Figure, Frames, Grid, Item
from convcli.errors import ShapeError
from convcli.i18n import _, ngettext
from convcli.ops.transposed import conv_transpose2d
from convcli.shapes.axes import output_axes
from convcli.shapes.transposed import (
    TransposedGeometry,
    check_transposed_shapes,
    resolve_transposed_geometry,
)

__all__ = [
    "TransposedProblem",
    "plan_transposed_drawing",
    "transposed_figures",
    "transposed_formula",
]

Array = npt.NDArray[Any]


@dataclass(frozen=True)
class TransposedProblem:
    """Shapes as given (kernel 2-D, or 4-D ``(c_i, c_o/groups, k_h, k_w)``), options, tensors."""

    input_shape: tuple[int, ...]
    kernel_shape: tuple[int, ...]
    stride: int | tuple[int, int] = 1
    padding: int | tuple[int, int] = 0
    output_padding: int | tuple[int, int] = 0
    dilation: int | tuple[int, int] = 1
    groups: int = 1
    x: Array | None = None
    weight: Array | None = None
    bias: Array | None = None


def transposed_formula(g: TransposedGeometry, index: int) -> str:
    """The output-size formula of one axis with the geometry's numbers.

    Examples
    --------
    >>> g = resolve_transposed_geometry((2, 2), 3, stride=2)
    >>> transposed_formula(g, 0)
    'm_h = (n_h-1)*s_h - 2p_h + d_h(k_h-1) + op_h + 1 = (2-1)*2 - 2*0 + 1*(3-1) + 0 + 1 = 5'
    """
    a = "hw"[index]
    n, k, s = g.in_size[index], g.kernel_size[index], g.stride[index]
    p, d, op = g.padding[index], g.dilation[index], g.output_padding[index]
    general = f"(n_{a}-1)*s_{a} - 2p_{a} + d_{a}(k_{a}-1) + op_{a} + 1"
    numbers = f"({n}-1)*{s} - 2*{p} + {d}*({k}-1) + {op} + 1"
    return f"m_{a} = {general} = {numbers} = {g.out_size[index]}"


def _shapes4(problem: TransposedProblem) -> tuple[tuple[int, ...], tuple[int, ...]]:
    x, k = problem.input_shape, problem.kernel_shape
    if len(k) == 2:
        if len(x) != 2:
            raise ShapeError(
                _("a 2-D kernel (k_h, k_w) needs a 2-D input (n_h, n_w), got {len_x}-D").format(
                    len_x=len(x)
                )
            )
        return (1, 1, *x), (1, 1, *k)
    if len(k) != 4:
        raise ShapeError(
            _(
                "a transposed kernel is 2-D (k_h, k_w) or 4-D (c_i, c_o/groups, k_h, k_w), got "
                "{len_k}-D"
            ).format(len_k=len(k))
        )
    if len(x) == 2:
        raise ShapeError(
            _("a 4-D kernel needs a 3-D or 4-D input, got {len_x}-D").format(len_x=len(x))
        )
    return (x if len(x) == 4 else (1, *x)), k


@dataclass(frozen=True)
class _Plan:
    geometry: TransposedGeometry
    batched: tuple[int, ...]
    weight4: tuple[int, ...]
    c_o: int
    axes: tuple[str, ...]
    out_shape: tuple[int, ...]
    steps: list[tuple[int, ...]]


def plan_transposed_drawing(
    problem: TransposedProblem,
    at: Sequence[int] | None = None,
    *,
    animate: bool = False,
    scatter: bool = False,
) -> _Plan:
    """Check a drawing from shapes alone; the steps are output cells (input cells: scatter).

    Examples
    --------
    >>> plan = plan_transposed_drawing(TransposedProblem((2, 2), (3, 3), stride=2), animate=True)
    >>> plan.out_shape, len(plan.steps)
    ((5, 5), 25)
    """
    batched, weight4 = _shapes4(problem)
    bias = None if problem.bias is None else tuple(problem.bias.shape)
    c_o = check_transposed_shapes(batched, weight4, bias, problem.groups)
    g = resolve_transposed_geometry(
        (batched[2], batched[3]),
        (weight4[2], weight4[3]),
        stride=problem.stride,
        padding=problem.padding,
        output_padding=problem.output_padding,
        dilation=problem.dilation,
    )
    kernel_rank = len(problem.kernel_shape)
    axes = output_axes(len(problem.input_shape), kernel_rank)
    sizes = {"n": batched[0], "c_o": c_o, "m_h": g.out_size[0], "m_w": g.out_size[1]}
    out_shape = tuple(sizes[a] for a in axes)
    step_axes, step_shape = axes, out_shape
    if scatter:
        names = {2: ("n_h", "n_w"), 3: ("c_i", "n_h", "n_w"), 4: ("n", "c_i", "n_h", "n_w")}
        step_axes = names[len(problem.input_shape)]
        step_shape = tuple(problem.input_shape)
    frames = int(np.prod(step_shape))
    if at is not None:
        check_position(tuple(at), step_axes, step_shape)
    top, bottom, left, right = g.direct_padding
    n_h, n_w = batched[2], batched[3]
    grid = ((n_h - 1) * g.stride[0] + 1 + top + bottom) * (
        (n_w - 1) * g.stride[1] + 1 + left + right
    )
    k_cells = 2 * (batched[1] // problem.groups) * weight4[2] * weight4[3]
    cells = batched[1] * grid + k_cells + g.out_size[0] * g.out_size[1]
    if scatter:
        canvas = (g.out_size[0] + 2 * g.padding[0]) * (g.out_size[1] + 2 * g.padding[1])
        cells = batched[1] * n_h * n_w + (c_o // problem.groups) * (canvas + k_cells)
    check_size(frames, cells, still=not animate or at is not None)
    if at is not None:
        steps = [tuple(at)]
    else:
        every = positions(step_shape)
        steps = list(every) if animate else [next(every)]
    return _Plan(g, batched, weight4, c_o, axes, out_shape, steps)


def _title(problem: TransposedProblem, plan: _Plan, scatter: bool) -> tuple[str, ...]:
    g = plan.geometry
    shape = "x".join(map(str, plan.out_shape))
    first = shapes_title(
        "conv_transpose2d",
        "x".join(map(str, problem.input_shape)),
        "x".join(map(str, problem.kernel_shape)),
        shape,
    )
    settings = _(
        "stride {stride}, padding {padding}, output_padding {output_padding}, dilation "
        "{dilation}, groups {groups}"
    ).format(
        stride=pair_text(g.stride),
        padding=pair_text(g.padding),
        output_padding=pair_text(g.output_padding),
        dilation=pair_text(g.dilation),
        groups=problem.groups,
    )
    top, bottom, left, right = g.direct_padding
    if scatter:
        how = _(
            "scatter view: each input value times the kernel, added at (i*s, j*s) of the "
            "canvas; padding crops {padding} from each side (dashed cells)"
        ).format(padding=pair_text(g.padding))
        return (first, settings, transposed_formula(g, 0), transposed_formula(g, 1), how)
    gaps = (g.stride[0] - 1, g.stride[1] - 1)
    around = sides_text(top, bottom, left, right)
    if len({top, bottom, left, right}) == 1:
        around = str(top)
    # Two lines of one sentence: the translation says where the second begins.
    direct = ngettext(
        "direct view: {zeros} zero between the input values (s-1), {around} around them "
        "(d(k-1)-p,\n+ output_padding at the bottom/right; negative crops), the kernel "
        "flipped, stride 1",
        "direct view: {zeros} zeros between the input values (s-1), {around} around them "
        "(d(k-1)-p,\n+ output_padding at the bottom/right; negative crops), the kernel "
        "flipped, stride 1",
        1 if gaps == (1, 1) else 2,
    ).format(zeros=pair_text(gaps), around=around)
    return (
        first,
        settings,
        transposed_formula(g, 0),
        transposed_formula(g, 1),
        *direct.split("\n"),
    )


def _values(problem: TransposedProblem, plan: _Plan) -> tuple[Array, Array, Array] | None:
    if problem.x is None or problem.weight is None:
        return None
    g = plan.geometry
    x = np.asarray(problem.x).reshape(plan.batched)
    w = np.asarray(problem.weight).reshape(plan.weight4)
    output = conv_transpose2d(
        x,
        w,
        problem.bias,
        stride=g.stride,
        padding=g.padding,
        output_padding=g.output_padding,
        groups=problem.groups,
        dilation=g.dilation,
    )
    return x, w, output


def transposed_figures(
    problem: TransposedProblem,
    at: Sequence[int] | None = None,
    *,
    animate: bool = False,
    scatter: bool = False,
) -> Sequence[Figure]:
    """The figures to draw: the direct view per output cell, or the scatter view per input cell.

    Examples
    --------
    >>> figures = transposed_figures(TransposedProblem((2, 2), (3, 3), stride=2), animate=True)
    >>> len(figures), figures[0].rows[0][0].shape
    (25, (7, 7))
    """
    plan = plan_transposed_drawing(problem, at, animate=animate, scatter=scatter)
    values = _values(problem, plan)
    title = _title(problem, plan, scatter)
    progressive = animate and at is None
    if scatter:
        return Frames(plan.steps, lambda step: _scatter_figure(problem, plan, step, title, values))
    zero_inserted = None if values is None else _zero_inserted(values[0], plan.geometry)
    return Frames(
        plan.steps,
        lambda step: _direct_figure(problem, plan, step, title, values, zero_inserted, progressive),
    )


def _zero_inserted(x: Array, g: TransposedGeometry) -> Array:
    """The input with ``s-1`` zeros between values and the direct view's padding around."""
    top, bottom, left, right = g.direct_padding
    n, c, h, w = x.shape
    (s_h, s_w) = g.stride
    rows, cols = (h - 1) * s_h + 1, (w - 1) * s_w + 1
    grid = np.zeros((n, c, rows + top + bottom, cols + left + right), dtype=x.dtype)
    for u in range(h):
        for v in range(w):
            r, col = top + u * s_h, left + v * s_w
            if 0 <= r < grid.shape[2] and 0 <= col < grid.shape[3]:
                grid[:, :, r, col] = x[:, :, u, v]
    return grid


def _direct_cell_state(r: int, c: int, g: TransposedGeometry, in_size: tuple[int, int]) -> str:
    top, _b, left, _r = g.direct_padding
    u, v = r - top, c - left
    rows, cols = (in_size[0] - 1) * g.stride[0] + 1, (in_size[1] - 1) * g.stride[1] + 1
    if not (0 <= u < rows and 0 <= v < cols):
        return "pad"
    if u % g.stride[0] or v % g.stride[1]:
        return "inserted"
    return "input"


def _direct_figure(
    problem: TransposedProblem,
    plan: _Plan,
    position: tuple[int, ...],
    title: tuple[str, ...],
    values: tuple[Array, Array, Array] | None,
    zero_inserted: Array | None,
    progressive: bool,
) -> Figure:
    g = plan.geometry
    index = dict(zip(plan.axes, position, strict=True))
    batch, out_channel, row, col = (
        index.get("n", 0),
        index.get("c_o", 0),
        index["m_h"],
        index["m_w"],
    )
    c_i, (k_h, k_w) = plan.batched[1], g.kernel_size
    per_group_in = c_i // problem.groups
    per_group_out = plan.c_o // problem.groups
    group, local_out = divmod(out_channel, per_group_out)
    top, bottom, left, right = g.direct_padding
    n_h, n_w = g.in_size
    grid_h = (n_h - 1) * g.stride[0] + 1 + top + bottom
    grid_w = (n_w - 1) * g.stride[1] + 1 + left + right
    tap_rows = [row + a * g.dilation[0] for a in range(k_h)]
    tap_cols = [col + b * g.dilation[1] for b in range(k_w)]
    taps = {(r, c) for r in tap_rows for c in tap_cols}
    rows: list[tuple[Item, ...]] = []
    sums = []
    for channel in range(c_i):
        seen = channel // per_group_in == group
        cells = []
        for r in range(grid_h):
            line = []
            for c in range(grid_w):
                state = _direct_cell_state(r, c, g, (n_h, n_w))
                if not seen:
                    state = "faded"
                elif (r, c) in taps:
                    state = "tap" if state == "input" else "tap_pad"
                if zero_inserted is not None:
                    text = value_text(zero_inserted[batch, channel, r, c])
                else:
                    text = "" if state in ("input", "tap", "faded") else "0"
                line.append(Cell(text, state))
            cells.append(tuple(line))
        name = (
            _("input")
            if len(problem.input_shape) == 2
            else _("input channel {channel}").format(channel=channel)
        )
        if not seen:
            caption = _("{name}: not seen by output channel {out_channel}").format(
                name=name, out_channel=out_channel
            )
            rows.append((Grid(caption, tuple(cells)),))
            continue
        caption = _("{name}, zeros inserted and padded").format(name=name)
        box = (tap_rows[0], tap_cols[0], tap_rows[-1] + 1, tap_cols[-1] + 1)
        kernel_cells = []
        flipped = None
        if values is not None:
            flipped = values[1][channel, local_out, ::-1, ::-1]
        for a in range(k_h):
            kernel_cells.append(
                tuple(
                    Cell(
                        value_text(flipped[a, b])
                        if flipped is not None
                        else f"{k_h - 1 - a},{k_w - 1 - b}",
                        "kernel",
                    )
                    for b in range(k_w)
                )
            )
        name_k = (
            _("kernel[{in_channel},{out_channel}] flipped").format(
                in_channel=channel, out_channel=local_out
            )
            if len(problem.kernel_shape) == 4
            else _("kernel flipped")
        )
        items: list[Item] = [
            Grid(caption, tuple(cells), box=box if g.dilation != (1, 1) else None),
            "x",
            Grid(name_k, tuple(kernel_cells)),
        ]
        if zero_inserted is not None and flipped is not None:
            window = zero_inserted[batch, channel][np.ix_(tap_rows, tap_cols)]
            with np.errstate(all="ignore"):
                products = window * flipped
                total = products.sum()
            sums.append(total)
            items += [
                "=",
                Grid(
                    _("products"),
                    tuple(tuple(Cell(value_text(v), "product") for v in line) for line in products),
                    note=_("sum = {total}").format(total=value_text(total)),
                ),
            ]
        rows.append(tuple(items))
    output = _output_grid(plan, index, values, progressive)
    where = ",".join(map(str, position))
    if values is None:
        footer = (
            _(
                "output[{where}]: the flipped kernel's taps on rows {rows} and columns {columns} "
                "of the zero-inserted input"
            ).format(
                where=where,
                rows=f"{tap_rows[0]}..{tap_rows[-1]}",
                columns=f"{tap_cols[0]}..{tap_cols[-1]}",
            ),
        )
    else:
        value = value_text(
            values[2][(batch, out_channel, row, col)]
            if values[2].ndim == 4
            else values[2][(out_channel, row, col)]
        )
        terms = sum_text(sums)
        if problem.bias is not None:
            summed = _("output[{where}] = {sums} + bias {bias} = {value}").format(
                where=where,
                sums=terms,
                bias=value_text(np.asarray(problem.bias)[out_channel]),
                value=value,
            )
        elif len(sums) == 1:
            summed = _("output[{where}] = sum of the products = {value}").format(
                where=where, value=value
            )
        else:
            summed = _("output[{where}] = {sums} = {value}").format(
                where=where, sums=terms, value=value
            )
        footer = (summed,)
    return Figure(title, tuple(rows), ("->", output), footer)


def _output_value(
    values: tuple[Array, Array, Array], batch: int, channel: int, r: int, c: int
) -> Any:
    out = values[2]
    return out[batch, channel, r, c] if out.ndim == 4 else out[channel, r, c]


def _output_grid(
    plan: _Plan, index: dict[str, int], values: tuple[Array, Array, Array] | None, progressive: bool
) -> Grid:
    batch, out_channel = index.get("n", 0), index.get("c_o", 0)
    here = (index["m_h"], index["m_w"])
    m_h, m_w = plan.geometry.out_size
    cells = []
    for r in range(m_h):
        line = []
        for c in range(m_w):
            state = (
                "current"
                if (r, c) == here
                else ("pending" if progressive and (r, c) > here else "done")
            )
            text = ""
            if values is not None and state != "pending":
                text = value_text(_output_value(values, batch, out_channel, r, c))
            line.append(Cell(text, state))
        cells.append(tuple(line))
    name = (
        _("output channel {channel}").format(channel=out_channel) if "c_o" in index else _("output")
    )
    return Grid(name, tuple(cells))


def _scatter_figure(
    problem: TransposedProblem,
    plan: _Plan,
    step: tuple[int, ...],
    title: tuple[str, ...],
    values: tuple[Array, Array, Array] | None,
) -> Figure:
    g = plan.geometry
    rank = len(problem.input_shape)
    names = {2: ("n_h", "n_w"), 3: ("c_i", "n_h", "n_w"), 4: ("n", "c_i", "n_h", "n_w")}[rank]
    index = dict(zip(names, step, strict=True))
    batch, channel, u, v = index.get("n", 0), index.get("c_i", 0), index["n_h"], index["n_w"]
    n_h, n_w = g.in_size
    k_h, k_w = g.kernel_size
    (s_h, s_w), (d_h, d_w), (p_h, p_w) = g.stride, g.dilation, g.padding
    x = None if values is None else values[0]
    w = None if values is None else values[1]
    input_cells = tuple(
        tuple(
            Cell(
                "" if x is None else value_text(x[batch, channel, r, c]),
                "tap" if (r, c) == (u, v) else ("done" if (r, c) < (u, v) else "input"),
            )
            for c in range(n_w)
        )
        for r in range(n_h)
    )
    in_name = _("input") if rank == 2 else _("input channel {channel}").format(channel=channel)
    scatters = _("{name}: value ({row},{column}) scatters").format(name=in_name, row=u, column=v)
    rows: list[tuple[Item, ...]] = [(Grid(scatters, input_cells),)]
    canvas_h, canvas_w = g.out_size[0] + 2 * p_h, g.out_size[1] + 2 * p_w
    per_group_in = plan.batched[1] // problem.groups
    per_group_out = plan.c_o // problem.groups
    group = channel // per_group_in
    stamp = {(u * s_h + a * d_h, v * s_w + b * d_w): (a, b) for a in range(k_h) for b in range(k_w)}
    for local_out in range(per_group_out):
        out_channel = group * per_group_out + local_out
        partial = None
        if x is not None and w is not None:
            partial = _scatter_partial(
                x[batch],
                w,
                problem.groups,
                g,
                (channel, u, v),
                out_channel,
                per_group_in,
                per_group_out,
            )
        kernel_cells = tuple(
            tuple(
                Cell(
                    value_text(w[channel, local_out, a, b]) if w is not None else f"{a},{b}",
                    "kernel",
                )
                for b in range(k_w)
            )
            for a in range(k_h)
        )
        canvas = []
        for r in range(canvas_h):
            line = []
            for c in range(canvas_w):
                inside = p_h <= r < p_h + g.out_size[0] and p_w <= c < p_w + g.out_size[1]
                if (r, c) in stamp:
                    state = "current" if inside else "tap_pad"
                else:
                    state = "done" if inside else "outside"
                text = "" if partial is None else value_text(partial[r, c])
                line.append(Cell(text, state))
            canvas.append(tuple(line))
        four = len(problem.kernel_shape) == 4
        k_name = (
            _("kernel[{in_channel},{out_channel}]").format(
                in_channel=channel, out_channel=local_out
            )
            if four
            else _("kernel")
        )
        multiplier = "x" if x is None else f"x {value_text(x[batch, channel, u, v])}"
        out_name = (
            _("output channel {channel}").format(channel=out_channel) if four else _("output")
        )
        so_far = _("{name}, uncropped: the sum so far").format(name=out_name)
        rows.append((Grid(k_name, kernel_cells), multiplier, "->", Grid(so_far, tuple(canvas))))
    where = ",".join(map(str, step))
    footer = (
        _(
            "input[{where}] adds the kernel times itself at canvas rows {rows}, columns "
            "{columns}; the output is the canvas without its {padding} cropped border"
        ).format(
            where=where,
            rows=f"{u * s_h}..{u * s_h + d_h * (k_h - 1)}",
            columns=f"{v * s_w}..{v * s_w + d_w * (k_w - 1)}",
            padding=pair_text(g.padding),
        ),
    )
    return Figure(title, tuple(rows), (), footer)


def _scatter_partial(
    x: Array,
    w: Array,
    groups: int,
    g: TransposedGeometry,
    upto: tuple[int, int, int],
    out_channel: int,
    per_group_in: int,
    per_group_out: int,
) -> Array:
    """The uncropped canvas of ``out_channel`` after the input cells up to ``upto`` scattered."""
    del groups
    (s_h, s_w), (d_h, d_w) = g.stride, g.dilation
    k_h, k_w = g.kernel_size
    canvas_h, canvas_w = g.out_size[0] + 2 * g.padding[0], g.out_size[1] + 2 * g.padding[1]
    acc = np.result_type(x.dtype, w.dtype, np.int64 if x.dtype.kind in "biu" else x.dtype)
    canvas = np.zeros((canvas_h, canvas_w), dtype=acc)
    group, local_out = divmod(out_channel, per_group_out)
    _c_i, n_h, n_w = x.shape
    with np.errstate(all="ignore"):
        for channel in range(group * per_group_in, (group + 1) * per_group_in):
            for u in range(n_h):
                for v in range(n_w):
                    if (channel, u, v) > upto:
                        continue
                    for a in range(k_h):
                        for b in range(k_w):
                            canvas[u * s_h + a * d_h, v * s_w + b * d_w] += (
                                x[channel, u, v] * w[channel, local_out, a, b]
                            )
    return canvas
