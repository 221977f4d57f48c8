"""The figures of max and average pooling: the window on the padded input, the value it gives.

Padding is drawn as PyTorch applies it: ``-inf`` for max pooling (never chosen), zeros
for average pooling (counted in the divisor, as ``count_include_pad`` does by
default). With ``ceil_mode`` a last window may run past the padded input: those cells
are drawn outside the grid (dotted) and never counted; a window that would start in the
right padding is dropped, as PyTorch's code does.
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
    listing,
    pair_text,
    positions,
    sum_text,
    value_text,
)
from convcli.draw.layout import Cell, Figure, Frames, Grid, Item
from convcli.errors import OptionError, ShapeError
from convcli.i18n import _
from convcli.ops.pooling import avg_divisors, avg_pool2d, max_pool2d
from convcli.shapes.geometry import IntOrPair
from convcli.shapes.pooling import PoolGeometry, resolve_pool_geometry

__all__ = ["PoolProblem", "plan_pool_drawing", "pool_figures", "pool_formula"]

Array = npt.NDArray[Any]
POOL_KINDS = ("max", "avg")


@dataclass(frozen=True)
class PoolProblem:
    """What to draw: ``kind`` max or avg, the input's shape (2-D to 4-D), the window."""

    kind: str
    input_shape: tuple[int, ...]
    kernel_size: IntOrPair
    stride: IntOrPair | None = None
    padding: IntOrPair = 0
    dilation: IntOrPair = 1
    ceil_mode: bool = False
    x: Array | None = None


def pool_formula(g: PoolGeometry, index: int) -> str:
    """The output-size formula of one axis with the geometry's numbers (and ceil mode's rule).

    Examples
    --------
    >>> pool_formula(resolve_pool_geometry((4, 4), 2), 0)
    'm_h = floor((n_h + 2p_h - d_h(k_h-1) - 1)/s_h) + 1 = floor((4 + 2*0 - 1*(2-1) - 1)/2) + 1 = 2'
    >>> f = pool_formula(resolve_pool_geometry((5, 5), 2, padding=1, ceil_mode=True), 0)
    >>> f.split(" = ")[2:4], "dropped" in f
    (['ceil((5 + 2*1 - 1*(2-1) - 1)/2) + 1', '4, less 1'], True)
    """
    a = "hw"[index]
    n, k, s = g.in_size[index], g.kernel_size[index], g.stride[index]
    p, d = g.padding[index], g.dilation[index]
    rounding = "ceil" if g.ceil_mode else "floor"
    general = f"{rounding}((n_{a} + 2p_{a} - d_{a}(k_{a}-1) - 1)/s_{a}) + 1"
    numbers = f"{rounding}(({n} + 2*{p} - {d}*({k}-1) - 1)/{s}) + 1"
    out = g.out_size[index]
    if g.dropped[index]:
        return _(
            "m_{a} = {general} = {numbers} = {more}, less 1 = {out} (the last window would "
            "start in the right padding: dropped)"
        ).format(a=a, general=general, numbers=numbers, more=out + 1, out=out)
    return f"m_{a} = {general} = {numbers} = {out}"


@dataclass(frozen=True)
class _Plan:
    geometry: PoolGeometry
    axes: tuple[str, ...]
    out_shape: tuple[int, ...]
    steps: list[tuple[int, ...]]
    grid: tuple[int, int]


def plan_pool_drawing(
    problem: PoolProblem, at: Sequence[int] | None = None, *, animate: bool = False
) -> _Plan:
    """Check a drawing from the shapes alone; the steps are the output cells.

    Examples
    --------
    >>> plan = plan_pool_drawing(PoolProblem("max", (4, 4), 2), animate=True)
    >>> plan.out_shape, len(plan.steps)
    ((2, 2), 4)
    """
    if problem.kind not in POOL_KINDS:
        raise OptionError(
            _("pooling kind must be max or avg, got {problem_kind!r}").format(
                problem_kind=problem.kind
            )
        )
    if problem.kind == "avg" and problem.dilation not in (1, (1, 1)):
        raise OptionError(_("average pooling has no dilation (PyTorch's avg_pool2d)"))
    shape = tuple(problem.input_shape)
    if len(shape) not in (2, 3, 4):
        raise ShapeError(
            _("input must be 2-D, 3-D or 4-D, got {len_shape}-D").format(len_shape=len(shape))
        )
    g = resolve_pool_geometry(
        (shape[-2], shape[-1]),
        problem.kernel_size,
        stride=problem.stride,
        padding=problem.padding,
        dilation=problem.dilation,
        ceil_mode=problem.ceil_mode,
    )
    axes = {2: ("m_h", "m_w"), 3: ("c", "m_h", "m_w"), 4: ("n", "c", "m_h", "m_w")}[len(shape)]
    out_shape = (*shape[:-2], *g.out_size)
    if at is not None:
        check_position(tuple(at), axes, out_shape)
    # The grid: the padded input, and a ceil-mode window's overhang past it.
    grid = tuple(
        max(
            g.in_size[i] + 2 * g.padding[i],
            (g.out_size[i] - 1) * g.stride[i] + g.effective_kernel[i],
        )
        for i in range(2)
    )
    k_h, k_w = g.kernel_size
    cells = grid[0] * grid[1] + k_h * k_w + g.out_size[0] * g.out_size[1]
    check_size(int(np.prod(out_shape)), cells, still=not animate or at is not None)
    if at is not None:
        steps = [tuple(at)]
    else:
        every = positions(out_shape)
        steps = list(every) if animate else [next(every)]
    return _Plan(g, axes, out_shape, steps, (grid[0], grid[1]))


def pool_figures(
    problem: PoolProblem, at: Sequence[int] | None = None, *, animate: bool = False
) -> Sequence[Figure]:
    """The figures to draw: every output cell (``animate``), or the one at ``at``.

    Examples
    --------
    >>> x = np.arange(16).reshape(1, 4, 4)
    >>> f = pool_figures(PoolProblem("max", (1, 4, 4), 2, x=x), (0, 1, 1))[0]
    >>> f.footer[0]
    'output[0,1,1] = max(10, 11, 14, 15) = 15'
    """
    plan = plan_pool_drawing(problem, at, animate=animate)
    g = plan.geometry
    output = None
    x4 = None
    if problem.x is not None:
        # Pooling works plane by plane: every (batch, channel) plane as one channel.
        x4 = np.asarray(problem.x).reshape((-1, *problem.x.shape[-2:]))
        if problem.kind == "max":
            output = max_pool2d(x4, g.kernel_size, g.stride, g.padding, g.dilation, g.ceil_mode)
        else:
            output = avg_pool2d(x4, g.kernel_size, g.stride, g.padding, g.ceil_mode)
    divisors = avg_divisors(g, True)
    title = _title(problem, plan)
    progressive = animate and at is None
    return Frames(
        plan.steps,
        lambda step: _figure(problem, plan, step, title, x4, output, divisors, progressive),
    )


def _title(problem: PoolProblem, plan: _Plan) -> tuple[str, ...]:
    g = plan.geometry
    first = _("{name}: input {input}, window {window} -> output {output}").format(
        name=f"{problem.kind}_pool2d",
        input="x".join(map(str, problem.input_shape)),
        window="x".join(map(str, g.kernel_size)),
        output="x".join(map(str, plan.out_shape)),
    )
    stride = pair_text(g.stride)
    if problem.stride is None:
        stride = _("{stride} (the window's, PyTorch's default)").format(stride=stride)
    settings = [
        _("stride {stride}, padding {padding}").format(stride=stride, padding=pair_text(g.padding))
    ]
    if problem.kind == "max":
        settings.append(_("dilation {dilation}").format(dilation=pair_text(g.dilation)))
        settings.append(_("padding counts as -inf"))
    else:
        settings.append(_("padding counts as 0 and in the divisor (count_include_pad)"))
    settings.append(
        _("ceil_mode on") if g.ceil_mode else _("ceil_mode off"),
    )
    return (first, listing(settings), pool_formula(g, 0), pool_formula(g, 1))


def _figure(
    problem: PoolProblem,
    plan: _Plan,
    position: tuple[int, ...],
    title: tuple[str, ...],
    x: Array | None,
    output: Array | None,
    divisors: npt.NDArray[np.int64],
    progressive: bool,
) -> Figure:
    g = plan.geometry
    index = dict(zip(plan.axes, position, strict=True))
    plane = index.get("n", 0) * (problem.input_shape[-3] if len(problem.input_shape) == 4 else 1)
    plane += index.get("c", 0)
    row, col = index["m_h"], index["m_w"]
    (s_h, s_w), (d_h, d_w), (p_h, p_w) = g.stride, g.dilation, g.padding
    k_h, k_w = g.kernel_size
    n_h, n_w = g.in_size
    tap_rows = [row * s_h + a * d_h for a in range(k_h)]
    tap_cols = [col * s_w + b * d_w for b in range(k_w)]
    taps = {(r, c) for r in tap_rows for c in tap_cols}
    padded_h, padded_w = n_h + 2 * p_h, n_w + 2 * p_w
    fill = "-inf" if problem.kind == "max" else "0"
    window_values = []
    for r in tap_rows:
        for c in tap_cols:
            if p_h <= r < p_h + n_h and p_w <= c < p_w + n_w and x is not None:
                window_values.append((r, c, x[plane, r - p_h, c - p_w]))
    winner = None
    if problem.kind == "max" and window_values:
        numbers = np.array([v for _r, _c, v in window_values])
        # PyTorch's max propagates NaN, and its return_indices names the window's last NaN.
        nan = np.flatnonzero(np.isnan(numbers)) if numbers.dtype.kind in "fc" else np.array([])
        pick = int(nan[-1]) if nan.size else int(np.argmax(numbers))
        winner = window_values[pick][:2]
    cells = []
    for r in range(plan.grid[0]):
        line = []
        for c in range(plan.grid[1]):
            inside = p_h <= r < p_h + n_h and p_w <= c < p_w + n_w
            padded = r < padded_h and c < padded_w
            state = "input" if inside else ("pad" if padded else "outside")
            if (r, c) in taps:
                state = "tap" if inside else ("tap_pad" if padded else "outside")
            if (r, c) == winner:
                state = "winner"
            text = fill if (padded and not inside) else ""
            if inside and x is not None:
                text = value_text(x[plane, r - p_h, c - p_w])
            line.append(Cell(text, state))
        cells.append(tuple(line))
    name = _("input")
    if "n" in index:
        name = _("input channel {channel} (batch {batch})").format(
            channel=index["c"], batch=index["n"]
        )
    elif "c" in index:
        name = _("input channel {channel}").format(channel=index["c"])
    if any(g.padding):
        name = _("{name} padded").format(name=name)
    box = (tap_rows[0], tap_cols[0], tap_rows[-1] + 1, tap_cols[-1] + 1)
    overhang = tap_rows[-1] >= padded_h or tap_cols[-1] >= padded_w
    rows: list[tuple[Item, ...]] = [
        (Grid(name, tuple(cells), box=box if g.dilation != (1, 1) or overhang else None),)
    ]
    out_cells = []
    here = (row, col)
    for r in range(g.out_size[0]):
        line = []
        for c in range(g.out_size[1]):
            state = (
                "current"
                if (r, c) == here
                else ("pending" if progressive and (r, c) > here else "done")
            )
            text = ""
            if output is not None and state != "pending":
                text = value_text(output[plane, r, c])
            line.append(Cell(text, state))
        out_cells.append(tuple(line))
    out_name = (
        _("output")
        if len(problem.input_shape) == 2
        else _("output channel {channel}").format(channel=index["c"])
    )
    where = ",".join(map(str, position))
    footer: tuple[str, ...]
    if output is None:
        counted = sum(1 for r in tap_rows for c in tap_cols if r < padded_h and c < padded_w)
        what = (
            _(
                "output[{where}]: the largest of the window's {counted} cells (rows {rows}, "
                "columns {columns} of the padded input)"
            )
            if problem.kind == "max"
            else _(
                "output[{where}]: the mean: sum / {divisor} of the window's {counted} cells "
                "(rows {rows}, columns {columns} of the padded input)"
            )
        )
        footer = (
            what.format(
                where=where,
                counted=counted,
                divisor=int(divisors[row, col]),
                rows=f"{tap_rows[0]}..{tap_rows[-1]}",
                columns=f"{tap_cols[0]}..{tap_cols[-1]}",
            ),
        )
    elif problem.kind == "max":
        listed = ", ".join(value_text(v) for _r, _c, v in window_values)
        footer = (
            _("output[{where}] = max({values}) = {value}").format(
                where=where, values=listed, value=value_text(output[plane, row, col])
            ),
        )
    else:
        listed = sum_text([v for _r, _c, v in window_values]) or "0"
        footer = (
            _("output[{where}] = ({terms}) / {divisor} = {value}").format(
                where=where,
                terms=listed,
                divisor=int(divisors[row, col]),
                value=value_text(output[plane, row, col]),
            ),
        )
    if overhang:
        footer += (
            _(
                "ceil mode: the window runs past the padded input; the cells outside are not "
                "counted"
            ),
        )
    return Figure(title, tuple(rows), ("->", Grid(out_name, tuple(out_cells))), footer)
