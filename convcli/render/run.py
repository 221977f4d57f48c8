"""What ``run`` shows: its ``--json`` payload and its report layout.

As ``convcli.render.reports``: the payload is a plain dict (the ``--json`` contract), the
report a list of renderables built from ``convcli.render.widgets``'s pieces. Nothing here prints.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from convcli.i18n import _
from convcli.i18n.typeset import clauses
from convcli.ops.modes import RunResult
from convcli.ops.numerics import array_stats
from convcli.render.widgets import (
    Renderable,
    TensorRow,
    render_array,
    render_heat_legend,
    render_line,
    render_shapes,
    render_stats,
)
from convcli.shapes.geometry import resolve_geometry
from convcli.shapes.options import ConvOptions

__all__ = ["geometry_line", "run_payload", "run_report"]


def run_payload(result: RunResult) -> dict[str, Any]:
    """The ``run --json`` object: the result tensor in convcli's JSON form.

    Examples
    --------
    >>> from convcli.ops.lesson import lesson_input, lesson_kernel_multi_in
    >>> from convcli.ops.modes import run_convolution
    >>> r = run_convolution(lesson_input(), lesson_kernel_multi_in())
    >>> run_payload(r)["shape"]
    [2, 2]
    """
    from convcli.tensorio.jsontext import tensor_to_json

    return tensor_to_json(result.output)


def run_report(
    result: RunResult,
    x: npt.NDArray[np.generic],
    kernel: npt.NDArray[np.generic],
    bias: npt.NDArray[np.generic] | None,
    sources: tuple[str, str, str | None],
    *,
    full: bool = False,
    heatmap: bool = False,
    options: ConvOptions | None = None,
    stats_only: bool = False,
) -> list[Renderable]:
    """The ``run`` report: the tensors with named axes, the geometry used, the method, the
    result, its statistics.

    ``sources`` names the input, kernel and bias files (the bias's ``None``: no bias).
    With ``options`` the geometry they resolve to is shown (padding per side, stride,
    dilation, groups); ``stats_only`` leaves out the result's values.
    Inputs holding NaN or infinity get statistics of their own: the result's count hides
    where they came from.

    Examples
    --------
    >>> from convcli.ops.lesson import lesson_input, lesson_kernel_multi_in
    >>> from convcli.ops.modes import run_convolution
    >>> x, k = lesson_input(), lesson_kernel_multi_in()
    >>> report = run_report(run_convolution(x, k), x, k, None, ("x.json", "k.json", None))
    >>> len(report)
    4
    """
    rows = [
        TensorRow(_("input"), x.shape, result.input_axes, sources[0], str(x.dtype)),
        TensorRow(_("kernel"), kernel.shape, result.kernel_axes, sources[1], str(kernel.dtype)),
        TensorRow(
            _("bias"),
            None if bias is None else bias.shape,
            ("c_o",),
            sources[2] or "",
            "" if bias is None else str(bias.dtype),
        ),
        TensorRow(
            _("output"), result.output.shape, result.output_axes, "", str(result.output.dtype)
        ),
    ]
    report: list[Renderable] = [render_shapes(rows)]
    if options is not None:
        report.append(render_line(geometry_line(x.shape, kernel.shape, options)))
    report.append(render_line(_("computed with {method}").format(method=result.method)))
    if not stats_only:
        report.append(render_array(result.output, result.output_axes, full=full, heatmap=heatmap))
        if heatmap:
            report.append(render_heat_legend(result.output))
    for label, array in ((_("input"), x), (_("kernel"), kernel), (_("bias"), bias)):
        if array is not None and array.dtype.kind in "fc" and array_stats(array).non_finite:
            report.append(render_stats(array, label=label))
    report.append(render_stats(result.output))
    return report


def geometry_line(
    input_shape: tuple[int, ...], kernel_shape: tuple[int, ...], options: ConvOptions
) -> str:
    """The geometry a run used, resolved: padding per side (``same`` worked out), stride,
    dilation, groups, padding mode.

    Examples
    --------
    >>> print(geometry_line((1, 4, 4), (1, 1, 2, 2), ConvOptions(padding="same")))
    padding top 0, bottom 1, left 0, right 1 (zeros)
    stride 1x1, dilation 1x1, groups 1
    """
    g = resolve_geometry(
        (input_shape[-2], input_shape[-1]),
        (kernel_shape[-2], kernel_shape[-1]),
        stride=options.stride,
        padding=options.padding,
        dilation=options.dilation,
    )
    top, bottom, left, right = g.padding
    (s_h, s_w), (d_h, d_w) = g.stride, g.dilation
    flip = clauses(["", _("kernel flipped (true convolution)")]) if options.flip else ""
    return _(
        "padding top {top}, bottom {bottom}, left {left}, right {right} ({mode})\n"
        "stride {s_h}x{s_w}, dilation {d_h}x{d_w}, groups {groups}{flip}"
    ).format(
        top=top,
        bottom=bottom,
        left=left,
        right=right,
        mode=options.padding_mode,
        s_h=s_h,
        s_w=s_w,
        d_h=d_h,
        d_w=d_w,
        groups=options.groups,
        flip=flip,
    )
