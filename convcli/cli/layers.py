"""What the commands share for transposed convolution and pooling: options, sizing, results.

``run --transposed`` and ``convcli pool`` go through here, so ``run`` itself only adds
its flags and dispatches.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer

from convcli.cli._app import say, shown
from convcli.cli._common import (
    TensorInfo,
    check_plot,
    check_stdin_once,
    first_position,
    held_files,
    json_text,
    memory_budget,
    naming,
    naming_inputs,
    option,
    progress_bar,
    publish,
    shape_of,
    show,
    show_json,
    whole,
    with_plot,
    write_plot,
    write_stdout,
)
from convcli.cli._loading import load_checked
from convcli.errors import OptionError
from convcli.i18n import _

if TYPE_CHECKING:
    from convcli.shapes.layout import Layouts
    from convcli.shapes.pooling import PoolOptions
    from convcli.shapes.transposed import TransposedOptions

OptionalStrideOpt = Annotated[
    str | None,
    typer.Option(
        "--stride", "-s", metavar="S", help="N or H,W (>= 1; default 1, with --pool the window)."
    ),
]
TransposedOpt = Annotated[
    bool,
    typer.Option(
        "--transposed",
        help="Transposed convolution (conv_transpose2d): the kernel is (c_i, c_o/groups, "
        "k_h, k_w) and each input value stamps it, stride apart.",
    ),
]
OutputPaddingOpt = Annotated[
    str | None,
    typer.Option(
        "--output-padding",
        metavar="OP",
        help="With --transposed: N or H,W extra bottom/right rows and columns, each "
        "smaller than the stride or the dilation.",
    ),
]
OutputSizeOpt = Annotated[
    str | None,
    typer.Option(
        "--output-size",
        metavar="H,W",
        help="With --transposed: the wanted output size; picks --output-padding as "
        "nn.ConvTranspose2d(output_size=...) does.",
    ),
]

ShapesOutputSizeOpt = Annotated[
    str | None,
    typer.Option(
        "--output-size",
        metavar="H,W",
        help="With --transposed: the wanted output size (picks --output-padding as "
        "nn.ConvTranspose2d(output_size=...) does); with --pool adaptive-avg|adaptive-max: "
        "the pooled size, N or H,W.",
    ),
]


def transposed_options(
    stride: str,
    padding: str,
    dilation: str,
    groups: str,
    output_padding: str | None,
    output_size: str | None,
) -> TransposedOptions:
    """Parse the flags of a transposed convolution (each error names its flag)."""
    from convcli.shapes.parsing import parse_int_or_pair, parse_padding, parse_size
    from convcli.shapes.transposed import TransposedOptions

    count = whole("--groups", groups, minimum=1)
    if output_padding is not None and output_size is not None:
        raise OptionError(_("give --output-padding or --output-size, not both"))
    pad = option("--padding", parse_padding, padding)
    if pad == "valid":
        pad = 0
    if isinstance(pad, str):
        raise OptionError(
            _(
                "--padding: 'same' has no meaning for a transposed convolution (PyTorch refuses "
                "it): give N or H,W"
            )
        )
    size = None if output_size is None else option("--output-size", parse_size, output_size)
    return TransposedOptions(
        stride=option("--stride", lambda t: parse_int_or_pair(t, minimum=1), stride),
        padding=pad,
        output_padding=option(
            "--output-padding", lambda t: parse_int_or_pair(t, minimum=0), output_padding or "0"
        ),
        groups=count,
        dilation=option("--dilation", lambda t: parse_int_or_pair(t, minimum=1), dilation),
        output_size=size,
    )


def resolve_output_padding(
    x_shape: tuple[int, ...], kernel_shape: tuple[int, ...], options: TransposedOptions
) -> TransposedOptions:
    """``options`` with ``output_padding`` checked, or chosen from ``--output-size``: a
    refusal names the flag it is about. Other shape problems are left to the computation."""
    from dataclasses import replace

    from convcli.shapes.transposed import check_output_padding, output_padding_for

    if len(kernel_shape) != 4 or len(x_shape) not in (3, 4):
        return options
    if options.output_size is None:
        with naming("--output-padding"):
            check_output_padding(
                options.output_padding, stride=options.stride, dilation=options.dilation
            )
        return options
    with naming("--output-size"):
        chosen = output_padding_for(
            (x_shape[-2], x_shape[-1]),
            (kernel_shape[2], kernel_shape[3]),
            options.output_size,
            stride=options.stride,
            padding=options.padding,
            dilation=options.dilation,
        )
    return replace(options, output_padding=chosen, output_size=None)


def check_transposed_memory(
    budget: int,
    tensors: Sequence[TensorInfo | None],
    options: TransposedOptions,
    *,
    results: int = 1,
    as_json: bool = False,
    direct: bool = False,
    explain: bool = False,
    plot: bool = False,
) -> None:
    """Refuse a transposed run from the (input, kernel, bias) shapes, before any data is
    read: shapes that do not form the layer (the computation's own refusal; a bad
    ``--output-padding`` or ``--output-size`` named), or an estimate over the budget.
    ``explain``: what ``explain --transposed`` holds; ``plot``: with ``--plot``'s picture."""
    from convcli.ops.budget import (
        check_budget,
        estimate_explain_transposed,
        estimate_transposed_run,
    )

    x, kernel, bias = (*tensors, None)[:3]
    if x is None or kernel is None:
        return
    b_shape, b_dtype = (None, None) if bias is None else bias
    options = resolve_output_padding(x[0], kernel[0], options)
    if explain:
        estimate = estimate_explain_transposed(
            x[0], x[1], kernel[0], kernel[1], b_shape, b_dtype, options
        )
    else:
        estimate = estimate_transposed_run(
            x[0], x[1], kernel[0], kernel[1], b_shape, b_dtype, options,
            results=results, as_json=as_json, direct=direct,
        )  # fmt: skip
    check_budget(with_plot(estimate, plot), budget)


def run_transposed_command(
    input_file: str,
    kernel_file: str,
    bias_file: str | None,
    options: TransposedOptions,
    *,
    output: str | None,
    force: bool,
    full: bool,
    heatmap: bool,
    as_json: bool,
    max_memory: str | None,
    plot: str | None = None,
    stats_only: bool = False,
    layouts: Layouts | None = None,
) -> None:
    """``convcli run --transposed``: size, load, compute, write and show."""
    from convcli.ops.transposed import run_transposed
    from convcli.render.run import run_payload, run_report
    from convcli.tensorio.files import check_output_path

    check_stdin_once([input_file, kernel_file, bias_file])
    inputs = [spec for spec in (input_file, kernel_file, bias_file) if spec not in (None, "-")]
    if output is not None:
        check_output_path(output, force=force, inputs=inputs)
    if plot is not None:
        check_plot(plot, force=force, inputs=inputs)
    budget = memory_budget(max_memory)
    as_text = as_json or (output or "").lower().endswith(".json")
    files = (input_file, kernel_file, bias_file)
    # Every header and the JSON text are budgeted before any tensor data is read.
    x, kernel, bias = load_checked(
        files,
        budget,
        lambda infos: check_transposed_memory(
            budget, infos, options, as_json=as_text, plot=plot is not None
        ),
        layouts,
    )
    assert x is not None and kernel is not None
    options = resolve_output_padding(x.shape, kernel.shape, options)
    with naming_inputs(files), progress_bar(not as_json) as progress:
        result = run_transposed(x, kernel, bias, options, progress)
    finish(result, output, force, inputs, as_json, lambda: run_report(
        result, x, kernel, bias, files, full=full, heatmap=heatmap, stats_only=stats_only
    ), run_payload, plot)  # fmt: skip


def finish(
    result: Any,
    output: str | None,
    force: bool,
    inputs: Sequence[str],
    as_json: bool,
    report: Any,
    payload: Any,
    plot: str | None = None,
) -> None:
    """Write ``--output`` and ``--plot``, print the JSON payload or the report, and only
    then rename the files into place (``publish``)."""
    from convcli.tensorio.files import save_tensor

    with held_files() as held:
        if output is not None:
            save_tensor(output, result.output, force=force, inputs=inputs)
        if plot is not None:
            write_plot(plot, result.output, result.output_axes, force=force, inputs=inputs)
        if as_json:
            # The payload's lists are freed once the text is built, before it is written.
            text = json_text(payload(result))
            publish(held, lambda: write_stdout(text))
            return
        sections = report()
        publish(held, lambda: show(*sections))
    for written in (output, plot):
        if written is not None:
            say(_("wrote {file}").format(file=shown(written)))


def pool_options(
    kind: str,
    kernel_size: str | None,
    stride: str | None,
    padding: str,
    dilation: str,
    ceil_mode: bool,
    count_include_pad: bool | None,
    divisor_override: str | None,
    output_size: str | None,
    *,
    kind_flag: str = "--kind",
) -> PoolOptions:
    """Parse ``convcli pool``'s flags, refusing those the kind has no use for
    (``kind_flag``: the flag that named the kind, ``--kind`` or ``shapes --pool``)."""
    from convcli.shapes.geometry import as_pair
    from convcli.shapes.parsing import parse_int_or_pair
    from convcli.shapes.pooling import POOL_KINDS, PoolOptions

    if kind not in POOL_KINDS:
        raise OptionError(
            _("--kind: expected one of {join_POOL_KINDS}, got {kind!r}").format(
                join_POOL_KINDS=", ".join(POOL_KINDS), kind=kind
            )
        )
    adaptive = kind.startswith("adaptive")
    given = {
        "--kernel-size": kernel_size is not None,
        "--stride": stride is not None,
        "--padding": padding != "0",
        "--dilation": dilation != "1",
        "--ceil-mode": ceil_mode,
        "--count-include-pad/--no-count-include-pad": count_include_pad is not None,
        "--divisor-override": divisor_override is not None,
        "--output-size": output_size is not None,
    }
    allowed = {
        "max": {"--kernel-size", "--stride", "--padding", "--dilation", "--ceil-mode"},
        "avg": {
            "--kernel-size",
            "--stride",
            "--padding",
            "--ceil-mode",
            "--count-include-pad/--no-count-include-pad",
            "--divisor-override",
        },
    }.get(kind, {"--output-size"})
    unused = [flag for flag, present in given.items() if present and flag not in allowed]
    if unused:
        raise OptionError(
            _("{flag} {kind} takes no {join_unused}").format(
                flag=kind_flag, kind=kind, join_unused=", ".join(unused)
            )
        )
    if adaptive:
        if output_size is None:
            raise OptionError(
                _("{flag} {kind} needs --output-size H,W (or N)").format(flag=kind_flag, kind=kind)
            )
        return PoolOptions(
            kind,
            output_size=option(
                "--output-size", lambda t: parse_int_or_pair(t, minimum=1), output_size
            ),
        )
    if kernel_size is None:
        raise OptionError(
            _("{flag} {kind} needs --kernel-size N or H,W").format(flag=kind_flag, kind=kind)
        )
    window = option("--kernel-size", lambda t: parse_int_or_pair(t, minimum=1), kernel_size)
    pad = option("--padding", lambda t: parse_int_or_pair(t, minimum=0), padding)
    k, p = as_pair(window, "kernel_size", minimum=1), as_pair(pad, "padding", minimum=0)
    if p[0] > k[0] // 2 or p[1] > k[1] // 2:
        raise OptionError(
            _(
                "--padding: at most half the window (--kernel-size {kernel_size} // 2), got "
                "{padding}"
            ).format(kernel_size=kernel_size, padding=padding)
        )
    return PoolOptions(
        kind,
        kernel_size=window,
        stride=None
        if stride is None
        else option("--stride", lambda t: parse_int_or_pair(t, minimum=1), stride),
        padding=pad,
        dilation=option("--dilation", lambda t: parse_int_or_pair(t, minimum=1), dilation),
        ceil_mode=ceil_mode,
        count_include_pad=True if count_include_pad is None else count_include_pad,
        divisor_override=None
        if divisor_override is None
        else option("--divisor-override", _nonzero_whole, divisor_override),
    )


def _nonzero_whole(text: str) -> int:
    """``--divisor-override``'s value: a whole number (the one ASCII parser), not zero.

    >>> _nonzero_whole("-2")
    -2
    """
    from convcli.shapes.parsing import parse_whole, shorten

    value = parse_whole(text)
    if value == 0:
        raise OptionError(_("must not be zero, got {text}").format(text=shorten(text)))
    return value


def check_pool_memory(
    budget: int,
    info: TensorInfo | None,
    options: PoolOptions,
    *,
    as_json: bool,
    explain: bool = False,
    indices: bool = False,
    plot: bool = False,
) -> None:
    """Refuse a pooling from the input's shape, before any data is read: a window that
    does not fit (the computation's own refusal) or an estimate over the budget.
    ``explain``: what ``pool --at`` holds; ``indices``: ``pool --indices``; ``plot``:
    with ``--plot``'s picture."""
    from convcli.ops.budget import check_budget, estimate_explain_pool, estimate_pool_run

    if info is None:
        return
    if explain:
        estimate = estimate_explain_pool(info[0], info[1], options)
    else:
        estimate = estimate_pool_run(info[0], info[1], options, as_json=as_json, indices=indices)
    check_budget(with_plot(estimate, plot), budget)


def run_pool_command(
    input_file: str,
    options: PoolOptions,
    *,
    output: str | None,
    force: bool,
    full: bool,
    heatmap: bool,
    as_json: bool,
    max_memory: str | None,
    plot: str | None = None,
    indices: bool = False,
    layouts: Layouts | None = None,
) -> None:
    """``convcli pool``: size, load, compute, write and show (``indices``: also where
    each maximum is, PyTorch's ``return_indices``)."""
    from convcli.ops.pooling import run_pool
    from convcli.render.layers import pool_report
    from convcli.render.run import run_payload
    from convcli.tensorio.files import check_output_path

    if indices:
        check_indices_options(options, output=output, plot=plot)
    inputs = [input_file] if input_file != "-" else []
    if output is not None:
        check_output_path(output, force=force, inputs=inputs)
    if plot is not None:
        check_plot(plot, force=force, inputs=inputs)
    budget = memory_budget(max_memory)
    as_text = as_json or (output or "").lower().endswith(".json")
    (x,) = load_checked(
        [input_file],
        budget,
        lambda infos: check_pool_memory(
            budget, infos[0], options, as_json=as_text, indices=indices, plot=plot is not None
        ),
        layouts,
    )
    assert x is not None
    if indices:
        _run_pool_indices(x, input_file, options, full=full, heatmap=heatmap, as_json=as_json)
        return
    with naming_inputs((input_file, None, None)), progress_bar(not as_json) as progress:
        result = run_pool(x, options, progress)
    finish(result, output, force, inputs, as_json, lambda: pool_report(
        result, x, input_file, options, full=full, heatmap=heatmap
    ), run_payload, plot)  # fmt: skip


def check_indices_options(options: PoolOptions, *, output: str | None, plot: str | None) -> None:
    """``pool --indices``: max kinds only, and printed only (one array per file)."""
    if options.kind not in ("max", "adaptive-max"):
        raise OptionError(
            _(
                "--indices: --kind {kind} has no indices (PyTorch's return_indices is max "
                "pooling's): use --kind max or adaptive-max"
            ).format(kind=options.kind)
        )
    if output is not None or plot is not None:
        raise OptionError(
            _(
                "--indices prints the indices (and --json adds them); --output and --plot "
                "write the values only: run once without --indices to write them"
            )
        )


def _run_pool_indices(
    x: Any, source: str, options: PoolOptions, *, full: bool, heatmap: bool, as_json: bool
) -> None:
    """``pool --indices``: the values and PyTorch's ``return_indices``, printed."""
    from convcli.ops.pooling import run_pool_indices
    from convcli.render.layers import pool_indices_payload, pool_report

    with naming_inputs((source, None, None)):
        result, where = run_pool_indices(x, options)
    if as_json:
        write_stdout(json_text(pool_indices_payload(result, where)))
        return
    show(*pool_report(result, x, source, options, full=full, heatmap=heatmap, indices=where))


def layer_shapes_command(
    sources: tuple[str | None, str | None, str | None, str | None],
    conv_flags: tuple[str | None, str, str, str, str, bool],
    *,
    transposed: bool,
    output_padding: str | None,
    output_size: str | None,
    pool: str | None,
    kernel_size: str | None,
    ceil_mode: bool,
    as_json: bool,
    backward: bool = False,
) -> None:
    """``convcli shapes --transposed`` and ``convcli shapes --pool`` (``backward``: with
    a transposed layer's forward and backward cost, ``shapes --backward``'s sections)."""
    from convcli.render import layers
    from convcli.shapes.parsing import parse_shape

    input_file, kernel_file, input_shape, kernel_shape = sources
    stride, padding, dilation, groups, padding_mode, bias = conv_flags
    if padding_mode != "zeros":
        raise OptionError(
            _("--padding-mode: transposed convolution and pooling pad with zeros only")
        )
    if pool is not None:
        from convcli.shapes.pooling import POOL_KINDS

        if transposed or output_padding is not None:
            raise OptionError(_("give --pool or --transposed, not both"))
        if kernel_file is not None or kernel_shape is not None:
            raise OptionError(_("--pool takes an input only: give --kernel-size, not a kernel"))
        if pool not in POOL_KINDS:
            raise OptionError(
                _("--pool: expected one of {kinds}, got {pool!r}").format(
                    kinds=", ".join(POOL_KINDS), pool=pool
                )
            )
        if whole("--groups", groups, minimum=1) != 1:
            raise OptionError(_("--pool takes no --groups"))
        options = pool_options(
            pool,
            kernel_size,
            stride,
            padding,
            dilation,
            ceil_mode,
            None,
            None,
            output_size,
            kind_flag="--pool",
        )
        if input_file is not None:
            if input_shape is not None:
                raise OptionError(_("give either an INPUT file or --input-shape"))
            in_shape = shape_of(input_file, "input")
        else:
            in_shape = option(
                "--input-shape", lambda t: parse_shape(t, ndims=(3, 4)), input_shape or "1x4x4"
            )
        if pool.startswith("adaptive"):
            adaptive = layers.explain_adaptive_pool_shapes(in_shape, options)
            if as_json:
                show_json(layers.adaptive_pool_shapes_payload(adaptive))
            else:
                show(*layers.adaptive_pool_shapes_report(adaptive))
            return
        pooled = layers.explain_pool_shapes(in_shape, options)
        if as_json:
            show_json(layers.pool_shapes_payload(pooled))
        else:
            show(*layers.pool_shapes_report(pooled))
        return
    if not transposed:
        raise OptionError(
            _(
                "--output-padding and --output-size need --transposed; --kernel-size and "
                "--ceil-mode need --pool"
            )
        )
    if kernel_size is not None or ceil_mode:
        raise OptionError(
            _("--kernel-size and --ceil-mode are --pool's: the kernel gives the size")
        )
    options_t = transposed_options(
        stride or "1", padding, dilation, groups, output_padding, output_size
    )
    if (input_file is None) != (kernel_file is None):
        raise OptionError(_("give both INPUT and KERNEL files, or neither"))
    if input_file is not None and kernel_file is not None:
        if input_shape or kernel_shape:
            raise OptionError(_("give either INPUT KERNEL files or --input-shape/--kernel-shape"))
        check_stdin_once([input_file, kernel_file])
        in_shape = shape_of(input_file, "input")
        k_shape = shape_of(kernel_file, "kernel")
    else:
        in_shape = option(
            "--input-shape", lambda t: parse_shape(t, ndims=(3, 4)), input_shape or "2x3x3"
        )
        k_shape = option(
            "--kernel-shape", lambda t: parse_shape(t, ndims=(4,)), kernel_shape or "2x1x2x2"
        )
    options_t = resolve_output_padding(in_shape, k_shape, options_t)
    explained = layers.explain_transposed_shapes(in_shape, k_shape, bias=bias, options=options_t)
    payload, report = None, None
    if as_json:
        payload = layers.transposed_shapes_payload(explained)
    else:
        report = layers.transposed_shapes_report(explained)
    if backward:
        from convcli.render.cost import transposed_backward_payload, transposed_backward_report
        from convcli.shapes.cost import transposed_training_cost

        cost = transposed_training_cost(
            explained.input_shape,
            explained.kernel_shape,
            explained.geometry,
            bias=bias,
            groups=explained.groups,
        )
        if payload is not None:
            payload.update(transposed_backward_payload(cost))
        if report is not None:
            report.extend(transposed_backward_report(cost))
    if payload is not None:
        show_json(payload)
    if report is not None:
        show(*report)


def verify_transposed_command(
    input_file: str,
    kernel_file: str,
    bias_file: str | None,
    options: TransposedOptions,
    *,
    atol: float | None,
    rtol: float,
    full: bool,
    as_json: bool,
    max_memory: str | None,
    layouts: Layouts | None = None,
) -> bool:
    """``convcli verify --transposed``; returns True when a check disagreed."""
    from convcli.ops.verify_transposed import verify_transposed
    from convcli.render.layers import verify_transposed_payload, verify_transposed_report

    check_stdin_once([input_file, kernel_file, bias_file])
    budget = memory_budget(max_memory)
    # Both results, the zero-inserted input and the adjoint check are held at once.
    x, kernel, bias = load_checked(
        (input_file, kernel_file, bias_file),
        budget,
        lambda infos: check_transposed_memory(
            budget, infos, options, results=2, as_json=as_json, direct=True
        ),
        layouts,
    )
    assert x is not None and kernel is not None
    options = resolve_output_padding(x.shape, kernel.shape, options)
    with naming_inputs((input_file, kernel_file, bias_file)):
        check = verify_transposed(x, kernel, bias, options, atol=atol, rtol=rtol)
    if as_json:
        show_json(verify_transposed_payload(check))
    else:
        show(*verify_transposed_report(check, full=full))
    return not check.agree


def explain_transposed_command(
    input_file: str,
    kernel_file: str,
    bias_file: str | None,
    options: TransposedOptions,
    *,
    at: str | None,
    full: bool,
    as_json: bool,
    max_memory: str | None = None,
    layouts: Layouts | None = None,
) -> None:
    """``convcli explain --transposed --at POS``."""
    from convcli.errors import PositionError
    from convcli.ops.explain_layers import explain_transposed
    from convcli.render.layers import explain_transposed_payload, explain_transposed_report
    from convcli.shapes.parsing import parse_position

    given = None if at is None else option("--at", parse_position, at)
    budget = memory_budget(max_memory)
    # Every header and the JSON text are budgeted before any tensor data is read.
    x, kernel, bias = load_checked(
        (input_file, kernel_file, bias_file),
        budget,
        lambda infos: check_transposed_memory(budget, infos, options, explain=True),
        layouts,
    )
    assert x is not None and kernel is not None
    options = resolve_output_padding(x.shape, kernel.shape, options)
    # The transposed result has the batch axis of a 4-D input and always c_o.
    position = first_position(x.ndim) if given is None else given
    with naming_inputs((input_file, kernel_file, bias_file)), naming("--at", PositionError):
        explained = explain_transposed(x, kernel, bias, position, options)
    if as_json:
        show_json(explain_transposed_payload(explained))
    else:
        show(*explain_transposed_report(explained, full=full))


def explain_pool_command(
    input_file: str,
    options: PoolOptions,
    *,
    at: str,
    full: bool,
    as_json: bool,
    max_memory: str | None = None,
    layouts: Layouts | None = None,
) -> None:
    """``convcli pool ... --at POS``: one pooled output explained."""
    from convcli.errors import PositionError
    from convcli.ops.explain_layers import explain_pool
    from convcli.render.layers import explain_pool_payload, explain_pool_report
    from convcli.shapes.parsing import parse_position

    position = option("--at", parse_position, at)
    budget = memory_budget(max_memory)
    (x,) = load_checked(
        [input_file],
        budget,
        lambda infos: check_pool_memory(budget, infos[0], options, as_json=False, explain=True),
        layouts,
    )
    assert x is not None
    with naming_inputs((input_file, None, None)), naming("--at", PositionError):
        explained = explain_pool(x, options, position)
    if as_json:
        show_json(explain_pool_payload(explained))
    else:
        show(*explain_pool_report(explained, full=full))
