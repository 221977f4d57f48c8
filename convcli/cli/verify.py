"""`convcli verify` and `convcli verify-1x1`: one convolution computed two ways."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Annotated

import typer

from convcli.cli._app import EXIT_DISAGREE, app, guard
from convcli.cli._common import (
    AtolOpt,
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
    RtolOpt,
    StrideOpt,
    TensorInfo,
    check_memory,
    conv_options,
    layouts,
    memory_budget,
    naming_inputs,
    note_layouts,
    option,
    show,
    show_json,
    tolerances,
    wants_transposed,
    whole,
)
from convcli.cli._loading import load_checked
from convcli.cli._wording import option_words
from convcli.cli.layers import OutputPaddingOpt, OutputSizeOpt, TransposedOpt
from convcli.errors import OptionError
from convcli.i18n import _


@app.command()
def verify(
    input_file: InputArg,
    kernel_file: KernelArg,
    bias_file: BiasOpt = None,
    stride: StrideOpt = "1",
    padding: PaddingOpt = "0",
    dilation: DilationOpt = "1",
    groups: GroupsOpt = "1",
    padding_mode: PaddingModeOpt = "zeros",
    flip: FlipOpt = False,
    atol: AtolOpt = None,
    rtol: RtolOpt = "0",
    full: Annotated[
        bool, typer.Option("--full", help="Print every value of big matrices.")
    ] = False,
    as_json: JsonOpt = False,
    max_memory: MaxMemoryOpt = None,
    transposed: TransposedOpt = False,
    output_padding: OutputPaddingOpt = None,
    output_size: OutputSizeOpt = None,
    input_layout: InputLayoutOpt = "nchw",
    kernel_layout: KernelLayoutOpt = "oihw",
    grad: Annotated[
        bool,
        typer.Option(
            "--grad",
            help="Check the backward pass instead: dX = conv_transpose2d(dY, K) and dW = the "
            "correlation of X with dY against im2col's col2im(W^T dY) and dY cols^T, and db "
            "= the sum of dY; with --transposed, dX = conv2d(dY, K) and dW = the correlation "
            "of dY with X against W @ cols(dY) and X @ cols(dY)^T.",
        ),
    ] = False,
    grad_output_file: Annotated[
        str | None,
        typer.Option(
            "--grad-output",
            metavar="FILE",
            help="With --grad: dY (default: all ones, the gradient of the sum of the outputs).",
        ),
    ] = None,
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
      convcli verify x.npy w.npy --transposed --stride 2 --padding 1 --output-padding 1
      convcli verify samples/lesson_X.json samples/lesson_K_multi_out.json -p 1 --grad
      convcli verify x.npy w.npy --grad --transposed -s 2 -p 1 --output-padding 1

    --transposed checks conv_transpose2d instead: directly, and as conv2d over the
    input with stride-1 zeros inserted and d(k-1)-p around, the kernel flipped and its
    channel axes swapped; and the adjoint identity <conv2d(z, w), x> = <z, convT(x, w)>.
    """
    with guard(), option_words():
        chosen = layouts(input_layout, kernel_layout)
        if grad and not chosen.default:
            raise OptionError(
                _(
                    "--grad reads its files in PyTorch's layouts: no --input-layout or "
                    "--kernel-layout"
                )
            )
        if grad_output_file is not None and not grad:
            raise OptionError(_("--grad-output needs --grad"))
        if grad:
            from convcli.cli.grad import grad_options, verify_grad_command

            grad_opts = grad_options(
                transposed, (stride, padding, dilation, groups, padding_mode, flip),
                output_padding, output_size,
            )  # fmt: skip
            tolerance, relative = tolerances(atol, rtol)
            failed = verify_grad_command(
                (input_file, kernel_file, bias_file, grad_output_file),
                grad_opts,
                atol=tolerance,
                rtol=relative,
                as_json=as_json,
                max_memory=max_memory,
            )
            if failed:
                raise typer.Exit(EXIT_DISAGREE)
            return
        if wants_transposed(transposed, output_padding, output_size):
            from convcli.cli.layers import transposed_options, verify_transposed_command

            if padding_mode != "zeros" or flip:
                raise OptionError(_("--transposed has no --padding-mode or --flip"))
            tolerance, relative = tolerances(atol, rtol)
            failed = verify_transposed_command(
                input_file,
                kernel_file,
                bias_file,
                transposed_options(stride, padding, dilation, groups, output_padding, output_size),
                atol=tolerance,
                rtol=relative,
                full=full,
                as_json=as_json,
                max_memory=max_memory,
                layouts=chosen,
            )
            note_layouts(chosen, None, None)
            if failed:
                raise typer.Exit(EXIT_DISAGREE)
            return
        from convcli.ops.verify import verify_im2col
        from convcli.render.teach import verify_payload, verify_report

        options = conv_options(stride, padding, dilation, groups, padding_mode, flip)
        tolerance, relative = tolerances(atol, rtol)
        budget = memory_budget(max_memory)
        # Both results and the unfolded input are held at once.
        sizing = functools.partial(
            check_memory, budget, options=options, results=2, as_json=as_json, unfolded=True
        )
        x, kernel, bias = load_checked((input_file, kernel_file, bias_file), budget, sizing, chosen)
        assert x is not None and kernel is not None
        check = verify_im2col(x, kernel, bias, options, atol=tolerance, rtol=relative)
        if as_json:
            show_json(verify_payload(check))
        else:
            show(*verify_report(check, full=full))
        note_layouts(chosen, x.shape, kernel.shape)
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
        str, typer.Option("--input-shape", metavar="SHAPE", help="c_i x h x w of the random input.")
    ] = "3x3x3",
    out_channels: Annotated[
        str, typer.Option("--out-channels", metavar="N", help="c_o of the random kernel.")
    ] = "2",
    seed: Annotated[
        str, typer.Option("--seed", metavar="S", help="Seed of the standard-normal draws (>= 0).")
    ] = "0",
    atol: AtolOpt = None,
    rtol: RtolOpt = "0",
    as_json: JsonOpt = False,
    max_memory: MaxMemoryOpt = None,
    input_layout: InputLayoutOpt = "nchw",
    kernel_layout: KernelLayoutOpt = "oihw",
) -> None:
    """Prove that a 1x1 convolution is a fully connected layer over channels.

    Computes the 1x1 convolution per channel (corr2d_multi_in_out) and as one matrix
    product K (c_o, c_i) @ X (c_i, h*w), then compares. Exit 0 when they agree
    within the tolerance, 1 when they do not. Without files it draws float32
    standard-normal X and K from --seed. Then: how many elements differ and by how
    many units in the last place, in float64 and with integers, and why.

    \b
    Examples:
      convcli verify-1x1
      convcli verify-1x1 --input-shape 64x28x28 --out-channels 32 --seed 7
      convcli verify-1x1 samples/lesson_1x1_X.json samples/lesson_1x1_K.json --json
    """
    with guard(), option_words():
        import numpy as np

        from convcli.ops.verify import check_1x1_shapes
        from convcli.ops.verify import verify_1x1 as check_1x1
        from convcli.render.reports import verify_1x1_payload, verify_1x1_report
        from convcli.shapes.options import ConvOptions
        from convcli.shapes.parsing import parse_shape

        if (input_file is None) != (kernel_file is None):
            raise OptionError(_("give both INPUT and KERNEL files, or neither"))
        chosen = layouts(input_layout, kernel_layout)
        if not chosen.default and input_file is None:
            raise OptionError(_("--input-layout and --kernel-layout are for tensor files"))
        tolerance, relative = tolerances(atol, rtol)
        budget = memory_budget(max_memory)

        # Two results (per channel and as a matrix product) are held and compared.
        def sizing(infos: Sequence[TensorInfo | None]) -> None:
            x_info, k_info = infos[:2]
            if x_info is not None and k_info is not None:
                check_1x1_shapes(x_info[0], k_info[0])
            check_memory(budget, infos, ConvOptions(), results=2, as_json=as_json)

        if input_file is not None and kernel_file is not None:
            x, kernel = load_checked((input_file, kernel_file), budget, sizing, chosen)
            assert x is not None and kernel is not None
        else:
            c_o = whole("--out-channels", out_channels, minimum=1)
            draws = whole("--seed", seed, minimum=0)
            shape = option("--input-shape", lambda t: parse_shape(t, ndims=(3,)), input_shape)
            f32 = np.dtype(np.float32)
            drawn = ((shape, f32), ((c_o, shape[0], 1, 1), f32))
            sizing(drawn)
            rng = np.random.default_rng(draws)
            x = rng.standard_normal(shape, dtype=np.float32)
            kernel = rng.standard_normal((c_o, shape[0], 1, 1), dtype=np.float32)
        with naming_inputs((input_file, kernel_file, None)):
            check = check_1x1(x, kernel, atol=tolerance, rtol=relative)
        from convcli.ops.ulp import order_effect
        from convcli.render.ulp import order_payload, order_report

        with naming_inputs((input_file, kernel_file, None)):
            effect = order_effect(x, kernel)
        if as_json:
            show_json({**verify_1x1_payload(check), "ulp": order_payload(effect)})
        else:
            show(*verify_1x1_report(check), *order_report(effect))
        note_layouts(chosen, None, None)
        if not check.comparison.agree:
            raise typer.Exit(EXIT_DISAGREE)
