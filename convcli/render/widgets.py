"""Rich renderables for convcli's output. Builds and returns; never prints.

Every string that comes from the user (file names, npz keys) goes into a ``Text``,
so it is shown literally and never read as rich markup.
"""

from __future__ import annotations

import errno
import io
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, cast

import numpy as np
import numpy.typing as npt
from rich import box
from rich.cells import cell_len
from rich.color import Color
from rich.columns import Columns
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.measure import Measurement
from rich.padding import Padding
from rich.segment import Segment, Segments
from rich.style import Style
from rich.table import Table
from rich.text import Text

from convcli.errors import shown_name
from convcli.i18n import _, ngettext
from convcli.i18n.typeset import beside, spacing
from convcli.i18n.wrap import cells, longest_word, wrap_cells
from convcli.ops.numerics import array_stats

if TYPE_CHECKING:  # rich.progress loads only when a bar is drawn (start-up)
    from rich.progress import Progress

__all__ = [
    "EDGE_ITEMS",
    "SUMMARY_THRESHOLD",
    "Fitting",
    "HeatScale",
    "MatrixTable",
    "Renderable",
    "TensorRow",
    "array_formatter",
    "edge_indices",
    "format_value",
    "heat_scale",
    "make_console",
    "make_progress",
    "matrix_table",
    "render_array",
    "render_columns",
    "render_heat_legend",
    "render_key_values",
    "render_line",
    "render_matrix",
    "render_shapes",
    "render_stats",
    "render_title",
    "slice_title",
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
    names print as they are. Standard output loses the spaces that pad lines to the
    width of a table (``_NoTrailingSpaces``), so piped output diffs and greps cleanly.
    """
    no_color = os.environ.get("NO_COLOR", "") != ""
    if file is None and not stderr:
        file = cast("IO[str]", _NoTrailingSpaces(sys.stdout))
    return _Console(
        stderr=stderr,
        color_system=None if no_color else "auto",
        file=file,
        width=width,
        markup=False,
        emoji=False,
        highlight=False,
        soft_wrap=False,
    )


class _Console(Console):
    """rich's console, leaving a closed pipe to the caller: rich's own reaction ends the
    process at once (exit 1), before the command can say so or clean up."""

    def on_broken_pipe(self) -> None:
        raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))


class _NoTrailingSpaces(io.TextIOBase):
    """A text stream that drops the spaces at the end of every line written to it.

    Spaces at the end of a write are held back until more text shows they are not at
    the end of a line. Everything else (``isatty``, ``fileno``, ``encoding``) is the
    wrapped stream's, so rich still sees a terminal as a terminal.
    """

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._held = ""

    def write(self, text: str) -> int:
        lines = (self._held + text).split("\n")
        last = lines.pop()
        body = "".join(line.rstrip(" ") + "\n" for line in lines)
        kept = last.rstrip(" ")
        self._held = last[len(kept) :]
        self._stream.write(body + kept)
        return len(text)

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return self._stream.isatty()

    def fileno(self) -> int:
        return self._stream.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._stream, "encoding", None) or "utf-8"


def make_progress(
    console: Console, *, description: str | None = None, unit: str | None = None
) -> Progress:
    """A progress bar for a long computation, on ``console`` (stderr), erased when done:
    ``computing ━━━━━━━━━━╸━━━━━━ 5/8 chunks  0:00:03 elapsed  0:00:02 left``."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn(_("computing") if description is None else description),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(_("chunks") if unit is None else unit),
        TimeElapsedColumn(),
        TextColumn(_("elapsed")),
        TimeRemainingColumn(),
        TextColumn(_("left")),
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


class Fitting:
    """The first of ``layouts`` that fits the width it is given at its natural width
    (nothing wrapped or cut), else the last."""

    def __init__(self, *layouts: RenderableType) -> None:
        self.layouts = layouts

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        unbounded = options.update(max_width=10**6)
        for layout in self.layouts[:-1]:
            if Measurement.get(console, unbounded, layout).maximum <= options.max_width:
                yield layout
                return
        yield self.layouts[-1]

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement.get(console, options, self.layouts[0])


def render_shapes(rows: Sequence[TensorRow], *, title: str | None = None) -> Fitting:
    """A table of tensors with each axis named (``c_i=2  n_h=3  n_w=3``).

    The dtype and file columns appear only when some tensor has them. Nothing is cut:
    where the table does not fit the width, the files are listed under it, and where
    that does not fit either, each tensor is listed on lines of its own.
    """
    title = _("shapes") if title is None else title
    cells = [_shape_cells(row) for row in rows]
    show_dtype = any(row.dtype for row in rows)
    sources = [(row.role, row.source) for row in rows if row.source]
    files = Text()
    for role, source in sources:
        files.append(("" if not files else "\n") + _("{role} from ").format(role=role))
        files.append(source)
    lines = Text(title, style="bold underline")
    for row, (role, shape, axes, dtype) in zip(rows, cells, strict=True):
        lines.append(f"\n{role} {shape}" + (f" {dtype}" if dtype else ""))
        lines.append(f"\n  {axes}")
        if row.source:
            lines.append("\n  " + _("from "))
            lines.append(row.source)
    return Fitting(
        _shapes_table(rows, cells, title, show_dtype, bool(sources)),
        Group(_shapes_table(rows, cells, title, show_dtype, False), files),
        lines,
    )


def _shapes_table(
    rows: Sequence[TensorRow],
    cells: Sequence[tuple[str, str, str, str]],
    title: str,
    show_dtype: bool,
    show_source: bool,
) -> Table:
    table = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left")
    table.add_column(_("tensor"), no_wrap=True)
    table.add_column(_("shape"), justify="right", no_wrap=True)
    table.add_column(_("axes"), no_wrap=True)
    if show_dtype:
        table.add_column(_("dtype"), no_wrap=True)
    if show_source:
        table.add_column(_("from"), no_wrap=True)
    for row, (role, shape, axes, dtype) in zip(rows, cells, strict=True):
        table_cells: list[RenderableType] = [role, shape, axes]
        if show_dtype:
            table_cells.append(dtype)
        if show_source:
            table_cells.append(Text(shown_name(row.source)))
        table.add_row(*table_cells)
    return table


def _shape_cells(row: TensorRow) -> tuple[str, str, str, str]:
    if row.shape is None:
        return row.role, "-", _("none"), row.dtype
    shape = "x".join(str(size) for size in row.shape)
    axes = "  ".join(f"{name}={size}" for name, size in zip(row.axes, row.shape, strict=False))
    return row.role, shape, axes, row.dtype


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
    A value that rounds to zero prints without a sign.

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
        return lambda v: _unsigned_zero(f"{float(v):.4e}")
    return lambda v: _unsigned_zero(f"{float(v):.4f}") if np.isfinite(v) else format_value(v)


def _unsigned_zero(text: str) -> str:
    """``-0.0000`` (a tiny negative number, or -0.0, rounded) prints as ``0.0000``.

    Examples
    --------
    >>> _unsigned_zero("-0.0000"), _unsigned_zero("-0.0000e+00"), _unsigned_zero("-0.5000")
    ('0.0000', '0.0000e+00', '-0.5000')
    """
    if text.startswith("-") and not any(ch in "123456789" for ch in text.split("e")[0]):
        return text[1:]
    return text


def edge_indices(n: int, summarise: bool) -> list[int | None]:
    """Indices to show along an axis of length ``n``; ``None`` marks the ellipsis.

    Summarised as numpy summarises (``EDGE_ITEMS`` at each end), but only when that
    saves something: the ellipsis stands for two items at least.

    Examples
    --------
    >>> edge_indices(9, True)
    [0, 1, 2, None, 6, 7, 8]
    >>> edge_indices(7, True)  # hiding one item behind an ellipsis saves nothing
    [0, 1, 2, 3, 4, 5, 6]
    """
    if not summarise or n <= 2 * EDGE_ITEMS + 1:
        return list(range(n))
    return [*range(EDGE_ITEMS), None, *range(n - EDGE_ITEMS, n)]


# The borders and padding of a ROUNDED table: one bar per column plus one, and a
# space either side of every cell.
def _table_width(widths: Sequence[int]) -> int:
    return 1 + sum(width + 3 for width in widths)


class MatrixTable:
    """A labelled matrix that never cuts a number: when its columns do not fit the width
    it is given, it is printed in blocks of whole columns ("columns 0 to 9 of 28"), as
    numpy and pandas wrap wide arrays, each block repeating the row labels.
    """

    def __init__(
        self,
        title: str,
        row_names: Sequence[str],
        col_names: Sequence[str],
        cells: Sequence[Sequence[Text]],
        col_count: int,
    ) -> None:
        self.title = title
        self.row_names = list(row_names)
        self.col_names = list(col_names)
        self.cells = [list(row) for row in cells]
        self.col_count = col_count
        label = max((cell_len(name) for name in self.row_names), default=0)
        self.label_width = label
        self.widths = [
            max([cell_len(name)] + [row[j].cell_len for row in self.cells])
            for j, name in enumerate(self.col_names)
        ]

    def columns(self, width: int) -> list[int]:
        """The columns to show at ``width``: all of them, but a summarised matrix (one with
        an ellipsis column) that does not fit gives up edge columns next to its ellipsis,
        down to one each side, before it is wrapped into blocks (summarised by width)."""
        shown = list(range(len(self.widths)))
        if "…" not in self.col_names:
            return shown
        gap = self.col_names.index("…")
        left, right = shown[:gap], shown[gap + 1 :]

        def fits() -> bool:
            used = [self.widths[j] for j in (*left, gap, *right)]
            return _table_width([self.label_width, *used]) <= width

        while not fits() and (len(left) > 1 or len(right) > 1):
            if len(left) >= len(right):
                left.pop()
            else:
                right.pop(0)
        return [*left, gap, *right]

    def blocks(self, width: int) -> list[list[int]]:
        """Runs of the shown columns that fit ``width`` with the row labels, one at least."""
        shown = self.columns(width)
        blocks: list[list[int]] = []
        start = 0
        while start < len(shown) or not blocks:
            stop = start + 1
            while stop < len(shown) and (
                _table_width([self.label_width, *(self.widths[j] for j in shown[start : stop + 1])])
                <= width
            ):
                stop += 1
            blocks.append(shown[start:stop])
            start = stop
        return blocks

    def _block_title(self, block: list[int], count: int) -> Text:
        if count == 1:
            return Text(self.title, style="bold")
        names = [self.col_names[j] for j in block if self.col_names[j] != "…"]
        if len(names) > 1:
            span = _("{first} to {last}").format(first=names[0], last=names[-1])
            title = _("{title}, columns {span} of {count}").format(
                title=self.title, span=span, count=self.col_count
            )
        else:
            title = _("{title}, column {column} of {count}").format(
                title=self.title, column=names[0] if names else "…", count=self.col_count
            )
        return Text(title, style="bold")

    def _table(self, block: list[int]) -> Table:
        # Each cell pads itself (the table adds no padding), so that a heatmap colour
        # fills the whole cell between the bars, not only the digits.
        table = Table(box=box.ROUNDED, show_header=True, padding=0)
        table.add_column(
            _padded(Text("")),
            style="dim",
            justify="right",
            no_wrap=True,
            min_width=self.label_width + 2,
        )
        for j in block:
            table.add_column(
                _padded(Text(self.col_names[j])),
                justify="right",
                no_wrap=True,
                min_width=self.widths[j] + 2,
            )
        for name, row in zip(self.row_names, self.cells, strict=True):
            table.add_row(_padded(Text(name)), *[_padded(row[j]) for j in block])
        return table

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        blocks = self.blocks(options.max_width)
        for block in blocks:
            yield self._block_title(block, len(blocks))
            yield self._table(block)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        widest = max(self.widths, default=0)
        title = cell_len(self.title)
        whole = _table_width([self.label_width, *self.widths])
        narrowest = _table_width([self.label_width, widest])
        return Measurement(narrowest, max(whole, title)).clamp(max_width=options.max_width)


def _padded(cell: Text) -> Padding:
    """``cell`` with a space either side, in its background colour when it has one."""
    style = cell.style if isinstance(cell.style, Style) and cell.style.bgcolor else ""
    return Padding(cell, (0, 1), style=style)


def matrix_table(
    matrix: npt.NDArray[np.generic],
    title: str,
    *,
    summarise: bool = False,
    row_labels: Sequence[int] | None = None,
    col_labels: Sequence[int] | None = None,
    marked: npt.NDArray[np.bool_] | None = None,
    scale: HeatScale | None = None,
) -> MatrixTable:
    """One 2-D matrix as a ``MatrixTable``: the one builder of every matrix convcli prints.

    ``summarise`` shows ``EDGE_ITEMS`` rows and columns at each edge with an ellipsis
    between (``edge_indices``); the format follows the cells shown, as numpy's does.
    ``marked`` cells (e.g. padding) are dim and in brackets, ``[0]``; ``scale``
    colours each cell's background by its value.
    """
    rows = edge_indices(matrix.shape[0], summarise)
    cols = edge_indices(matrix.shape[1], summarise)
    row_names = list(row_labels) if row_labels is not None else list(range(matrix.shape[0]))
    col_names = list(col_labels) if col_labels is not None else list(range(matrix.shape[1]))
    kept_rows = [i for i in rows if i is not None]
    kept_cols = [j for j in cols if j is not None]
    fmt = array_formatter(matrix[np.ix_(kept_rows, kept_cols)])
    cells: list[list[Text]] = []
    for i in rows:
        if i is None:
            cells.append([Text("…") for _ in cols])
            continue
        row: list[Text] = []
        for j in cols:
            if j is None:
                row.append(Text("…"))
            elif marked is not None and bool(marked[i, j]):
                # In brackets, not with a star: beside the products, ``*`` means multiply.
                row.append(Text(f"[{fmt(matrix[i, j])}]", style="dim"))
            else:
                row.append(_heat_cell(fmt(matrix[i, j]), matrix[i, j], scale))
        cells.append(row)
    return MatrixTable(
        title,
        ["…" if i is None else str(row_names[i]) for i in rows],
        ["…" if j is None else str(col_names[j]) for j in cols],
        cells,
        matrix.shape[1],
    )


def slice_title(name: str, label: str) -> str:
    """The title of one slice: ``Y[c_o=0]``, or ``Y directly [c_o=0]`` for a name of words.

    Examples
    --------
    >>> slice_title("Y", "c_o=0"), slice_title("Y matrix product", "c_o=0")
    ('Y[c_o=0]', 'Y matrix product [c_o=0]')
    >>> slice_title("K", "")
    'K'
    """
    if not label:
        return name
    return f"{name} [{label}]" if " " in name else f"{name}[{label}]"


def render_array(
    array: npt.NDArray[np.generic],
    axes: Sequence[str],
    *,
    name: str = "Y",
    full: bool = False,
    heatmap: bool = False,
) -> Columns:
    """One table per 2-D slice of ``array`` (e.g. per batch item and output channel),
    side by side as the width allows; a slice wider than the width wraps into blocks
    of whole columns (``MatrixTable``).

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
        title = slice_title(name, label)
        items.append(matrix_table(array[index], title, summarise=summarise, scale=scale))
    return Columns(items, padding=(1, 2))


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
        return Text(_("heatmap: no finite real values to colour"))
    legend = Text(_("heatmap: "))
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
        note = _("(diverging: blue below 0, white at 0, red above)")
        legend.append(spacing("", note, "  ") + note)
        return legend
    legend.append(f"{format_value(np.float64(scale.low))} ")
    for value in np.linspace(scale.low, scale.high, 2 * LEGEND_STEPS):
        legend.append("█", style=Style(color=Color.from_rgb(*scale.rgb(float(value)))))
    legend.append(f" {format_value(np.float64(scale.high))}")
    note = _("(sequential: light for the minimum, dark red for the maximum)")
    legend.append(spacing("", note, "  ") + note)
    return legend


def render_matrix(
    matrix: npt.NDArray[np.generic],
    title: str,
    *,
    row_labels: Sequence[int] | None = None,
    col_labels: Sequence[int] | None = None,
    marked: npt.NDArray[np.bool_] | None = None,
    full: bool = False,
) -> MatrixTable:
    """One 2-D matrix as a table, rows and columns labelled (e.g. by input coordinates).

    ``marked`` cells (e.g. padding) are shown dim and in brackets (``[0]``), so they
    stand out in plain text too. Over ``SUMMARY_THRESHOLD`` values the matrix is
    summarised as ``render_array`` summarises, unless ``full``.
    """
    return matrix_table(
        matrix,
        title,
        summarise=not full and matrix.size > SUMMARY_THRESHOLD,
        row_labels=row_labels,
        col_labels=col_labels,
        marked=marked,
    )


def _lead_indices(shape: tuple[int, ...], summarise: bool) -> list[tuple[int, ...] | None]:
    indices: list[tuple[int, ...] | None] = [()]
    for n in shape:
        expanded: list[tuple[int, ...] | None] = []
        for prefix in indices:
            if prefix is None:
                expanded.append(None)
                continue
            for i in edge_indices(n, summarise):
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


def render_stats(array: npt.NDArray[np.generic], *, label: str | None = None) -> Text:
    """``min``, ``max``, ``mean`` and the count of non-finite values of ``array``.

    Computed block by block (``numerics.array_stats``): no full-size temporaries.
    """
    stats = array_stats(array)
    label = _("result") if label is None else label
    parts = [beside(label + _(":"), f"{'x'.join(map(str, array.shape))} {array.dtype}")]
    as_value = np.int64 if array.dtype.kind in "biu" else np.float64
    if stats.minimum is not None and stats.maximum is not None:
        parts.append(_("min {value}").format(value=format_value(as_value(stats.minimum))))
        parts.append(_("max {value}").format(value=format_value(as_value(stats.maximum))))
    if isinstance(stats.mean, complex):
        parts.append(_("mean {value}").format(value=format_value(np.complex128(stats.mean))))
    elif stats.mean is not None:
        parts.append(_("mean {value}").format(value=format_value(np.float64(stats.mean))))
    if stats.non_finite:
        count = stats.non_finite
        parts.append(ngettext("{n} non-finite", "{n} non-finite", count).format(n=count))
    return Text("  ".join(parts))


class Prose:
    """Text with wide (Chinese) characters, wrapped by terminal cells at render time.

    rich wraps at spaces only: a Chinese sentence, which has none, is one long word that
    rich folds at the width, wherever that falls (inside a number too). This wraps with
    ``wrap_cells``: between Chinese characters, never inside a number, a symbol or a
    flag, with closing punctuation kept off the start of a line.

    Examples
    --------
    >>> import io
    >>> console = Console(width=14, file=io.StringIO())
    >>> console.print(Prose("输出形状 16x32x32 的参数量 432"))
    >>> print(console.file.getvalue().rstrip())
    输出形状
    16x32x32 的参
    数量 432
    """

    def __init__(self, text: str, style: str = "") -> None:
        self.text = text
        self.style = style

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for line in self.text.split("\n"):
            for piece in wrap_cells(line, max(options.max_width, 1)).split("\n"):
                yield Text(piece, style=self.style)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        lines = self.text.split("\n")
        widest = max(cells(line) for line in lines)
        longest = max(longest_word(line) for line in lines)
        return Measurement(min(longest, widest), widest).clamp(max_width=options.max_width)


def render_key_values(pairs: Sequence[tuple[str, str]], *, title: str = "") -> KeyValues:
    """A two-column table of labelled values (formulas, counts, checks); where a value's
    widest unbreakable piece (a bracketed formula) does not fit beside the labels, each
    value goes under its label instead."""
    table = Table(title=title or None, box=box.SIMPLE_HEAD, show_header=False, title_justify="left")
    # A word wider than its column folds onto the next line: nothing is cut.
    table.add_column(style="bold", overflow="fold")
    table.add_column(overflow="fold")
    for key, value in pairs:
        table.add_row(Text(key), render_line(value))
    stacked: list[RenderableType] = []
    if title:
        stacked += [Text(title, style="italic"), Text()]
    for key, value in pairs:
        stacked += [Text("  " + key, style="bold"), Padding(render_line(value), (0, 0, 0, 4))]
    # The table's edges and padding take 7 cells beside the widest label and value piece.
    keys = max((cells(key) for key, _value in pairs), default=0)
    values = max((longest_word(line) for _key, v in pairs for line in v.split("\n")), default=0)
    return KeyValues(table, Group(*stacked), keys + values + 7)


class KeyValues:
    """The key-value table, or the same pairs stacked where the table's narrowest form does
    not fit the width (a formula is then never broken inside its brackets to fit)."""

    def __init__(self, table: Table, stacked: RenderableType, narrowest: int) -> None:
        self.table = table
        self.stacked = stacked
        self.narrowest = narrowest

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.table if self.narrowest <= options.max_width else self.stacked

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement.get(console, options, self.table)


def render_line(text: str, *, style: str = "") -> Prose:
    """A line of plain text, shown literally (never read as markup), wrapped by ``Prose``:
    Chinese text between its characters, a formula never inside a comparison (``a < 2``)
    nor after its sign (``=`` goes with the value it gives)."""
    return Prose(text, style)


def print_sections(console: Console, renderables: Sequence[RenderableType]) -> None:
    """Print ``renderables`` on ``console`` with one blank line between two of them, unless
    the first ends with a blank line or the second starts with one (never two in a row).

    Examples
    --------
    >>> import io
    >>> console = Console(width=20, file=io.StringIO())
    >>> print_sections(console, [Text("a note"), render_key_values([("k", "v")], title="t")])
    >>> for line in console.file.getvalue().splitlines():
    ...     print(line.rstrip())
    a note
    <BLANKLINE>
    t
    <BLANKLINE>
      k   v
    <BLANKLINE>
    """
    after_blank = True  # nothing printed yet: no blank line first
    for renderable in renderables:
        lines = console.render_lines(renderable, pad=False)
        if not lines:
            continue
        if not after_blank and not _is_blank(lines[0]):
            console.line()
        console.print(Segments(_joined(lines)), end="")
        after_blank = _is_blank(lines[-1])


def _is_blank(line: list[Segment]) -> bool:
    return not "".join(segment.text for segment in line).strip()


def _joined(lines: list[list[Segment]]) -> list[Segment]:
    joined: list[Segment] = []
    for line in lines:
        joined.extend(line)
        joined.append(Segment.line())
    return joined


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
    return Columns(items, padding=(1, 2))
