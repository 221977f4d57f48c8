"""``convcli shapes --want-output``: the options that give a wanted output size."""

from __future__ import annotations

from typing import TYPE_CHECKING

from convcli.cli._common import check_stdin_once, naming, option, shape_of, show, show_json
from convcli.errors import OptionError
from convcli.i18n import N_, _

if TYPE_CHECKING:
    from convcli.render.solve import Solved
    from convcli.shapes.solve import AxisAnswer

Pair = tuple[int, int]
AXES = (N_("height"), N_("width"))


def want_output_command(
    want_text: str,
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
) -> None:
    """Solve for the options that give ``--want-output``, then show every answer."""
    from convcli.render.solve import solved_payload, solved_report
    from convcli.shapes.parsing import parse_size

    want = option("--want-output", parse_size, want_text)
    stride, padding, dilation, groups, padding_mode, bias = conv_flags
    if output_padding is not None or output_size is not None:
        raise OptionError(
            _("--want-output finds --output-padding itself: give neither it nor --output-size")
        )
    if pool is not None:
        solved = _pool(want, sources, stride, padding, dilation, pool, kernel_size, ceil_mode)
    elif transposed:
        solved = _transposed(want, sources, stride, padding, dilation)
    else:
        if padding != "0":
            raise OptionError(_("--want-output finds the padding: give no --padding"))
        solved = _conv(want, sources, stride, dilation, groups, padding_mode, bias)
    if as_json:
        show_json(solved_payload(solved))
    else:
        show(*solved_report(solved))


def _shapes(
    sources: tuple[str | None, str | None, str | None, str | None],
    default_input: str,
    default_kernel: str | None,
) -> tuple[tuple[int, ...], tuple[int, ...] | None]:
    """The input and kernel shapes, from files or --input-shape/--kernel-shape."""
    from convcli.shapes.parsing import parse_shape

    input_file, kernel_file, input_shape, kernel_shape = sources
    if default_kernel is None:
        if kernel_file is not None or kernel_shape is not None:
            raise OptionError(_("--pool takes an input only: give --kernel-size, not a kernel"))
        if input_file is not None:
            if input_shape is not None:
                raise OptionError(_("give either an INPUT file or --input-shape"))
            return shape_of(input_file, "input"), None
        shape = option(
            "--input-shape", lambda t: parse_shape(t, ndims=(2, 3, 4)), input_shape or default_input
        )
        return shape, None
    if (input_file is None) != (kernel_file is None):
        raise OptionError(_("give both INPUT and KERNEL files, or neither"))
    if input_file is not None and kernel_file is not None:
        if input_shape or kernel_shape:
            raise OptionError(_("give either INPUT KERNEL files or --input-shape/--kernel-shape"))
        check_stdin_once([input_file, kernel_file])
        return shape_of(input_file, "input"), shape_of(kernel_file, "kernel")
    return (
        option(
            "--input-shape", lambda t: parse_shape(t, ndims=(2, 3, 4)), input_shape or default_input
        ),
        option(
            "--kernel-shape",
            lambda t: parse_shape(t, ndims=(2, 3, 4)),
            kernel_shape or default_kernel,
        ),
    )


def _pair(name: str, text: str | None, minimum: int) -> Pair | None:
    from convcli.shapes.parsing import parse_int_or_pair

    if text is None:
        return None
    value = option(name, lambda t: parse_int_or_pair(t, minimum=minimum), text)
    return (value, value) if isinstance(value, int) else value


def _each_axis(solve: object) -> tuple[tuple[AxisAnswer, ...], tuple[AxisAnswer, ...]]:
    """``solve(axis)`` for height and width; a refusal names ``--want-output`` and the axis."""
    answers = []
    for axis in range(2):
        with naming("--want-output"), naming(_(AXES[axis])):
            answers.append(tuple(solve(axis)))  # type: ignore[operator]
    return answers[0], answers[1]


def _conv(
    want: Pair,
    sources: tuple[str | None, str | None, str | None, str | None],
    stride: str | None,
    dilation: str,
    groups: str,
    padding_mode: str,
    bias: bool,
) -> Solved:
    from dataclasses import replace

    from convcli.cli._common import conv_options
    from convcli.render.reports import explain_shapes
    from convcli.render.solve import Solved, suggested
    from convcli.shapes.solve import solve_conv_axis

    in_shape, k_shape = _shapes(sources, "2x3x3", "3x2x2x2")
    assert k_shape is not None
    strides = _pair("--stride", stride, 1)
    d = _pair("--dilation", dilation, 1) or (1, 1)
    n, k = in_shape[-2:], k_shape[-2:]
    answers = _each_axis(
        lambda axis: solve_conv_axis(
            n[axis],
            k[axis],
            want[axis],
            stride=None if strides is None else strides[axis],
            dilation=d[axis],
        )
    )
    solved = Solved("conv2d", (n[0], n[1]), (k[0], k[1]), want, answers)
    # The first answer, worked forward by the whole layer: channels and groups checked too.
    chosen = suggested(solved)
    options = replace(
        conv_options("1", "0", dilation, groups, padding_mode),
        stride=tuple(chosen["stride"]),
        padding=chosen["padding"] if chosen["padding"] == "same" else tuple(chosen["padding"]),
    )
    forward = explain_shapes(in_shape, k_shape, bias=bias, options=options)
    assert forward.layer.geometry.out_size == want, (forward.layer.geometry.out_size, want)
    return solved


def _transposed(
    want: Pair,
    sources: tuple[str | None, str | None, str | None, str | None],
    stride: str | None,
    padding: str,
    dilation: str,
) -> Solved:
    from convcli.render.solve import Solved
    from convcli.shapes.solve import solve_transposed_axis

    in_shape, k_shape = _shapes(sources, "2x3x3", "2x1x2x2")
    assert k_shape is not None
    if len(k_shape) != 4:
        raise OptionError(
            _("--kernel-shape: a transposed convolution's kernel is c_i x c_o/g x k_h x k_w")
        )
    s = _pair("--stride", stride, 1) or (1, 1)
    p = _pair("--padding", padding, 0) or (0, 0)
    d = _pair("--dilation", dilation, 1) or (1, 1)
    n, k = in_shape[-2:], k_shape[-2:]
    answers = _each_axis(
        lambda axis: solve_transposed_axis(
            n[axis], k[axis], want[axis], stride=s[axis], padding=p[axis], dilation=d[axis]
        )
    )
    return Solved("conv_transpose2d", (n[0], n[1]), (k[0], k[1]), want, answers)


def _pool(
    want: Pair,
    sources: tuple[str | None, str | None, str | None, str | None],
    stride: str | None,
    padding: str,
    dilation: str,
    pool: str,
    kernel_size: str | None,
    ceil_mode: bool,
) -> Solved:
    from convcli.render.solve import Solved
    from convcli.shapes.solve import solve_pool_axis

    if pool not in ("max", "avg"):
        raise OptionError(
            _("--want-output: adaptive pooling takes the output size itself: give --output-size")
        )
    if ceil_mode:
        raise OptionError(_("--want-output says whether --ceil-mode is needed: leave it out"))
    if kernel_size is None:
        raise OptionError(_("--pool {kind} needs --kernel-size N or H,W").format(kind=pool))
    if pool == "avg" and dilation != "1":
        raise OptionError(_("--pool avg takes no --dilation"))
    in_shape, _kernel = _shapes(sources, "1x4x4", None)
    k = _pair("--kernel-size", kernel_size, 1)
    assert k is not None
    s = _pair("--stride", stride, 1)
    p = _pair("--padding", padding, 0) or (0, 0)
    d = _pair("--dilation", dilation, 1) or (1, 1)
    n = in_shape[-2:]
    answers = _each_axis(
        lambda axis: solve_pool_axis(
            n[axis],
            k[axis],
            want[axis],
            stride=None if s is None else s[axis],
            padding=p[axis],
            dilation=d[axis],
        )
    )
    return Solved(f"{pool}_pool2d", (n[0], n[1]), k, want, answers)
