"""`convcli draw`: the convolution drawn step by step, as a picture or an animation."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer

from convcli.cli._app import app, guard, say, shown
from convcli.cli._common import (
    BiasOpt,
    DilationOpt,
    FlipOpt,
    ForceOpt,
    GroupsOpt,
    InputLayoutOpt,
    KernelLayoutOpt,
    MaxMemoryOpt,
    PaddingModeOpt,
    PaddingOpt,
    TensorInfo,
    conv_options,
    held_files,
    layouts,
    memory_budget,
    naming,
    note_layouts,
    option,
    publish,
    whole,
)
from convcli.cli._loading import load_checked
from convcli.cli._wording import option_words
from convcli.errors import OptionError
from convcli.i18n import _, ngettext

if TYPE_CHECKING:
    from convcli.draw.layout import Figure
    from convcli.shapes.layout import Layouts

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
    stride: Annotated[
        str | None,
        typer.Option(
            "--stride", "-s", metavar="S", help="N or H,W (>= 1); pooling: the window's by default."
        ),
    ] = None,
    padding: PaddingOpt = "0",
    dilation: DilationOpt = "1",
    groups: GroupsOpt = "1",
    padding_mode: PaddingModeOpt = "zeros",
    flip: FlipOpt = False,
    transposed: Annotated[
        bool,
        typer.Option(
            "--transposed",
            help="Transposed convolution (kernel KHxKW or c_i x c_o/g x KH x KW), drawn as the "
            "direct convolution over the input with zeros inserted.",
        ),
    ] = False,
    output_padding: Annotated[
        str,
        typer.Option(
            "--output-padding",
            metavar="OP",
            help="--transposed: extra rows/columns at the "
            "bottom/right, N or H,W (< stride or dilation).",
        ),
    ] = "0",
    scatter: Annotated[
        bool,
        typer.Option(
            "--scatter",
            help="--transposed: draw the scatter view instead (each input value stamps the "
            "kernel; one frame per input cell).",
        ),
    ] = False,
    pool: Annotated[
        str | None,
        typer.Option("--pool", metavar="KIND", help="Draw max or avg pooling instead."),
    ] = None,
    kernel_size: Annotated[
        str | None,
        typer.Option("--kernel-size", "-k", metavar="K", help="--pool: the window, N or H,W."),
    ] = None,
    ceil_mode: Annotated[
        bool,
        typer.Option("--ceil-mode", help="--pool: round the output size up (PyTorch's ceil_mode)."),
    ] = False,
    count_include_pad: Annotated[
        bool | None,
        typer.Option(
            "--count-include-pad/--no-count-include-pad",
            help="--grad --pool avg: divide by the window including the padding (PyTorch's "
            "default) or only by the input cells it covers.",
            show_default=False,
        ),
    ] = None,
    divisor_override: Annotated[
        str | None,
        typer.Option(
            "--divisor-override", metavar="N", help="--grad --pool avg: divide every sum by N."
        ),
    ] = None,
    output_size: Annotated[
        str | None,
        typer.Option(
            "--output-size",
            metavar="H,W",
            help="--grad --pool adaptive-max or adaptive-avg: the output size, N or H,W.",
        ),
    ] = None,
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            metavar="POS",
            help="Draw this step only: an output cell i,j / o,i,j / n,o,i,j (with --scatter: an "
            "input cell); a .gif then has one frame.",
        ),
    ] = None,
    grad: Annotated[
        bool,
        typer.Option(
            "--grad",
            help="Draw the backward pass instead: where one input cell's gradient comes from "
            "(the outputs that read it, the taps they used; --at: the input cell). Needs "
            "INPUT KERNEL files (--transposed too); with --pool KIND (max, avg, adaptive-max, "
            "adaptive-avg) an INPUT file: the windows that route gradient to the cell. A .gif "
            "has one frame per input cell.",
        ),
    ] = False,
    force: ForceOpt = False,
    max_memory: MaxMemoryOpt = None,
    input_layout: InputLayoutOpt = "nchw",
    kernel_layout: KernelLayoutOpt = "oihw",
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
      convcli draw --transposed --input-shape 2x2 --kernel-shape 3x3 --stride 2 --output up.gif
      convcli draw --transposed --scatter --input-shape 2x2 --kernel-shape 3x3 -s 2 -o sc.gif
      convcli draw --pool max --input-shape 4x4 --kernel-size 2 --output pool.gif
      convcli draw --pool avg --input-shape 5x5 --kernel-size 2 -p 1 --ceil-mode -o ceil.png
      convcli draw samples/lesson_X.json samples/lesson_K_multi_in.json --grad --at 0,1,1 \\
          --output grad.svg
      convcli draw x.npy w.npy --grad --transposed -s 2 -p 1 --at 0,1,1 -o gradT.png
      convcli draw samples/lesson_X.json --grad --pool max -k 2 -s 1 --at 0,1,1 -o gmax.png
    """
    with guard(prints=False), option_words():
        from convcli.draw.output import PICTURE_SUFFIXES, is_animation, write_figures
        from convcli.shapes.parsing import parse_position
        from convcli.tensorio.files import check_output_path

        if not output:
            raise OptionError(_("--output FILE is required: a .svg, .png or .gif to write"))
        files = [spec for spec in (input_file, kernel_file, bias_file) if spec not in (None, "-")]
        check_output_path(output, force=force, inputs=files, suffixes=PICTURE_SUFFIXES)
        if output.lower().endswith((".png", ".gif")):
            from convcli.draw.deps import require

            require("PIL", "Pillow")
        position = None if at is None else option("--at", parse_position, at)
        animate = is_animation(output)
        _check_applies(
            pool=pool,
            transposed=transposed,
            given={
                "--output-padding": output_padding not in ("0", "0,0"),
                "--scatter": scatter,
                "--kernel-size": kernel_size is not None,
                "--ceil-mode": ceil_mode,
                "--count-include-pad": count_include_pad is not None,
                "--divisor-override": divisor_override is not None,
                "--output-size": output_size is not None,
                "KERNEL": kernel_file is not None,
                "--kernel-shape": kernel_shape is not None,
                "--bias": bias_file is not None,
                "--groups": whole("--groups", groups, minimum=1) != 1,
                "--padding-mode": padding_mode != "zeros",
                "--flip": flip,
                "--dilation": dilation.strip() not in ("1", "1,1") and pool == "avg",
            },
        )
        budget = memory_budget(max_memory)
        chosen = layouts(input_layout, kernel_layout)
        if not chosen.default and input_file is None:
            raise OptionError(_("--input-layout and --kernel-layout are for tensor files"))
        figures: Sequence[Figure]
        if not grad and (count_include_pad, divisor_override, output_size) != (None, None, None):
            raise OptionError(
                _(
                    "--count-include-pad, --divisor-override and --output-size draw the "
                    "backward pass of pooling: add --grad"
                )
            )
        if grad:
            if scatter:
                raise OptionError(_("--scatter draws the forward pass: not with --grad"))
            if pool is not None:
                from convcli.cli.layers import pool_options
                from convcli.shapes.pooling import POOL_KINDS

                if pool not in POOL_KINDS:
                    raise OptionError(
                        _("--pool: expected one of {kinds}, got {kind!r}").format(
                            kinds=", ".join(POOL_KINDS), kind=pool
                        )
                    )
                figures = _pool_grad_figures(
                    input_file, input_shape,
                    pool_options(
                        pool, kernel_size, stride, padding, dilation, ceil_mode,
                        count_include_pad, divisor_override, output_size, kind_flag="--pool",
                    ),
                    position, animate, budget, chosen,
                )  # fmt: skip
            else:
                grad_opts: object
                if transposed:
                    from convcli.cli.layers import transposed_options

                    grad_opts = transposed_options(
                        stride or "1", padding, dilation, groups, output_padding, None
                    )
                else:
                    grad_opts = conv_options(
                        stride or "1", padding, dilation, groups, padding_mode, flip
                    )
                figures = _grad_figures(
                    input_file, kernel_file, bias_file, grad_opts, position, animate, budget,
                    chosen,
                )  # fmt: skip
        elif pool is not None:
            figures = _pool_figures(
                pool, input_file, input_shape, kernel_size, stride, padding, dilation, ceil_mode,
                position, animate, budget, chosen,
            )  # fmt: skip
        elif transposed:
            figures = _transposed_figures(
                input_file, kernel_file, bias_file, input_shape, kernel_shape,
                (stride or "1", padding, output_padding, dilation, groups), scatter, position,
                animate, budget, chosen,
            )  # fmt: skip
        else:
            options = conv_options(stride or "1", padding, dilation, groups, padding_mode, flip)
            figures = _conv_figures(
                input_file, kernel_file, bias_file, input_shape, kernel_shape, options, position,
                animate, budget, chosen,
            )  # fmt: skip
        with held_files() as held:
            write_figures(
                output,
                figures,
                force=force,
                inputs=files,
                title=figures[0].title[0],
                budget=budget,
            )
            publish(held)  # nothing to print on stdout: the picture goes into place
        if animate:
            steps = ngettext("{n} frame", "{n} frames", len(figures)).format(n=len(figures))
        else:
            steps = _("one step")
        say(_("wrote {file} ({steps})").format(file=shown(output), steps=steps))
        note_layouts(chosen, None, None)


def _conv_figures(
    input_file: str | None,
    kernel_file: str | None,
    bias_file: str | None,
    input_shape: str | None,
    kernel_shape: str | None,
    options: object,
    position: tuple[int, ...] | None,
    animate: bool,
    budget: int,
    chosen: Layouts,
) -> Sequence[Figure]:
    from convcli.draw.conv import ConvProblem, conv_figures, plan_conv
    from convcli.errors import PositionError
    from convcli.shapes.options import ConvOptions
    from convcli.shapes.parsing import parse_shape

    assert isinstance(options, ConvOptions)
    from_files = input_file is not None or kernel_file is not None
    if from_files and (input_shape or kernel_shape):
        raise OptionError(_("give either INPUT KERNEL files or --input-shape/--kernel-shape"))
    with naming("--at", PositionError):
        if from_files:
            if input_file is None or kernel_file is None:
                raise OptionError(_("give both INPUT and KERNEL files"))
            x, kernel, bias = _load(
                (input_file, kernel_file, bias_file),
                budget,
                chosen,
                lambda x_shape, k_shape: plan_conv(
                    ConvProblem(x_shape, k_shape, options), position, animate=animate
                ),
            )
            problem = ConvProblem(x.shape, kernel.shape, options, x, kernel, bias)
        else:
            if bias_file is not None:
                raise OptionError(_("--bias needs INPUT and KERNEL files (values)"))
            if not input_shape or not kernel_shape:
                raise OptionError(
                    _(
                        "give INPUT KERNEL files, or --input-shape and --kernel-shape (e.g. 5x5 "
                        "and 3x3)"
                    )
                )
            problem = ConvProblem(
                option("--input-shape", lambda t: parse_shape(t, ndims=(2, 3, 4)), input_shape),
                option("--kernel-shape", lambda t: parse_shape(t, ndims=(2, 3, 4)), kernel_shape),
                options,
            )
        return conv_figures(problem, position, animate=animate)


def _grad_figures(
    input_file: str | None,
    kernel_file: str | None,
    bias_file: str | None,
    options: Any,
    position: tuple[int, ...] | None,
    animate: bool,
    budget: int,
    chosen: Layouts,
) -> list[Figure]:
    from convcli.draw.grad import grad_figures
    from convcli.errors import PositionError
    from convcli.shapes.transposed import TransposedOptions

    if input_file is None or kernel_file is None:
        raise OptionError(_("--grad needs INPUT and KERNEL files (the gradient's values)"))

    def plan(x_shape: tuple[int, ...], k_shape: tuple[int, ...]) -> None:
        from convcli.ops.grad import grad_output_shape

        if isinstance(options, TransposedOptions):
            from convcli.cli.layers import resolve_output_padding
            from convcli.ops.transposed import check_transposed_kernel

            check_transposed_kernel(k_shape)
            resolve_output_padding(x_shape, k_shape, options)
        grad_output_shape(x_shape, k_shape, options)  # shapes that form no layer: refused

    x, kernel, bias = _load((input_file, kernel_file, bias_file), budget, chosen, plan)
    if isinstance(options, TransposedOptions):
        from convcli.cli.layers import resolve_output_padding
        from convcli.ops.transposed import check_transposed_kernel

        check_transposed_kernel(kernel.shape)
        options = resolve_output_padding(x.shape, kernel.shape, options)
    with naming("--at", PositionError):
        return grad_figures(x, kernel, bias, options, position, animate=animate)


def _pool_grad_figures(
    input_file: str | None,
    input_shape: str | None,
    options: Any,
    position: tuple[int, ...] | None,
    animate: bool,
    budget: int,
    chosen: Layouts,
) -> list[Figure]:
    import numpy as np

    from convcli.draw.grad_pool import pool_grad_figures
    from convcli.errors import PositionError
    from convcli.ops.pooling import plan_pool

    if input_file is None or input_shape is not None:
        raise OptionError(_("--grad --pool needs an INPUT file (max pooling's winners)"))

    def plan(x_shape: tuple[int, ...], _kernel: tuple[int, ...]) -> None:
        plan_pool(
            x_shape, np.dtype(np.float64), options.kind, kernel_size=options.kernel_size,
            stride=options.stride, padding=options.padding, dilation=options.dilation,
            ceil_mode=options.ceil_mode, output_size=options.output_size,
        )  # fmt: skip

    x, _kernel, _bias = _load((input_file, None, None), budget, chosen, plan)
    with naming("--at", PositionError):
        return pool_grad_figures(x, options, position, animate=animate)


def _load(
    specs: tuple[str, str | None, str | None],
    budget: int,
    chosen: Layouts,
    plan: Callable[[tuple[int, ...], tuple[int, ...]], object],
) -> tuple[Any, Any, Any]:
    """The input, kernel and bias through the one checked sequence: every header (and
    JSON text) budgeted, and the drawing planned from the shapes (its frame and cell
    limits), before any tensor data is read."""

    def check(infos: Sequence[TensorInfo | None]) -> None:
        x, kernel = infos[0], infos[1]
        if x is not None and (kernel is not None or specs[1] is None):
            plan(x[0], () if kernel is None else kernel[0])

    x, kernel, bias = load_checked(specs, budget, check, chosen)
    return x, kernel, bias


# Which options each kind of drawing takes (the others are refused, not ignored).
_APPLIES = {
    "conv": {"KERNEL", "--kernel-shape", "--bias", "--groups", "--padding-mode", "--flip"},
    "transposed": {
        "KERNEL", "--kernel-shape", "--bias", "--groups", "--output-padding", "--scatter",
    },
    "pool": {
        "--kernel-size", "--ceil-mode", "--count-include-pad", "--divisor-override",
        "--output-size",
    },
}  # fmt: skip


def _check_applies(*, pool: str | None, transposed: bool, given: dict[str, bool]) -> None:
    if pool is not None and transposed:
        raise OptionError(_("--pool and --transposed: choose one"))
    kind = "pool" if pool is not None else ("transposed" if transposed else "conv")
    for name, present in given.items():
        if present and name not in _APPLIES[kind]:
            if name == "--dilation":
                raise OptionError(_("--dilation: average pooling has none (max pooling has)"))
            needs = [k for k, names in _APPLIES.items() if name in names]
            flags = {"pool": "--pool", "transposed": "--transposed", "conv": "a convolution"}
            raise OptionError(
                _("{name} applies to {or_join_flags_k_for_k_in_needs} only").format(
                    name=name, or_join_flags_k_for_k_in_needs=" or ".join(flags[k] for k in needs)
                )
            )


def _pool_figures(
    kind: str,
    input_file: str | None,
    input_shape: str | None,
    kernel_size: str | None,
    stride: str | None,
    padding: str,
    dilation: str,
    ceil_mode: bool,
    position: tuple[int, ...] | None,
    animate: bool,
    budget: int,
    chosen: Layouts,
) -> Sequence[Figure]:
    from convcli.draw.pool import POOL_KINDS, PoolProblem, plan_pool_drawing, pool_figures
    from convcli.errors import PositionError
    from convcli.shapes.parsing import parse_int_or_pair, parse_shape

    if kind not in POOL_KINDS:
        raise OptionError(_("--pool: expected max or avg, got {kind!r}").format(kind=kind))
    if kernel_size is None:
        raise OptionError(_("--pool needs --kernel-size K (the window, N or H,W)"))
    window = option("--kernel-size", lambda t: parse_int_or_pair(t, minimum=1), kernel_size)
    steps = (
        None
        if stride is None
        else option("--stride", lambda t: parse_int_or_pair(t, minimum=1), stride)
    )
    pad = option("--padding", lambda t: parse_int_or_pair(t, minimum=0), padding)
    dil = option("--dilation", lambda t: parse_int_or_pair(t, minimum=1), dilation)
    if (input_file is None) == (input_shape is None):
        raise OptionError(_("--pool: give an INPUT file or --input-shape (e.g. 4x4), one of them"))
    with naming("--at", PositionError):
        if input_file is not None:
            x, _kernel, _bias = _load(
                (input_file, None, None),
                budget,
                chosen,
                lambda x_shape, _: plan_pool_drawing(
                    PoolProblem(kind, x_shape, window, steps, pad, dil, ceil_mode),
                    position,
                    animate=animate,
                ),
            )
            problem = PoolProblem(kind, x.shape, window, steps, pad, dil, ceil_mode, x)
        else:
            text = input_shape or ""
            shape = option("--input-shape", lambda t: parse_shape(t, ndims=(2, 3, 4)), text)
            problem = PoolProblem(kind, shape, window, steps, pad, dil, ceil_mode)
        return pool_figures(problem, position, animate=animate)


def _transposed_figures(
    input_file: str | None,
    kernel_file: str | None,
    bias_file: str | None,
    input_shape: str | None,
    kernel_shape: str | None,
    settings: tuple[str, str, str, str, str],
    scatter: bool,
    position: tuple[int, ...] | None,
    animate: bool,
    budget: int,
    chosen: Layouts,
) -> Sequence[Figure]:
    from convcli.draw.transposed import (
        TransposedProblem,
        plan_transposed_drawing,
        transposed_figures,
    )
    from convcli.errors import PositionError
    from convcli.shapes.parsing import parse_int_or_pair, parse_shape

    stride_text, padding_text, output_padding_text, dilation_text, groups_text = settings
    groups = whole("--groups", groups_text, minimum=1)
    stride = option("--stride", lambda t: parse_int_or_pair(t, minimum=1), stride_text)
    padding = option("--padding", lambda t: parse_int_or_pair(t, minimum=0), padding_text)
    output_padding = option(
        "--output-padding", lambda t: parse_int_or_pair(t, minimum=0), output_padding_text
    )
    dilation = option("--dilation", lambda t: parse_int_or_pair(t, minimum=1), dilation_text)

    def problem_of(shapes: tuple[tuple[int, ...], tuple[int, ...]], *tensors: Any) -> Any:
        x, weight, bias = (*tensors, None, None, None)[:3]
        return TransposedProblem(
            shapes[0], shapes[1], stride, padding, output_padding, dilation, groups, x, weight, bias
        )

    from_files = input_file is not None or kernel_file is not None
    if from_files and (input_shape or kernel_shape):
        raise OptionError(_("give either INPUT KERNEL files or --input-shape/--kernel-shape"))
    with naming("--at", PositionError):
        if from_files:
            if input_file is None or kernel_file is None:
                raise OptionError(_("give both INPUT and KERNEL files"))
            x, kernel, bias = _load(
                (input_file, kernel_file, bias_file),
                budget,
                chosen,
                lambda x_shape, k_shape: plan_transposed_drawing(
                    problem_of((x_shape, k_shape)), position, animate=animate, scatter=scatter
                ),
            )
            problem = problem_of((x.shape, kernel.shape), x, kernel, bias)
        else:
            if bias_file is not None:
                raise OptionError(_("--bias needs INPUT and KERNEL files (values)"))
            if not input_shape or not kernel_shape:
                raise OptionError(
                    _(
                        "give INPUT KERNEL files, or --input-shape and --kernel-shape (e.g. 2x2 "
                        "and 3x3)"
                    )
                )
            problem = problem_of(
                (
                    option("--input-shape", lambda t: parse_shape(t, ndims=(2, 3, 4)), input_shape),
                    option("--kernel-shape", lambda t: parse_shape(t, ndims=(2, 4)), kernel_shape),
                )
            )
        return transposed_figures(problem, position, animate=animate, scatter=scatter)
