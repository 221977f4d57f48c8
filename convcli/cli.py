"""The ``convcli`` command line: parse options, call the core and I/O, hand results to rendering.

Errors become exit codes here and only here: 0 success, 1 a check disagreed, 2 a usage
or input error, 70 an internal error (traceback with ``--debug``), 130 interrupted.
Heavy modules (numpy, rich) are imported inside the commands that need them, so
``convcli --help`` starts fast.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer
from typer.core import TyperGroup

from convcli import __version__

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    from rich.console import Console

    from convcli.modes import ConvOptions
    from convcli.render import Renderable

EXIT_OK, EXIT_DISAGREE, EXIT_USAGE, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 70, 130
_STATE = {"debug": False}
T = TypeVar("T")


class _OneLineErrors(TyperGroup):
    """Click's usage errors as one line on stderr, exit 2; everything else as typer does."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            code = super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        except Exception as err:
            if not (hasattr(err, "format_message") and hasattr(err, "exit_code")):
                raise
            ctx = getattr(err, "ctx", None)
            hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
            _say(f"error: {err.format_message()}{hint}")
            code = err.exit_code
        if not standalone_mode:
            return code
        sys.exit(code if isinstance(code, int) else EXIT_OK)


app = typer.Typer(
    cls=_OneLineErrors,
    name="convcli",
    help="A calculator for multi-channel 2-D convolution with PyTorch's exact semantics.",
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _say(message: str) -> None:
    """One line on stderr: messages never spread over several lines."""
    sys.stderr.write("convcli: " + " ".join(message.split()) + "\n")
    sys.stderr.flush()


def _shown(name: str) -> str:
    """A file name as printed: quoted when it holds line breaks or other control characters."""
    return name if name.isprintable() else repr(name)


def _fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    _say(message)
    raise typer.Exit(code)


@contextmanager
def _guard() -> Iterator[None]:
    """Turn domain errors into exit codes; hide tracebacks unless ``--debug``."""
    try:
        yield
    except typer.Exit:
        raise
    except ValueError as err:
        _fail(f"error: {err}")
    except KeyboardInterrupt:
        _fail("interrupted", EXIT_INTERRUPTED)
    except MemoryError:
        _fail("error: not enough memory for this run")
    except Exception as err:
        if _STATE["debug"]:
            traceback.print_exc()
        _fail(
            f"internal error ({type(err).__name__}: {err}); please report it with the command "
            "you ran (rerun with --debug for the traceback)",
            EXIT_INTERNAL,
        )


def _option(name: str, parse: Callable[[str], T], text: str) -> T:
    try:
        return parse(text)
    except ValueError as err:
        raise ValueError(f"{name}: {err}") from None


def _conv_options(
    stride: str,
    padding: str,
    dilation: str,
    groups: int,
    padding_mode: str = "zeros",
    flip: bool = False,
) -> ConvOptions:
    from convcli.modes import ConvOptions
    from convcli.options import parse_int_or_pair, parse_padding
    from convcli.padding import PADDING_MODES

    if groups < 1:
        raise ValueError(f"--groups: must be >= 1, got {groups}")
    if padding_mode not in PADDING_MODES:
        raise ValueError(
            f"--padding-mode: expected one of {', '.join(PADDING_MODES)}, got {padding_mode!r}"
        )
    return ConvOptions(
        stride=_option("--stride", lambda t: parse_int_or_pair(t, minimum=1), stride),
        padding=_option("--padding", parse_padding, padding),
        dilation=_option("--dilation", lambda t: parse_int_or_pair(t, minimum=1), dilation),
        groups=groups,
        padding_mode=padding_mode,
        flip=flip,
    )


def _stdout() -> Console:
    from convcli.render import make_console

    return make_console()


def _print(*renderables: Renderable) -> None:
    console = _stdout()
    for renderable in renderables:
        console.print(renderable)


def _print_json(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload, allow_nan=False) + "\n")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"convcli {__version__}")
        raise typer.Exit(EXIT_OK)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the traceback of an internal error.")
    ] = False,
) -> None:
    """Compute, check and explain multi-channel 2-D convolutions.

    \b
    Examples:
      convcli demo
      convcli run samples/lesson_X.json samples/lesson_K_multi_out.json
      convcli shapes --input-shape 1x28x28 --kernel-shape 10x1x5x5
    """
    _STATE["debug"] = debug or os.environ.get("CONVCLI_DEBUG", "") not in ("", "0")


# Options shared by the commands that convolve.
StrideOpt = Annotated[str, typer.Option("--stride", "-s", help="N or H,W (>= 1).")]
PaddingOpt = Annotated[
    str, typer.Option("--padding", "-p", help="N, H,W, 'same' (stride 1) or 'valid'.")
]
DilationOpt = Annotated[str, typer.Option("--dilation", "-d", help="N or H,W (>= 1).")]
GroupsOpt = Annotated[
    int, typer.Option("--groups", "-g", help="Channel groups; must divide c_i and c_o.")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print only a JSON object to stdout.")]
MaxMemoryOpt = Annotated[
    str | None,
    typer.Option(
        "--max-memory",
        metavar="SIZE",
        help="Refuse a run estimated to need more memory: 512M, 2G, 1.5GiB or bytes "
        "(default: half the available RAM).",
    ),
]
PaddingModeOpt = Annotated[
    str,
    typer.Option(
        "--padding-mode",
        help="zeros | reflect | replicate | circular: how the padding is filled (PyTorch's).",
    ),
]
FlipOpt = Annotated[
    bool,
    typer.Option(
        "--flip", help="True convolution: rotate the kernel 180 degrees (scipy's convolve2d)."
    ),
]


def _load(spec: str, role: str) -> npt.NDArray[np.generic]:
    from convcli.tensorio import load_tensor

    try:
        return load_tensor(spec)
    except ValueError as err:
        raise ValueError(f"{role} {err}") from None


def _check_stdin_once(specs: Sequence[str | None]) -> None:
    if sum(spec == "-" for spec in specs) > 1:
        raise ValueError("only one tensor can be read from stdin ('-')")


TensorInfo = tuple[tuple[int, ...], "np.dtype[Any]"]


def _peek(spec: str | None, role: str) -> TensorInfo | None:
    """Shape and dtype from a file's header, before any data is read (None: not known)."""
    from convcli.tensorio import peek_tensor

    if spec is None:
        return None
    try:
        return peek_tensor(spec)
    except ValueError as err:
        raise ValueError(f"{role} {err}") from None


def _shape_of(spec: str, role: str) -> tuple[int, ...]:
    """A tensor's shape: from the header of a .npy/.npz file (no data read), else loaded."""
    info = _peek(spec, role)
    return info[0] if info is not None else _load(spec, role).shape


def _budget(text: str | None) -> int:
    from convcli.budget import default_budget, parse_size

    return default_budget() if text is None else _option("--max-memory", parse_size, text)


def _check_memory(
    budget: int,
    tensors: Sequence[TensorInfo | None],
    options: ConvOptions,
    *,
    results: int = 1,
    as_json: bool = False,
    unfolded: bool = False,
) -> None:
    """Refuse a run over the memory budget, from the (input, kernel, bias) shapes alone.

    Called with the headers' shapes before loading, and with the loaded tensors' (JSON
    has no header) before computing; unknown shapes are checked at the second call.
    """
    from convcli.budget import check_budget, estimate_run

    x, kernel, bias = (*tensors, None)[:3]
    if x is None or kernel is None:
        return
    try:
        estimate = estimate_run(
            x[0],
            x[1],
            kernel[0],
            kernel[1],
            None if bias is None else bias[0],
            None if bias is None else bias[1],
            stride=options.stride,
            padding=options.padding,
            dilation=options.dilation,
            groups=options.groups,
            results=results,
            as_json=as_json,
            unfolded=unfolded,
            padding_mode=options.padding_mode,
        )
    except ValueError:
        return  # shapes that do not fit: the computation says why, in its own words
    check_budget(estimate, budget)


def _check_mixed_integers(*arrays: npt.NDArray[Any] | None) -> None:
    """Refuse integer inputs that numpy's promotion sends to float64 when sums could round.

    int64 with uint64 promotes to float64 (the core follows numpy): exact only while every
    partial sum stays below 2**53. Beyond that the result would be silently rounded.
    """
    import numpy as np

    from convcli.numerics import FLOAT64_EXACT

    present = [a for a in arrays if a is not None]
    if not all(a.dtype.kind in "biu" for a in present):
        return
    if np.result_type(*present).kind in "biu":
        return  # int64 accumulation, checked against overflow by the core
    largest = [max(abs(int(a.max())), abs(int(a.min()))) for a in present]
    # Every kernel value as a term: an upper bound on the terms of one output, any rank.
    bound = largest[0] * largest[1] * present[1].size + sum(largest[2:])
    if bound >= FLOAT64_EXACT:
        raise ValueError(
            f"int64 and uint64 inputs compute in float64, whose sums are exact only below "
            f"2**53 and could reach {bound} here: convert the inputs to one integer dtype "
            "(int64 if the values fit) or to float64 knowingly"
        )


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[int, int], None] | None]:
    """A progress callback drawing a bar on stderr once a run passes half a second.

    Only when stderr is a terminal: piped, redirected or ``--json`` runs get ``None``
    and compute in one piece. ``CONVCLI_PROGRESS_DELAY`` (seconds) moves the half second.
    """
    import time

    from convcli.render import make_console, make_progress

    console = make_console(stderr=True)
    if not (enabled and console.is_terminal):
        yield None
        return
    try:
        delay = float(os.environ.get("CONVCLI_PROGRESS_DELAY", "0.5"))
    except ValueError:
        delay = 0.5
    started = time.monotonic()
    shown: list[Any] = []

    def report(done: int, total: int) -> None:
        if not shown:
            if time.monotonic() - started < delay or done >= total:
                return
            bar = make_progress(console)
            bar.start()
            shown.extend((bar, bar.add_task("computing", total=total)))
        shown[0].update(shown[1], completed=done, total=total)

    try:
        yield report
    finally:
        if shown:
            shown[0].stop()


@app.command()
def run(
    input_file: Annotated[
        str, typer.Argument(metavar="INPUT", help="Input tensor: .npy, .npz[:NAME], .json or -.")
    ],
    kernel_file: Annotated[str, typer.Argument(metavar="KERNEL", help="Kernel tensor file.")],
    bias_file: Annotated[
        str | None, typer.Option("--bias", "-b", help="Bias file: one value per output channel.")
    ] = None,
    mode: Annotated[
        str, typer.Option("--mode", "-m", help="auto | multi-in | multi-out | 1x1.")
    ] = "auto",
    stride: StrideOpt = "1",
    padding: PaddingOpt = "0",
    dilation: DilationOpt = "1",
    groups: GroupsOpt = 1,
    padding_mode: PaddingModeOpt = "zeros",
    flip: FlipOpt = False,
    output: Annotated[
        str | None, typer.Option("--output", "-o", help="Write the result to FILE (.npy or .json).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing --output.")] = False,
    full: Annotated[bool, typer.Option("--full", help="Print every value of big results.")] = False,
    heatmap: Annotated[
        bool,
        typer.Option(
            "--heatmap",
            help="Colour the result's cells by value (diverging around 0 when signed); "
            "plain under NO_COLOR or when not a terminal.",
        ),
    ] = False,
    as_json: JsonOpt = False,
    max_memory: MaxMemoryOpt = None,
) -> None:
    """Compute a convolution and print its shapes and result.

    \b
    --mode auto reads the kernel by its rank: 2-D corr2d, 3-D multi-in (per-channel
    cross-correlations summed), 4-D multi-out (conv2d, every option applies).
    --mode multi-in | multi-out | 1x1 run the lesson's own functions.

    \b
    Examples:
      convcli run samples/lesson_X.json samples/lesson_K_multi_in.json
      convcli run samples/lesson_X.npy samples/lesson_K_multi_out.npy --padding 1 --stride 2
      convcli run x.npy w.npy --bias b.npy --groups 2 --output y.npy --json
      convcli run samples/lesson_X.json samples/lesson_K_multi_in.json -p 1 --padding-mode reflect
      convcli run samples/lesson_X.json samples/lesson_K_multi_in.json --flip
      convcli run samples/lesson_X.json samples/lesson_K_multi_out.json -p 1 --heatmap
    """
    with _guard():
        from convcli.modes import MODES, planned_output, run_convolution
        from convcli.tensorio import check_output_path, npy_writer, save_tensor, tensor_to_json

        if mode not in MODES:
            raise ValueError(f"--mode: expected one of {', '.join(MODES)}, got {mode!r}")
        options = _conv_options(stride, padding, dilation, groups, padding_mode, flip)
        _check_stdin_once([input_file, kernel_file, bias_file])
        inputs = [spec for spec in (input_file, kernel_file, bias_file) if spec not in (None, "-")]
        if output is not None:
            check_output_path(output, force=force, inputs=inputs)
        budget = _budget(max_memory)
        as_text = as_json or (output or "").lower().endswith(".json")
        infos = [_peek(input_file, "input"), _peek(kernel_file, "kernel"), _peek(bias_file, "bias")]
        _check_memory(budget, infos, options, as_json=as_text)
        x = _load(input_file, "input")
        kernel = _load(kernel_file, "kernel")
        bias = None if bias_file is None else _load(bias_file, "bias")
        loaded = [None if t is None else (t.shape, t.dtype) for t in (x, kernel, bias)]
        _check_memory(budget, loaded, options, as_json=as_text)
        files = (input_file, kernel_file, bias_file)
        compute = functools.partial(run_convolution, x, kernel, bias, mode=mode, options=options)
        streaming = output is not None and output.lower().endswith(".npy") and mode == "auto"
        with _naming_inputs(files):
            _check_mixed_integers(x, kernel, bias)
            if output is not None and streaming:
                # Written as it is computed: the result is never held twice in memory.
                shape, dtype = planned_output(x, kernel, bias, options)
                with (
                    npy_writer(output, shape, dtype, force=force, inputs=inputs) as out,
                    _progress(not as_json) as progress,
                ):
                    result = compute(progress=progress, out=out)
            else:
                with _progress(not as_json) as progress:
                    result = compute(progress=progress)
        if output is not None and not streaming:
            save_tensor(output, result.output, force=force, inputs=inputs)
        if as_json:
            _print_json(tensor_to_json(result.output))
            return
        _print(*_run_report(result, x, kernel, bias, files, full, heatmap))
        if output is not None:
            _say(f"wrote {output}")


@contextmanager
def _naming_inputs(specs: Sequence[str | None]) -> Iterator[None]:
    """Shape and value errors end with the files they come from; file errors name theirs."""
    from convcli.tensorio import TensorFileError

    try:
        yield
    except TensorFileError:
        raise
    except ValueError as err:
        sources = zip(("input", "kernel", "bias"), specs, strict=True)
        named = ", ".join(f"{role} {_shown(spec)}" for role, spec in sources if spec)
        raise ValueError(f"{err} ({named})") from None


def _run_report(
    result: Any,
    x: npt.NDArray[np.generic],
    kernel: npt.NDArray[np.generic],
    bias: npt.NDArray[np.generic] | None,
    sources: tuple[str, str, str | None],
    full: bool,
    heatmap: bool = False,
) -> list[Renderable]:
    from convcli.numerics import array_stats
    from convcli.render import (
        TensorRow,
        render_array,
        render_heat_legend,
        render_line,
        render_shapes,
        render_stats,
    )

    rows = [
        TensorRow("input", x.shape, result.input_axes, sources[0], str(x.dtype)),
        TensorRow("kernel", kernel.shape, result.kernel_axes, sources[1], str(kernel.dtype)),
        TensorRow(
            "bias",
            None if bias is None else bias.shape,
            ("c_o",),
            sources[2] or "",
            "" if bias is None else str(bias.dtype),
        ),
        TensorRow("output", result.output.shape, result.output_axes, "", str(result.output.dtype)),
    ]
    report: list[Renderable] = [
        render_shapes(rows),
        render_line(f"computed with {result.method}"),
        render_array(result.output, result.output_axes, full=full, heatmap=heatmap),
    ]
    if heatmap:
        report.append(render_heat_legend(result.output))
    # Non-finite values coming in are counted too: the result's count hides their origin.
    for label, array in (("input", x), ("kernel", kernel), ("bias", bias)):
        if array is not None and array.dtype.kind in "fc" and array_stats(array).non_finite:
            report.append(render_stats(array, label=label))
    report.append(render_stats(result.output))
    return report


@app.command()
def shapes(
    input_file: Annotated[
        str | None, typer.Argument(metavar="[INPUT]", help="Input tensor file (optional).")
    ] = None,
    kernel_file: Annotated[
        str | None, typer.Argument(metavar="[KERNEL]", help="Kernel tensor file (optional).")
    ] = None,
    input_shape: Annotated[
        str | None, typer.Option("--input-shape", help="c_i x n_h x n_w, e.g. 2x3x3 (or NxCxHxW).")
    ] = None,
    kernel_shape: Annotated[
        str | None, typer.Option("--kernel-shape", help="c_o x c_i x k_h x k_w, e.g. 3x2x2x2.")
    ] = None,
    bias: Annotated[
        bool, typer.Option("--bias/--no-bias", help="Count a bias (c_o,) in the parameters.")
    ] = True,
    stride: StrideOpt = "1",
    padding: PaddingOpt = "0",
    dilation: DilationOpt = "1",
    groups: GroupsOpt = 1,
    padding_mode: PaddingModeOpt = "zeros",
    as_json: JsonOpt = False,
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

    \b
    Also: the receptive field ((k-1)d+1 per axis) and the depthwise-separable
    alternative (depthwise k_h x k_w per channel + pointwise 1x1), its parameters,
    MACs and ratio 1/c_o + 1/(k_h*k_w); --json adds receptive_field and separable.
    """
    with _guard():
        from convcli.options import parse_shape
        from convcli.reports import explain_shapes, shapes_payload, shapes_report

        options = _conv_options(stride, padding, dilation, groups, padding_mode)
        if (input_file is None) != (kernel_file is None):
            raise ValueError("give both INPUT and KERNEL files, or neither")
        if input_file is not None and kernel_file is not None:
            if input_shape or kernel_shape:
                raise ValueError("give either INPUT KERNEL files or --input-shape/--kernel-shape")
            _check_stdin_once([input_file, kernel_file])
            in_shape = _shape_of(input_file, "input")
            k_shape = _shape_of(kernel_file, "kernel")
        else:
            in_shape = _option(
                "--input-shape", lambda t: parse_shape(t, ndims=(2, 3, 4)), input_shape or "2x3x3"
            )
            k_shape = _option(
                "--kernel-shape",
                lambda t: parse_shape(t, ndims=(2, 3, 4)),
                kernel_shape or "3x2x2x2",
            )
        explained = explain_shapes(in_shape, k_shape, bias=bias, options=options)
        if as_json:
            _print_json(shapes_payload(explained))
            return
        _print(*shapes_report(explained))


@app.command()
def explain(
    input_file: Annotated[
        str, typer.Argument(metavar="INPUT", help="Input tensor: .npy, .npz[:NAME], .json or -.")
    ],
    kernel_file: Annotated[str, typer.Argument(metavar="KERNEL", help="Kernel tensor file.")],
    at: Annotated[
        str,
        typer.Option(
            "--at",
            help="Output position: i,j (2-D/3-D kernel), n,i,j (3-D kernel, batched input), "
            "o,i,j (4-D kernel) or n,o,i,j (batched).",
        ),
    ],
    bias_file: Annotated[
        str | None, typer.Option("--bias", "-b", help="Bias file: one value per output channel.")
    ] = None,
    stride: StrideOpt = "1",
    padding: PaddingOpt = "0",
    dilation: DilationOpt = "1",
    groups: GroupsOpt = 1,
    padding_mode: PaddingModeOpt = "zeros",
    flip: FlipOpt = False,
    full: Annotated[
        bool, typer.Option("--full", help="Show every channel and every value.")
    ] = False,
    as_json: JsonOpt = False,
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
    """
    with _guard():
        from convcli.explain import explain_output
        from convcli.options import parse_position
        from convcli.teach_reports import explain_payload, explain_report

        options = _conv_options(stride, padding, dilation, groups, padding_mode, flip)
        position = _option("--at", parse_position, at)
        _check_stdin_once([input_file, kernel_file, bias_file])
        x = _load(input_file, "input")
        kernel = _load(kernel_file, "kernel")
        bias = None if bias_file is None else _load(bias_file, "bias")
        try:
            explained = explain_output(x, kernel, bias, position, options)
        except ValueError as err:
            if str(err).startswith("position"):
                raise ValueError(f"--at: {err}") from None
            raise
        if as_json:
            _print_json(explain_payload(explained))
            return
        _print(*explain_report(explained, full=full))


@app.command()
def verify(
    input_file: Annotated[
        str, typer.Argument(metavar="INPUT", help="Input tensor: .npy, .npz[:NAME], .json or -.")
    ],
    kernel_file: Annotated[str, typer.Argument(metavar="KERNEL", help="Kernel tensor file.")],
    bias_file: Annotated[
        str | None, typer.Option("--bias", "-b", help="Bias file: one value per output channel.")
    ] = None,
    stride: StrideOpt = "1",
    padding: PaddingOpt = "0",
    dilation: DilationOpt = "1",
    groups: GroupsOpt = 1,
    padding_mode: PaddingModeOpt = "zeros",
    flip: FlipOpt = False,
    atol: Annotated[
        float | None, typer.Option("--atol", help="Absolute tolerance (default: from the dtype).")
    ] = None,
    rtol: Annotated[float, typer.Option("--rtol", help="Relative tolerance.")] = 0.0,
    full: Annotated[
        bool, typer.Option("--full", help="Print every value of big matrices.")
    ] = False,
    as_json: JsonOpt = False,
    max_memory: MaxMemoryOpt = None,
) -> None:
    """Prove that any convolution is a matrix product on unfolded patches (im2col).

    Unfolds the (padded) input into one column per output position (c_i/g*k_h*k_w
    rows, m_h*m_w columns, per group), writes each output channel's kernel as a row,
    multiplies, and compares with the convolution computed directly. Exit 0 when
    they agree within the tolerance, 1 when they do not. verify-1x1 is the 1x1 case.

    \b
    Examples:
      convcli verify samples/lesson_X.json samples/lesson_K_multi_in.json
      convcli verify samples/lesson_X.npy samples/lesson_K_multi_out.npy -p 1 -s 2 --json
      convcli verify x.npy w.npy --groups 2 --padding-mode circular --flip --atol 1e-9
    """
    with _guard():
        import numpy as np

        from convcli.checks import verify_im2col
        from convcli.teach_reports import verify_payload, verify_report

        options = _conv_options(stride, padding, dilation, groups, padding_mode, flip)
        for name, value in (("--atol", atol), ("--rtol", rtol)):
            if value is not None and not (value >= 0 and np.isfinite(value)):
                raise ValueError(f"{name}: must be a finite number >= 0, got {value}")
        _check_stdin_once([input_file, kernel_file, bias_file])
        # Both results and the unfolded input are held at once.
        sizing = functools.partial(
            _check_memory,
            _budget(max_memory),
            options=options,
            results=2,
            as_json=as_json,
            unfolded=True,
        )
        sizing([_peek(input_file, "input"), _peek(kernel_file, "kernel"), _peek(bias_file, "bias")])
        x = _load(input_file, "input")
        kernel = _load(kernel_file, "kernel")
        bias = None if bias_file is None else _load(bias_file, "bias")
        sizing([None if t is None else (t.shape, t.dtype) for t in (x, kernel, bias)])
        check = verify_im2col(x, kernel, bias, options, atol=atol, rtol=rtol)
        if as_json:
            _print_json(verify_payload(check))
        else:
            _print(*verify_report(check, full=full))
        if not check.comparison.agree:
            raise typer.Exit(EXIT_DISAGREE)


@app.command("verify-1x1")
def verify_1x1(
    input_file: Annotated[
        str | None, typer.Argument(metavar="[INPUT]", help="Input (c_i, h, w) file (optional).")
    ] = None,
    kernel_file: Annotated[
        str | None, typer.Argument(metavar="[KERNEL]", help="Kernel (c_o, c_i, 1, 1) file.")
    ] = None,
    input_shape: Annotated[
        str, typer.Option("--input-shape", help="c_i x h x w of the random input.")
    ] = "3x3x3",
    out_channels: Annotated[
        int, typer.Option("--out-channels", help="c_o of the random kernel.")
    ] = 2,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the standard-normal draws.")] = 0,
    atol: Annotated[
        float | None, typer.Option("--atol", help="Absolute tolerance (default: from the dtype).")
    ] = None,
    rtol: Annotated[float, typer.Option("--rtol", help="Relative tolerance.")] = 0.0,
    as_json: JsonOpt = False,
    max_memory: MaxMemoryOpt = None,
) -> None:
    """Prove that a 1x1 convolution is a fully connected layer over channels.

    Computes the 1x1 convolution per channel (corr2d_multi_in_out) and as one matrix
    product K (c_o, c_i) @ X (c_i, h*w), then compares. Exit 0 when they agree
    within the tolerance, 1 when they do not. Without files it draws float32
    standard-normal X and K from --seed.

    \b
    Examples:
      convcli verify-1x1
      convcli verify-1x1 --input-shape 64x28x28 --out-channels 32 --seed 7
      convcli verify-1x1 samples/lesson_1x1_X.json samples/lesson_1x1_K.json --json
    """
    with _guard():
        import numpy as np

        from convcli.checks import verify_1x1 as check_1x1
        from convcli.modes import ConvOptions
        from convcli.options import parse_shape
        from convcli.reports import verify_1x1_payload, verify_1x1_report

        if (input_file is None) != (kernel_file is None):
            raise ValueError("give both INPUT and KERNEL files, or neither")
        for name, value in (("--atol", atol), ("--rtol", rtol)):
            if value is not None and not (value >= 0 and np.isfinite(value)):
                raise ValueError(f"{name}: must be a finite number >= 0, got {value}")
        budget = _budget(max_memory)
        # Two results (per channel and as a matrix product) are held and compared.
        sizing = functools.partial(
            _check_memory, budget, options=ConvOptions(), results=2, as_json=as_json
        )
        if input_file is not None and kernel_file is not None:
            _check_stdin_once([input_file, kernel_file])
            infos = (_peek(input_file, "input"), _peek(kernel_file, "kernel"))
            sizing(infos)
            x = _load(input_file, "input")
            kernel = _load(kernel_file, "kernel")
            loaded = ((x.shape, x.dtype), (kernel.shape, kernel.dtype))
            sizing(loaded)
        else:
            if out_channels < 1:
                raise ValueError(f"--out-channels: must be >= 1, got {out_channels}")
            shape = _option("--input-shape", lambda t: parse_shape(t, ndims=(3,)), input_shape)
            f32 = np.dtype(np.float32)
            drawn = ((shape, f32), ((out_channels, shape[0], 1, 1), f32))
            sizing(drawn)
            rng = np.random.default_rng(seed)
            x = rng.standard_normal(shape, dtype=np.float32)
            kernel = rng.standard_normal((out_channels, shape[0], 1, 1), dtype=np.float32)
        try:
            check = check_1x1(x, kernel, atol=atol, rtol=rtol)
        except ValueError as err:
            if input_file is None or kernel_file is None:
                raise
            files = f"input {_shown(input_file)}, kernel {_shown(kernel_file)}"
            raise ValueError(f"{err} ({files})") from None
        if as_json:
            _print_json(verify_1x1_payload(check))
        else:
            _print(*verify_1x1_report(check))
        if not check.comparison.agree:
            raise typer.Exit(EXIT_DISAGREE)


@app.command()
def demo() -> None:
    """Replay the lesson: multi-in, multi-out with K, K+1, K+2, and the 1x1 check.

    Uses the lesson's tensors built into convcli, so no files are needed.

    \b
    Example:
      convcli demo
    """
    with _guard():
        from convcli.reports import demo_report

        _print(*demo_report())


def main() -> None:
    """Entry point of the ``convcli`` script and ``python -m convcli``."""
    app()
