"""What ``convcli run`` computes: the lesson's correlations or the general conv2d.

``auto`` reads the kernel by its rank (2-D: corr2d, 3-D: multi-in, 4-D: multi-out)
and computes through ``conv2d``, so every option applies. The named modes run the
lesson's own functions, which have no stride, padding, dilation or groups.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from convcli.errors import OptionError, ShapeError
from convcli.i18n import _
from convcli.i18n.typeset import beside, clauses
from convcli.ops.chunked import conv2d_chunked
from convcli.ops.conv import conv2d, corr2d_multi_in, corr2d_multi_in_out, corr2d_multi_in_out_1x1
from convcli.ops.numerics import accumulation_for, check_numeric, checked_accumulation
from convcli.shapes.axes import axis_names, output_axes
from convcli.shapes.layer import describe_layer, lift_to_conv2d
from convcli.shapes.options import ConvOptions

__all__ = [
    "MODES",
    "RunResult",
    "check_mode_shapes",
    "planned_output",
    "run_convolution",
]

MODES = ("auto", "multi-in", "multi-out", "1x1")
Array = npt.NDArray[Any]


@dataclass(frozen=True)
class RunResult:
    """A computed result and how it was computed."""

    output: Array
    method: str
    input_axes: tuple[str, ...]
    kernel_axes: tuple[str, ...]
    output_axes: tuple[str, ...]


def run_convolution(
    x: Array,
    kernel: Array,
    bias: Array | None = None,
    *,
    mode: str = "auto",
    options: ConvOptions | None = None,
    progress: Callable[[int, int], None] | None = None,
    out: Array | None = None,
) -> RunResult:
    """Compute ``mode`` on ``x`` with ``kernel`` (and ``bias``), as ``convcli run`` does.

    ``progress(done, total)``, when given, is called as chunks of a long ``auto`` run
    finish (``convcli.ops.chunked``). ``out``, of the shape and dtype ``planned_output``
    gives, receives the result as it is computed (e.g. a memory-mapped ``.npy`` file).

    Examples
    --------
    >>> from convcli.ops.lesson import lesson_input, lesson_kernel_multi_in
    >>> r = run_convolution(lesson_input(), lesson_kernel_multi_in(), mode="multi-in")
    >>> r.output.astype(int).tolist(), r.output_axes
    ([[56, 72], [104, 120]], ('m_h', 'm_w'))
    """
    options = options or ConvOptions()
    if mode not in MODES:
        raise OptionError(
            _("mode must be one of {join_MODES}, got {mode!r}").format(
                join_MODES=", ".join(MODES), mode=mode
            )
        )
    if mode == "auto":
        return _run_auto(x, kernel, bias, options, progress, out)
    check_mode_shapes(mode, x.shape, kernel.shape, None if bias is None else bias.shape, options)
    function, method = {
        "multi-in": (
            corr2d_multi_in,
            _("corr2d_multi_in: per-channel cross-correlations, summed"),
        ),
        "multi-out": (corr2d_multi_in_out, _("corr2d_multi_in_out: multi-in per output channel")),
        "1x1": (corr2d_multi_in_out_1x1, _("corr2d_multi_in_out_1x1: one matrix product")),
    }[mode]
    # One dtype rule for every mode, conv2d's: the inputs and the bias decide the
    # accumulation and the result's dtype, and exactness is checked with the bias in.
    for array, name in ((x, "input"), (kernel, "kernel"), (bias, "bias")):
        if array is not None:
            check_numeric(array, name)
    terms = math.prod(kernel.shape[-3:])
    acc = checked_accumulation(x, kernel, bias, terms)
    items = (x if x.ndim == 4 else x[None]).astype(acc.acc, copy=False)
    wide = kernel.astype(acc.acc, copy=False)
    output = np.stack([function(item, wide) for item in items])
    if bias is not None:
        shape = (1, 1, 1) if mode == "multi-in" else (1, -1, 1, 1)
        with np.errstate(all="ignore"):  # IEEE: inf + -inf is NaN, without a warning
            output = output + bias.astype(acc.acc).reshape(shape)
    output = output.astype(acc.out, copy=False)
    if x.ndim == 3:
        output = output[0]
    if out is not None:
        out[...] = output
        output = out
    return RunResult(
        output=output,
        method=method,
        input_axes=axis_names("input", x.ndim),
        kernel_axes=axis_names("kernel", kernel.ndim),
        output_axes=output_axes(x.ndim, kernel.ndim),
    )


def check_mode_shapes(
    mode: str,
    x_shape: tuple[int, ...],
    kernel_shape: tuple[int, ...],
    bias_shape: tuple[int, ...] | None,
    options: ConvOptions,
) -> None:
    """Refuse, from the shapes alone, what a named ``mode`` cannot compute.

    The named modes run the lesson's functions: no options, a kernel of the mode's rank,
    a 3-D or 4-D input, one bias value per output channel. ``auto`` takes everything
    ``conv2d`` takes (checked there).

    Examples
    --------
    >>> check_mode_shapes("multi-out", (2, 3, 3), (3, 2, 2), None, ConvOptions())
    Traceback (most recent call last):
    ...
    convcli.errors.ShapeError: mode multi-out needs a 4-D kernel, got 3-D (3, 2, 2)
    """
    if mode == "auto":
        return
    if options.changed():
        raise OptionError(
            _(
                "mode {mode} runs the lesson's function, which has no {join_options_changed}: "
                "use mode auto (conv2d) for them"
            ).format(mode=mode, join_options_changed=", ".join(options.changed()))
        )
    expected_rank = 3 if mode == "multi-in" else 4
    if len(kernel_shape) != expected_rank:
        raise ShapeError(
            _(
                "mode {mode} needs a {expected_rank}-D kernel, got {len_kernel_shape}-D "
                "{kernel_shape}"
            ).format(
                mode=mode,
                expected_rank=expected_rank,
                len_kernel_shape=len(kernel_shape),
                kernel_shape=kernel_shape,
            )
        )
    if len(x_shape) not in (3, 4):
        raise ShapeError(
            _("mode {mode} needs a 3-D or 4-D input, got {len_x_shape}-D {x_shape}").format(
                mode=mode, len_x_shape=len(x_shape), x_shape=x_shape
            )
        )
    if mode == "1x1" and kernel_shape[2:] != (1, 1):
        raise ShapeError(
            _("a 1x1 convolution needs a 1x1 kernel, got {kernel_shape_2}x{kernel_shape_3}").format(
                kernel_shape_2=kernel_shape[2], kernel_shape_3=kernel_shape[3]
            )
        )
    c_o = 1 if mode == "multi-in" else kernel_shape[0]
    if bias_shape is not None and bias_shape != (c_o,):
        raise ShapeError(
            _("bias must have shape ({c_o},), one per output channel, got {bias_shape}").format(
                c_o=c_o, bias_shape=bias_shape
            )
        )


def _run_auto(
    x: Array,
    kernel: Array,
    bias: Array | None,
    options: ConvOptions,
    progress: Callable[[int, int], None] | None = None,
    out: Array | None = None,
) -> RunResult:
    input_shape, weight_shape = lift_to_conv2d(x.shape, kernel.shape)
    compute: Callable[..., Array] = conv2d
    if progress is not None:
        compute = functools.partial(conv2d_chunked, progress=progress)
    output = compute(
        x.reshape(input_shape),
        kernel.reshape(weight_shape),
        bias,
        stride=options.stride,
        padding=options.padding,
        dilation=options.dilation,
        groups=options.groups,
        padding_mode=options.padding_mode,
        flip=options.flip,
        out=None if out is None else out.reshape(_conv2d_shape(out.shape, x.ndim, kernel.ndim)),
    )
    if kernel.ndim < 4:
        output = output[..., 0, :, :]  # the single output channel of corr2d / multi-in
    method = "conv2d" if kernel.ndim == 4 else {2: "corr2d", 3: "corr2d_multi_in"}[kernel.ndim]
    if kernel.ndim < 4:
        method = beside(method, _("(through conv2d)"))
    parts = [method]
    if options.padding_mode != "zeros":
        parts.append(_("{mode} padding").format(mode=options.padding_mode))
    if options.flip:
        parts.append(_("kernel flipped 180 degrees (true convolution)"))
    method = clauses(parts)
    return RunResult(
        output=output,
        method=method,
        input_axes=axis_names("input", x.ndim),
        kernel_axes=axis_names("kernel", kernel.ndim, groups=options.groups),
        output_axes=output_axes(x.ndim, kernel.ndim),
    )


def planned_output(
    x: Array, kernel: Array, bias: Array | None, options: ConvOptions
) -> tuple[tuple[int, ...], np.dtype[Any]]:
    """The shape and dtype of ``run_convolution``'s result in ``auto`` mode, before computing.

    Examples
    --------
    >>> from convcli.ops.lesson import lesson_input, lesson_kernel_multi_in
    >>> planned_output(lesson_input(), lesson_kernel_multi_in(), None, ConvOptions(padding=1))
    ((4, 4), dtype('float32'))
    """
    input_shape, weight_shape = lift_to_conv2d(x.shape, kernel.shape)
    layer = describe_layer(
        input_shape,
        weight_shape,
        bias=bias is not None,
        stride=options.stride,
        padding=options.padding,
        dilation=options.dilation,
        groups=options.groups,
    )
    shape = layer.output_shape
    if kernel.ndim < 4:
        shape = (*shape[:-3], *shape[-2:])
    return tuple(shape), accumulation_for(x, kernel, bias).out


def _conv2d_shape(shape: tuple[int, ...], input_ndim: int, kernel_ndim: int) -> tuple[int, ...]:
    """A ``run`` result's shape as conv2d computes it (with the single output channel)."""
    if kernel_ndim == 4:
        return shape
    lead = shape[:-2] if input_ndim == 4 else ()
    return (*lead, 1, *shape[-2:])
