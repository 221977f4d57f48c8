"""What ``convcli learn`` shows: the loss per epoch and the learned kernel.

Nothing here prints.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from rich import box
from rich.table import Table
from rich.text import Text

from convcli.i18n import _
from convcli.ops.learn import Learned
from convcli.render.widgets import Renderable, format_value, render_array, render_line

__all__ = ["learn_payload", "learn_report"]

# Epochs the table lists; beyond them the first and last halves (--json has every loss).
SHOWN_EPOCHS = 20


def learn_payload(run: Learned, lr: float) -> dict[str, Any]:
    """The ``learn --json`` object: ``losses`` (before each step) and the ``kernel``."""
    from convcli.tensorio.files import tensor_to_json

    return {
        "losses": run.losses,
        "kernel": tensor_to_json(run.kernel),
        "bias": run.bias,
        "initial_kernel": tensor_to_json(run.initial_kernel),
        "lr": lr,
        "epochs": len(run.losses),
    }


def learn_report(run: Learned, lr: float, *, goal: Any = None) -> list[Renderable]:
    """The loss per epoch as a table, the kernel before and after (and the goal, if known)."""
    table = Table(
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        show_edge=False,
    )
    table.add_column(_("epoch"), justify="right")
    table.add_column(_("loss"), justify="right")
    losses = list(enumerate(run.losses, start=1))
    shown = (
        losses
        if len(losses) <= SHOWN_EPOCHS
        else [*losses[: SHOWN_EPOCHS // 2], None, *losses[-SHOWN_EPOCHS // 2 :]]
    )
    for item in shown:
        if item is None:
            table.add_row(Text("..."), Text("..."))
            continue
        epoch, loss = item
        table.add_row(Text(str(epoch)), Text(f"{loss:.6g}"))
    report: list[Renderable] = [
        render_line(
            _(
                "Y_hat = corr2d(X, K); L = sum((Y_hat - Y)**2); the gradient dL/dK is the "
                "correlation of X with 2*(Y_hat - Y); each step K -= lr * dL/dK."
            )
        ),
        render_line(_("gradient descent, lr {lr}: the loss before each step").format(lr=lr)),
        table,
        render_array(run.initial_kernel, ("k_h", "k_w"), name=_("K before")),
        render_array(run.kernel, ("k_h", "k_w"), name=_("K learned")),
    ]
    if run.losses[-1] > run.losses[0]:
        report.append(render_line(_("the loss grew: the steps overshoot; use a smaller lr")))
    if run.bias is not None:
        report.append(
            render_line(_("bias learned: {b}").format(b=format_value(np.float64(run.bias))))
        )
    if goal is not None:
        gap = float(np.max(np.abs(run.kernel - goal)))
        report.append(
            render_line(
                _(
                    "the target was made with {goal}: the learned kernel is within {gap} of it"
                ).format(goal=np.asarray(goal).astype(int).tolist(), gap=f"{gap:.3g}")
            )
        )
    return report
