"""`convcli grad`: the backward pass (反向传播) of a convolution, exact to torch.autograd."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer

from convcli.cli._app import app, guard, say, shown
from convcli.cli._common import (
    BiasOpt,
    DilationOpt,
    FlipOpt,
    ForceOpt,
    FullOpt,
    GroupsOpt,
    InputArg,
    JsonOpt,
    KernelArg,
    MaxMemoryOpt,
    PaddingModeOpt,
    PaddingOpt,
    StrideOpt,
    TensorInfo,
    conv_options,
    held_files,
    json_text,
    memory_budget,
    naming,
    naming_inputs,
    option,
    publish,
    show,
    stdout_open,
    wants_transposed,
    write_stdout,
)
from convcli.cli._loading import load_checked
from convcli.cli._wording import option_words
from convcli.cli.layers import OutputPaddingOpt, OutputSizeOpt, TransposedOpt
from convcli.errors import OptionError, PositionError, ShapeError
from convcli.i18n import _

if TYPE_CHECKING:
    from convcli.shapes.options import ConvOptions
    from convcli.shapes.pooling import PoolOptions
    from convcli.shapes.transposed import TransposedOptions

GradOutputOpt = Annotated[
    str | None,
    typer.Option(
        "--grad-output",
        metavar="FILE",
        help="dY, the loss's gradient with respect to the output (the output's shape); "
        "default: all ones, the gradient of the sum of the outputs.",
    ),
]
GradFileOpt = Annotated[
    str | None,
    typer.Option(
        "--output",
        "-o",
        metavar="FILE",
        help="Write grad_input, grad_weight and grad_bias to FILE (.npz).",
    ),
]
GradAtOpt = Annotated[
    str | None,
    typer.Option(
        "--at",
        metavar="TARGET",
        help="Explain one gradient cell: input:N,C,I,J (the outputs that read it and the "
        "taps they used) or weight:O,I,P,Q (the positions the tap visited); indices in "
        "the file's rank.",
    ),
]


def grad_options(
    transposed: bool,
    flags: tuple[str, str, str, str, str, bool],
    output_padding: str | None,
    output_size: str | None,
) -> ConvOptions | TransposedOptions:
    """The options of ``grad`` and ``verify --grad``: conv2d's, or with ``--transposed``
    conv_transpose2d's (no ``--padding-mode`` or ``--flip``)."""
    stride, padding, dilation, groups, padding_mode, flip = flags
    if wants_transposed(transposed, output_padding, output_size):
        from convcli.cli.layers import transposed_options

        if padding_mode != "zeros" or flip:
            raise OptionError(_("--transposed has no --padding-mode or --flip"))
        return transposed_options(stride, padding, dilation, groups, output_padding, output_size)
    return conv_options(stride, padding, dilation, groups, padding_mode, flip)


def check_grad_sizes(
    budget: int,
    infos: Sequence[TensorInfo | None],
    options: ConvOptions | TransposedOptions,
    *,
    as_json: bool,
) -> None:
    """Refuse from the shapes alone: tensors that do not form the layer, a ``dY`` of
    another shape than the output's, an estimate over the budget."""
    from convcli.cli.layers import resolve_output_padding
    from convcli.ops.budget import check_budget, estimate_grad
    from convcli.ops.grad import grad_output_shape
    from convcli.shapes.transposed import TransposedOptions

    x, kernel, bias, dy = (*infos, None, None)[:4]
    if x is None or kernel is None:
        return
    if isinstance(options, TransposedOptions):
        from convcli.ops.transposed import check_transposed_kernel

        check_transposed_kernel(kernel[0])
        options = resolve_output_padding(x[0], kernel[0], options)
    b_shape, b_dtype = (None, None) if bias is None else bias
    estimate = estimate_grad(
        x[0], x[1], kernel[0], kernel[1], b_shape, b_dtype, options, as_json=as_json
    )
    if dy is not None:
        expected = grad_output_shape(x[0], kernel[0], options)
        if tuple(dy[0]) != expected:
            with naming("--grad-output"):
                raise ShapeError(
                    _("must have the output's shape {expected}, got {shape}").format(
                        expected=expected, shape=tuple(dy[0])
                    )
                )
    check_budget(estimate, budget)


@app.command()
def grad(
    input_file: InputArg,
    kernel_file: KernelArg,
    bias_file: BiasOpt = None,
    grad_output_file: GradOutputOpt = None,
    stride: StrideOpt = "1",
    padding: PaddingOpt = "0",
    dilation: DilationOpt = "1",
    groups: GroupsOpt = "1",
    padding_mode: PaddingModeOpt = "zeros",
    flip: FlipOpt = False,
    output: GradFileOpt = None,
    force: ForceOpt = False,
    full: FullOpt = False,
    stats: Annotated[
        bool,
        typer.Option(
            "--stats",
            help="Print the gradients' statistics, not their values; the default with --output.",
        ),
    ] = False,
    show_values: Annotated[
        bool, typer.Option("--show", help="With --output: print the gradients' values too.")
    ] = False,
    as_json: JsonOpt = False,
    max_memory: MaxMemoryOpt = None,
    transposed: TransposedOpt = False,
    output_padding: OutputPaddingOpt = None,
    output_size: OutputSizeOpt = None,
    at: GradAtOpt = None,
) -> None:
    """The backward pass: the gradients of a loss with respect to the input, the
    kernel and the bias, exactly as torch.autograd gives them.

    Without --grad-output the loss is the sum of the outputs, so dY = 1 everywhere. dX is
    the transposed convolution of dY with the kernel, dW a correlation of the input with
    dY, db the sum of dY; with --transposed the roles swap. Every option of run applies.

    \b
    Examples:
      convcli grad samples/lesson_X.json samples/lesson_K_multi_out.json
      convcli grad x.npy w.npy --bias b.npy --grad-output dy.npy -p 1 -s 2 -o grads.npz
      convcli grad x.npy w.npy --at input:0,1,1,1
      convcli grad x.npy w.npy --bias b.npy --at weight:1,0,1,1
      convcli grad x.npy w.npy --transposed --stride 2 --padding 1 --json
    """
    with guard(), option_words():
        from convcli.shapes.parsing import parse_grad_target
        from convcli.tensorio.files import check_output_path

        options = grad_options(
            transposed, (stride, padding, dilation, groups, padding_mode, flip),
            output_padding, output_size,
        )  # fmt: skip
        target = None if at is None else option("--at", parse_grad_target, at)
        if target is not None and output is not None:
            raise OptionError(_("--at explains one gradient cell: it writes no --output"))
        files = (input_file, kernel_file, bias_file, grad_output_file)
        inputs = [spec for spec in files if spec is not None]
        if output is not None:
            check_output_path(output, force=force, inputs=inputs, suffixes=(".npz",))
        if as_json:
            stdout_open()
        budget = memory_budget(max_memory)
        x, kernel, bias, dy = load_checked(
            files, budget, lambda infos: check_grad_sizes(budget, infos, options, as_json=as_json)
        )
        assert x is not None and kernel is not None
        options = _resolved(x.shape, kernel.shape, options)
        if target is not None:
            _explain(x, kernel, bias, dy, options, target, full=full, as_json=as_json)
            return
        _run(
            x, kernel, bias, dy, options, files,
            output=output, force=force, full=full, as_json=as_json,
            stats_only=stats or (output is not None and not show_values),
        )  # fmt: skip


def _resolved(
    x_shape: tuple[int, ...], kernel_shape: tuple[int, ...], options: Any
) -> ConvOptions | TransposedOptions:
    from convcli.cli.layers import resolve_output_padding
    from convcli.shapes.transposed import TransposedOptions

    if isinstance(options, TransposedOptions):
        return resolve_output_padding(x_shape, kernel_shape, options)
    resolved: ConvOptions = options
    return resolved


def compute_grads(
    x: Any, kernel: Any, bias: Any, dy: Any, options: ConvOptions | TransposedOptions
) -> Any:
    from convcli.ops.grad import conv_grads, transposed_grads
    from convcli.shapes.transposed import TransposedOptions

    if isinstance(options, TransposedOptions):
        from convcli.ops.transposed import check_transposed_kernel

        check_transposed_kernel(kernel.shape)
        return transposed_grads(x, kernel, bias, options, dy)
    return conv_grads(x, kernel, bias, options, dy)


def _run(
    x: Any,
    kernel: Any,
    bias: Any,
    dy: Any,
    options: ConvOptions | TransposedOptions,
    files: tuple[str, str, str | None, str | None],
    *,
    output: str | None,
    force: bool,
    full: bool,
    as_json: bool,
    stats_only: bool,
) -> None:
    from convcli.cli.run import staged
    from convcli.render.grad import grad_payload, grad_report

    with naming_inputs(files):
        grads = compute_grads(x, kernel, bias, dy, options)
    inputs = [spec for spec in files if spec is not None]
    # The file goes into place only once the report is printed (a failed stdout writes none).
    with held_files() as held:
        with staged(output, force=force, inputs=inputs, suffixes=(".npz",)) as target:
            if target is not None:
                arrays = {"grad_input": grads.grad_input, "grad_weight": grads.grad_weight}
                if grads.grad_bias is not None:
                    arrays["grad_bias"] = grads.grad_bias
                target.write_arrays(arrays)
                target.commit()  # held: renamed by publish
        if as_json:
            text = json_text(grad_payload(grads))
            publish(held, lambda: write_stdout(text))
            return
        names = tuple(spec and shown(spec) for spec in files)
        report = grad_report(
            grads, x, kernel, bias, names, options,  # type: ignore[arg-type]
            full=full, stats_only=stats_only,
        )  # fmt: skip
        publish(held, lambda: show(*report))
    if output is not None:
        say(_("wrote {file}").format(file=shown(output)))


def _explain(
    x: Any,
    kernel: Any,
    bias: Any,
    dy: Any,
    options: ConvOptions | TransposedOptions,
    target: tuple[str, tuple[int, ...]],
    *,
    full: bool,
    as_json: bool,
) -> None:
    from convcli.ops.grad_explain import explain_grad
    from convcli.render.grad import explain_grad_payload, explain_grad_report

    if not isinstance(options, _conv_options_type()):
        from convcli.ops.transposed import check_transposed_kernel

        check_transposed_kernel(kernel.shape)
    with naming("--at", PositionError):
        explanation = explain_grad(x, kernel, bias, options, target[0], target[1], dy)
    if as_json:
        write_stdout(json_text(explain_grad_payload(explanation)))
        return
    show(*explain_grad_report(explanation, full=full))


def _conv_options_type() -> type:
    from convcli.shapes.options import ConvOptions

    return ConvOptions


def pool_grad_command(
    input_file: str,
    grad_output_file: str | None,
    options: PoolOptions,
    *,
    output: str | None,
    force: bool,
    full: bool,
    as_json: bool,
    max_memory: str | None,
) -> None:
    """``convcli pool --grad``: size, load, compute the input's gradient, write, show."""
    from convcli.ops.budget import check_budget, estimate_pool_grad
    from convcli.ops.grad import pool2d_backward
    from convcli.ops.pooling import plan_pool
    from convcli.render.grad import pool_grad_payload, pool_grad_report
    from convcli.tensorio.files import check_output_path, save_tensor

    files = (input_file, grad_output_file)
    inputs = [spec for spec in files if spec is not None]
    if output is not None:
        check_output_path(output, force=force, inputs=inputs)
    if as_json:
        stdout_open()
    budget = memory_budget(max_memory)

    def sizing(infos: Sequence[TensorInfo | None]) -> None:
        x_info, dy_info = infos[0], infos[1]
        if x_info is None:
            return
        check_budget(estimate_pool_grad(x_info[0], x_info[1], options, as_json=as_json), budget)
        if dy_info is not None:
            plan = plan_pool(
                x_info[0], x_info[1], options.kind, kernel_size=options.kernel_size,
                stride=options.stride, padding=options.padding, dilation=options.dilation,
                ceil_mode=options.ceil_mode, output_size=options.output_size,
            )  # fmt: skip
            if tuple(dy_info[0]) != tuple(plan.output_shape):
                with naming("--grad-output"):
                    raise ShapeError(
                        _("must have the output's shape {expected}, got {shape}").format(
                            expected=tuple(plan.output_shape), shape=tuple(dy_info[0])
                        )
                    )

    x, dy = load_checked(
        [input_file, grad_output_file], budget, sizing, roles=("input", "grad_output")
    )
    assert x is not None
    with naming_inputs((input_file, None, None)):
        gradient = pool2d_backward(x, options, dy)
    # The file goes into place only once the report is printed (a failed stdout writes none).
    with held_files() as held:
        if output is not None:
            save_tensor(output, gradient, force=force, inputs=inputs)
        if as_json:
            publish(held, lambda: write_stdout(json_text(pool_grad_payload(gradient))))
            return
        if dy is None:
            import numpy as np

            from convcli.ops.pooling import pool

            dy_shown = np.ones_like(pool(x, options))
        else:
            dy_shown = dy
        report = pool_grad_report(
            gradient,
            x,
            shown(input_file),
            dy_shown,
            None if grad_output_file is None else shown(grad_output_file),
            options.kind,
            full=full,
        )
        publish(held, lambda: show(*report))
    if output is not None:
        say(_("wrote {file}").format(file=shown(output)))


def verify_grad_command(
    files: tuple[str, str, str | None, str | None],
    options: ConvOptions | TransposedOptions,
    *,
    atol: float | None,
    rtol: float,
    as_json: bool,
    max_memory: str | None,
) -> bool:
    """``convcli verify --grad``: the backward pass checked through im2col (of conv2d, or
    with ``TransposedOptions`` of conv_transpose2d); True when a check disagrees."""
    from convcli.ops.budget import check_budget, estimate_run
    from convcli.ops.grad_explain import verify_grad, verify_transposed_grad
    from convcli.render.grad import verify_grad_payload, verify_grad_report
    from convcli.shapes.transposed import TransposedOptions

    budget = memory_budget(max_memory)

    def sizing(infos: Sequence[TensorInfo | None]) -> None:
        check_grad_sizes(budget, infos, options, as_json=as_json)
        x, kernel, bias = infos[0], infos[1], infos[2]
        if x is None or kernel is None:
            return
        bias_shape, bias_dtype = (None, None) if bias is None else bias
        if isinstance(options, TransposedOptions):
            from convcli.ops.grad import grad_output_shape

            # dX = conv2d(dY, K) with the forward's stride, padding, dilation and groups:
            # the unfolded dY, twice (its columns and their products)
            resolved = _resolved(x[0], kernel[0], options)
            dy_shape = grad_output_shape(x[0], kernel[0], resolved)
            estimate = estimate_run(
                dy_shape, x[1], kernel[0], kernel[1], None, None, stride=options.stride,
                padding=options.padding, dilation=options.dilation, groups=options.groups,
                results=2, unfolded=True,
            )  # fmt: skip
        else:
            # verify's own: the unfolded input, twice (the columns and their gradient)
            estimate = estimate_run(
                x[0], x[1], kernel[0], kernel[1], bias_shape, bias_dtype, stride=options.stride,
                padding=options.padding, dilation=options.dilation, groups=options.groups,
                results=2, unfolded=True, padding_mode=options.padding_mode,
            )  # fmt: skip
        check_budget(estimate, budget)

    x, kernel, bias, dy = load_checked(files, budget, sizing)
    assert x is not None and kernel is not None
    with naming_inputs(files):
        if isinstance(options, TransposedOptions):
            from convcli.ops.transposed import check_transposed_kernel

            check_transposed_kernel(kernel.shape)
            resolved = _resolved(x.shape, kernel.shape, options)
            assert isinstance(resolved, TransposedOptions)
            check = verify_transposed_grad(x, kernel, bias, resolved, dy, atol=atol, rtol=rtol)
        else:
            check = verify_grad(x, kernel, bias, options, dy, atol=atol, rtol=rtol)
    payload = verify_grad_payload(check)
    if as_json:
        write_stdout(json_text(payload))
    else:
        show(*verify_grad_report(check))
    return not payload["agree"]
