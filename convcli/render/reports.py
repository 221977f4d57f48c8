"""What ``shapes``, ``verify-1x1`` and ``demo`` show: JSON payloads and report layouts.

Payloads are plain dicts (the ``--json`` contract); reports are lists of renderables
built from ``convcli.render.widgets``'s pieces. Nothing here prints.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from convcli.i18n import N_, _, ngettext
from convcli.i18n.typeset import beside
from convcli.ops.conv import corr2d, corr2d_multi_in, corr2d_multi_in_out
from convcli.ops.lesson import (
    lesson_1x1_input,
    lesson_1x1_kernel,
    lesson_1x1_printed_output,
    lesson_input,
    lesson_kernel_multi_in,
    lesson_kernel_multi_out,
)
from convcli.ops.padding import check_padding_mode
from convcli.ops.verify import Comparison, OneByOneCheck, verify_1x1
from convcli.render.numbers import count_text as _n
from convcli.render.widgets import (
    Renderable,
    TensorRow,
    format_value,
    render_array,
    render_columns,
    render_key_values,
    render_line,
    render_shapes,
    render_title,
)
from convcli.shapes.axes import axis_names, output_axes
from convcli.shapes.layer import (
    LayerShapes,
    SeparableCost,
    describe_layer,
    lift_to_conv2d,
    separable_cost,
)
from convcli.shapes.options import ConvOptions

__all__ = [
    "ShapesExplanation",
    "comparison_rows",
    "demo_report",
    "explain_shapes",
    "shapes_payload",
    "shapes_report",
    "verify_1x1_payload",
    "verify_1x1_report",
]

Shape = tuple[int, ...]
PADDING_NOTE = N_(
    "p_h is the padding on each side (PyTorch's padding=); "
    "d2l's floor((n_h - k_h + p_h + s_h)/s_h) counts both sides in p_h: 2p_h here."
)
BIAS_NOTE = N_(
    "bias is (c_o,): one number per output channel. "
    "(The lesson note's 'c_o x c_i' for the bias is a mistake.)"
)
# The tensors' roles as the shapes table shows them.
INPUT, KERNEL, BIAS, OUTPUT = N_("input"), N_("kernel"), N_("bias"), N_("output")


@dataclass(frozen=True)
class ShapesExplanation:
    """A layer as the user gave it (kernel of rank 2, 3 or 4) and as conv2d sees it."""

    input_shape: Shape
    kernel_shape: Shape
    output_shape: Shape
    layer: LayerShapes
    options: ConvOptions


def explain_shapes(
    input_shape: Shape, kernel_shape: Shape, *, bias: bool, options: ConvOptions
) -> ShapesExplanation:
    """Check a layer's shapes and work out everything ``convcli shapes`` explains.

    Examples
    --------
    >>> e = explain_shapes((2, 3, 3), (2, 2, 2), bias=False, options=ConvOptions())
    >>> e.output_shape, e.layer.macs
    ((2, 2), 32)
    """
    lifted_input, lifted_kernel = lift_to_conv2d(tuple(input_shape), tuple(kernel_shape))
    layer = describe_layer(
        lifted_input,
        lifted_kernel,
        bias=bias,
        stride=options.stride,
        padding=options.padding,
        dilation=options.dilation,
        groups=options.groups,
    )
    check_padding_mode(options.padding_mode, layer.geometry.in_size, layer.geometry.padding)
    output_shape = layer.output_shape
    if len(kernel_shape) < 4:  # corr2d and multi-in have no output-channel axis
        output_shape = (*output_shape[:-3], *output_shape[-2:])
        if len(kernel_shape) == 2:
            output_shape = output_shape[-2:]
    return ShapesExplanation(
        input_shape=tuple(input_shape),
        kernel_shape=tuple(kernel_shape),
        output_shape=tuple(output_shape),
        layer=layer,
        options=options,
    )


def padding_object(padding: Sequence[int]) -> dict[str, int]:
    """``--json``'s padding: ``(top, bottom, left, right)``, or ``(h, w)`` on both sides.

    >>> padding_object((1, 2))
    {'top': 1, 'bottom': 1, 'left': 2, 'right': 2}
    """
    top, bottom, left, right = (
        (padding[0], padding[0], padding[1], padding[1]) if len(padding) == 2 else padding
    )
    return {"top": top, "bottom": bottom, "left": left, "right": right}


def shapes_payload(e: ShapesExplanation) -> dict[str, Any]:
    """The ``shapes --json`` object."""
    layer, g = e.layer, e.layer.geometry
    return {
        "input_shape": list(e.input_shape),
        "kernel_shape": list(e.kernel_shape),
        "bias_shape": list(layer.bias_shape) if layer.bias_shape else None,
        "bias": layer.bias_shape is not None,
        "output_shape": list(e.output_shape),
        "conv2d_weight_shape": list(layer.kernel_shape),
        "stride": list(g.stride),
        "padding": padding_object(g.padding),
        "dilation": list(g.dilation),
        "groups": layer.groups,
        "params": layer.params,
        "weight_params": layer.weight_params,
        "bias_params": layer.bias_params,
        "macs": layer.macs,
        "flops": layer.flops,
        "conventions": {
            "macs": "weight multiply-accumulates over all batch items; bias excluded",
            "flops": "2 per MAC, plus 1 per output value for the bias when present",
            "separable": "depthwise k_h x k_w per input channel (groups=c_i, same stride, "
            "padding, dilation), then pointwise 1x1 c_i -> c_o; biases c_i + c_o when "
            "bias is true; ratio = separable MACs / this layer's MACs",
        },
        "padding_mode": e.options.padding_mode,
        "receptive_field": list(layer.receptive_field),
        "separable": _separable_payload(separable_cost(layer)),
    }


def _separable_payload(cost: SeparableCost) -> dict[str, Any]:
    return {
        "params": cost.params,
        "macs": cost.macs,
        "ratio": float(cost.macs_ratio),
        "params_ratio": float(cost.params_ratio),
        "flops": cost.flops,
        "depthwise": {"params": cost.depthwise_params, "macs": cost.depthwise_macs},
        "pointwise": {"params": cost.pointwise_params, "macs": cost.pointwise_macs},
        "bias_params": cost.bias_params,
    }


def _formula(axis: str, e: ShapesExplanation, index: int) -> tuple[str, str]:
    g = e.layer.geometry
    n, k = g.in_size[index], g.kernel_size[index]
    s, d = g.stride[index], g.dilation[index]
    before, after = g.padding[2 * index], g.padding[2 * index + 1]
    if before == after:
        pad_symbol, pad_value = f"2p_{axis}", f"2*{_n(before)}"
    else:
        pad_symbol, pad_value = f"p_{axis}0 + p_{axis}1", f"{_n(before)} + {_n(after)}"
    general = f"floor((n_{axis} + {pad_symbol} - d_{axis}(k_{axis}-1) - 1)/s_{axis}) + 1"
    numbers = f"floor(({_n(n)} + {pad_value} - {_n(d)}*({_n(k)}-1) - 1)/{_n(s)}) + 1"
    return (f"m_{axis}", f"{general}\n= {numbers} = {_n(g.out_size[index])}")


def shapes_report(e: ShapesExplanation) -> list[Renderable]:
    """The ``shapes`` report: tensors with named axes, formulas, parameters, cost."""
    layer = e.layer
    groups = e.options.groups
    rows = [
        TensorRow(_(INPUT), e.input_shape, axis_names("input", len(e.input_shape))),
        TensorRow(
            _(KERNEL), e.kernel_shape, axis_names("kernel", len(e.kernel_shape), groups=groups)
        ),
        TensorRow(_(BIAS), layer.bias_shape, ("c_o",)),
        TensorRow(_(OUTPUT), e.output_shape, output_axes(len(e.input_shape), len(e.kernel_shape))),
    ]
    c_o, c_per_group, k_h, k_w = layer.kernel_shape
    m_h, m_w = layer.geometry.out_size
    batch = f"{_n(layer.batch)} x " if layer.batch > 1 else ""
    cost = [
        _formula("h", e, 0),
        _formula("w", e, 1),
        (
            _("params"),
            _(
                "weights c_o*(c_i/g)*k_h*k_w = {c_o}*{c_g}*{k_h}*{k_w} = {weights}"
                " + bias {bias} = {params}"
            ).format(
                c_o=_n(c_o),
                c_g=_n(c_per_group),
                k_h=_n(k_h),
                k_w=_n(k_w),
                weights=_n(layer.weight_params),
                bias=_n(layer.bias_params),
                params=_n(layer.params),
            ),
        ),
        bias_row(layer.bias_shape is not None, c_o),
        (
            _("MACs"),
            beside(
                f"{batch}c_o*m_h*m_w*(c_i/g)*k_h*k_w = "
                f"{batch}{_n(c_o)}*{_n(m_h)}*{_n(m_w)}*{_n(c_per_group)}*{_n(k_h)}*{_n(k_w)}"
                f" = {_n(layer.macs)}",
                _("(weights only, bias excluded)"),
            ),
        ),
        (_("FLOPs"), _flops(layer)),
        _receptive_field(layer),
    ]
    if e.options.padding_mode != "zeros":
        cost.append(
            (
                _("padding mode"),
                _(
                    "{mode}: the padding copies input cells instead of zeros; "
                    "sizes and cost are unchanged"
                ).format(mode=e.options.padding_mode),
            )
        )
    report: list[Renderable] = [
        render_shapes(rows),
        render_key_values(cost, title=_("output size and cost")),
        render_line(_(PADDING_NOTE)),
    ]
    why_not = separable_not_shown(layer)
    if why_not is None:
        report.append(
            render_key_values(_separable_rows(layer), title=_("depthwise-separable alternative"))
        )
    else:
        report.append(
            render_line(_("depthwise-separable alternative: not shown: {why}").format(why=why_not))
        )
    if (k_h, k_w) == (1, 1):
        report.append(render_line(_fully_connected(layer)))
    return report


def separable_not_shown(layer: LayerShapes) -> str | None:
    """Why a depthwise-separable alternative makes no sense for ``layer`` (None: it does).

    Examples
    --------
    >>> from convcli.shapes.layer import describe_layer
    >>> separable_not_shown(describe_layer((1, 8, 9, 9), (16, 8, 3, 3))) is None
    True
    >>> separable_not_shown(describe_layer((1, 8, 9, 9), (16, 8, 1, 1)))
    'a 1x1 kernel has no spatial part to split off'
    """
    c_per_group, k_h, k_w = layer.kernel_shape[1:]
    c_i = c_per_group * layer.groups
    if (k_h, k_w) == (1, 1):
        return _("a 1x1 kernel has no spatial part to split off")
    if c_i == 1:
        return _("with one input channel there are no channels to mix separately")
    if layer.groups == c_i:
        return _("the layer is already depthwise (groups = c_i = {c_i})").format(c_i=c_i)
    if layer.groups > 1:
        return _("a grouped layer (groups {groups}) already splits its channels").format(
            groups=layer.groups
        )
    return None


def bias_row(bias: bool, c_o: int, module: str = "nn.Conv2d") -> tuple[str, str]:
    """Whether the parameters count a bias, and why (``module``'s default is bias=True)."""
    if bias:
        text = ngettext(
            "counted: {c_o} value, one per output channel, as {module}'s default "
            "bias=True (--no-bias leaves it out)",
            "counted: {c_o} values, one per output channel, as {module}'s default "
            "bias=True (--no-bias leaves it out)",
            c_o,
        )
    else:
        text = _("not counted (--no-bias), as {module}(..., bias=False)")
    return _(BIAS), text.format(c_o=c_o, module=module)


def _flops(layer: LayerShapes) -> str:
    if layer.bias_shape is None:
        return _("2*MACs (a multiply and an add each; no bias) = {flops}").format(
            flops=_n(layer.flops)
        )
    return _(
        "2*MACs (a multiply and an add each) + 1 bias add per output value = "
        "2*{macs} + {outputs} = {flops}"
    ).format(macs=_n(layer.macs), outputs=_n(layer.outputs), flops=_n(layer.flops))


def _receptive_field(layer: LayerShapes) -> tuple[str, str]:
    (k_h, k_w), (d_h, d_w) = layer.geometry.kernel_size, layer.geometry.dilation
    r_h, r_w = layer.receptive_field
    return (
        _("receptive field"),
        _(
            "(k-1)d+1 per axis = ({k_h}-1)*{d_h}+1, ({k_w}-1)*{d_w}+1 = {r_h}x{r_w}: "
            "the input cells one output value sees"
        ).format(k_h=_n(k_h), d_h=_n(d_h), k_w=_n(k_w), d_w=_n(d_w), r_h=r_h, r_w=r_w),
    )


def _separable_rows(layer: LayerShapes) -> list[tuple[str, str]]:
    """The lesson's Q&A: depthwise per channel, then a 1x1 convolution to mix channels."""
    cost = separable_cost(layer)
    c_o, c_per_group, k_h, k_w = layer.kernel_shape
    c_i = c_per_group * layer.groups
    m_h, m_w = layer.geometry.out_size
    batch = f"{_n(layer.batch)}*" if layer.batch > 1 else ""
    bias = ""
    if cost.bias_params:
        bias = " + " + _("bias c_i+c_o = {bias}").format(bias=_n(cost.bias_params))
    ratio = cost.macs_ratio
    if layer.groups == 1:
        formula = (
            f"1/c_o + 1/(k_h*k_w) = 1/{_n(c_o)} + 1/{_n(k_h * k_w)} = {ratio} = {float(ratio):.4g}"
        )
    else:
        formula = f"{_n(cost.macs)} / {_n(layer.macs)} = {float(ratio):.4g} " + _("(grouped layer)")
    return [
        (
            _("depthwise"),
            _(
                "{k_h}x{k_w} per input channel: params c_i*k_h*k_w = {c_i}*{k_h}*{k_w} = "
                "{params}; MACs {batch}c_i*m_h*m_w*k_h*k_w = "
                "{batch}{c_i}*{m_h}*{m_w}*{k_h}*{k_w} = {macs}"
            ).format(
                k_h=_n(k_h),
                k_w=_n(k_w),
                c_i=_n(c_i),
                m_h=_n(m_h),
                m_w=_n(m_w),
                batch=batch,
                params=_n(cost.depthwise_params),
                macs=_n(cost.depthwise_macs),
            ),
        ),
        (
            _("pointwise"),
            _(
                "1x1 c_i -> c_o: params c_i*c_o = {c_i}*{c_o} = {params}; "
                "MACs {batch}c_o*m_h*m_w*c_i = {batch}{c_o}*{m_h}*{m_w}*{c_i} = {macs}"
            ).format(
                c_i=_n(c_i),
                c_o=_n(c_o),
                m_h=_n(m_h),
                m_w=_n(m_w),
                batch=batch,
                params=_n(cost.pointwise_params),
                macs=_n(cost.pointwise_macs),
            ),
        ),
        (
            _("total"),
            _(
                "params {depthwise} + {pointwise}{bias} = {params} (this layer: {layer_params}); "
                "MACs {macs} (this layer: {layer_macs})"
            ).format(
                depthwise=_n(cost.depthwise_params),
                pointwise=_n(cost.pointwise_params),
                bias=bias,
                params=_n(cost.params),
                layer_params=_n(layer.params),
                macs=_n(cost.macs),
                layer_macs=_n(layer.macs),
            ),
        ),
        (_("MACs ratio"), formula),
    ]


def _fully_connected(layer: LayerShapes) -> str:
    c_o, c_per_group = layer.kernel_shape[:2]
    m_h, m_w = layer.geometry.out_size
    positions = m_h * m_w
    text = _(
        "1x1 kernel: a fully connected layer over channels, the same weight matrix "
        "W ({c_o}, {c_g}) at each of the {m_h}*{m_w} = {positions} positions: "
        "Y ({c_o}, {positions}) = W ({c_o}, {c_g}) @ X ({c_g}, {positions})"
    ).format(c_o=c_o, c_g=c_per_group, m_h=m_h, m_w=m_w, positions=positions)
    if layer.groups > 1:
        text += _(", block-diagonal over {groups} groups").format(groups=layer.groups)
    return text


def _array_payload(array: npt.NDArray[np.generic]) -> dict[str, Any]:
    from convcli.tensorio.files import tensor_to_json

    return tensor_to_json(array)


def verify_1x1_payload(check: OneByOneCheck) -> dict[str, Any]:
    """The ``verify-1x1 --json`` object."""
    c = check.comparison
    return {
        "agree": c.agree,
        "max_abs_diff": c.max_abs_diff,
        "max_rel_diff": c.max_rel_diff,
        "atol": c.atol,
        "rtol": c.rtol,
        "input_shape": list(check.x.shape),
        "kernel_shape": list(check.kernel.shape),
        "input_matrix_shape": list(check.x_matrix_shape),
        "kernel_matrix_shape": list(check.kernel_matrix_shape),
        "per_channel": _array_payload(check.per_channel),
        "matrix_product": _array_payload(check.matrix_product),
    }


def comparison_rows(c: Comparison, claim: str) -> list[tuple[str, str]]:
    """How far apart two results are, the tolerance, and the verdict on ``claim``."""
    verdict = _("AGREE: {claim}").format(claim=claim) if c.agree else _("DISAGREE")
    return [
        (_("max |difference|"), f"{c.max_abs_diff:.3g}"),
        (_("max relative difference"), f"{c.max_rel_diff:.3g}"),
        (_("tolerance"), f"|a - b| <= atol + rtol*|a|, atol {c.atol:.3g}, rtol {c.rtol:.3g}"),
        (_("verdict"), verdict),
    ]


def verify_1x1_report(check: OneByOneCheck) -> list[Renderable]:
    """The ``verify-1x1`` report: the reshapes, both results, the differences."""
    c_i, h, w = check.x.shape
    c_o = check.kernel.shape[0]
    c = check.comparison
    steps = [
        ("X", f"({c_i}, {h}, {w}) -> reshape -> ({c_i}, {h * w})"),
        ("K", f"({c_o}, {c_i}, 1, 1) -> reshape -> ({c_o}, {c_i})"),
        ("Y = K @ X", f"({c_o}, {c_i}) @ ({c_i}, {h * w}) = ({c_o}, {h * w}) -> ({c_o}, {h}, {w})"),
        (
            _("per channel"),
            _("corr2d_multi_in_out: {c_o} x {c_i} cross-correlations with 1x1 kernels").format(
                c_o=c_o, c_i=c_i
            ),
        ),
    ]
    diffs = comparison_rows(c, _("a 1x1 convolution is a fully connected layer over channels"))
    axes = axis_names("output", 3)
    return [
        render_key_values(steps, title=_("1x1 convolution as a matrix product")),
        render_array(check.per_channel, axes, name=_("Y per channel")),
        render_array(check.matrix_product, axes, name=_("Y matrix product")),
        render_key_values(diffs, title=_("comparison")),
    ]


def demo_report() -> list[Renderable]:
    """The lesson, replayed from the tensors built into convcli."""
    x, k = lesson_input(), lesson_kernel_multi_in()
    per_channel = [corr2d(x_c, k_c) for x_c, k_c in zip(x, k, strict=True)]
    multi_in = corr2d_multi_in(x, k)
    k3 = lesson_kernel_multi_out()
    multi_out = corr2d_multi_in_out(x, k3)
    parts = " + ".join(format_value(p[0, 0]) for p in per_channel)
    check = verify_1x1(lesson_1x1_input(), lesson_1x1_kernel())
    gap = check.matrix_product.astype(np.float64) - lesson_1x1_printed_output()
    printed_gap = float(np.max(np.abs(gap)))
    in_axes, k_axes = axis_names("input", 3), axis_names("kernel", 3)
    return [
        render_title(_("1. Multiple input channels: one kernel per channel, results summed")),
        render_array(x, in_axes, name="X"),
        render_array(k, k_axes, name="K"),
        render_line(
            _("corr2d of each channel with its kernel, then the sum corr2d_multi_in(X, K):")
        ),
        render_columns(
            *[
                render_array(p, ("m_h", "m_w"), name=f"corr2d(X[{i}], K[{i}])")
                for i, p in enumerate(per_channel)
            ],
            render_array(multi_in, ("m_h", "m_w"), name=_("Y = sum")),
        ),
        render_line(f"Y[0,0] = {parts} = {format_value(multi_in[0, 0])}"),
        render_title(_("2. Multiple output channels: K, K+1, K+2 stacked (3x2x2x2)")),
        render_line(_("Y = corr2d_multi_in_out(X, K): one multi-in result per output channel")),
        render_array(multi_out, axis_names("output", 3), name="Y"),
        render_title(_("3. A 1x1 convolution is a fully connected layer over channels")),
        *verify_1x1_report(check),
        render_line(
            _(
                "The note printed Y to 4 decimals from X and K printed to 4 decimals; "
                "this Y is within {gap} of it."
            ).format(gap=f"{printed_gap:.1e}")
        ),
        render_line(_(BIAS_NOTE)),
    ]
