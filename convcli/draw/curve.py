"""A loss curve with matplotlib: ``learn --plot FILE.png|.svg``."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from convcli.draw.deps import require
from convcli.draw.plot import PLOT_SUFFIXES, _font_family
from convcli.i18n import _
from convcli.tensorio.files import PathArg, replacing_output

__all__ = ["plot_losses"]


def plot_losses(
    losses: Sequence[float],
    path: PathArg,
    *,
    force: bool = False,
    inputs: Sequence[PathArg] = (),
) -> None:
    """Write the loss per epoch as a line (log scale when every loss is positive)."""
    require("matplotlib", "matplotlib")
    from matplotlib import rc_context
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    with rc_context({"font.family": _font_family(), "svg.hashsalt": "convcli"}):
        figure = Figure(figsize=(6, 4), layout="constrained")
        FigureCanvasAgg(figure)
        ax = figure.subplots()
        epochs = list(range(1, len(losses) + 1))
        ax.plot(epochs, list(losses), marker="o")
        if all(loss > 0 for loss in losses):
            ax.set_yscale("log")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel(_("epoch"))
        ax.set_ylabel(_("loss (summed squared error)"))
        ax.grid(True, alpha=0.3)
        figure.suptitle(_("the loss per epoch"), fontsize=11)
        suffix = os.path.splitext(os.fspath(path))[1].lower()
        with replacing_output(
            path, suffixes=PLOT_SUFFIXES, force=force, inputs=inputs
        ) as temporary:
            metadata: dict[str, Any] = {"Date": None} if suffix == ".svg" else {}
            figure.savefig(temporary, format=suffix[1:], dpi=100, metadata=metadata)
