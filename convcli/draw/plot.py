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

import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from convcli.draw.cjk import CJK_FAMILY, cjk_font_path
from convcli.draw.common import value_text
from convcli.draw.deps import require
from convcli.errors import NumericError
from convcli.i18n import _
from convcli.tensorio.files import PathArg, replacing_output

__all__ = ["MAX_PANELS", "PLOT_SUFFIXES", "panels_of", "plot_result"]

PLOT_SUFFIXES = (".png", ".svg")
MAX_PANELS = 64


def panels_of(array: npt.NDArray[Any], axes: Sequence[str]) -> list[tuple[str, npt.NDArray[Any]]]:
    """The 2-D maps of a result, each with its label: one per index of the leading axes.

    Examples
    --------
    >>> y = np.arange(8).reshape(2, 2, 2)
    >>> [(label, m.tolist()) for label, m in panels_of(y, ("c_o", "m_h", "m_w"))]
    [('c_o=0', [[0, 1], [2, 3]]), ('c_o=1', [[4, 5], [6, 7]])]
    """
    lead = tuple(array.shape[:-2])
    panels = []
    for index in np.ndindex(*lead):
        label = "  ".join(f"{axis}={i}" for axis, i in zip(axes, index, strict=False))
        panels.append((label or _("output"), array[index]))
    return panels


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
    The title starts with ``title`` ("output" in the selected language by default).
    """
    if array.dtype.kind == "c":
        raise NumericError(_("complex results cannot be drawn as one heatmap: use --json"))
    require("matplotlib", "matplotlib")
    from matplotlib import rc_context

    # The SVG's ids come from a hash: a fixed salt makes the same plot the same file.
    with rc_context({"font.family": _font_family(), "svg.hashsalt": "convcli"}):
        return _draw_heatmaps(array, axes, path, title=title, force=force, inputs=inputs)


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
    from matplotlib.ticker import MaxNLocator

    values = np.asarray(array, dtype=np.float64)
    finite = values[np.isfinite(values)]
    low = float(finite.min()) if finite.size else 0.0
    high = float(finite.max()) if finite.size else 0.0
    signed = low < 0 < high
    if signed:
        bound = max(-low, high)
        norm, cmap = Normalize(-bound, bound), "RdBu_r"
    else:
        norm, cmap = Normalize(low, high if high > low else low + 1), "viridis"
    panels = panels_of(values, axes)
    shown_panels = panels[:MAX_PANELS]
    columns = math.ceil(math.sqrt(len(shown_panels)))
    rows = math.ceil(len(shown_panels) / columns)
    m_h, m_w = values.shape[-2:]
    cell = 3.2 if max(m_h, m_w) <= 64 else 4.0
    aspect = m_h / m_w
    figure = Figure(
        figsize=(columns * cell + 1.2, rows * cell * min(max(aspect, 0.4), 2.5) + 1.0),
        layout="constrained",
    )
    FigureCanvasAgg(figure)
    grid = figure.subplots(rows, columns, squeeze=False)
    image = None
    for ax, (label, panel) in zip(grid.flat, shown_panels, strict=False):
        image = ax.imshow(panel, cmap=cmap, norm=norm, interpolation="nearest")
        ax.set_title(label, fontsize=10)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
        ax.yaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
        ax.set_xlabel(axes[-1], fontsize=9)
        ax.set_ylabel(axes[-2], fontsize=9)
        ax.tick_params(labelsize=8)
    for ax in list(grid.flat)[len(shown_panels) :]:
        ax.set_axis_off()
    if image is not None:
        bar = figure.colorbar(image, ax=grid, shrink=0.9)
        bar.set_label(_("value (0 at the centre)") if signed else _("value"))
    heading = _("{title} {shape} {dtype}: min {low}  max {high}").format(
        title=_("output") if title is None else title,
        shape="x".join(map(str, array.shape)),
        dtype=array.dtype,
        low=value_text(low),
        high=value_text(high),
    )
    non_finite = values.size - finite.size
    if non_finite:
        heading = _("{heading}  ({count} NaN/inf, blank)").format(heading=heading, count=non_finite)
    if len(panels) > len(shown_panels):
        heading += "\n" + _("the first {shown} of {total} maps").format(
            shown=len(shown_panels), total=len(panels)
        )
    figure.suptitle(heading, fontsize=11)
    suffix = os.path.splitext(os.fspath(path))[1].lower()
    with replacing_output(path, suffixes=PLOT_SUFFIXES, force=force, inputs=inputs) as temporary:
        # No date in the file: the same result writes the same SVG.
        metadata: dict[str, Any] = {"Date": None} if suffix == ".svg" else {}
        figure.savefig(temporary, format=suffix[1:], dpi=100, metadata=metadata)
    return len(shown_panels)


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
