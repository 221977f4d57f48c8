"""`convcli draw`: the convolution drawn step by step, as a picture or an animation."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from convcli.cli._app import app, guard, say, shown
from convcli.cli._common import (
    BiasOpt,
    DilationOpt,
    FlipOpt,
    GroupsOpt,
    PaddingModeOpt,
    PaddingOpt,
    StrideOpt,
    check_stdin_once,
    conv_options,
    load,
    option,
    shape_of,
)
from convcli.errors import OptionError

if TYPE_CHECKING:
    from convcli.draw.layout import Figure

PICTURE_HELP = "Picture to write: .svg or .png (one step), .gif (one frame per output cell)."


@app.command()
def draw(
    input_file: Annotated[
        str | None,
        typer.Argument(metavar="[INPUT]", help="Input tensor file (cells show its values)."),
    ] = None,
    kernel_file: Annotated[
        str | None, typer.Argument(metavar="[KERNEL]", help="Kernel tensor file.")
    ] = None,
    output: Annotated[str, typer.Option("--output", "-o", metavar="FILE", help=PICTURE_HELP)] = "",
    input_shape: Annotated[
        str | None,
        typer.Option(
            "--input-shape", metavar="SHAPE", help="Without files: HxW, CxHxW or NxCxHxW."
        ),
    ] = None,
    kernel_shape: Annotated[
        str | None,
        typer.Option(
            "--kernel-shape", metavar="SHAPE", help="Without files: KHxKW, CxKHxKW or OxCxKHxKW."
        ),
    ] = None,
    bias_file: BiasOpt = None,
    stride: StrideOpt = "1",
    padding: PaddingOpt = "0",
    dilation: DilationOpt = "1",
    groups: GroupsOpt = 1,
    padding_mode: PaddingModeOpt = "zeros",
    flip: FlipOpt = False,
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            metavar="POS",
            help="Draw the step of this output cell only (i,j / o,i,j / n,o,i,j); "
            "a .gif then has one frame.",
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing --output.")] = False,
) -> None:
    """Draw a convolution: the padded input, the kernel's window, the output filling in.

    From shapes alone (--input-shape, --kernel-shape) or from tensor files, whose
    values, products, per-channel sums and output value the cells then show. Every
    option of run that changes the geometry is drawn. Titles give the configuration
    and the output size with the formula's numbers.

    \b
    .svg needs no extra library; .png and .gif need Pillow: pip install 'convcli[draw]'.

    \b
    Examples:
      convcli draw --input-shape 5x5 --kernel-shape 3x3 --stride 2 --padding 1 --output conv.gif
      convcli draw samples/lesson_X.json samples/lesson_K_multi_in.json --at 0,0 --output step.svg
      convcli draw --input-shape 7x7 --kernel-shape 3x3 --dilation 2 --output dilated.png
      convcli draw samples/lesson_X.json samples/lesson_K_multi_in.json -p 1 \\
          --padding-mode reflect --at 0,0 --output reflect.svg
    """
    with guard():
        from convcli.draw.output import PICTURE_SUFFIXES, is_animation, write_figures
        from convcli.shapes.parsing import parse_position
        from convcli.tensorio.files import check_output_path

        if not output:
            raise OptionError("--output FILE is required: a .svg, .png or .gif to write")
        files = [spec for spec in (input_file, kernel_file, bias_file) if spec not in (None, "-")]
        check_output_path(output, force=force, inputs=files, suffixes=PICTURE_SUFFIXES)
        if output.lower().endswith((".png", ".gif")):
            from convcli.draw.deps import require

            require("PIL", "Pillow")
        position = None if at is None else option("--at", parse_position, at)
        options = conv_options(stride, padding, dilation, groups, padding_mode, flip)
        animate = is_animation(output)
        figures = _conv_figures(
            input_file,
            kernel_file,
            bias_file,
            input_shape,
            kernel_shape,
            options,
            position,
            animate,
        )
        write_figures(output, figures, force=force, inputs=files, title=figures[0].title[0])
        steps = f"{len(figures)} frames" if animate else "one step"
        say(f"wrote {shown(output)} ({steps})")


def _conv_figures(
    input_file: str | None,
    kernel_file: str | None,
    bias_file: str | None,
    input_shape: str | None,
    kernel_shape: str | None,
    options: object,
    position: tuple[int, ...] | None,
    animate: bool,
) -> list[Figure]:
    from convcli.draw.conv import ConvProblem, conv_figures, plan_conv
    from convcli.errors import PositionError
    from convcli.ops.modes import ConvOptions
    from convcli.shapes.parsing import parse_shape

    assert isinstance(options, ConvOptions)
    from_files = input_file is not None or kernel_file is not None
    if from_files and (input_shape or kernel_shape):
        raise OptionError("give either INPUT KERNEL files or --input-shape/--kernel-shape")
    try:
        if from_files:
            if input_file is None or kernel_file is None:
                raise OptionError("give both INPUT and KERNEL files")
            check_stdin_once([input_file, kernel_file, bias_file])
            shapes = (shape_of(input_file, "input"), shape_of(kernel_file, "kernel"))
            plan_conv(ConvProblem(*shapes, options), position, animate=animate)
            x, kernel = load(input_file, "input"), load(kernel_file, "kernel")
            bias = None if bias_file is None else load(bias_file, "bias")
            problem = ConvProblem(x.shape, kernel.shape, options, x, kernel, bias)
        else:
            if bias_file is not None:
                raise OptionError("--bias needs INPUT and KERNEL files (values)")
            if not input_shape or not kernel_shape:
                raise OptionError(
                    "give INPUT KERNEL files, or --input-shape and --kernel-shape "
                    "(e.g. 5x5 and 3x3)"
                )
            problem = ConvProblem(
                option("--input-shape", lambda t: parse_shape(t, ndims=(2, 3, 4)), input_shape),
                option("--kernel-shape", lambda t: parse_shape(t, ndims=(2, 3, 4)), kernel_shape),
                options,
            )
        return conv_figures(problem, position, animate=animate)
    except PositionError as err:
        raise err.with_context("--at") from None
