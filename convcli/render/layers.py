"""What ``pool`` shows, and the ``shapes --transposed`` / ``shapes --pool`` explanations.

Builds renderables and JSON payloads from ``convcli.render.widgets``'s pieces; nothing
here prints.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from convcli.errors import OptionError, ShapeError
from convcli.i18n import N_, _, ngettext
from convcli.i18n.typeset import beside, clauses
from convcli.ops.explain_layers import PoolExplanation, TransposedExplanation
from convcli.ops.modes import RunResult
from convcli.ops.numerics import array_stats
from convcli.ops.verify_transposed import TransposedCheck
from convcli.render.numbers import count_text as _n
from convcli.render.reports import bias_row
from convcli.render.widgets import (
    Renderable,
    TensorRow,
    format_value,
    render_array,
    render_columns,
    render_heat_legend,
    render_key_values,
    render_line,
    render_matrix,
    render_shapes,
    render_stats,
)
from convcli.shapes.pooling import (
    PoolGeometry,
    PoolOptions,
    adaptive_output_size,
    adaptive_window,
    resolve_pool_geometry,
)
from convcli.shapes.transposed import (
    TransposedGeometry,
    TransposedOptions,
    check_transposed_shapes,
    options_geometry,
)

# The book's names of the pooling layers (汇聚层), by --kind.
POOLING_NAMES = {
    "max": N_("max pooling"),
    "avg": N_("avg pooling"),
    "adaptive-max": N_("adaptive-max pooling"),
    "adaptive-avg": N_("adaptive-avg pooling"),
}

__all__ = [
    "AdaptivePoolShapes",
    "PoolShapes",
    "TransposedShapes",
    "adaptive_pool_shapes_payload",
    "adaptive_pool_shapes_report",
    "explain_adaptive_pool_shapes",
    "explain_pool_payload",
    "explain_pool_report",
    "explain_pool_shapes",
    "explain_transposed_payload",
    "explain_transposed_report",
    "explain_transposed_shapes",
    "pool_indices_payload",
    "pool_report",
    "pool_shapes_payload",
    "pool_shapes_report",
    "transposed_shapes_payload",
    "transposed_shapes_report",
    "verify_transposed_payload",
    "verify_transposed_report",
]

Shape = tuple[int, ...]


def _describe_pool(options: PoolOptions) -> str:
    if options.kind.startswith("adaptive"):
        return _("output size {options_output_size}").format(
            options_output_size=options.output_size
        )
    parts = [_("kernel {options_kernel_size}").format(options_kernel_size=options.kernel_size)]
    parts.append(
        _("stride = kernel")
        if options.stride is None
        else _("stride {options_stride}").format(options_stride=options.stride)
    )
    if options.padding not in (0, (0, 0)):
        parts.append(_("padding {options_padding}").format(options_padding=options.padding))
    if options.kind == "max" and options.dilation not in (1, (1, 1)):
        parts.append(_("dilation {options_dilation}").format(options_dilation=options.dilation))
    if options.ceil_mode:
        parts.append(_("ceil mode"))
    return clauses(parts)


def pool_report(
    result: RunResult,
    x: npt.NDArray[np.generic],
    source: str,
    options: PoolOptions,
    *,
    full: bool = False,
    heatmap: bool = False,
    indices: npt.NDArray[np.int64] | None = None,
) -> list[Renderable]:
    """The ``pool`` report: input and output with named axes, the method, the result, stats
    (``indices``: ``pool --indices``' table of each slice beside its values).

    Examples
    --------
    >>> from convcli.ops.pooling import run_pool
    >>> x = np.arange(16.0).reshape(1, 4, 4)
    >>> options = PoolOptions("max", kernel_size=2)
    >>> len(pool_report(run_pool(x, options), x, "x.npy", options))
    4
    """
    rows = [
        TensorRow(_("input"), x.shape, result.input_axes, source, str(x.dtype)),
        TensorRow(
            _("output"), result.output.shape, result.output_axes, "", str(result.output.dtype)
        ),
    ]
    report: list[Renderable] = [
        render_shapes(rows),
        render_line(
            _("computed with {result_method}; {describe_pool_options}").format(
                result_method=result.method, describe_pool_options=_describe_pool(options)
            )
        ),
        render_array(result.output, result.output_axes, full=full, heatmap=heatmap),
    ]
    if indices is not None:
        width = x.shape[-1]
        report[1:] = [
            report[1],
            render_line(
                _(
                    "I: where each maximum is, PyTorch's return_indices: the flat index "
                    "row*{width} + col into its (unpadded) input plane; ties: the first in "
                    "the window's row-by-row scan; NaN: the last NaN"
                ).format(width=width)
            ),
            _beside(report[2], render_array(indices, result.output_axes, name="I", full=full)),
        ]
    if heatmap:
        report.append(render_heat_legend(result.output))
    if x.dtype.kind in "fc" and array_stats(x).non_finite:
        report.append(render_stats(x, label=_("input")))
    report.append(render_stats(result.output))
    return report


def _beside(values: Renderable, indices: Renderable) -> Renderable:
    """Each slice's indices table right after its values table."""
    from rich.columns import Columns

    if isinstance(values, Columns) and isinstance(indices, Columns):
        pairs = zip(values.renderables, indices.renderables, strict=True)
        return render_columns(*[item for pair in pairs for item in pair])
    return render_columns(values, indices)


def pool_indices_payload(result: RunResult, indices: npt.NDArray[np.int64]) -> dict[str, Any]:
    """The ``pool --indices --json`` object: ``pool --json``'s, and ``"indices"`` in the
    same tensor form (int64).

    Examples
    --------
    >>> from convcli.ops.pooling import run_pool_indices
    >>> r, where = run_pool_indices(np.arange(4.0).reshape(1, 2, 2), PoolOptions("max", 2))
    >>> pool_indices_payload(r, where)["indices"]
    {'shape': [1, 1, 1], 'dtype': 'int64', 'data': [[[3]]]}
    """
    from convcli.tensorio.jsontext import tensor_to_json

    payload = dict(tensor_to_json(result.output))
    payload["indices"] = tensor_to_json(indices)
    return payload


# --- shapes --transposed -------------------------------------------------------------------


@dataclass(frozen=True)
class TransposedShapes:
    """A transposed-convolution layer described by its shapes alone."""

    input_shape: Shape
    kernel_shape: Shape
    bias: bool
    geometry: TransposedGeometry
    groups: int

    @property
    def batch(self) -> int:
        return self.input_shape[0] if len(self.input_shape) == 4 else 1

    @property
    def c_o(self) -> int:
        return self.kernel_shape[1] * self.groups

    @property
    def output_shape(self) -> Shape:
        lead = self.input_shape[:1] if len(self.input_shape) == 4 else ()
        return (*lead, self.c_o, *self.geometry.out_size)

    @property
    def weight_params(self) -> int:
        return math.prod(self.kernel_shape)

    @property
    def bias_params(self) -> int:
        return self.c_o if self.bias else 0

    @property
    def macs(self) -> int:
        """Every input value times every tap of its group's kernel (the GEMM's products)."""
        c_i, c_og, k_h, k_w = self.kernel_shape
        h, w = self.geometry.in_size
        return self.batch * c_i * h * w * c_og * k_h * k_w

    @property
    def flops(self) -> int:
        return 2 * self.macs + (math.prod(self.output_shape) if self.bias else 0)


def explain_transposed_shapes(
    input_shape: Shape, kernel_shape: Shape, *, bias: bool, options: TransposedOptions
) -> TransposedShapes:
    """Check a transposed layer's shapes and work out what ``shapes --transposed`` shows.

    Examples
    --------
    >>> from convcli.shapes.transposed import TransposedOptions
    >>> e = explain_transposed_shapes((256, 16, 16), (256, 128, 4, 4), bias=False,
    ...                               options=TransposedOptions(stride=2, padding=1))
    >>> e.output_shape, e.macs
    ((128, 32, 32), 134217728)
    """
    check_transposed_shapes(input_shape, kernel_shape, None, options.groups)
    geometry = options_geometry(input_shape, kernel_shape, options)
    return TransposedShapes(
        tuple(input_shape), tuple(kernel_shape), bias, geometry, int(options.groups)
    )


def transposed_shapes_payload(e: TransposedShapes) -> dict[str, Any]:
    """The ``shapes --transposed --json`` object: ``shapes --json``'s keys, and its own."""
    from convcli.render.reports import padding_object

    g = e.geometry
    return {
        "operation": "conv_transpose2d",
        "input_shape": list(e.input_shape),
        "kernel_shape": list(e.kernel_shape),
        "bias_shape": [e.c_o] if e.bias else None,
        "bias": e.bias,
        "output_shape": list(e.output_shape),
        "conv2d_weight_shape": None,
        "stride": list(g.stride),
        "padding": padding_object(g.padding),
        "output_padding": list(g.output_padding),
        "dilation": list(g.dilation),
        "groups": e.groups,
        "params": e.weight_params + e.bias_params,
        "weight_params": e.weight_params,
        "bias_params": e.bias_params,
        "macs": e.macs,
        "flops": e.flops,
        "conventions": {
            "macs": "every input value times every kernel tap of its group (c_o/g*k_h*k_w "
            "per input value), over all batch items, also the taps that land in the cropped "
            "padding; bias excluded",
            "flops": "2 per MAC, plus 1 per output value for the bias when present",
        },
        "padding_mode": "zeros",
        "receptive_field": list(g.effective_kernel),
        "separable": None,
    }


def _transposed_formula(e: TransposedShapes, index: int) -> tuple[str, str]:
    g, axis = e.geometry, "hw"[index]
    n, k, s = g.in_size[index], g.kernel_size[index], g.stride[index]
    p, d, op = g.padding[index], g.dilation[index], g.output_padding[index]
    general = f"(n_{axis}-1)*s_{axis} - 2p_{axis} + d_{axis}(k_{axis}-1) + op_{axis} + 1"
    numbers = f"({_n(n)}-1)*{_n(s)} - 2*{_n(p)} + {_n(d)}*({_n(k)}-1) + {_n(op)} + 1"
    return (f"m_{axis}", f"{general}\n= {numbers} = {_n(g.out_size[index])}")


def transposed_shapes_report(e: TransposedShapes) -> list[Renderable]:
    """The ``shapes --transposed`` report: tensors, the size formula, parameters, cost."""
    batch_axes = ("n",) if len(e.input_shape) == 4 else ()
    per_group = "c_o/g" if e.groups > 1 else "c_o"
    rows = [
        TensorRow(_("input"), e.input_shape, (*batch_axes, "c_i", "n_h", "n_w")),
        TensorRow(_("kernel"), e.kernel_shape, ("c_i", per_group, "k_h", "k_w")),
        TensorRow(_("bias"), (e.c_o,) if e.bias else None, ("c_o",)),
        TensorRow(_("output"), e.output_shape, (*batch_axes, "c_o", "m_h", "m_w")),
    ]
    c_i, c_og, k_h, k_w = e.kernel_shape
    h, w = e.geometry.in_size
    batch = f"{_n(e.batch)} x " if e.batch > 1 else ""
    g = e.geometry
    s_h, s_w = g.stride
    rows_kv = [
        _transposed_formula(e, 0),
        _transposed_formula(e, 1),
        (
            _("params"),
            _(
                "weights c_i*(c_o/g)*k_h*k_w = {c_i}*{c_og}*{k_h}*{k_w} = {e_weight_params} + "
                "bias {e_bias_params} = {e_weight_params_e_bias_params}"
            ).format(
                c_i=_n(c_i),
                c_og=_n(c_og),
                k_h=_n(k_h),
                k_w=_n(k_w),
                e_weight_params=_n(e.weight_params),
                e_bias_params=_n(e.bias_params),
                e_weight_params_e_bias_params=_n(e.weight_params + e.bias_params),
            ),
        ),
        bias_row(e.bias, e.c_o, "nn.ConvTranspose2d"),
        (
            _("MACs"),
            _(
                "{batch}c_i*n_h*n_w*(c_o/g)*k_h*k_w = {batch}{c_i}*{h}*{w}*{c_og}*{k_h}*{k_w} = "
                "{e_macs:,} (every input value times every tap; bias excluded)"
            ).format(
                batch=batch,
                c_i=_n(c_i),
                h=_n(h),
                w=_n(w),
                c_og=_n(c_og),
                k_h=_n(k_h),
                k_w=_n(k_w),
                e_macs=e.macs,
            ),
        ),
        (
            _("FLOPs"),
            "2*MACs"
            + (" + " + _("1 bias add per output value") if e.bias else "")
            + f" = {_n(e.flops)}",
        ),
        (
            _("direct form"),
            _(
                "conv2d of the input with {s_h_1},{s_w_1} zeros inserted between values and "
                "d(k-1)-p = {direct_g_0},{direct_g_1} around them, kernel flipped, channel axes "
                "swapped: {s_h_s_w}x the products (never how convcli computes it)"
            ).format(
                s_h_1=s_h - 1,
                s_w_1=s_w - 1,
                direct_g_0=_direct(g, 0),
                direct_g_1=_direct(g, 1),
                s_h_s_w=_n(s_h * s_w),
            ),
        ),
    ]
    if g.output_padding != (0, 0):
        rows_kv.append(
            (
                "output_padding",
                _(
                    "{g_output_padding_0},{g_output_padding_1} extra rows/columns at the "
                    "bottom/right: a strided conv2d maps several input sizes onto this input's "
                    "size, output_padding picks one"
                ).format(
                    g_output_padding_0=g.output_padding[0], g_output_padding_1=g.output_padding[1]
                ),
            )
        )
    return [render_shapes(rows), render_key_values(rows_kv, title=_("output size and cost"))]


def _direct(g: TransposedGeometry, index: int) -> int:
    return g.dilation[index] * (g.kernel_size[index] - 1) - g.padding[index]


# --- shapes --pool -------------------------------------------------------------------------


@dataclass(frozen=True)
class PoolShapes:
    """A pooling layer described by its shapes alone."""

    input_shape: Shape
    geometry: PoolGeometry
    kind: str

    @property
    def output_shape(self) -> Shape:
        return (*self.input_shape[:-2], *self.geometry.out_size)

    @property
    def operations(self) -> int:
        """Comparisons (max) or additions (avg): window size - 1 per output value."""
        k_h, k_w = self.geometry.kernel_size
        return math.prod(self.output_shape) * (k_h * k_w - 1)


def explain_pool_shapes(input_shape: Shape, options: PoolOptions) -> PoolShapes:
    """Check a pooling's arguments and work out what ``shapes --pool`` shows.

    Examples
    --------
    >>> e = explain_pool_shapes((64, 112, 112), PoolOptions("max", 3, 2, 1))
    >>> e.output_shape, e.operations
    ((64, 56, 56), 1605632)
    """
    if len(input_shape) not in (3, 4):
        raise ShapeError(
            _("input must be 3-D (c, h, w) or 4-D (n, c, h, w), got {len_input_shape}-D").format(
                len_input_shape=len(input_shape)
            )
        )
    if options.kernel_size is None:
        raise OptionError(
            _("{options_kind} pooling needs a kernel size").format(options_kind=options.kind)
        )
    geometry = resolve_pool_geometry(
        (input_shape[-2], input_shape[-1]),
        options.kernel_size,
        stride=options.stride,
        padding=options.padding,
        dilation=options.dilation if options.kind == "max" else 1,
        ceil_mode=options.ceil_mode,
    )
    return PoolShapes(tuple(input_shape), geometry, options.kind)


def pool_shapes_payload(e: PoolShapes) -> dict[str, Any]:
    """The ``shapes --pool --json`` object: ``shapes --json``'s keys, and its own."""
    from convcli.render.reports import padding_object

    g = e.geometry
    word = "comparisons" if e.kind == "max" else "additions"
    return {
        "operation": f"{e.kind}_pool2d",
        "input_shape": list(e.input_shape),
        "kernel_shape": list(g.kernel_size),
        "bias_shape": None,
        "output_shape": list(e.output_shape),
        "conv2d_weight_shape": None,
        "stride": list(g.stride),
        "padding": padding_object(g.padding),
        "dilation": list(g.dilation),
        "groups": None,
        "params": 0,
        "weight_params": 0,
        "bias_params": 0,
        "macs": 0,
        "flops": e.operations,
        word: e.operations,
        "ceil_mode": g.ceil_mode,
        "ceil_mode_dropped_window": list(g.dropped),
        "conventions": {
            "macs": "pooling multiplies nothing: 0",
            "flops": f"{word}: k_h*k_w - 1 per output value, over all batch items and "
            "channels (padding taps included)"
            + ("; the division by the divisor not counted" if e.kind == "avg" else ""),
        },
        "padding_mode": "-inf" if e.kind == "max" else "zeros",
        "receptive_field": list(g.effective_kernel),
        "separable": None,
    }


def _pool_formula(e: PoolShapes, index: int) -> tuple[str, str]:
    g, axis = e.geometry, "hw"[index]
    n, k, s = g.in_size[index], g.kernel_size[index], g.stride[index]
    p, d = g.padding[index], g.dilation[index]
    rounding = "ceil" if g.ceil_mode else "floor"
    general = f"{rounding}((n_{axis} + 2p_{axis} - d_{axis}(k_{axis}-1) - 1)/s_{axis}) + 1"
    span = n + 2 * p - d * (k - 1) - 1
    raw = (-(-span // s) if g.ceil_mode else span // s) + 1
    text = (
        f"{general}\n= {rounding}(({_n(n)} + 2*{_n(p)} - {_n(d)}*({_n(k)}-1) - 1)/{_n(s)}) + 1"
        f" = {_n(raw)}"
    )
    if g.dropped[index]:
        text += _(
            "\n- 1: ceil mode's last window would start at ({raw}-1)*{s} = {raw_1_s}, in the "
            "right padding (>= n + p = {n_p}), so PyTorch drops it = {g_out_size_index}"
        ).format(
            raw=_n(raw),
            s=_n(s),
            raw_1_s=_n((raw - 1) * s),
            n_p=_n(n + p),
            g_out_size_index=_n(g.out_size[index]),
        )
    return (f"m_{axis}", text)


def pool_shapes_report(e: PoolShapes) -> list[Renderable]:
    """The ``shapes --pool`` report: tensors, the size formula, no parameters, the cost."""
    batch_axes = ("n",) if len(e.input_shape) == 4 else ()
    rows = [
        TensorRow(_("input"), e.input_shape, (*batch_axes, "c", "n_h", "n_w")),
        TensorRow(_("window"), e.geometry.kernel_size, ("k_h", "k_w")),
        TensorRow(_("output"), e.output_shape, (*batch_axes, "c", "m_h", "m_w")),
    ]
    k_h, k_w = e.geometry.kernel_size
    word = _("comparisons") if e.kind == "max" else _("additions")
    outputs = math.prod(e.output_shape)
    pairs = [
        _pool_formula(e, 0),
        _pool_formula(e, 1),
        (_("params"), _("0: pooling has no weights")),
        (
            word,
            _("(k_h*k_w - 1) per output value = {k_h_k_w_1}*{outputs:,} = {e_operations:,}").format(
                k_h_k_w_1=_n(k_h * k_w - 1), outputs=outputs, e_operations=e.operations
            ),
        ),
        (
            _("stride"),
            _("the window, PyTorch's default")
            if e.geometry.stride == e.geometry.kernel_size
            else f"{e.geometry.stride[0]},{e.geometry.stride[1]}",
        ),
    ]
    return [render_shapes(rows), render_key_values(pairs, title=_("output size and cost"))]


# --- shapes --pool adaptive-avg|adaptive-max ----------------------------------------------
# Windows listed one by one in the text report up to this many per axis; --json lists
# every window of an axis that has at most LISTED_WINDOWS (else null: window_lengths stays).
SHOWN_WINDOWS = 8
LISTED_WINDOWS = 10_000


def _listed_windows(e: AdaptivePoolShapes, index: int) -> list[list[int]] | None:
    if e.out_size[index] > LISTED_WINDOWS:
        return None
    return [list(window) for window in e.windows(index)]


@dataclass(frozen=True)
class AdaptivePoolShapes:
    """An adaptive pooling described by its shapes alone: per axis, output index ``i``
    covers ``[floor(i*n/m), ceil((i+1)*n/m))`` (``windows``)."""

    input_shape: Shape
    out_size: tuple[int, int]
    kind: str

    @property
    def output_shape(self) -> Shape:
        return (*self.input_shape[:-2], *self.out_size)

    @property
    def in_size(self) -> tuple[int, int]:
        return (self.input_shape[-2], self.input_shape[-1])

    def windows(self, index: int, limit: int | None = None) -> list[tuple[int, int]]:
        """``[start, end)`` of every output index on axis ``index`` (0: h, 1: w), or of
        the first ``limit``."""
        n, m = self.in_size[index], self.out_size[index]
        return [adaptive_window(i, n, m) for i in range(m if limit is None else min(m, limit))]

    def window_lengths(self, index: int) -> list[int]:
        """The lengths the windows of axis ``index`` take, in closed form (no window listed).

        With ``n = q*m + r``: every window holds ``q`` cells when ``m`` divides ``n``; else
        ``q + 1``, and also ``q + 2`` unless ``r`` divides ``m``.

        >>> e = AdaptivePoolShapes((1, 7, 5), (2, 3), "adaptive-avg")
        >>> e.window_lengths(0), e.window_lengths(1)
        ([4], [2, 3])
        """
        n, m = self.in_size[index], self.out_size[index]
        q, r = divmod(n, m)
        if r == 0:
            return [q]
        return [q + 1] if m % r == 0 else [q + 1, q + 2]

    def cells(self, index: int) -> int:
        """The cells all windows of axis ``index`` hold together, overlaps counted."""
        n, m = self.in_size[index], self.out_size[index]
        return n + m - math.gcd(n, m)

    @property
    def operations(self) -> int:
        """Comparisons (max) or additions (avg): each window's cells - 1, every output.

        The windows of an axis hold ``n + m - gcd(n, m)`` cells together (overlaps
        counted), so all outputs of a plane read ``cells_h * cells_w`` values: the same
        count ``convcli net`` gives adaptive pooling.
        """
        cells = [n + m - math.gcd(n, m) for n, m in zip(self.in_size, self.out_size, strict=True)]
        planes = math.prod(self.input_shape[:-2])
        return planes * (cells[0] * cells[1] - self.out_size[0] * self.out_size[1])


def explain_adaptive_pool_shapes(input_shape: Shape, options: PoolOptions) -> AdaptivePoolShapes:
    """Check an adaptive pooling's ``output_size`` and work out what ``shapes --pool
    adaptive-avg|adaptive-max`` shows.

    Examples
    --------
    >>> e = explain_adaptive_pool_shapes((3, 7, 9), PoolOptions("adaptive-avg", output_size=(2, 3)))
    >>> e.output_shape, e.windows(0), e.operations
    ((3, 2, 3), [(0, 4), (3, 7)], 198)
    """
    if len(input_shape) not in (3, 4):
        raise ShapeError(
            _("input must be 3-D (c, h, w) or 4-D (n, c, h, w), got {len_input_shape}-D").format(
                len_input_shape=len(input_shape)
            )
        )
    size = adaptive_output_size((input_shape[-2], input_shape[-1]), options.output_size)
    return AdaptivePoolShapes(tuple(input_shape), size, options.kind)


def adaptive_pool_shapes_payload(e: AdaptivePoolShapes) -> dict[str, Any]:
    """The ``shapes --pool adaptive-* --json`` object: ``shapes --pool --json``'s keys
    (``null`` where adaptive pooling has no such argument) and every window."""
    from convcli.render.reports import padding_object

    word = "comparisons" if e.kind == "adaptive-max" else "additions"
    return {
        "operation": e.kind.replace("-", "_") + "_pool2d",
        "input_shape": list(e.input_shape),
        "kernel_shape": None,
        "bias_shape": None,
        "output_shape": list(e.output_shape),
        "conv2d_weight_shape": None,
        "output_size": list(e.out_size),
        "stride": None,
        "padding": padding_object((0, 0)),
        "dilation": None,
        "groups": None,
        "params": 0,
        "weight_params": 0,
        "bias_params": 0,
        "macs": 0,
        "flops": e.operations,
        word: e.operations,
        "ceil_mode": None,
        "ceil_mode_dropped_window": None,
        "windows": {axis: _listed_windows(e, index) for index, axis in enumerate("hw")},
        "window_lengths": {axis: e.window_lengths(index) for index, axis in enumerate("hw")},
        "conventions": {
            "macs": "pooling multiplies nothing: 0",
            "flops": f"{word}: a window's cells - 1 per output value, over all batch items and "
            "channels"
            + ("; the division by the cell count not counted" if word == "additions" else ""),
            "windows": "per axis, output index i covers [floor(i*n/m), ceil((i+1)*n/m)) "
            "(start, end excluded), as PyTorch's adaptive pooling; null for an axis of more "
            f"than {LISTED_WINDOWS} windows",
        },
        "padding_mode": None,
        "receptive_field": [max(e.window_lengths(0)), max(e.window_lengths(1))],
        "separable": None,
    }


def _adaptive_formula(e: AdaptivePoolShapes, index: int) -> tuple[str, str]:
    axis = "hw"[index]
    n, m = e.in_size[index], e.out_size[index]
    windows = e.windows(index, SHOWN_WINDOWS)
    shown = [
        ngettext(
            "i={i}: [{start}, {end}), {cells} cell",
            "i={i}: [{start}, {end}), {cells} cells",
            end - start,
        ).format(i=i, start=_n(start), end=_n(end), cells=_n(end - start))
        for i, (start, end) in enumerate(windows)
    ]
    if m > SHOWN_WINDOWS:
        shown.append(_("... ({more} more)").format(more=_n(m - SHOWN_WINDOWS)))
    lengths = [_n(length) for length in e.window_lengths(index)]
    text = _(
        "start = floor(i*{n}/{m}), end = ceil((i+1)*{n}/{m}), end excluded:\n{windows}\n"
        "window lengths: {lengths}"
    ).format(n=_n(n), m=_n(m), windows="\n".join(shown), lengths=", ".join(lengths))
    return (_("windows {axis}").format(axis=axis), text)


def adaptive_pool_shapes_report(e: AdaptivePoolShapes) -> list[Renderable]:
    """The ``shapes --pool adaptive-*`` report: tensors, every window per axis, the cost."""
    batch_axes = ("n",) if len(e.input_shape) == 4 else ()
    rows = [
        TensorRow(_("input"), e.input_shape, (*batch_axes, "c", "n_h", "n_w")),
        TensorRow(_("output"), e.output_shape, (*batch_axes, "c", "m_h", "m_w")),
    ]
    cells = [e.cells(axis) for axis in range(2)]
    planes = math.prod(e.input_shape[:-2])
    word = _("comparisons") if e.kind == "adaptive-max" else _("additions")
    pairs = [
        (
            "m_h, m_w",
            _("{m_h}, {m_w}: --output-size").format(m_h=_n(e.out_size[0]), m_w=_n(e.out_size[1])),
        ),
        _adaptive_formula(e, 0),
        _adaptive_formula(e, 1),
        (_("params"), _("0: pooling has no weights")),
        (
            word,
            _(
                "(cells - 1) per output value: the windows cover {c_h}*{c_w} cells per plane "
                "(overlaps counted), less {outputs} outputs, times {planes} planes = "
                "{e_operations:,}"
            ).format(
                c_h=_n(cells[0]),
                c_w=_n(cells[1]),
                outputs=_n(e.out_size[0] * e.out_size[1]),
                planes=_n(planes),
                e_operations=e.operations,
            ),
        ),
    ]
    return [render_shapes(rows), render_key_values(pairs, title=_("output size and cost"))]


# --- verify --transposed -------------------------------------------------------------------


def verify_transposed_payload(check: TransposedCheck) -> dict[str, Any]:
    """The ``verify --transposed --json`` object."""
    from convcli.tensorio.jsontext import tensor_to_json

    c, a = check.comparison, check.adjoint
    return {
        "agree": check.agree,
        "max_abs_diff": c.max_abs_diff,
        "max_rel_diff": c.max_rel_diff,
        "atol": c.atol,
        "rtol": c.rtol,
        "zero_inserted_input_shape": list(check.inserted_shape),
        "conv2d_weight_shape": list(check.conv_weight.shape),
        "output_padding": list(check.geometry.output_padding),
        "groups": check.groups,
        "output_axes": list(check.output_axes),
        "adjoint": {
            "agree": a.agree,
            "conv2d_side": _number(check.adjoint_conv2d_side),
            "transposed_side": _number(check.adjoint_transposed_side),
            "abs_diff": a.max_abs_diff,
            "atol": a.atol,
        },
        "direct": tensor_to_json(check.direct),
        "zero_inserted": tensor_to_json(check.zero_inserted),
    }


def _number(value: Any) -> Any:
    """A number as JSON writes it (non-finite as strings, complex as real/imag)."""
    from convcli.tensorio.jsontext import tensor_to_json

    return tensor_to_json(np.asarray(value))["data"]


def verify_transposed_report(check: TransposedCheck, *, full: bool = False) -> list[Renderable]:
    """The ``verify --transposed`` report: the two computations, the adjoint identity."""
    from convcli.render.reports import comparison_rows

    g = check.geometry
    (s_h, s_w), (p_h, p_w) = g.stride, g.padding
    top, bottom, left, right = g.direct_padding
    inserted = "x".join(map(str, check.inserted_shape))
    steps = [
        (
            _("directly"),
            _("each input value stamps the kernel, stride apart (convcli run --transposed)"),
        ),
        (
            _("insert zeros"),
            _(
                "{s_h_1},{s_w_1} zeros between input values, then d(k-1)-p zeros around (top "
                "{top}, bottom {bottom}, left {left}, right {right}; output_padding "
                "{g_output_padding_0},{g_output_padding_1} at the bottom/right; negative crops): "
                "{inserted}"
            ).format(
                s_h_1=s_h - 1,
                s_w_1=s_w - 1,
                top=top,
                bottom=bottom,
                left=left,
                right=right,
                g_output_padding_0=g.output_padding[0],
                g_output_padding_1=g.output_padding[1],
                inserted=inserted,
            ),
        ),
        (
            _("flip and swap"),
            _(
                "the kernel rotated 180 degrees, its channel axes swapped per group: conv2d "
                "weight {x_join_map_str_check_conv_weight_shape}"
            ).format(
                x_join_map_str_check_conv_weight_shape="x".join(map(str, check.conv_weight.shape))
            ),
        ),
        (
            "conv2d",
            _("stride 1, no padding, dilation {g_dilation_0},{g_dilation_1}").format(
                g_dilation_0=g.dilation[0], g_dilation_1=g.dilation[1]
            )
            + (
                _(", {check_groups} groups").format(check_groups=check.groups)
                if check.groups > 1
                else ""
            )
            + _(" (padding p = {p_h},{p_w} of the transposed layer became the crop above)").format(
                p_h=p_h, p_w=p_w
            ),
        ),
    ]
    a = check.adjoint
    adjoint_rows = [
        ("<conv2d(z, w), x>", f"{check.adjoint_conv2d_side:.12g}"),
        ("<z, conv_transpose2d(x, w)>", f"{check.adjoint_transposed_side:.12g}"),
        (
            _("|difference|"),
            _("{a_max_abs_diff:.3g} (tolerance {a_atol:.3g})").format(
                a_max_abs_diff=a.max_abs_diff, a_atol=a.atol
            ),
        ),
        (
            _("verdict"),
            _("AGREE: conv_transpose2d is the adjoint (transpose) of conv2d with the same weight")
            if a.agree
            else _("DISAGREE"),
        ),
    ]
    return [
        render_key_values(steps, title=_("a transposed convolution computed two ways")),
        render_array(check.direct, check.output_axes, name=_("Y directly"), full=full),
        render_array(
            check.zero_inserted, check.output_axes, name=_("Y via zero-inserted conv2d"), full=full
        ),
        render_key_values(
            comparison_rows(check.comparison, _("the direct and zero-inserted forms are one map")),
            title=_("comparison"),
        ),
        render_key_values(
            adjoint_rows, title=_("adjoint identity, random x and z of the layer's shapes")
        ),
    ]


# --- explain --transposed and pool --at ---------------------------------------------------

MAX_LISTED_STAMPS = 32


def _label(position: tuple[int, ...], axes: tuple[str, ...]) -> str:
    return ", ".join(f"{axis}={i}" for axis, i in zip(axes, position, strict=True))


def explain_transposed_payload(e: TransposedExplanation) -> dict[str, Any]:
    """The ``explain --transposed --json`` object."""
    return {
        "position": list(e.position),
        "output_axes": list(e.output_axes),
        "group": e.group,
        "stamps": [
            {
                "input": [s.channel, s.row, s.col],
                "tap": list(s.tap),
                "input_value": _number(s.value),
                "weight": _number(s.weight),
                "product": _number(s.product),
            }
            for s in e.stamps
        ],
        "total": _number(e.total),
        "bias": None if e.bias is None else _number(e.bias),
        "value": _number(e.value),
        "direct": {
            "rows": list(e.direct_rows),
            "cols": list(e.direct_cols),
            "windows": [
                {"channel": c, "window": _number(window), "flipped_kernel": _number(kernel)}
                for c, window, kernel in e.direct_windows
            ],
        },
    }


def explain_transposed_report(e: TransposedExplanation, *, full: bool = False) -> list[Renderable]:
    """The scatter view (which input values and taps reach the output), the direct view
    (a window of the zero-inserted input under the flipped kernel), and the sum."""
    g = e.geometry
    (s_h, s_w), (p_h, p_w), (d_h, d_w) = g.stride, g.padding, g.dilation
    how = [
        (
            _("scatter"),
            _(
                "input (c, a, b) stamps tap (u, v) at row a*{s_h} - {p_h} + u*{d_h}, col b*{s_w} "
                "- {p_w} + v*{d_w}: these reach row {e_row}, col {e_col}"
            ).format(
                s_h=s_h, p_h=p_h, d_h=d_h, s_w=s_w, p_w=p_w, d_w=d_w, e_row=e.row, e_col=e.col
            ),
        ),
        (
            _("channels"),
            _("c_i of group {e_group} of {e_groups}").format(e_group=e.group, e_groups=e.groups)
            if e.groups > 1
            else _("all c_i"),
        ),
    ]
    report: list[Renderable] = [
        render_key_values(
            how,
            title=_("Y[{label_e_position_e_output_axes}]: the stamps").format(
                label_e_position_e_output_axes=_label(e.position, e.output_axes)
            ),
        ),
    ]
    stamps = e.stamps if full else e.stamps[:MAX_LISTED_STAMPS]
    rows = [
        (
            f"x[{s.channel},{s.row},{s.col}] * w[{s.channel},{e.kernel_out},{s.tap[0]},{s.tap[1]}]",
            f"{_show_number(s.value)} * {_show_number(s.weight)} = {_show_number(s.product)}",
        )
        for s in stamps
    ]
    if not rows:
        rows = [(_("none"), _("no input value reaches this output: only the bias, if any"))]
    if len(e.stamps) > len(stamps):
        rows.append(
            (
                "…",
                _("{len_e_stamps_len_stamps} more (--full shows them)").format(
                    len_e_stamps_len_stamps=_n(len(e.stamps) - len(stamps))
                ),
            )
        )
    report.append(render_key_values(rows, title=_("input value x tap = product")))
    top, bottom, left, right = g.direct_padding
    report.append(
        render_line(
            _(
                "the same sum directly: rows {span_e_direct_rows}, cols {span_e_direct_cols} of "
                "the input with {s_h_1},{s_w_1} zeros inserted and padded top {top}, left {left} "
                "(bottom {bottom}, right {right}), under the kernel flipped 180 degrees"
            ).format(
                span_e_direct_rows=_span(e.direct_rows),
                span_e_direct_cols=_span(e.direct_cols),
                s_h_1=s_h - 1,
                s_w_1=s_w - 1,
                top=top,
                left=left,
                bottom=bottom,
                right=right,
            )
        )
    )
    windows = e.direct_windows if full else e.direct_windows[:2]
    for channel, window, kernel in windows:
        report.append(
            render_columns(
                render_matrix(
                    window,
                    _("c_i={channel} zero-inserted window").format(channel=channel),
                    row_labels=e.direct_rows,
                    col_labels=e.direct_cols,
                    full=full,
                ),
                render_matrix(
                    kernel,
                    _("flipped kernel[{channel}, {e_kernel_out}]").format(
                        channel=channel, e_kernel_out=e.kernel_out
                    ),
                    full=full,
                ),
            )
        )
    if len(e.direct_windows) > len(windows):
        report.append(
            render_line(
                _("… {len_e_direct_windows_len_windows} more channels (--full)").format(
                    len_e_direct_windows_len_windows=_n(len(e.direct_windows) - len(windows))
                )
            )
        )
    sums = [
        (
            _("total"),
            ngettext(
                "{len_e_stamps} product = {show_number_e_total}",
                "{len_e_stamps} products = {show_number_e_total}",
                len(e.stamps),
            ).format(len_e_stamps=_n(len(e.stamps)), show_number_e_total=_show_number(e.total)),
        )
    ]
    if e.bias is not None:
        sums.append((_("+ bias"), f"{_show_number(e.bias)}"))
    index = ", ".join(map(str, e.position))
    sums.append(
        (
            _("= value"),
            _("Y[{index}] = {show_number_e_value}, as convcli run --transposed prints").format(
                index=index, show_number_e_value=_show_number(e.value)
            ),
        )
    )
    report.append(render_key_values(sums, title=_("sum")))
    return report


def _span(values: tuple[int, ...]) -> str:
    if not values:
        return "-"
    return str(values[0]) if len(values) == 1 else f"{values[0]}..{values[-1]}"


def _show_number(value: Any) -> str:
    scalar: Any = np.asarray(value)[()]
    return format_value(scalar)


def explain_pool_payload(e: PoolExplanation) -> dict[str, Any]:
    """The ``pool --at --json`` object."""
    return {
        "position": list(e.position),
        "output_axes": list(e.output_axes),
        "kind": e.kind,
        "rows": list(e.rows),
        "cols": list(e.cols),
        "cells": _number(e.cells),
        "inside": e.inside.tolist(),
        "winner": None if e.winner is None else list(e.winner),
        "sum": None if e.total is None else _number(e.total),
        "divisor": e.divisor,
        "padding_counted": e.padding_counted,
        "value": _number(e.value),
    }


def explain_pool_report(e: PoolExplanation, *, full: bool = False) -> list[Renderable]:
    """The window (padding marked), then the winner or the sum over the divisor."""
    outside = ~e.inside
    title = _("Y[{label}]: window rows {rows}, cols {cols}").format(
        label=_label(e.position, e.output_axes), rows=_span(e.rows), cols=_span(e.cols)
    )
    report: list[Renderable] = [
        render_matrix(
            e.cells,
            title,
            row_labels=e.rows,
            col_labels=e.cols,
            marked=outside if outside.any() else None,
            full=full,
        )
    ]
    if outside.any():
        fill = _("-inf (never wins)") if e.kind.endswith("max") else "0"
        report.append(
            render_line(
                ngettext(
                    "[v] is padding: {n} tap, counted as {fill}",
                    "[v] is padding: {n} taps, counted as {fill}",
                    int(outside.sum()),
                ).format(n=int(outside.sum()), fill=fill)
            )
        )
    index = ", ".join(map(str, e.position))
    if e.kind.endswith("max"):
        winner = (
            _("none")
            if e.winner is None
            else _("input ({e_winner_0}, {e_winner_1})").format(
                e_winner_0=e.winner[0], e_winner_1=e.winner[1]
            )
        )
        rows = [(_("winner"), _("{winner}: the largest value (a NaN wins)").format(winner=winner))]
    else:
        counted = {
            True: _("the window including its padding taps (count_include_pad)"),
            False: _("the input cells it covers"),
        }[e.padding_counted]
        if e.kind == "adaptive-avg":
            counted = _("the cells of the adaptive window")
        rows = [
            (_("sum"), _show_number(e.total)),
            (_("divisor"), beside(f"{e.divisor}" + _(":"), counted)),
        ]
    rows.append(
        (
            _("= value"),
            _("Y[{index}] = {show_number_e_value}, as convcli pool prints it").format(
                index=index, show_number_e_value=_show_number(e.value)
            ),
        )
    )
    report.append(render_key_values(rows, title=_(POOLING_NAMES[e.kind])))
    return report
