"""A result as heatmaps with matplotlib: ``run --plot FILE.png|.svg`` (and ``pool --plot``).

One heatmap per output channel (and batch item) in a grid, all on one colour scale
with one colour bar: diverging around zero (ColorBrewer's RdBu, colour-blind safe)
when the values have both signs, else viridis (perceptually uniform, readable in
grey). Ticks are output coordinates; the title gives the shape and the min/max.
matplotlib is imported here only, through the object API (no pyplot state), and its
settings change only inside ``plot_result``: the shipped CJK font (``cjk.py``) follows
the user's font for the characters that font lacks (Chinese titles and labels).
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from convcli.draw.cjk import CJK_FAMILY, cjk_font_path
from convcli.draw.common import value_text
from convcli.draw.deps import require
from convcli.draw.scene import text_width
from convcli.errors import NumericError
from convcli.i18n import N_, _
from convcli.tensorio.files import PathArg, replacing_output

__all__ = [
    "MAX_PANELS",
    "PLOT_SUFFIXES",
    "block_factor",
    "block_means",
    "panels_of",
    "plot_estimate",
    "plot_result",
]

PLOT_SUFFIXES = (".png", ".svg")
MAX_PANELS = 64
# A map is drawn with at most this many values a side (its axes are 320 or 400 pixels
# wide at 100 dpi): a larger one is averaged in square blocks, as the eye would see it.
MAX_DRAWN = 400
# Small maps have their values written in the cells.
MAX_WRITTEN = 8
DPI = 100
# matplotlib's figure, axes, ticks and fonts, and its work on one image while it draws
# (the resampled RGBA of the axes' pixels); measured with the process's peak RSS: 43 MiB
# for one 2x2 map, 90 MiB for 64 of them, 109 MiB for 64 maps of 500x500.
PLOT_BYTES = 48 * 1024**2
PLOT_BYTES_PER_PANEL = 1024**2
# A drawn value: the float64 map and matplotlib's masked, scaled and coloured copies.
PLOT_BYTES_PER_VALUE = 32
# The canvas (RGBA), its copy as the PNG is written, matplotlib's buffers.
PLOT_BYTES_PER_PIXEL = 12
_STATS_BLOCK = 1 << 20  # values per block of the min/max pass


def panels_of(
    array: npt.NDArray[Any], axes: Sequence[str], limit: int | None = None
) -> list[tuple[str, npt.NDArray[Any]]]:
    """The 2-D maps of a result, each with its label: one per index of the leading axes
    (the first ``limit`` of them, row-major). Views: nothing is copied.

    Examples
    --------
    >>> y = np.arange(8).reshape(2, 2, 2)
    >>> [(label, m.tolist()) for label, m in panels_of(y, ("c_o", "m_h", "m_w"))]
    [('c_o=0', [[0, 1], [2, 3]]), ('c_o=1', [[4, 5], [6, 7]])]
    """
    lead = tuple(array.shape[:-2])
    panels = []
    for index in itertools.islice(np.ndindex(*lead), limit):
        label = "  ".join(f"{axis}={i}" for axis, i in zip(axes, index, strict=False))
        panels.append((label or _("output"), array[index]))
    return panels


def block_factor(m_h: int, m_w: int) -> int:
    """Values per side of the square blocks a map is averaged in (1: drawn as it is).

    Examples
    --------
    >>> block_factor(2, 2), block_factor(400, 10), block_factor(8000, 8000), block_factor(401, 3)
    (1, 1, 20, 2)
    """
    return max(1, -(-max(m_h, m_w) // MAX_DRAWN))


def block_means(panel: npt.NDArray[Any], factor: int) -> npt.NDArray[np.float64]:
    """``panel`` averaged in ``factor`` x ``factor`` blocks (the last ones may be smaller),
    over each block's finite values (NaN where it has none); a strip of rows at a time.

    Examples
    --------
    >>> block_means(np.arange(16).reshape(4, 4), 2).tolist()
    [[2.5, 4.5], [10.5, 12.5]]
    >>> block_means(np.array([[1.0, np.nan, np.inf]]), 2).tolist()
    [[1.0, nan]]
    """
    m_h, m_w = panel.shape
    starts = np.arange(0, m_w, factor)
    means = np.empty((-(-m_h // factor), starts.size), dtype=np.float64)
    for row, top in enumerate(range(0, m_h, factor)):
        strip = np.asarray(panel[top : top + factor], dtype=np.float64)
        finite = np.isfinite(strip)
        sums = np.add.reduceat(np.where(finite, strip, 0.0).sum(axis=0), starts)
        counts = np.add.reduceat(finite.sum(axis=0), starts)
        with np.errstate(invalid="ignore", divide="ignore"):
            means[row] = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return means


def plot_estimate(output_shape: Sequence[int]) -> tuple[tuple[str, int], ...]:
    """The bytes ``plot_result`` holds for a result of ``output_shape``, by part: the
    drawn maps (at most ``MAX_PANELS``, each at most ``MAX_DRAWN`` values a side), the
    figure's canvas and matplotlib's own objects. The result itself is not counted.

    Examples
    --------
    >>> parts = dict(plot_estimate((8000, 8000)))
    >>> parts["plot maps"] // 1024, parts["plot canvas"] // 1024
    (5000, 3046)
    """
    m_h, m_w = (int(output_shape[-2]), int(output_shape[-1])) if len(output_shape) >= 2 else (1, 1)
    panels = min(MAX_PANELS, math.prod(output_shape[:-2]))
    factor = block_factor(m_h, m_w)
    drawn = -(-m_h // factor) * -(-m_w // factor)
    width, height = _figure_inches(panels, m_h, m_w)
    pixels = round(width * DPI) * round(height * DPI)
    return (
        (N_("plot maps"), panels * drawn * PLOT_BYTES_PER_VALUE),
        (N_("plot canvas"), pixels * PLOT_BYTES_PER_PIXEL),
        (N_("plot figure"), PLOT_BYTES + panels * PLOT_BYTES_PER_PANEL),
    )


def _figure_inches(panels: int, m_h: int, m_w: int) -> tuple[float, float]:
    columns = math.ceil(math.sqrt(panels)) if panels else 1
    rows = math.ceil(panels / columns) if panels else 1
    cell = 3.2 if max(m_h, m_w) <= 64 else 4.0
    aspect = m_h / m_w if m_w else 1.0
    return columns * cell + 1.2, rows * cell * min(max(aspect, 0.4), 2.5) + 1.0


def plot_result(
    array: npt.NDArray[Any],
    axes: Sequence[str],
    path: PathArg,
    *,
    title: str | None = None,
    force: bool = False,
    inputs: Sequence[PathArg] = (),
) -> int:
    """Write ``array`` (``(..., m_h, m_w)``) as heatmaps to a .png or .svg; return the panels drawn.

    At most ``MAX_PANELS`` maps are drawn (the first ones, row-major); the title says so.
    A map larger than ``MAX_DRAWN`` a side is drawn as the means of square blocks (the
    title says how large), so the memory is ``plot_estimate``'s whatever the result's
    size; a map of at most ``MAX_WRITTEN`` a side has its values written in the cells.
    The title starts with ``title`` ("output" in the selected language by default).
    """
    if array.dtype.kind == "c":
        raise NumericError(_("complex results cannot be drawn as one heatmap: use --json"))
    require("matplotlib", "matplotlib")
    from matplotlib import rc_context

    # The SVG's ids come from a hash: a fixed salt makes the same plot the same file.
    with rc_context({"font.family": _font_family(), "svg.hashsalt": "convcli"}):
        return _draw_heatmaps(array, axes, path, title=title, force=force, inputs=inputs)


def _range(array: npt.NDArray[Any]) -> tuple[float, float, int]:
    """The finite values' min and max, and how many are NaN or infinite: a block at a time,
    never a float64 copy of the whole result."""
    flat = array.reshape(-1)
    low, high, non_finite = math.inf, -math.inf, 0
    for start in range(0, flat.size, _STATS_BLOCK):
        block = flat[start : start + _STATS_BLOCK]
        if block.dtype.kind == "f":
            finite = np.isfinite(block)
            non_finite += int(block.size - np.count_nonzero(finite))
            block = block[finite]
        if block.size:
            low = min(low, float(block.min()))
            high = max(high, float(block.max()))
    if low > high:
        return 0.0, 0.0, non_finite
    return low, high, non_finite


def _draw_heatmaps(
    array: npt.NDArray[Any],
    axes: Sequence[str],
    path: PathArg,
    *,
    title: str | None,
    force: bool,
    inputs: Sequence[PathArg],
) -> int:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure
    from matplotlib.ticker import FixedLocator, MaxNLocator

    low, high, non_finite = _range(array)
    signed = low < 0 < high
    if signed:
        bound = max(-low, high)
        norm, cmap = Normalize(-bound, bound), "RdBu_r"
    else:
        norm, cmap = Normalize(low, high if high > low else low + 1), "viridis"
    total = math.prod(array.shape[:-2])
    shown_panels = panels_of(array, axes, MAX_PANELS)
    m_h, m_w = array.shape[-2:]
    factor = block_factor(m_h, m_w)
    width, height = _figure_inches(len(shown_panels), m_h, m_w)
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    columns = math.ceil(math.sqrt(len(shown_panels)))
    rows = math.ceil(len(shown_panels) / columns)
    grid = figure.subplots(rows, columns, squeeze=False)
    image = None
    written = factor == 1 and max(m_h, m_w) <= MAX_WRITTEN
    for ax, (label, panel) in zip(grid.flat, shown_panels, strict=False):
        drawn = block_means(panel, factor)
        # Blocks placed at the result's own coordinates: the ticks are output indices.
        rows_drawn, cols_drawn = drawn.shape
        extent = (-0.5, cols_drawn * factor - 0.5, rows_drawn * factor - 0.5, -0.5)
        image = ax.imshow(drawn, cmap=cmap, norm=norm, interpolation="nearest", extent=extent)
        ax.set_xlim(-0.5, m_w - 0.5)
        ax.set_ylim(m_h - 0.5, -0.5)
        ax.set_title(label, fontsize=11)
        if written:
            ax.set_xticks(range(m_w))
            ax.set_yticks(range(m_h))
            _write_values(ax, panel, image)
        else:  # a narrow map gets fewer ticks along its short side: labels never touch
            for axis, bins in ((ax.xaxis, _bins(m_w, m_h, spacing=50)),
                               (ax.yaxis, _bins(m_h, m_w, spacing=30))):  # fmt: skip
                axis.set_major_locator(
                    MaxNLocator(nbins=bins, integer=True) if bins else FixedLocator([0])
                )
        ax.set_xlabel(axes[-1], fontsize=10)
        ax.set_ylabel(axes[-2], fontsize=10)
        ax.tick_params(labelsize=9)
    for ax in list(grid.flat)[len(shown_panels) :]:
        ax.set_axis_off()
    if image is not None:
        bar = figure.colorbar(image, ax=grid, shrink=0.9)
        bar.set_label(_("value (0 at the centre)") if signed else _("value"))
        bar.ax.tick_params(labelsize=9)
    heading = _("{title} {shape} {dtype}: min {low}  max {high}").format(
        title=_("output") if title is None else title,
        shape="x".join(map(str, array.shape)),
        dtype=array.dtype,
        low=value_text(low),
        high=value_text(high),
    )
    if non_finite:
        heading = _("{heading}  ({count} NaN/inf, blank)").format(heading=heading, count=non_finite)
    if total > len(shown_panels):
        heading += "\n" + _("the first {shown} of {total} maps").format(
            shown=len(shown_panels), total=total
        )
    if factor > 1:
        heading += "\n" + _(
            "downsampled: each pixel is the mean of a {factor}x{factor} block of values"
        ).format(factor=factor)
    figure.suptitle(_wrapped(heading, width * 72 - 20, 11), fontsize=11)
    suffix = os.path.splitext(os.fspath(path))[1].lower()
    with replacing_output(path, suffixes=PLOT_SUFFIXES, force=force, inputs=inputs) as temporary:
        # No date in the file: the same result writes the same SVG.
        metadata: dict[str, Any] = {"Date": None} if suffix == ".svg" else {}
        figure.savefig(temporary, format=suffix[1:], dpi=DPI, metadata=metadata)
    return len(shown_panels)


def _bins(along: int, across: int, *, spacing: int) -> int:
    """Tick intervals along an axis of ``along`` values beside one of ``across``: a
    label every ``spacing`` pixels at most (the long side is about ``MAX_DRAWN`` pixels);
    0: too short for two labels."""
    pixels = MAX_DRAWN * min(1.0, along / max(across, 1))
    return min(6, int(pixels // spacing))


def _wrapped(text: str, points: float, size: float) -> str:
    """``text``'s lines broken at spaces to fit ``points`` wide (in a ``size`` font)."""
    lines = []
    for line in text.split("\n"):
        current = ""
        for word in line.split(" "):
            longer = f"{current} {word}" if current else word
            if current and text_width(longer, size) > points:
                lines.append(current)
                current = word
            else:
                current = longer
        lines.append(current)
    return "\n".join(lines)


def _write_values(ax: Any, panel: npt.NDArray[Any], image: Any) -> None:
    """Each cell's value in the cell, dark on light colours and white on dark ones."""
    m_h, m_w = panel.shape
    size = 13 if max(m_h, m_w) <= 4 else 10
    for i in range(m_h):
        for j in range(m_w):
            value = panel[i, j]
            red, green, blue, _alpha = image.cmap(image.norm(float(value)))
            light = 0.2126 * red + 0.7152 * green + 0.0722 * blue > 0.45
            finite = not (value.dtype.kind == "f" and not np.isfinite(value))
            colour = "black" if light or not finite else "white"
            ax.text(j, i, value_text(value), ha="center", va="center", fontsize=size, color=colour)


def _font_family() -> list[str]:
    """The user's fonts, then the shipped CJK font (registered with matplotlib once)."""
    import matplotlib
    from matplotlib import font_manager

    known = {entry.fname for entry in font_manager.fontManager.ttflist}
    for bold in (False, True):
        path = cjk_font_path(bold)
        if path.is_file() and str(path) not in known:
            font_manager.fontManager.addfont(str(path))
    family = [name for name in matplotlib.rcParams["font.family"] if name != CJK_FAMILY]
    return [*family, CJK_FAMILY]
