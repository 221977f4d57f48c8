"""`convcli shapes` and `convcli explain`: every dimension, and where one value comes from."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

import typer

from convcli.cli._app import app, guard, say
from convcli.cli._common import (
    BiasOpt,
    DilationOpt,
    FlipOpt,
    GroupsOpt,
    InputArg,
    InputLayoutOpt,
    JsonOpt,
    KernelArg,
    KernelLayoutOpt,
    MaxMemoryOpt,
    PaddingModeOpt,
    PaddingOpt,
    StrideOpt,
    TensorInfo,
    check_stdin_once,
    conv_options,
    first_position,
    layouts,
    memory_budget,
    naming,
    note_layouts,
    option,
    shape_of,
    show,
    show_json,
    wants_transposed,
    whole,
)
from convcli.cli._loading import load_checked
from convcli.cli._wording import option_words
from convcli.cli.layers import (
    OptionalStrideOpt,
    OutputPaddingOpt,
    OutputSizeOpt,
    ShapesOutputSizeOpt,
    TransposedOpt,
)
from convcli.errors import OptionError, PositionError, ShapeError
from convcli.i18n import _

if TYPE_CHECKING:
    from convcli.shapes.layer import LayerShapes


@app.command()
def shapes(
    input_file: Annotated[
        str | None, typer.Argument(metavar="[INPUT]", help="Input tensor file (optional).")
    ] = None,
    kernel_file: Annotated[
        str | None, typer.Argument(metavar="[KERNEL]", help="Kernel tensor file (optional).")
    ] = None,
    input_shape: Annotated[
        str | None,
        typer.Option(
            "--input-shape",
            metavar="SHAPE",
            help="c_i x n_h x n_w, e.g. 2x3x3 (or NxCxHxW); pasted (1, 3, 32, 32), "
            "[1, 3, 32, 32] or torch.Size([1, 3, 32, 32]) too.",
        ),
    ] = None,
    kernel_shape: Annotated[
        str | None,
        typer.Option(
            "--kernel-shape", metavar="SHAPE", help="c_o x c_i x k_h x k_w, e.g. 3x2x2x2."
        ),
    ] = None,
    bias: Annotated[
        bool,
        typer.Option(
            "--bias/--no-bias",
            help="Count a bias (c_o,) in the parameters, as nn.Conv2d's default bias=True "
            "does (the default); --no-bias leaves it out. run computes with the tensors it "
            "is given.",
        ),
    ] = True,
    stride: OptionalStrideOpt = None,
    padding: PaddingOpt = "0",
    dilation: DilationOpt = "1",
    groups: GroupsOpt = "1",
    padding_mode: PaddingModeOpt = "zeros",
    as_json: JsonOpt = False,
    transposed: TransposedOpt = False,
    output_padding: OutputPaddingOpt = None,
    output_size: ShapesOutputSizeOpt = None,
    pool: Annotated[
        str | None,
        typer.Option(
            "--pool",
            metavar="KIND",
            help="max | avg | adaptive-max | adaptive-avg: a pooling layer (with "
            "--kernel-size; the adaptive kinds with --output-size).",
        ),
    ] = None,
    kernel_size: Annotated[
        str | None,
        typer.Option("--kernel-size", metavar="K", help="With --pool: the window, N or H,W."),
    ] = None,
    ceil_mode: Annotated[
        bool, typer.Option("--ceil-mode", help="With --pool: round the output size up.")
    ] = False,
    want_output: Annotated[
        str | None,
        typer.Option(
            "--want-output",
            metavar="H,W",
            help="Solve backwards: the padding (and, without --stride, the stride) that gives "
            "this output size (H,W, HxW or N); with --transposed the --output-padding, with "
            "--pool whether --ceil-mode is needed. Every answer is worked forward again.",
        ),
    ] = None,
    backward: Annotated[
        bool,
        typer.Option(
            "--backward",
            help="Also the cost of training: forward multiplications, additions and memory, "
            "the backward's dX, dW, db, what it keeps and its gradient buffers.",
        ),
    ] = False,
    vary: Annotated[
        str | None,
        typer.Option(
            "--vary",
            metavar="NAME=V1,V2,...",
            help="A row per value of one of c_i, c_o, n_h, n_w, k, p, s, d, g (or several "
            "joined by +, e.g. c_i+c_o=64,128): output, params, MACs, memory and their "
            "factor against the first row.",
        ),
    ] = None,
) -> None:
    """Explain every dimension: named axes, output-size formula, parameters and cost.

    Without files or shapes it explains the lesson's layer (2x3x3 input, 3x2x2x2 kernel).

    \b
    Examples:
      convcli shapes --input-shape 1x28x28 --kernel-shape 10x1x5x5
      convcli shapes samples/lesson_X.json samples/lesson_K_multi_out.json --padding 1
      convcli shapes --input-shape 8x64x56x56 --kernel-shape 128x64x3x3 -s 2 -p 1 --json
      convcli shapes --input-shape 1x7x7 --kernel-shape 1x1x3x3 --dilation 2
      convcli shapes --input-shape 3x5x5 --kernel-shape 8x3x3x3 -p 2 --padding-mode reflect
      convcli shapes --transposed --input-shape 256x16x16 --kernel-shape 256x128x4x4 -s 2 -p 1
      convcli shapes --pool max --input-shape 64x112x112 --kernel-size 3 -s 2 -p 1
      convcli shapes --pool adaptive-avg --input-shape 3x7x9 --output-size 2,3
      convcli shapes --input-shape 64x56x56 --kernel-shape 128x64x3x3 --want-output 28x28
      convcli shapes --transposed --input-shape 64x28x28 --kernel-shape 64x3x3x3 \\
          -s 2 -p 1 --want-output 56
      convcli shapes --input-shape 8x64x56x56 --kernel-shape 128x64x3x3 -p 1 --backward
      convcli shapes --transposed --input-shape 8x64x16x16 --kernel-shape 64x32x4x4 \\
          -s 2 -p 1 --backward
      convcli shapes --input-shape 64x32x32 --kernel-shape 64x64x3x3 -p 1 --vary p=1,2,4

    Also: the receptive field ((k-1)d+1 per axis) and the depthwise-separable
    alternative (depthwise k_h x k_w per channel + pointwise 1x1), its parameters,
    MACs and ratio 1/c_o + 1/(k_h*k_w); --json adds receptive_field and separable.
    """
    with guard(), option_words():
        from convcli.render.reports import explain_shapes, shapes_payload, shapes_report
        from convcli.shapes.parsing import parse_shape

        if want_output is not None:
            from convcli.cli.solve import want_output_command

            want_output_command(
                want_output,
                (input_file, kernel_file, input_shape, kernel_shape),
                (stride, padding, dilation, groups, padding_mode, bias),
                transposed=transposed,
                output_padding=output_padding,
                output_size=output_size,
                pool=pool,
                kernel_size=kernel_size,
                ceil_mode=ceil_mode,
                as_json=as_json,
            )
            return
        layer_flags = (transposed, output_padding, output_size, pool, kernel_size, ceil_mode)
        if any(flag not in (None, False) for flag in layer_flags):
            if vary is not None:
                raise OptionError(
                    _(
                        "--vary is for a convolution layer; a transposed convolution's "
                        "cost forward and backward: --transposed --backward"
                    )
                )
            if backward and not transposed:
                raise OptionError(
                    _(
                        "--backward is for a convolution layer, transposed (--transposed) "
                        "or not; a pooling layer's backward memory: net "
                        '"maxpool(K)" --input-shape NxCxHxW --training'
                    )
                )
            from convcli.cli.layers import layer_shapes_command

            layer_shapes_command(
                (input_file, kernel_file, input_shape, kernel_shape),
                (stride, padding, dilation, groups, padding_mode, bias),  # stride None: default
                transposed=transposed,
                output_padding=output_padding,
                output_size=output_size,
                pool=pool,
                kernel_size=kernel_size,
                ceil_mode=ceil_mode,
                as_json=as_json,
                backward=backward,
            )
            return

        options = conv_options(stride or "1", padding, dilation, groups, padding_mode)
        if (input_file is None) != (kernel_file is None):
            raise OptionError(_("give both INPUT and KERNEL files, or neither"))
        if input_file is not None and kernel_file is not None:
            if input_shape or kernel_shape:
                raise OptionError(
                    _("give either INPUT KERNEL files or --input-shape/--kernel-shape")
                )
            check_stdin_once([input_file, kernel_file])
            in_shape = shape_of(input_file, "input")
            k_shape = shape_of(kernel_file, "kernel")
        else:
            in_shape = option(
                "--input-shape", lambda t: parse_shape(t, ndims=(2, 3, 4)), input_shape or "2x3x3"
            )
            k_shape = option(
                "--kernel-shape",
                lambda t: parse_shape(t, ndims=(2, 3, 4)),
                kernel_shape or "3x2x2x2",
            )
        assumed = ""
        if input_file is None and (input_shape is None) != (kernel_shape is None):
            missing, lesson = (
                ("--kernel-shape", _("3x2x2x2 kernel"))
                if kernel_shape is None
                else ("--input-shape", _("2x3x3 input"))
            )
            assumed = _("no {missing}: the lesson's {lesson} was assumed").format(
                missing=missing, lesson=lesson
            )
        try:
            explained = explain_shapes(in_shape, k_shape, bias=bias, options=options)
        except ShapeError as err:
            if not assumed:
                raise
            raise err.with_suffix(
                _("({assumed}; give {missing})").format(assumed=assumed, missing=missing)
            ) from None
        if assumed:
            say(_("note: {message}").format(message=assumed))
        if vary is not None:
            _show_vary(explained.layer, vary, as_json=as_json)
            return
        if as_json:
            payload = shapes_payload(explained)
            if backward:
                from convcli.render.cost import backward_payload
                from convcli.shapes.cost import training_cost

                payload.update(backward_payload(training_cost(explained.layer)))
            show_json(payload)
            return
        report = shapes_report(explained)
        if backward:
            from convcli.render.cost import backward_report
            from convcli.shapes.cost import training_cost

            report.extend(backward_report(training_cost(explained.layer)))
        show(*report)


def _show_vary(layer: LayerShapes, text: str, *, as_json: bool) -> None:
    """``shapes --vary NAME=V1,V2,...``: parsed here, varied in ``vary_layer``."""
    from convcli.render.cost import vary_payload, vary_report
    from convcli.shapes.cost import VARY_NAMES, vary_layer

    name, _sep, listed = text.partition("=")
    name = name.strip()
    if not set(name.split("+")) <= set(VARY_NAMES) or not listed.strip():
        raise OptionError(
            _("--vary: expected NAME=V1,V2,... with NAME one of {names}, got {text!r}").format(
                names=", ".join(VARY_NAMES), text=text
            )
        )
    values = [whole("--vary", part, minimum=0) for part in listed.split(",")]
    with naming("--vary"):
        rows = vary_layer(layer, name, values)
    if as_json:
        show_json(vary_payload(name, rows))
        return
    show(*vary_report(name, rows))


@app.command()
def explain(
    input_file: InputArg,
    kernel_file: KernelArg,
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            metavar="POS",
            help="Output position: i,j (2-D/3-D kernel), n,i,j (3-D kernel, batched input), "
            "o,i,j (4-D kernel) or n,o,i,j (batched). Default: the first, 0,0 (or 0,0,0 ...).",
        ),
    ] = None,
    bias_file: BiasOpt = None,
    stride: StrideOpt = "1",
    padding: PaddingOpt = "0",
    dilation: DilationOpt = "1",
    groups: GroupsOpt = "1",
    padding_mode: PaddingModeOpt = "zeros",
    flip: FlipOpt = False,
    full: Annotated[
        bool, typer.Option("--full", help="Show every channel and every value.")
    ] = False,
    as_json: JsonOpt = False,
    max_memory: MaxMemoryOpt = None,
    transposed: TransposedOpt = False,
    output_padding: OutputPaddingOpt = None,
    output_size: OutputSizeOpt = None,
    input_layout: InputLayoutOpt = "nchw",
    kernel_layout: KernelLayoutOpt = "oihw",
) -> None:
    """Show where one output value comes from, number by number.

    For each input channel (of the output channel's group): the window of the
    (padded) input under the kernel, the kernel slice, their elementwise products and
    the channel's sum; then the total, + bias, = the value convcli run prints there.
    The kernel is read by its rank, as run --mode auto reads it.

    \b
    Examples:
      convcli explain samples/lesson_X.json samples/lesson_K_multi_in.json --at 0,0
      convcli explain samples/lesson_X.json samples/lesson_K_multi_out.json --at 2,1,1 \\
          --bias samples/lesson_bias.json
      convcli explain samples/lesson_X.json samples/lesson_K_multi_in.json --at 0,0 \\
          -p 1 --padding-mode reflect --flip --json
      convcli explain x.npy w.npy --transposed --stride 2 --at 0,3,2

    --transposed: which input values and kernel taps reach the output (each input value
    stamps the kernel), and the same sum as a window of the zero-inserted input under
    the flipped kernel. Pooling: convcli pool ... --at POS.
    """
    with guard(), option_words():
        chosen = layouts(input_layout, kernel_layout)
        if wants_transposed(transposed, output_padding, output_size):
            from convcli.cli.layers import explain_transposed_command, transposed_options

            if padding_mode != "zeros" or flip:
                raise OptionError(_("--transposed has no --padding-mode or --flip"))
            explain_transposed_command(
                input_file,
                kernel_file,
                bias_file,
                transposed_options(stride, padding, dilation, groups, output_padding, output_size),
                at=at,
                full=full,
                as_json=as_json,
                max_memory=max_memory,
                layouts=chosen,
            )
            note_layouts(chosen, None, None)
            return
        from convcli.ops.explain import explain_output
        from convcli.render.teach import explain_payload, explain_report
        from convcli.shapes.parsing import parse_position

        options = conv_options(stride, padding, dilation, groups, padding_mode, flip)
        given = None if at is None else option("--at", parse_position, at)
        budget = memory_budget(max_memory)

        def sizing(infos: Sequence[TensorInfo | None]) -> None:
            from convcli.ops.budget import check_budget, estimate_explain

            x_info, k_info, b_info = infos
            if x_info is None or k_info is None:
                return
            estimate = estimate_explain(
                *x_info,
                *k_info,
                *(b_info or (None, None)),
                groups=options.groups,
                as_json=as_json,
                full=full,
            )
            check_budget(estimate, budget)

        x, kernel, bias = load_checked((input_file, kernel_file, bias_file), budget, sizing, chosen)
        assert x is not None and kernel is not None
        if given is None:
            from convcli.shapes.axes import output_axes

            position = first_position(len(output_axes(x.ndim, kernel.ndim)))
        else:
            position = given
        with naming("--at", PositionError):
            explained = explain_output(x, kernel, bias, position, options)
        if as_json:
            show_json(explain_payload(explained))
        else:
            show(*explain_report(explained, full=full))
        note_layouts(chosen, x.shape, kernel.shape)
