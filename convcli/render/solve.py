"""What ``shapes --want-output`` shows: the options that give a wanted output size.

Builds renderables and plain dicts; never prints.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from convcli.i18n import _, ngettext
from convcli.render.widgets import Renderable, render_line
from convcli.shapes.solve import AxisAnswer

__all__ = ["Solved", "solved_payload", "solved_report"]

Pair = tuple[int, int]
# The answers a table shows per axis; --json has every one.
SHOWN = 8


@dataclass(frozen=True)
class Solved:
    """The answers per axis (``answers[0]`` height, ``answers[1]`` width) to one question.

    ``operation`` is ``conv2d``, ``conv_transpose2d``, ``max_pool2d`` or ``avg_pool2d``.
    """

    operation: str
    input_size: Pair
    kernel_size: Pair
    want: Pair
    answers: tuple[tuple[AxisAnswer, ...], tuple[AxisAnswer, ...]]


def _same_axes(solved: Solved) -> bool:
    return solved.answers[0] == solved.answers[1]


def _flag_pair(values: Sequence[object]) -> str:
    first, second = values
    return str(first) if first == second else f"{first},{second}"


def suggested(solved: Solved) -> dict[str, Any]:
    """The first answer of each axis, as the options to give (``padding`` may be 'same')."""
    h, w = solved.answers[0][0], solved.answers[1][0]
    chosen: dict[str, Any] = {"stride": [h.stride, w.stride]}
    if h.padding == "same" or w.padding == "same":
        chosen["padding"] = "same"
    else:
        chosen["padding"] = [h.padding, w.padding]
    if h.output_padding is not None and w.output_padding is not None:
        chosen["output_padding"] = [h.output_padding, w.output_padding]
    if h.ceil_mode is not None and w.ceil_mode is not None:
        chosen["ceil_mode"] = h.ceil_mode or w.ceil_mode
    return chosen


def _flags(solved: Solved) -> str:
    chosen = suggested(solved)
    padding = chosen["padding"]
    flags = [
        f"--stride {_flag_pair(chosen['stride'])}",
        f"--padding {padding if isinstance(padding, str) else _flag_pair(padding)}",
    ]
    if "output_padding" in chosen:
        flags.append(f"--output-padding {_flag_pair(chosen['output_padding'])}")
    if chosen.get("ceil_mode"):
        flags.append("--ceil-mode")
    return " ".join(flags)


def _size(pair: Pair) -> str:
    return f"{pair[0]}x{pair[1]}"


def solved_report(solved: Solved) -> list[Renderable]:
    """A table of every answer per axis, the options of the first, and what they mean."""
    transposed = solved.operation == "conv_transpose2d"
    pooling = solved.operation.endswith("pool2d")
    title = (
        _("options that give a {want} output (input {n}, window {k})")
        if pooling
        else _("options that give a {want} output (input {n}, kernel {k})")
    ).format(want=_size(solved.want), n=_size(solved.input_size), k=_size(solved.kernel_size))
    table = Table(
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    # A number too long for its column folds onto the next line: nothing is cut.
    table.add_column(_("axis"), overflow="fold")
    table.add_column(_("stride"), justify="right", overflow="fold")
    table.add_column(_("padding"), justify="right", overflow="fold")
    if transposed:
        table.add_column("output_padding", justify="right", overflow="fold")
    if pooling:
        table.add_column("ceil_mode", justify="right", overflow="fold")
    table.add_column(_("output"), justify="right", overflow="fold")
    if not transposed:
        table.add_column(_("leftover"), justify="right", overflow="fold")
    axes = ((_("h, w"), solved.answers[0]),) if _same_axes(solved) else (
        ("h", solved.answers[0]),
        ("w", solved.answers[1]),
    )  # fmt: skip
    hidden = 0
    for name, answers in axes:
        hidden += max(0, len(answers) - SHOWN)
        for answer in answers[:SHOWN]:
            cells = [name, str(answer.stride), str(answer.padding)]
            if transposed:
                cells.append(str(answer.output_padding))
            if pooling:
                cells.append(str(answer.ceil_mode))
            cells.append(str(answer.output))
            if not transposed:
                cells.append("-" if answer.padding == "same" else str(answer.leftover))
            table.add_row(*(Text(cell) for cell in cells))
    report: list[Renderable] = [Group(render_line(title, style="bold"), table)]
    if hidden:
        report.append(
            render_line(
                ngettext(
                    "{count} more answer not shown: --json lists every one.",
                    "{count} more answers not shown: --json lists every one.",
                    hidden,
                ).format(count=hidden)
            )
        )
    report.append(render_line(_("try: {flags}").format(flags=_flags(solved))))
    report.extend(render_line(note, style="dim") for note in _notes(solved))
    return report


def _notes(solved: Solved) -> list[str]:
    h, w = solved.answers[0][0], solved.answers[1][0]
    notes = []
    if solved.operation == "conv_transpose2d":
        op = _flag_pair((h.output_padding, w.output_padding))
        if h.undoes and w.undoes:
            notes.append(
                _(
                    "--output-padding {op} gives {want}, the size the convolution started from: "
                    "conv2d with the same kernel, stride, padding and dilation maps {want} back "
                    "to {n}."
                ).format(op=op, want=_size(solved.want), n=_size(solved.input_size))
            )
        else:
            notes.append(
                _(
                    "--output-padding {op} gives {want}; conv2d with the same options would not "
                    "map {want} back to {n}, so this layer does not undo one."
                ).format(op=op, want=_size(solved.want), n=_size(solved.input_size))
            )
    elif solved.operation.endswith("pool2d"):
        if h.ceil_mode or w.ceil_mode:
            notes.append(_("--ceil-mode is needed: rounding the size down gives one cell less."))
        else:
            notes.append(_("No --ceil-mode needed: the default rounding down gives it."))
    else:
        if any(answer.padding == "same" for answer in (*solved.answers[0], *solved.answers[1])):
            notes.append(
                _(
                    "same: stride 1 keeps the input size, padding the extra cell (an even "
                    "kernel) at the bottom and right, as PyTorch's padding='same'."
                )
            )
    if solved.operation != "conv_transpose2d":
        notes.append(
            _(
                "leftover: input cells (padding counted) after the last window that no window "
                "reaches."
            )
        )
    return notes


def _answer_payload(answer: AxisAnswer) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "stride": answer.stride,
        "padding": answer.padding,
        "output": answer.output,
    }
    if answer.output_padding is not None:
        entry["output_padding"] = answer.output_padding
        entry["undoes"] = answer.undoes
    else:
        entry["leftover"] = answer.leftover
    if answer.ceil_mode is not None:
        entry["ceil_mode"] = answer.ceil_mode
    return entry


def solved_payload(solved: Solved) -> dict[str, Any]:
    """The ``shapes --want-output --json`` object."""
    return {
        "operation": solved.operation,
        "input_size": list(solved.input_size),
        "kernel_size": list(solved.kernel_size),
        "want_output": list(solved.want),
        "answers": {
            "h": [_answer_payload(answer) for answer in solved.answers[0]],
            "w": [_answer_payload(answer) for answer in solved.answers[1]],
        },
        "suggested": suggested(solved),
    }
