"""`convcli pool`: max, average and adaptive pooling of a tensor file, as PyTorch pools."""

from __future__ import annotations

from typing import Annotated

import typer

from convcli.cli._app import app, guard
from convcli.cli._common import (
    ForceOpt,
    FullOpt,
    InputArg,
    InputLayoutOpt,
    JsonOpt,
    MaxMemoryOpt,
    PlotOpt,
    ResultFileOpt,
    layouts,
    note_layouts,
)
from convcli.cli._wording import option_words
from convcli.errors import OptionError
from convcli.i18n import _


@app.command()
def pool(
    input_file: InputArg,
    kind: Annotated[
        str,
        typer.Option("--kind", metavar="KIND", help="max | avg | adaptive-max | adaptive-avg."),
    ] = "max",
    kernel_size: Annotated[
        str | None,
        typer.Option("--kernel-size", "-k", metavar="K", help="Window: N or H,W (max, avg)."),
    ] = None,
    stride: Annotated[
        str | None,
        typer.Option("--stride", "-s", metavar="S", help="N or H,W (default: the window)."),
    ] = None,
    padding: Annotated[
        str,
        typer.Option(
            "--padding", "-p", metavar="P", help="N or H,W on each side, at most half the window."
        ),
    ] = "0",
    dilation: Annotated[
        str, typer.Option("--dilation", "-d", metavar="D", help="N or H,W (max only).")
    ] = "1",
    ceil_mode: Annotated[
        bool,
        typer.Option(
            "--ceil-mode",
            help="Round the output size up; a window starting in the right padding is dropped.",
        ),
    ] = False,
    count_include_pad: Annotated[
        bool | None,
        typer.Option(
            "--count-include-pad/--no-count-include-pad",
            help="avg: divide by the window including the padding (PyTorch's default) or "
            "only by the input cells it covers.",
            show_default=False,
        ),
    ] = None,
    divisor_override: Annotated[
        str | None,
        typer.Option("--divisor-override", metavar="N", help="avg: divide every sum by N."),
    ] = None,
    output_size: Annotated[
        str | None,
        typer.Option("--output-size", metavar="H,W", help="adaptive kinds: N or H,W."),
    ] = None,
    output: ResultFileOpt = None,
    force: ForceOpt = False,
    full: FullOpt = False,
    heatmap: Annotated[
        bool, typer.Option("--heatmap", help="Colour the result's cells by value.")
    ] = False,
    as_json: JsonOpt = False,
    max_memory: MaxMemoryOpt = None,
    plot: PlotOpt = None,
    indices: Annotated[
        bool,
        typer.Option(
            "--indices",
            help="max, adaptive-max: also print where each maximum is (PyTorch's "
            'return_indices: row*W + col in its input plane); --json adds "indices". '
            "Not with --output or --plot.",
        ),
    ] = False,
    grad: Annotated[
        bool,
        typer.Option(
            "--grad",
            help="The backward pass: the input's gradient dL/dX (max: each dY to its "
            "window's winner; avg: dY / divisor over the window); --output writes it.",
        ),
    ] = False,
    grad_output_file: Annotated[
        str | None,
        typer.Option(
            "--grad-output",
            metavar="FILE",
            help="With --grad: dY, the output's shape (default: all ones, the sum's gradient).",
        ),
    ] = None,
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            metavar="POS",
            help="Explain one output, c,i,j (or n,c,i,j): its window, the cells, the winner "
            "or the sum and divisor.",
        ),
    ] = None,
    input_layout: InputLayoutOpt = "nchw",
) -> None:
    """Pool a (c, h, w) or (n, c, h, w) tensor: PyTorch's max_pool2d, avg_pool2d and
    adaptive forms, with their exact rules.

    The stride defaults to the window; the padding is at most half the window; --ceil-mode
    rounds the output size up but drops a last window that would start in the right
    padding; avg's --count-include-pad counts the padding, never a ceil-mode overhang.
    Max pooling keeps the dtype and propagates NaN; average pooling of integers gives
    float64 (PyTorch truncates to the integer dtype).

    \b
    Examples:
      convcli pool samples/lesson_X.json --kind max --kernel-size 2 --stride 1
      convcli pool x.npy --kind avg -k 3 -s 2 -p 1 --ceil-mode --no-count-include-pad
      convcli pool x.npy --kind adaptive-avg --output-size 1 --json
      convcli pool samples/lesson_X.json --kind avg -k 2 -p 1 --at 0,0,0
      convcli pool samples/lesson_X.json --kind max -k 2 -s 1 --grad
    """
    with guard(), option_words():
        from convcli.cli.layers import pool_options, run_pool_command

        chosen = layouts(input_layout)
        options = pool_options(
            kind,
            kernel_size,
            stride,
            padding,
            dilation,
            ceil_mode,
            count_include_pad,
            divisor_override,
            output_size,
        )
        if grad_output_file is not None and not grad:
            raise OptionError(_("--grad-output needs --grad"))
        if grad:
            from convcli.cli.grad import pool_grad_command

            if at is not None or indices or plot is not None:
                raise OptionError(
                    _("--grad prints the input's gradient: no --at, --indices or --plot")
                )
            pool_grad_command(
                input_file,
                grad_output_file,
                options,
                output=output,
                force=force,
                full=full,
                as_json=as_json,
                max_memory=max_memory,
            )
            return
        if at is not None:
            from convcli.cli.layers import explain_pool_command

            if output is not None or plot is not None:
                raise OptionError(_("--at explains one output: it writes no --output or --plot"))
            if indices:
                raise OptionError(_("--at explains one output (its winner included): no --indices"))
            explain_pool_command(
                input_file,
                options,
                at=at,
                full=full,
                as_json=as_json,
                max_memory=max_memory,
                layouts=chosen,
            )
            note_layouts(chosen, None, None)
            return
        run_pool_command(
            input_file,
            options,
            output=output,
            force=force,
            full=full,
            heatmap=heatmap,
            as_json=as_json,
            max_memory=max_memory,
            plot=plot,
            layouts=chosen,
            indices=indices,
        )
        note_layouts(chosen, None, None)
