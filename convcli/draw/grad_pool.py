"""The figure of one input cell's gradient (梯度) through pooling: which windows route to it.

One row per output window that covers the cell: the window's input values (max pooling's
winner marked, the cell outlined), the output's ``dY``, the share the cell gets (max: all
of it when the cell is the winner, PyTorch's first maximum, a NaN winning; average:
``1/divisor``; adaptive windows overlap, so a cell can sit in several) and the product. On
the right the whole ``dX`` with the cell; below, the sum and the rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from convcli.draw.common import check_size, listing, pair_text, positions, sum_text, value_text
from convcli.draw.layout import Cell, Figure, Grid, Item
from convcli.errors import PositionError
from convcli.i18n import _
from convcli.ops.grad import pool2d_backward
from convcli.ops.pooling import avg_divisors, pool_indices
from convcli.shapes.pooling import (
    PoolOptions,
    adaptive_output_size,
    adaptive_window,
    resolve_pool_geometry,
)

__all__ = ["pool_grad_figures"]

Array = npt.NDArray[Any]


@dataclass(frozen=True)
class _Window:
    """One output window: its output cell, the input rows and columns it reads (-1 and
    past the edge: padding), and the share of its ``dY`` that the drawn cell gets."""

    output: tuple[int, int]
    rows: tuple[int, ...]
    cols: tuple[int, ...]
    divisor: int
    winner: tuple[int, int] | None


def pool_grad_figures(
    x: Array,
    options: PoolOptions,
    at: Sequence[int] | None = None,
    *,
    animate: bool = False,
) -> list[Figure]:
    """One figure per input cell (``animate``, without ``at``), or the cell at ``at`` (an
    index in the input's rank; default: the first cell); ``dY`` is all ones (the loss is
    the sum of the outputs).

    Examples
    --------
    >>> x = np.array([[[1, 5, 2], [0, 3, 4], [6, 1, 0]]])
    >>> figure = pool_grad_figures(x, PoolOptions("max", 2, 1), (0, 0, 1))[0]
    >>> figure.footer[0]
    'dX[0,0,1] = 1 + 1 = 2'
    >>> figure = pool_grad_figures(x, PoolOptions("avg", 2, 1), (0, 1, 1))[0]
    >>> figure.footer[0]
    'dX[0,1,1] = 0.25 + 0.25 + 0.25 + 0.25 = 1'
    """
    if x.ndim < 2:
        raise PositionError(_("pooling needs an input of 2 to 4 dimensions"))
    gradient = pool2d_backward(x, options)
    windows = _windows(x, options)
    cells = list(positions(x.shape)) if animate and at is None else [tuple(at or (0,) * x.ndim)]
    for cell in cells:
        if len(cell) != x.ndim:
            raise PositionError(
                _("an input cell needs {n} indices, one per axis of the input {shape}").format(
                    n=x.ndim, shape=x.shape
                )
            )
        if any(not 0 <= c < n for c, n in zip(cell, x.shape, strict=True)):
            raise PositionError(
                _("input cell {cell} is outside the input of shape {shape}").format(
                    cell=",".join(map(str, cell)), shape=x.shape
                )
            )
    per_window = max((len(w.rows) * len(w.cols) for plane in windows for w in plane), default=1)
    check_size(
        len(cells), 2 * x.shape[-2] * x.shape[-1] * 2 + 9 * (per_window + 3), still=not animate
    )
    return [_figure(x, options, windows, gradient, tuple(cell)) for cell in cells]


def _windows(x: Array, options: PoolOptions) -> list[list[_Window]]:
    """Every plane's windows (max: with its winner)."""
    h, w = x.shape[-2:]
    planes = x.reshape(-1, h, w)
    winners = None
    if options.kind in ("max", "adaptive-max"):
        winners = pool_indices(x, options)[1].reshape(planes.shape[0], -1)
    result: list[list[_Window]] = []
    for plane in range(planes.shape[0]):
        found = []
        for number, (output, rows, cols, divisor) in enumerate(_geometry(x, options)):
            winner = None
            if winners is not None:
                index = int(winners[plane, number])
                winner = divmod(index, w) if 0 <= index < h * w else None
            found.append(_Window(output, rows, cols, divisor, winner))
        result.append(found)
    return result


def _geometry(
    x: Array, options: PoolOptions
) -> list[tuple[tuple[int, int], tuple[int, ...], tuple[int, ...], int]]:
    """Each output's (cell, input rows, input cols, avg divisor), in output order."""
    h, w = x.shape[-2:]
    if options.kind.startswith("adaptive"):
        m_h, m_w = adaptive_output_size((h, w), options.output_size)
        spans = []
        for a in range(m_h):
            rows = tuple(range(*adaptive_window(a, h, m_h)))
            for b in range(m_w):
                cols = tuple(range(*adaptive_window(b, w, m_w)))
                spans.append(((a, b), rows, cols, len(rows) * len(cols)))
        return spans
    assert options.kernel_size is not None
    geom = resolve_pool_geometry(
        (h, w), options.kernel_size, stride=options.stride, padding=options.padding,
        dilation=options.dilation, ceil_mode=options.ceil_mode,
    )  # fmt: skip
    (k_h, k_w), (s_h, s_w), (p_h, p_w) = geom.kernel_size, geom.stride, geom.padding
    d_h, d_w = geom.dilation
    divisors = avg_divisors(geom, options.count_include_pad) if options.kind == "avg" else None
    spans = []
    for a in range(geom.out_size[0]):
        rows = tuple(a * s_h - p_h + u * d_h for u in range(k_h))
        for b in range(geom.out_size[1]):
            cols = tuple(b * s_w - p_w + v * d_w for v in range(k_w))
            divisor = 1
            if divisors is not None:
                divisor = options.divisor_override or int(divisors[a, b])
            spans.append(((a, b), rows, cols, divisor))
    return spans


def _title(x: Array, options: PoolOptions, where: str) -> tuple[str, ...]:
    names = {
        "max": _("max pooling"),
        "avg": _("average pooling"),
        "adaptive-max": _("adaptive max pooling"),
        "adaptive-avg": _("adaptive average pooling"),
    }
    if options.kind.startswith("adaptive"):
        size = adaptive_output_size((x.shape[-2], x.shape[-1]), options.output_size)
        settings = [_("output size {size}").format(size=pair_text(size))]
    else:
        assert options.kernel_size is not None
        geom = resolve_pool_geometry(
            (x.shape[-2], x.shape[-1]), options.kernel_size, stride=options.stride,
            padding=options.padding, dilation=options.dilation, ceil_mode=options.ceil_mode,
        )  # fmt: skip
        settings = [
            _("window {window}, stride {stride}, padding {padding}").format(
                window=pair_text(geom.kernel_size),
                stride=pair_text(geom.stride),
                padding=pair_text(geom.padding),
            )
        ]
        if options.kind == "max" and geom.dilation != (1, 1):
            settings.append(_("dilation {dilation}").format(dilation=pair_text(geom.dilation)))
        if options.ceil_mode:
            settings.append(_("ceil mode"))
    return (
        _("backward pass of {kind}: the gradient of input cell X[{where}]").format(
            kind=names[options.kind], where=where
        ),
        listing(settings),
    )


def _rule(options: PoolOptions) -> str:
    if options.kind in ("max", "adaptive-max"):
        rule = _(
            "Max pooling sends each output's dY to its window's winner only (the first "
            "maximum; a NaN wins), as PyTorch does."
        )
    elif options.kind == "adaptive-avg":
        rule = _("Adaptive average pooling gives every cell of a window dY / (the window's size).")
    elif options.divisor_override is not None:
        rule = _("Average pooling gives every cell of a window dY / {divisor} (divisor_override).")
        rule = rule.format(divisor=options.divisor_override)
    elif options.count_include_pad:
        rule = _(
            "Average pooling gives every cell of a window dY / divisor, the divisor counting "
            "the zero padding (count_include_pad)."
        )
    else:
        rule = _(
            "Average pooling gives every cell of a window dY / divisor, the divisor counting "
            "only the input cells the window covers."
        )
    if options.kind.startswith("adaptive"):
        rule += " " + _("Adaptive windows overlap: a cell can be in several.")
    return rule


def _figure(
    x: Array,
    options: PoolOptions,
    windows: list[list[_Window]],
    gradient: Array,
    cell: tuple[int, ...],
) -> Figure:
    h, w = x.shape[-2:]
    plane = int(np.ravel_multi_index(cell[:-2], x.shape[:-2])) if x.ndim > 2 else 0
    i, j = cell[-2:]
    values = x.reshape(-1, h, w)[plane]
    is_max = options.kind in ("max", "adaptive-max")
    pad_text = "-inf" if is_max else "0"
    where = ",".join(map(str, cell))
    rows: list[tuple[Item, ...]] = []
    products: list[Any] = []
    routed: set[tuple[int, int]] = set()
    for window in windows[plane]:
        if i not in window.rows or j not in window.cols:
            continue
        grid = tuple(
            tuple(_window_cell(values, r, c, (i, j), window.winner, pad_text) for c in window.cols)
            for r in window.rows
        )
        if is_max:
            gets = window.winner == (i, j)
            share = Cell("1" if gets else "0", "product" if gets else "faded")
            product: Any = 1 if gets else 0
        else:
            share = Cell(f"1/{window.divisor}", "product")
            product = 1 / window.divisor
        if product:
            routed.add(window.output)
            products.append(product)
        a, b = window.output
        rows.append(
            (
                Grid(_("window ({a},{b})").format(a=a, b=b), grid),
                "->",
                Grid(f"dY[{a},{b}]", ((Cell("1", "tap" if product else "faded"),),)),
                "x",
                Grid(_("share"), ((share,),)),
                "=",
                Grid(
                    _("to X[{where}]").format(where=where),
                    ((Cell(value_text(product), "product" if product else "faded"),),),
                ),
            )
        )
    m_h = max((win.output[0] for win in windows[plane]), default=-1) + 1
    m_w = max((win.output[1] for win in windows[plane]), default=-1) + 1
    dy_grid = tuple(
        tuple(Cell("1", "tap" if (a, b) in routed else "input") for b in range(m_w))
        for a in range(m_h)
    )
    channel = _("dY channel {channel}").format(channel=cell[-3]) if x.ndim >= 3 else "dY"
    rows.insert(0, (Grid(channel, dy_grid, note=_("loss = sum of the outputs: dY = 1")),))
    grad = gradient.reshape(-1, h, w)[plane]
    dx_cells = tuple(
        tuple(
            Cell(value_text(grad[r, c]), "current" if (r, c) == (i, j) else "done")
            for c in range(w)
        )
        for r in range(h)
    )
    dx_name = _("dX channel {channel}").format(channel=cell[-3]) if x.ndim >= 3 else "dX"
    total = sum_text(products) if products else "0"
    footer = (f"dX[{where}] = {total} = {value_text(grad[i, j])}", _rule(options))
    return Figure(_title(x, options, where), tuple(rows), ("->", Grid(dx_name, dx_cells)), footer)


def _window_cell(
    values: Array,
    r: int,
    c: int,
    here: tuple[int, int],
    winner: tuple[int, int] | None,
    pad_text: str,
) -> Cell:
    if not (0 <= r < values.shape[0] and 0 <= c < values.shape[1]):
        return Cell(pad_text, "pad")
    text = value_text(values[r, c])
    if (r, c) == winner:
        return Cell(text, "winner", bold=(r, c) == here)
    return Cell(text, "current" if (r, c) == here else "input")
