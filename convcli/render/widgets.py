"""Rich renderables for convcli's output. Builds and returns; never prints.

Every string that comes from the user (file names, npz keys) goes into a ``Text``,
so it is shown literally and never read as rich markup.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO

import numpy as np
import numpy.typing as npt
from rich import box
from rich.color import Color
from rich.columns import Columns
from rich.console import Console, Group, RenderableType
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.style import Style
from rich.table import Table
from rich.text import Text

from convcli.errors import shown_name
from convcli.ops.numerics import array_stats

__all__ = [
    "EDGE_ITEMS",
    "SUMMARY_THRESHOLD",
    "HeatScale",
    "Renderable",
    "TensorRow",
    "array_formatter",
    "format_value",
    "heat_scale",
    "make_console",
    "make_progress",
    "render_array",
    "render_columns",
    "render_heat_legend",
    "render_key_values",
    "render_line",
    "render_matrix",
    "render_shapes",
    "render_stats",
    "render_title",
]

Renderable = RenderableType

# numpy's print options: arrays over 1000 values show 3 items at each edge.
SUMMARY_THRESHOLD = 1000
EDGE_ITEMS = 3


def make_console(
    *, stderr: bool = False, file: IO[str] | None = None, width: int | None = None
) -> Console:
    """The console every command writes to; ``file`` and ``width`` make tests deterministic.

    rich drops escape sequences when not writing to a terminal. It reads ``NO_COLOR``
    as "no colours" but still writes bold and underline, so here a non-empty
    ``NO_COLOR`` means no escape sequences at all. Markup and emoji codes are off so file
    names print as they are.
    """
    no_color = os.environ.get("NO_COLOR", "") != ""
    return Console(
        stderr=stderr,
        color_system=None if no_color else "auto",
        file=file,
        width=width,
        markup=False,
        emoji=False,
        highlight=False,
        soft_wrap=False,
    )


def make_progress(console: Console, *, description: str = "computing") -> Progress:
    """A progress bar for a long computation, on ``console`` (stderr), erased when done."""
    return Progress(
        TextColumn(description),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


@dataclass(frozen=True)
class TensorRow:
    """One tensor in the shapes table: its role, shape, axis names and origin."""

    role: str
    shape: tuple[int, ...] | None
    axes: tuple[str, ...]
    source: str = ""
    dtype: str = ""


def render_shapes(rows: Sequence[TensorRow], *, title: str = "shapes") -> Table:
    """A table of tensors with each axis named (``c_i=2  n_h=3  n_w=3``).

    The dtype and file columns appear only when some tensor has them.
    """
    show_dtype = any(row.dtype for row in rows)
    show_source = any(row.source for row in rows)
    table = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left")
    table.add_column("tensor", no_wrap=True)
    table.add_column("shape", justify="right", no_wrap=True)
    table.add_column("axes", no_wrap=True)
    if show_dtype:
        table.add_column("dtype", no_wrap=True)
    if show_source:
        table.add_column("from", overflow="fold")
    for row in rows:
        if row.shape is None:
            shape, axes = "-", "none"
        else:
            shape = "x".join(str(size) for size in row.shape)
            axes = "  ".join(
                f"{name}={size}" for name, size in zip(row.axes, row.shape, strict=False)
            )
        cells: list[RenderableType] = [row.role, shape, axes]
        if show_dtype:
            cells.append(row.dtype)
        if show_source:
            cells.append(Text(shown_name(row.source)))
        table.add_row(*cells)
    return table


def format_value(value: np.generic) -> str:
    """One number as the tables show it: integers exactly, floats to 4 decimals.

    Examples
    --------
    >>> format_value(np.float32(56.0)), format_value(np.float64(-2.81954))
    ('56', '-2.8195')
    >>> format_value(np.int64(7)), format_value(np.float64(1e308))
    ('7', '1e+308')
    """
    if isinstance(value, np.complexfloating):
        sign = "+" if value.imag >= 0 else "-"
        return f"{format_value(value.real)}{sign}{format_value(abs(value.imag))}j"
    if isinstance(value, np.floating):
        if not np.isfinite(value):
            return str(float(value))
        if abs(value) >= 1e16:  # scientific, not the 309 digits of 1e308
            return np.format_float_scientific(value, precision=4, unique=True, trim="-")
        text = np.format_float_positional(value, precision=4, unique=True, trim="-")
        return "0" if text == "-0" else text
    return str(value)


def array_formatter(array: npt.NDArray[np.generic]) -> Callable[[np.generic], str]:
    """One format for every value of an array, so the columns line up (as numpy does).

    Integer-valued floats print as integers, other floats with 4 decimals, or in
    scientific notation when the largest magnitude is 1e8 or more, or below 1e-4.

    Examples
    --------
    >>> fmt = array_formatter(np.array([0.5781, -2.81954]))
    >>> fmt(np.float64(0.5781)), fmt(np.float64(-2.81954))
    ('0.5781', '-2.8195')
    """
    if array.dtype.kind != "f":
        return format_value
    finite = array[np.isfinite(array)]
    if finite.size == 0:
        return format_value
    largest = float(np.max(np.abs(finite)))
    if largest < 1e15 and bool(np.all(finite == np.round(finite))):
        return lambda v: format_value(v) if not np.isfinite(v) else str(int(v))
    if largest >= 1e8 or largest < 1e-4:
        return lambda v: f"{float(v):.4e}"
    return lambda v: f"{float(v):.4f}" if np.isfinite(v) else format_value(v)


def _shown(
    matrix: npt.NDArray[np.generic], rows: Sequence[int | None], cols: Sequence[int | None]
) -> npt.NDArray[np.generic]:
    """The cells a summarised table shows: its format follows them, as numpy's does."""
    kept_rows = [i for i in rows if i is not None]
    kept_cols = [j for j in cols if j is not None]
    return matrix[np.ix_(kept_rows, kept_cols)]


def _edge(n: int, summarise: bool) -> list[int | None]:
    """Indices to show along an axis of length n; ``None`` marks the ellipsis."""
    if not summarise or n <= 2 * EDGE_ITEMS:
        return list(range(n))
    return [*range(EDGE_ITEMS), None, *range(n - EDGE_ITEMS, n)]


def _matrix_table(
    matrix: npt.NDArray[np.generic],
    title: str,
    summarise: bool,
    scale: HeatScale | None = None,
) -> Group:
    rows = _edge(matrix.shape[0], summarise)
    cols = _edge(matrix.shape[1], summarise)
    table = Table(box=box.ROUNDED, show_header=True)
    fmt = array_formatter(_shown(matrix, rows, cols))
    table.add_column("", style="dim", justify="right")
    for j in cols:
        table.add_column("…" if j is None else str(j), justify="right")
    for i in rows:
        if i is None:
            table.add_row("…", *["…" for _ in cols])
            continue
        cells = [
            Text("…") if j is None else _heat_cell(fmt(matrix[i, j]), matrix[i, j], scale)
            for j in cols
        ]
        table.add_row(str(i), *cells)
    return Group(Text(title, style="bold"), table)


def render_array(
    array: npt.NDArray[np.generic],
    axes: Sequence[str],
    *,
    name: str = "Y",
    full: bool = False,
    heatmap: bool = False,
) -> Columns:
    """One table per 2-D slice of ``array`` (e.g. per batch item and output channel),
    side by side as the width allows.

    Arrays over ``SUMMARY_THRESHOLD`` values are summarised as numpy prints them:
    ``EDGE_ITEMS`` slices, rows and columns at each edge, an ellipsis between,
    unless ``full``. With ``heatmap`` each cell's background shows its value on one
    scale for the whole array (``heat_scale``); the numbers stay.
    """
    scale = heat_scale(array) if heatmap else None
    summarise = not full and array.size > SUMMARY_THRESHOLD
    if array.ndim == 1:
        array = array.reshape(1, -1)
        axes = ("", *axes)
    lead_shape = array.shape[:-2]
    lead_axes = list(axes[: len(lead_shape)])
    items: list[RenderableType] = []
    for index in _lead_indices(lead_shape, summarise):
        if index is None:
            items.append(Text("…", style="dim"))
            continue
        label = ", ".join(f"{axis}={i}" for axis, i in zip(lead_axes, index, strict=False))
        title = f"{name}[{label}]" if label else name
        items.append(_matrix_table(array[index], title, summarise, scale))
    return Columns(items, padding=(0, 2))


RGB = tuple[int, int, int]
# ColorBrewer's RdBu (diverging: blue below 0, white at 0, red above) and YlOrRd
# (sequential: light for the minimum, dark red for the maximum).
_DIVERGING: tuple[RGB, ...] = ((33, 102, 172), (247, 247, 247), (178, 24, 43))
_SEQUENTIAL: tuple[RGB, ...] = ((255, 255, 204), (253, 141, 60), (189, 0, 38))
LEGEND_STEPS = 5


@dataclass(frozen=True)
class HeatScale:
    """How values map to colours: diverging around 0 when some value is negative,
    sequential from the minimum to the maximum otherwise."""

    low: float
    high: float
    diverging: bool

    def position(self, value: float) -> float:
        """Where ``value`` sits on the colour ramp, 0 (first stop) to 1 (last stop)."""
        if self.diverging:
            bound = max(abs(self.low), abs(self.high)) or 1.0
            return min(max(0.5 + 0.5 * value / bound, 0.0), 1.0)
        if self.high == self.low:
            return 0.5
        return min(max((value - self.low) / (self.high - self.low), 0.0), 1.0)

    def rgb(self, value: float) -> RGB:
        """The background colour of ``value``.

        Examples
        --------
        >>> HeatScale(-2.0, 4.0, diverging=True).rgb(0.0)
        (247, 247, 247)
        >>> HeatScale(1.0, 3.0, diverging=False).rgb(3.0)
        (189, 0, 38)
        """
        stops = _DIVERGING if self.diverging else _SEQUENTIAL
        t = self.position(value) * (len(stops) - 1)
        i = min(int(t), len(stops) - 2)
        f = t - i
        a, b = stops[i], stops[i + 1]
        return (
            round(a[0] + (b[0] - a[0]) * f),
            round(a[1] + (b[1] - a[1]) * f),
            round(a[2] + (b[2] - a[2]) * f),
        )


def heat_scale(array: npt.NDArray[np.generic]) -> HeatScale | None:
    """The colour scale of an array, or ``None`` when it has no finite real values.

    Examples
    --------
    >>> heat_scale(np.array([-1, 3]))
    HeatScale(low=-1.0, high=3.0, diverging=True)
    >>> heat_scale(np.array([2.0, 5.0, np.nan]))
    HeatScale(low=2.0, high=5.0, diverging=False)
    """
    if array.dtype.kind not in "biuf" or array.size == 0:
        return None
    values = array.astype(np.float64)
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return None
    low, high = float(finite.min()), float(finite.max())
    return HeatScale(low=low, high=high, diverging=low < 0)


def _heat_style(rgb: RGB) -> Style:
    luminance = (0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]) / 255
    foreground = Color.from_rgb(0, 0, 0) if luminance > 0.5 else Color.from_rgb(255, 255, 255)
    return Style(color=foreground, bgcolor=Color.from_rgb(*rgb))


def _heat_cell(text: str, value: np.generic, scale: HeatScale | None) -> Text:
    if scale is None:
        return Text(text)
    number = float(value)
    if not np.isfinite(number):
        return Text(text)
    return Text(text, style=_heat_style(scale.rgb(number)))


def render_heat_legend(array: npt.NDArray[np.generic]) -> Text:
    """The heatmap's legend: ``min [swatches] 0 [swatches] max`` and what the colours mean."""
    scale = heat_scale(array)
    if scale is None:
        return Text("heatmap: no finite real values to colour")
    legend = Text("heatmap: ")
    if scale.diverging:
        bound = max(abs(scale.low), abs(scale.high))
        stops = [
            (format_value(np.float64(scale.low)), -bound, 0.0),
            ("0", 0.0, bound),
        ]
        for label, start, stop in stops:
            legend.append(f"{label} ")
            for value in np.linspace(start, stop, LEGEND_STEPS):
                legend.append("█", style=Style(color=Color.from_rgb(*scale.rgb(float(value)))))
            legend.append(" ")
        legend.append(format_value(np.float64(scale.high)))
        legend.append("  (diverging: blue below 0, white at 0, red above)")
        return legend
    legend.append(f"{format_value(np.float64(scale.low))} ")
    for value in np.linspace(scale.low, scale.high, 2 * LEGEND_STEPS):
        legend.append("█", style=Style(color=Color.from_rgb(*scale.rgb(float(value)))))
    legend.append(f" {format_value(np.float64(scale.high))}")
    legend.append("  (sequential: light for the minimum, dark red for the maximum)")
    return legend


def render_matrix(
    matrix: npt.NDArray[np.generic],
    title: str,
    *,
    row_labels: Sequence[int] | None = None,
    col_labels: Sequence[int] | None = None,
    marked: npt.NDArray[np.bool_] | None = None,
    full: bool = False,
) -> Group:
    """One 2-D matrix as a table, rows and columns labelled (e.g. by input coordinates).

    ``marked`` cells (e.g. padding) are shown dim with a ``*`` after the number, so
    they stand out in plain text too. Over ``SUMMARY_THRESHOLD`` values the matrix is
    summarised as ``render_array`` summarises, unless ``full``.
    """
    summarise = not full and matrix.size > SUMMARY_THRESHOLD
    rows = _edge(matrix.shape[0], summarise)
    cols = _edge(matrix.shape[1], summarise)
    row_names = list(row_labels) if row_labels is not None else list(range(matrix.shape[0]))
    col_names = list(col_labels) if col_labels is not None else list(range(matrix.shape[1]))
    table = Table(box=box.ROUNDED, show_header=True)
    fmt = array_formatter(_shown(matrix, rows, cols))
    table.add_column("", style="dim", justify="right")
    for j in cols:
        table.add_column("…" if j is None else str(col_names[j]), justify="right")
    for i in rows:
        if i is None:
            table.add_row("…", *["…" for _ in cols])
            continue
        cells: list[Text] = []
        for j in cols:
            if j is None:
                cells.append(Text("…"))
            elif marked is not None and bool(marked[i, j]):
                cells.append(Text(fmt(matrix[i, j]) + "*", style="dim"))
            else:
                cells.append(Text(fmt(matrix[i, j])))
        table.add_row(str(row_names[i]), *cells)
    return Group(Text(title, style="bold"), table)


def _lead_indices(shape: tuple[int, ...], summarise: bool) -> list[tuple[int, ...] | None]:
    indices: list[tuple[int, ...] | None] = [()]
    for n in shape:
        expanded: list[tuple[int, ...] | None] = []
        for prefix in indices:
            if prefix is None:
                expanded.append(None)
                continue
            for i in _edge(n, summarise):
                expanded.append(None if i is None else (*prefix, i))
        indices = _collapse_gaps(expanded)
    return indices


def _collapse_gaps(indices: list[tuple[int, ...] | None]) -> list[tuple[int, ...] | None]:
    out: list[tuple[int, ...] | None] = []
    for item in indices:
        if item is None and out and out[-1] is None:
            continue
        out.append(item)
    return out


def render_stats(array: npt.NDArray[np.generic], *, label: str = "result") -> Text:
    """``min``, ``max``, ``mean`` and the count of non-finite values of ``array``.

    Computed block by block (``numerics.array_stats``): no full-size temporaries.
    """
    stats = array_stats(array)
    parts = [f"{label}: {'x'.join(map(str, array.shape))} {array.dtype}"]
    as_value = np.int64 if array.dtype.kind in "biu" else np.float64
    if stats.minimum is not None and stats.maximum is not None:
        parts.append(f"min {format_value(as_value(stats.minimum))}")
        parts.append(f"max {format_value(as_value(stats.maximum))}")
    if isinstance(stats.mean, complex):
        parts.append(f"mean {format_value(np.complex128(stats.mean))}")
    elif stats.mean is not None:
        parts.append(f"mean {format_value(np.float64(stats.mean))}")
    if stats.non_finite:
        parts.append(f"{stats.non_finite} non-finite")
    return Text("  ".join(parts))


def render_key_values(pairs: Sequence[tuple[str, str]], *, title: str = "") -> Table:
    """A two-column table of labelled values (formulas, counts, checks)."""
    table = Table(title=title or None, box=box.SIMPLE_HEAD, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    for key, value in pairs:
        table.add_row(Text(key), Text(value))
    return table


def render_line(text: str, *, style: str = "") -> Text:
    """A line of plain text, shown literally (never read as markup)."""
    return Text(text, style=style)


def render_title(text: str) -> Text:
    """A section heading."""
    return Text(text, style="bold underline")


def render_columns(*renderables: RenderableType) -> Columns:
    """Renderables side by side, as many as fit the width (columns are flattened)."""
    items: list[RenderableType] = []
    for renderable in renderables:
        if isinstance(renderable, Columns):
            items.extend(renderable.renderables)
        else:
            items.append(renderable)
    return Columns(items, padding=(0, 2))
