"""What the commands share: option types, option parsing, loading, memory and progress."""

from __future__ import annotations

import json
import os
import re
import sys
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from fractions import Fraction
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from convcli.cli._app import say, shown, stdout_closed, written
from convcli.errors import ConvcliError, EnvironmentFailureError, OptionError, TensorFileError
from convcli.i18n import _

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from convcli.ops.budget import RunEstimate
    from convcli.render.widgets import Renderable
    from convcli.shapes.layout import Layouts
    from convcli.shapes.options import ConvOptions
    from convcli.tensorio.files import HeldOutputs

T = TypeVar("T")


@contextmanager
def naming(name: str, kind: type[ConvcliError] = ConvcliError) -> Iterator[None]:
    """Refusals of ``kind`` raised inside are said as the option ``name``'s (``--at: ...``)."""
    try:
        yield
    except kind as err:
        raise err.with_context(name) from None


def option(name: str, parse: Callable[[str], T], text: str) -> T:
    """``text`` parsed by ``parse``; a refusal names the option."""
    with naming(name):
        return parse(text)


def first_position(rank: int) -> tuple[int, ...]:
    """The first output value's position (every index 0), for ``explain`` without ``--at``;
    said on stderr, so that the default is never a surprise."""
    position = (0,) * rank
    say(
        _("note: no --at: explaining the first output value, at {position}").format(
            position=",".join(map(str, position))
        )
    )
    return position


def layouts(input_layout: str = "nchw", kernel_layout: str = "oihw") -> Layouts:
    """``--input-layout`` and ``--kernel-layout``, parsed once."""
    from convcli.shapes.layout import INPUT_LAYOUTS, KERNEL_LAYOUTS, Layouts, parse_layout

    return Layouts(
        option("--input-layout", lambda t: parse_layout(t, INPUT_LAYOUTS), input_layout),
        option("--kernel-layout", lambda t: parse_layout(t, KERNEL_LAYOUTS), kernel_layout),
    )


def note_layouts(
    chosen: Layouts, input_shape: tuple[int, ...] | None, kernel_shape: tuple[int, ...] | None
) -> None:
    """On stderr: the layouts moved (the result is PyTorch's), or a kernel that looks HWIO."""
    from convcli.cli._wording import option_spelling
    from convcli.shapes.layout import layout_note

    if not chosen.default:
        moved = []
        if chosen.input != "nchw":
            moved.append(_("input read as NHWC, moved to NCHW"))
        if chosen.kernel != "oihw":
            moved.append(_("kernel read as HWIO, moved to OIHW"))
        if moved:
            say(
                _("note: {moved}; the result is in PyTorch's layout").format(
                    moved=_("; ").join(moved)
                )
            )
        return
    if input_shape is not None and kernel_shape is not None:
        note = layout_note(input_shape, kernel_shape)
        if note is not None:
            say(_("note: {message}").format(message=note.spelled(option_spelling)))


def wants_transposed(transposed: bool, output_padding: str | None, output_size: str | None) -> bool:
    """Whether ``run``, ``explain`` or ``verify`` computes a transposed convolution;
    ``--output-padding`` or ``--output-size`` without ``--transposed`` is refused."""
    if not transposed and (output_padding is not None or output_size is not None):
        raise OptionError(_("--output-padding and --output-size need --transposed"))
    return transposed


def conv_options(
    stride: str,
    padding: str,
    dilation: str,
    groups: str,
    padding_mode: str = "zeros",
    flip: bool = False,
) -> ConvOptions:
    from convcli.ops.padding import PADDING_MODES
    from convcli.shapes.options import ConvOptions
    from convcli.shapes.parsing import parse_int_or_pair, parse_padding

    if padding_mode not in PADDING_MODES:
        raise OptionError(
            _("--padding-mode: expected one of {join_PADDING_MODES}, got {padding_mode!r}").format(
                join_PADDING_MODES=", ".join(PADDING_MODES), padding_mode=padding_mode
            )
        )
    return ConvOptions(
        stride=option("--stride", lambda t: parse_int_or_pair(t, minimum=1), stride),
        padding=option("--padding", parse_padding, padding),
        dilation=option("--dilation", lambda t: parse_int_or_pair(t, minimum=1), dilation),
        groups=whole("--groups", groups, minimum=1),
        padding_mode=padding_mode,
        flip=flip,
    )


def whole(name: str, text: str, *, minimum: int | None = None) -> int:
    """An integer option's value, by the one number parser (``parse_whole``)."""
    from convcli.shapes.parsing import parse_whole

    return option(name, lambda t: parse_whole(t, minimum=minimum), text)


def number(name: str, text: str | None) -> float | None:
    """A real option's value (``--atol``, ``--rtol``), by the one number parser."""
    from convcli.shapes.parsing import parse_number

    return None if text is None else option(name, parse_number, text)


def option_flags(options: ConvOptions) -> list[str]:
    """The command-line flags of the options that differ from the defaults.

    Each ``ConvOptions`` field is the flag's name: ``padding_mode`` is ``--padding-mode``.
    """
    return ["--" + name.replace("_", "-") for name in options.changed()]


def show(*renderables: Renderable) -> None:
    """Print ``renderables`` on stdout, one blank line between sections; a full or closed
    stdout is ``EnvironmentFailureError``.

    Each renderable is a section (a table, a grid, a note): the next one starts after a
    blank line, unless one of the two already brings it (a table's open bottom edge).
    """
    from convcli.render.widgets import make_console, print_sections

    with writing_stdout():
        print_sections(make_console(), renderables)


def show_json(payload: dict[str, Any]) -> None:
    write_stdout(json_text(payload))


def json_text(payload: dict[str, Any]) -> str:
    """The line ``--json`` prints: built in full before anything is written.

    Integers of any size are JSON integers; a ``Fraction`` (a half: a receptive field's
    centre) is a JSON number written exactly (``-9007199254740992.5``), never through a
    float.

    >>> from fractions import Fraction
    >>> json_text({"start": [Fraction(-18014398509481985, 2), 3]})
    '{"start": [-9007199254740992.5, 3]}\\n'
    """
    from convcli.render.numbers import exact_decimal

    exact: list[str] = []
    marker = f"exact-{uuid.uuid4().hex}-"

    def placeholder(value: object) -> str:
        if not isinstance(value, Fraction):
            raise TypeError(f"{type(value).__name__} is not JSON serializable")
        written = exact_decimal(value)
        # Not a terminating decimal (never a half): a string, as JSON has no fractions.
        exact.append(json.dumps(written) if "/" in written else written)
        return f"{marker}{len(exact) - 1}"

    text = json.dumps(payload, allow_nan=False, default=placeholder)
    if exact:
        text = re.sub(f'"{marker}(\\d+)"', lambda match: exact[int(match.group(1))], text)
    return text + "\n"


def write_stdout(text: str) -> None:
    with writing_stdout():
        sys.stdout.write(text)


def stdout_open() -> None:
    """Refuse to start a run whose stdout is closed (``>&-``): nothing could be printed."""
    if stdout_closed():
        raise EnvironmentFailureError(_("cannot write to stdout: it is closed"))


@contextmanager
def held_files() -> Iterator[HeldOutputs]:
    """The files a command writes, held until ``publish`` has printed its report.

    Every output written inside (``--output``, ``--plot``, draw's picture, the samples)
    is staged and synced but not renamed into place; an error, an interrupt or a stdout
    that fails before ``publish`` leaves no file created or changed.
    """
    from convcli.tensorio.files import held_outputs

    with held_outputs() as held:
        yield held


def publish(held: HeldOutputs, report: Callable[[], None] | None = None) -> None:
    """Print the report, then rename the held files into place.

    ``report`` prints and flushes (``show``, ``write_stdout``): a full, closed or broken
    stdout is ``EnvironmentFailureError`` (exit 74) before any file is in place. With
    files at stake a closed pipe (``| head``) is that error too, not a silent SIGPIPE that
    would leave temporary files. Each file renamed is recorded (``written``): an
    interrupt between the renames says which are in place.
    """
    if report is not None:
        with _pipe_errors(bool(held.pending)):
            report()
    held.commit(written)


@contextmanager
def _pipe_errors(active: bool) -> Iterator[None]:
    """SIGPIPE ignored inside (when ``active``): a write to a closed pipe raises EPIPE."""
    import signal

    if not active or not hasattr(signal, "SIGPIPE"):
        yield
        return
    previous = signal.getsignal(signal.SIGPIPE)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGPIPE, signal.SIG_DFL if previous is None else previous)


@contextmanager
def writing_stdout() -> Iterator[None]:
    """Writing to stdout, flushed at the end: an OS error (``/dev/full``, a closed pipe)
    or a closed stdout becomes ``EnvironmentFailureError``, exit 74, one line."""
    from convcli.cli._app import describe_io_error

    stdout_open()
    try:
        yield
        sys.stdout.flush()
    except (OSError, ValueError) as err:
        if isinstance(err, ValueError) and not getattr(sys.stdout, "closed", False):
            raise
        raise EnvironmentFailureError(
            _("cannot write to stdout: {describe_io_error_err}").format(
                describe_io_error_err=describe_io_error(err)
            )
        ) from err


# Options shared by the commands that convolve.
StrideOpt = Annotated[str, typer.Option("--stride", "-s", metavar="S", help="N or H,W (>= 1).")]
PaddingOpt = Annotated[
    str, typer.Option("--padding", "-p", metavar="P", help="N, H,W, 'same' (stride 1) or 'valid'.")
]
DilationOpt = Annotated[str, typer.Option("--dilation", "-d", metavar="D", help="N or H,W (>= 1).")]
GroupsOpt = Annotated[
    str,
    typer.Option("--groups", "-g", metavar="G", help="Channel groups; must divide c_i and c_o."),
]
InputArg = Annotated[
    str, typer.Argument(metavar="INPUT", help="Input tensor: .npy, .npz[:NAME], .json or -.")
]
KernelArg = Annotated[str, typer.Argument(metavar="KERNEL", help="Kernel tensor file.")]
BiasOpt = Annotated[
    str | None,
    typer.Option("--bias", "-b", metavar="FILE", help="Bias file: one value per output channel."),
]
AtolOpt = Annotated[
    str | None,
    typer.Option("--atol", metavar="A", help="Absolute tolerance (default: from the dtype)."),
]
RtolOpt = Annotated[str, typer.Option("--rtol", metavar="R", help="Relative tolerance.")]
InputLayoutOpt = Annotated[
    str,
    typer.Option(
        "--input-layout",
        metavar="L",
        help="nchw (PyTorch's, the default) or nhwc (channels last, TensorFlow's): the "
        "input file's axes; moved to NCHW after loading.",
    ),
]
KernelLayoutOpt = Annotated[
    str,
    typer.Option(
        "--kernel-layout",
        metavar="L",
        help="oihw (PyTorch's, the default) or hwio (TensorFlow's): the kernel file's "
        "axes; moved to OIHW after loading. Results are in PyTorch's layout.",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print only a JSON object to stdout.")]
ResultFileOpt = Annotated[
    str | None,
    typer.Option(
        "--output", "-o", metavar="FILE", help="Write the result to FILE (.npy or .json)."
    ),
]
ForceOpt = Annotated[bool, typer.Option("--force", help="Overwrite an existing --output.")]
FullOpt = Annotated[bool, typer.Option("--full", help="Print every value of big results.")]
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
        metavar="MODE",
        help="zeros | reflect | replicate | circular: how the padding is filled (PyTorch's).",
    ),
]
FlipOpt = Annotated[
    bool,
    typer.Option(
        "--flip", help="True convolution: rotate the kernel 180 degrees (scipy's convolve2d)."
    ),
]


PlotOpt = Annotated[
    str | None,
    typer.Option(
        "--plot",
        metavar="FILE",
        help="Also draw the result as heatmaps (one per channel, shared colour bar) to a .png "
        "or .svg; needs pip install 'convcli[draw]'.",
    ),
]


def check_plot(path: str, *, force: bool, inputs: Sequence[str]) -> None:
    """Refuse a --plot file before any work: type, folder, existing file, missing library."""
    from convcli.draw.deps import require
    from convcli.draw.plot import PLOT_SUFFIXES
    from convcli.tensorio.files import check_output_path

    with naming("--plot"):
        check_output_path(path, force=force, inputs=inputs, suffixes=PLOT_SUFFIXES)
    require("matplotlib", "matplotlib")


def write_plot(
    path: str, array: Any, axes: Sequence[str], *, force: bool, inputs: Sequence[str]
) -> None:
    from convcli.draw.plot import plot_result

    plot_result(array, axes, path, force=force, inputs=inputs)


def with_plot(estimate: RunEstimate, plot: bool) -> RunEstimate:
    """``estimate`` and, for ``--plot``, the picture of its result (``plot_estimate``)."""
    if not plot:
        return estimate
    from convcli.draw.plot import plot_estimate

    return estimate.plus(plot_estimate(estimate.output_shape))


def load(spec: str, role: str) -> npt.NDArray[np.generic]:
    from convcli.tensorio.files import load_tensor

    try:
        return load_tensor(spec)
    except ConvcliError as err:
        raise err.with_context(_(role), " ") from None


def load_tensors(
    input_file: str, kernel_file: str, bias_file: str | None
) -> tuple[npt.NDArray[Any], npt.NDArray[Any], npt.NDArray[Any] | None]:
    """The input, the kernel and the bias (if given), each error naming its role.

    No budget: ``convcli.cli._loading.load_checked`` is the sequence that checks every
    header and the memory first (run, verify, verify-1x1 and explain use it).
    """
    x = load(input_file, "input")
    kernel = load(kernel_file, "kernel")
    return x, kernel, None if bias_file is None else load(bias_file, "bias")


def tolerances(atol: str | None, rtol: str) -> tuple[float | None, float]:
    """--atol and --rtol: finite numbers >= 0 (the one number parser's spelling)."""
    values = number("--atol", atol), number("--rtol", rtol)
    for name, value in zip(("--atol", "--rtol"), values, strict=True):
        if value is not None and value < 0:
            raise OptionError(
                _("{name}: must be a finite number >= 0, got {value}").format(
                    name=name, value=value
                )
            )
    return values[0], values[1] or 0.0


def check_stdin_once(specs: Sequence[str | None]) -> None:
    if sum(spec == "-" for spec in specs) > 1:
        raise OptionError(_("only one tensor can be read from stdin ('-')"))


TensorInfo = tuple[tuple[int, ...], "np.dtype[Any]"]


def peek(spec: str | None, role: str) -> TensorInfo | None:
    """Shape and dtype from a file's header, before any data is read (None: not known)."""
    from convcli.tensorio.files import peek_tensor

    if spec is None:
        return None
    try:
        return peek_tensor(spec)
    except ConvcliError as err:
        raise err.with_context(_(role), " ") from None


def shape_of(spec: str, role: str) -> tuple[int, ...]:
    """A tensor's shape: from the header of a .npy/.npz file (no data read), else loaded."""
    info = peek(spec, role)
    return info[0] if info is not None else load(spec, role).shape


def memory_budget(text: str | None) -> int:
    from convcli.ops.budget import default_budget, parse_size

    return default_budget() if text is None else option("--max-memory", parse_size, text)


def check_memory(
    budget: int,
    tensors: Sequence[TensorInfo | None],
    options: ConvOptions,
    *,
    results: int = 1,
    as_json: bool = False,
    unfolded: bool = False,
    plot: bool = False,
) -> None:
    """Refuse a run over the memory budget, from the (input, kernel, bias) shapes alone
    (``plot``: with ``--plot``'s picture).

    ``convcli.cli._loading.load_checked`` calls it once every shape is known, before any
    tensor data is read. Shapes that do not form a convolution are refused here too
    (``estimate_run`` says why), so nothing is loaded for a run that cannot work.
    """
    from convcli.ops.budget import check_budget, estimate_run

    x, kernel, bias = (*tensors, None)[:3]
    if x is None or kernel is None:
        return
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
    check_budget(with_plot(estimate, plot), budget)


@contextmanager
def progress_bar(enabled: bool) -> Iterator[Callable[[int, int], None] | None]:
    """A progress callback drawing a bar on stderr once a run passes half a second.

    Only when stderr is a terminal and ``NO_COLOR`` is not set: piped, redirected,
    ``NO_COLOR`` or ``--json`` runs get ``None`` and compute in one piece.
    ``CONVCLI_PROGRESS_DELAY`` (seconds) moves the half second.
    """
    import time

    from convcli.render.widgets import make_console, make_progress

    console = make_console(stderr=True)
    # NO_COLOR promises no escape sequences, and a live bar is made of cursor controls.
    if not (enabled and console.is_terminal) or os.environ.get("NO_COLOR", "") != "":
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


@contextmanager
def naming_inputs(
    specs: Sequence[str | None], roles: Sequence[str] = ("input", "kernel", "bias", "grad_output")
) -> Iterator[None]:
    """Shape and value errors end with the files they come from; file errors name theirs."""
    try:
        yield
    except TensorFileError:
        raise
    except ConvcliError as err:
        sources = zip(roles, specs, strict=False)
        named = ", ".join(f"{_(role)} {shown(spec)}" for role, spec in sources if spec)
        if not named:
            raise
        raise err.with_suffix(f"({named})") from None
