"""`convcli compose`: two convolutions with nothing between them are one."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from convcli.cli._app import app, guard, say, shown
from convcli.cli._common import (
    ForceOpt,
    JsonOpt,
    MaxMemoryOpt,
    check_stdin_once,
    held_files,
    load,
    memory_budget,
    naming,
    option,
    peek,
    publish,
    show,
    show_json,
)
from convcli.cli._loading import check_reading_budget
from convcli.cli._wording import option_words
from convcli.errors import ShapeError
from convcli.i18n import _

Pair = tuple[int, int]


def _pair_option(name: str, text: str, *, minimum: int) -> Pair:
    from convcli.shapes.parsing import parse_int_or_pair

    value = option(name, lambda t: parse_int_or_pair(t, minimum=minimum), text)
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


@app.command()
def compose(
    k1_file: Annotated[
        str, typer.Argument(metavar="K1", help="First kernel (c_m, c_i, k_h, k_w).")
    ],
    k2_file: Annotated[
        str, typer.Argument(metavar="K2", help="Second kernel (c_o, c_m, k_h, k_w).")
    ],
    stride1: Annotated[
        str, typer.Option("--stride1", metavar="S", help="Layer 1's stride (N or H,W).")
    ] = "1",
    stride2: Annotated[
        str, typer.Option("--stride2", metavar="S", help="Layer 2's stride (N or H,W).")
    ] = "1",
    dilation1: Annotated[
        str, typer.Option("--dilation1", metavar="D", help="Layer 1's dilation.")
    ] = "1",
    dilation2: Annotated[
        str, typer.Option("--dilation2", metavar="D", help="Layer 2's dilation.")
    ] = "1",
    bias1: Annotated[
        str | None, typer.Option("--bias1", metavar="FILE", help="Layer 1's bias (c_m,).")
    ] = None,
    bias2: Annotated[
        str | None, typer.Option("--bias2", metavar="FILE", help="Layer 2's bias (c_o,).")
    ] = None,
    check: Annotated[
        str | None,
        typer.Option(
            "--check",
            metavar="INPUT",
            help="Apply both ways to INPUT (c_i, h, w) and show where they agree.",
        ),
    ] = None,
    padding1: Annotated[
        str, typer.Option("--padding1", metavar="P", help="With --check: layer 1's padding.")
    ] = "0",
    padding2: Annotated[
        str, typer.Option("--padding2", metavar="P", help="With --check: layer 2's padding.")
    ] = "0",
    output: Annotated[
        str | None,
        typer.Option(
            "--output", "-o", metavar="FILE", help="Write the one kernel to FILE (.npy or .json)."
        ),
    ] = None,
    bias_output: Annotated[
        str | None,
        typer.Option("--bias-output", metavar="FILE", help="Write the one bias to FILE."),
    ] = None,
    force: ForceOpt = False,
    as_json: JsonOpt = False,
    max_memory: MaxMemoryOpt = None,
) -> None:
    """Two convolutions with no nonlinearity between them are one: its kernel and why.

    K1 is (c_m, c_i, k_h, k_w) and K2 (c_o, c_m, k_h, k_w); a 2-D kernel (k_h, k_w) is
    one channel in and out. The single kernel (c_o, c_i, k1 + s1*(k2 - 1), ...), its
    bias, stride s1*s2 and dilation; why (the kernels convolve); and the converse: how
    many numbers each way, and per 2-D slice its rank and whether it splits into k x 1
    and 1 x k.

    \b
    Examples:
      convcli compose samples/sobel_column.json samples/sobel_row.json
      convcli compose k1.npy k2.npy --stride1 2 -o k.npy
      convcli compose k1.npy k2.npy --bias1 b1.npy --bias2 b2.npy --json
      convcli compose k1.npy k2.npy --check x.npy --padding1 1 --padding2 1
    """
    with guard(), option_words():
        import numpy as np

        from convcli.ops.budget import check_budget, estimate_compose
        from convcli.ops.compose import check_composition, compose_kernels
        from convcli.render.compose import (
            check_report,
            compose_payload,
            compose_report,
            composition_check_payload,
        )
        from convcli.tensorio.files import check_output_path, save_tensor

        strides = (
            _pair_option("--stride1", stride1, minimum=1),
            _pair_option("--stride2", stride2, minimum=1),
        )
        dilations = (
            _pair_option("--dilation1", dilation1, minimum=1),
            _pair_option("--dilation2", dilation2, minimum=1),
        )
        paddings = (
            _pair_option("--padding1", padding1, minimum=0),
            _pair_option("--padding2", padding2, minimum=0),
        )
        if check is None and paddings != ((0, 0), (0, 0)):
            from convcli.errors import OptionError

            raise OptionError(_("--padding1 and --padding2 need --check INPUT"))
        specs = [k1_file, k2_file, bias1, bias2, check]
        check_stdin_once(specs)
        inputs = [spec for spec in specs if spec is not None]
        for target in (output, bias_output):
            if target is not None:
                with naming("--output" if target == output else "--bias-output"):
                    check_output_path(target, force=force, inputs=inputs)
        budget = memory_budget(max_memory)

        def sizing(k1_shape: Any, k2_shape: Any, x_shape: Any) -> None:
            if len(k1_shape) != 4 or len(k2_shape) != 4:
                return  # compose_kernels says what is wrong
            estimate = estimate_compose(
                tuple(k1_shape),
                tuple(k2_shape),
                strides=strides,
                dilations=dilations,
                input_shape=None if x_shape is None else tuple(x_shape),
                paddings=paddings,
            )
            check_budget(estimate, budget)

        check_reading_budget(
            [(k1_file, "kernel"), (k2_file, "kernel"), (bias1, "bias"), (bias2, "bias"),
             (check, "input")],
            budget,
        )  # fmt: skip
        infos = [peek(k1_file, "kernel"), peek(k2_file, "kernel"), peek(check, "input")]
        if infos[0] is not None and infos[1] is not None and (check is None or infos[2]):
            sizing(infos[0][0], infos[1][0], None if infos[2] is None else infos[2][0])
        # a 2-D kernel (k_h, k_w) is one channel in, one out, as corr2d reads it
        k1, k2 = (_as_conv2d(load(spec, "kernel")) for spec in (k1_file, k2_file))
        b1 = None if bias1 is None else load(bias1, "bias")
        b2 = None if bias2 is None else load(bias2, "bias")
        x = None if check is None else load(check, "input")
        sizing(k1.shape, k2.shape, None if x is None else x.shape)
        _check_biases(k1.shape, k2.shape, b1, b2)
        # the two layers' options, the same for composing and for checking
        pair: dict[str, Any] = {
            "bias1": b1,
            "bias2": b2,
            "stride1": strides[0],
            "stride2": strides[1],
            "dilation1": dilations[0],
            "dilation2": dilations[1],
        }
        composed = compose_kernels(k1, k2, **pair)
        checked = None
        if x is not None:
            if x.ndim == 2 and k1.ndim == 4 and k1.shape[1] == 1:
                x = x[np.newaxis]  # one channel
            with naming("--check"):
                if x.ndim not in (3, 4) or x.shape[-3] != k1.shape[1]:
                    raise ShapeError(
                        _(
                            "expected an input (c_i, h, w) with c_i = {c_i}, got shape {shape}"
                        ).format(c_i=k1.shape[1], shape="x".join(map(str, x.shape)))
                    )
                checked = check_composition(
                    x, k1, k2, **pair, padding1=paddings[0], padding2=paddings[1]
                )
        # Files go into place only once the report is printed (a failed stdout writes none).
        with held_files() as held:
            if output is not None:
                save_tensor(output, composed.kernel, force=force, inputs=inputs)
            if bias_output is not None and composed.bias is not None:
                save_tensor(bias_output, composed.bias, force=force, inputs=inputs)
            if as_json:
                payload = compose_payload(k1.shape, k2.shape, composed)
                if checked is not None:
                    payload["check"] = composition_check_payload(checked)
                publish(held, lambda: show_json(payload))
                return
            report = compose_report(k1.shape, k2.shape, strides, dilations, composed)
            if checked is not None:
                report.extend(check_report(checked))
            publish(held, lambda: show(*report))
        for written in (output, bias_output if composed.bias is not None else None):
            if written is not None:
                say(_("wrote {file}").format(file=shown(written)))


def _as_conv2d(kernel: Any) -> Any:
    return kernel[None, None] if kernel.ndim == 2 else kernel


def _check_biases(k1_shape: Any, k2_shape: Any, b1: Any, b2: Any) -> None:
    for name, bias, channels in (("--bias1", b1, k1_shape[0]), ("--bias2", b2, k2_shape[0])):
        if bias is not None and tuple(bias.shape) != (channels,):
            with naming(name):
                raise ShapeError(
                    _("expected one value per output channel, shape ({c},), got {shape}").format(
                        c=channels, shape="x".join(map(str, bias.shape))
                    )
                )
