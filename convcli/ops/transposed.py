"""Transposed convolution (``torch.nn.functional.conv_transpose2d``): each input stamps the kernel.

Pure numpy. The definition is a scatter: input value ``x[c, i, j]`` adds
``x[c, i, j] * w[c, o, u, v]`` to output ``(o, i*s - p + u*d, j*s - p + v*d)``.

Without dilation it runs as ``s_h * s_w`` ordinary convolutions (the phase
decomposition): the outputs ``o`` with ``(o + p) % s == r`` on an axis receive only the
taps ``u = r, r + s, r + 2s, ...``, so each phase is a stride-1 ``conv2d`` of the input
with that flipped sub-kernel, written to its strided place in the output. No scatter-add,
and no zeros multiplied but those of each phase's padding. With dilation it runs as one
matrix product per group and block of input rows (every value times every tap,
``W^T @ X``) followed by ``k_h * k_w`` strided additions into the output (col2im). So
does a kernel with an inf or NaN, at any dilation: the phases' padding zeros would make
``0 * inf = NaN`` where PyTorch's col2im has inf or a number. The direct form over a
zero-inserted input (``convcli verify --transposed``) costs ``s_h * s_w`` times the work.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from convcli.errors import ShapeError
from convcli.i18n import _
from convcli.i18n.typeset import clauses
from convcli.ops.algorithms import (
    DEFAULT_WORKSPACE_BYTES,
    conv2d_into,
    conv_workspace_bytes,
    plan_dtypes,
)
from convcli.ops.conv import _operand
from convcli.ops.grad_weight import all_finite
from convcli.ops.modes import RunResult
from convcli.ops.numerics import (
    FLOAT64_EXACT,
    Accumulation,
    check_mixed_integers,
    exact_integer_bound,
)
from convcli.shapes.geometry import ConvGeometry, IntOrPair
from convcli.shapes.transposed import (
    TransposedGeometry,
    TransposedOptions,
    check_transposed_shapes,
    options_geometry,
    resolve_transposed_geometry,
)

__all__ = [
    "TransposedPlan",
    "check_transposed_kernel",
    "conv_transpose2d",
    "conv_transpose_with",
    "plan_transposed",
    "run_transposed",
]

Array = npt.NDArray[Any]
Progress = Callable[[int, int], None]
Shape = tuple[int, ...]


@dataclass(frozen=True)
class TransposedPlan:
    """A transposed convolution sized from shapes and dtypes, before anything is allocated.

    ``rows`` is how many input rows one product covers; ``workspace_bytes`` counts the
    product's block, the per-sample uncropped output and the cast copies of the operands.
    """

    geometry: TransposedGeometry
    output_shape: Shape
    accumulation: Accumulation
    compute: np.dtype[Any]
    rows: int
    samples: int
    workspace_bytes: int


def plan_transposed(
    input_shape: Shape,
    weight_shape: Shape,
    *,
    input_dtype: npt.DTypeLike = np.float32,
    weight_dtype: npt.DTypeLike | None = None,
    bias_shape: Shape | None = None,
    bias_dtype: npt.DTypeLike | None = None,
    stride: IntOrPair = 1,
    padding: IntOrPair = 0,
    output_padding: IntOrPair = 0,
    groups: int = 1,
    dilation: IntOrPair = 1,
    output_size: Sequence[int] | None = None,
    workspace_bytes: int = DEFAULT_WORKSPACE_BYTES,
) -> TransposedPlan:
    """Check the shapes and arguments of a ``conv_transpose2d`` and size its memory.

    Examples
    --------
    >>> p = plan_transposed((1, 256, 16, 16), (256, 128, 4, 4), stride=2, padding=1)
    >>> p.output_shape, p.compute
    ((1, 128, 32, 32), dtype('float32'))
    """
    c_o = check_transposed_shapes(input_shape, weight_shape, bias_shape, groups)
    in_size = (input_shape[-2], input_shape[-1])
    geom = resolve_transposed_geometry(
        in_size,
        (weight_shape[2], weight_shape[3]),
        stride=stride,
        padding=padding,
        output_padding=output_padding,
        dilation=dilation,
        output_size=output_size,
    )
    acc, compute = plan_dtypes(input_dtype, weight_dtype, bias_dtype)
    item = compute.itemsize
    c_i, c_og, k_h, k_w = weight_shape
    c_ig = c_i // int(groups)
    h, w = in_size
    n = input_shape[0] if len(input_shape) == 4 else 1
    out_shape: Shape = (c_o, *geom.out_size)
    if len(input_shape) == 4:
        out_shape = (input_shape[0], *out_shape)
    if geom.dilation == (1, 1):
        samples, workspace = _plan_phases(
            n, c_i, weight_shape, int(groups), geom, acc.out, compute, workspace_bytes
        )
        weight_item = np.dtype(input_dtype if weight_dtype is None else weight_dtype).itemsize
        workspace += c_i * c_og * k_h * k_w * max(item, weight_item)  # the regrouped weight
        return TransposedPlan(geom, out_shape, acc, compute, h, samples, workspace)
    row_bytes = c_og * k_h * k_w * w * item
    rows = max(1, min(h, workspace_bytes // max(1, row_bytes)))
    full = c_o * (geom.out_size[0] + 2 * geom.padding[0]) * (geom.out_size[1] + 2 * geom.padding[1])
    # Whole samples fit: several share one product (fewer, larger GEMMs), while the
    # block and the samples' uncropped outputs stay within the workspace.
    per_sample = h * row_bytes + full * item
    samples = max(1, min(n, workspace_bytes // max(1, per_sample))) if rows >= h else 1
    workspace = (
        samples * rows * row_bytes  # the product block
        + samples * full * item  # the samples' uncropped outputs
        + samples * c_ig * rows * w * item  # one block of the input, cast
        + c_i * c_og * k_h * k_w * item  # the weight, cast and transposed
        + (samples * full * item if bias_shape is not None else 0)  # cropped + bias
    )
    return TransposedPlan(geom, out_shape, acc, compute, rows, samples, workspace)


def conv_transpose2d(
    x: npt.ArrayLike,
    weight: npt.ArrayLike,
    bias: npt.ArrayLike | None = None,
    stride: IntOrPair = 1,
    padding: IntOrPair = 0,
    output_padding: IntOrPair = 0,
    groups: int = 1,
    dilation: IntOrPair = 1,
    output_size: Sequence[int] | None = None,
    *,
    workspace_bytes: int = DEFAULT_WORKSPACE_BYTES,
    progress: Progress | None = None,
) -> Array:
    """2-D transposed convolution with ``torch.nn.functional.conv_transpose2d`` semantics.

    Parameters
    ----------
    x : array_like, shape (c_i, h, w) or (n, c_i, h, w)
    weight : array_like, shape (c_i, c_o / groups, k_h, k_w)
        Note the channel order: the reverse of ``conv2d``'s.
    bias : array_like, shape (c_o,), optional
    stride, padding, dilation : int or (int, int)
    output_padding : int or (int, int)
        Extra rows/columns at the bottom/right; each must be smaller than the stride or
        the dilation of its axis.
    groups : int
        Must divide c_i.
    output_size : sequence of int, optional
        The wanted ``(h, w)`` (or the whole shape): chooses ``output_padding`` as
        ``nn.ConvTranspose2d.forward(output_size=...)`` does.
    workspace_bytes : int
        Upper bound on the product block (default 64 MiB).
    progress : callable, optional
        ``progress(done, total)``, called after each product block (a bar for long runs).

    Returns
    -------
    ndarray, shape (c_o, m_h, m_w) or (n, c_o, m_h, m_w)
        ``m = (h-1)*s - 2p + d*(k-1) + output_padding + 1`` per axis. Integers and bools
        give exact int64, float16 accumulates in float32.

    Examples
    --------
    >>> conv_transpose2d(np.array([[[1, 2], [3, 4]]]), np.ones((1, 1, 2, 2), dtype=int))
    array([[[ 1,  3,  2],
            [ 4, 10,  6],
            [ 3,  7,  4]]])
    >>> conv_transpose2d(np.ones((1, 2, 2), dtype=int), np.ones((1, 1, 2, 2), dtype=int),
    ...                  stride=2).shape
    (1, 4, 4)
    >>> conv_transpose2d(np.ones((1, 2, 2)), np.ones((1, 1, 3, 3)), stride=2,
    ...                  output_size=(6, 5)).shape
    (1, 6, 5)
    """
    xa = _operand(x, "input", None)
    w = _operand(weight, "weight", 4)
    b = None if bias is None else _operand(bias, "bias", 1)
    plan = plan_transposed(
        xa.shape,
        w.shape,
        input_dtype=xa.dtype,
        weight_dtype=w.dtype,
        bias_shape=None if b is None else b.shape,
        bias_dtype=None if b is None else b.dtype,
        stride=stride,
        padding=padding,
        output_padding=output_padding,
        groups=groups,
        dilation=dilation,
        output_size=output_size,
        workspace_bytes=workspace_bytes,
    )
    batched = xa.ndim == 4
    xb = xa if batched else xa[None]
    terms = xb.shape[1] // int(groups) * w.shape[2] * w.shape[3]
    compute = plan.compute
    if plan.accumulation.is_integer:
        if exact_integer_bound(xb, w, b, terms) >= FLOAT64_EXACT:
            compute = np.dtype(np.int64)
    else:
        check_mixed_integers(xb, w, b, terms)
    y: Array = np.empty((xb.shape[0], *plan.output_shape[-3:]), dtype=plan.accumulation.out)
    with np.errstate(all="ignore"):  # IEEE results for inf and NaN inputs, without warnings
        transposed_into(
            y,
            xb,
            w,
            b,
            plan.geometry,
            int(groups),
            compute,
            rows=plan.rows,
            samples=plan.samples,
            progress=progress,
        )
    return y if batched else y[0]


def transposed_into(
    out: Array,
    x: Array,
    weight: Array,
    bias: Array | None,
    geom: TransposedGeometry,
    groups: int,
    compute: np.dtype[Any],
    *,
    rows: int,
    samples: int = 1,
    progress: Progress | None = None,
) -> None:
    """Compute a validated ``conv_transpose2d`` into ``out`` ``(n, c_o, m_h, m_w)``.

    Without dilation: per block of ``samples`` samples, one stride-1 ``conv2d`` per phase
    (``rows`` is not used). With dilation: per group and block of ``samples`` samples
    (or of ``rows`` input rows of one sample), ``cols = W_g^T @ X_g`` holds every input
    value times every tap, then each tap's plane is added at its strided place in the
    uncropped output. ``progress(done, total)`` is called after each block.

    A kernel with an inf or NaN takes the second way at any dilation: the phases' padded
    input would multiply it by zeros (``0 * inf = NaN``) where PyTorch's col2im forms
    only the products of real inputs.
    """
    _, c_og, k_h, k_w = weight.shape
    if geom.dilation == (1, 1):
        if all_finite(weight):
            _run_phases(out, x, weight, bias, geom, groups, compute, samples, progress)
            return
        row_bytes = c_og * k_h * k_w * x.shape[3] * compute.itemsize
        rows, samples = max(1, min(x.shape[2], DEFAULT_WORKSPACE_BYTES // row_bytes)), 1
    n, c_i, h, w = x.shape
    c_ig = c_i // groups
    (s_h, s_w), (d_h, d_w), (p_h, p_w) = geom.stride, geom.dilation, geom.padding
    m_h, m_w = geom.out_size
    full_h, full_w = m_h + 2 * p_h, m_w + 2 * p_w
    # (c_og * k_h * k_w, c_ig) per group: the product's left operand.
    w_t = [
        np.ascontiguousarray(weight[g * c_ig : (g + 1) * c_ig].reshape(c_ig, -1).T, dtype=compute)
        for g in range(groups)
    ]
    b = None if bias is None else bias.astype(compute).reshape(-1, 1, 1)
    samples = samples if rows >= h else 1
    full = np.empty((samples, groups * c_og, full_h, full_w), dtype=compute)
    total = -(-n // samples) * groups * -(-h // rows)
    done = 0
    if progress is not None:
        progress(done, total)
    for n0 in range(0, n, samples):
        n1 = min(n, n0 + samples)
        block_full = full[: n1 - n0]
        block_full.fill(0)
        for g in range(groups):
            plane = block_full[:, g * c_og : (g + 1) * c_og]
            for r0 in range(0, h, rows):
                r1 = min(h, r0 + rows)
                # (c_ig, samples, rows, w): the product's right operand, cast once.
                block = np.ascontiguousarray(
                    x[n0:n1, g * c_ig : (g + 1) * c_ig, r0:r1].transpose(1, 0, 2, 3),
                    dtype=compute,
                )
                cols = (w_t[g] @ block.reshape(c_ig, -1)).reshape(
                    c_og, k_h, k_w, n1 - n0, r1 - r0, w
                )
                span_h, span_w = (r1 - r0 - 1) * s_h + 1, (w - 1) * s_w + 1
                for u in range(k_h):
                    for v in range(k_w):
                        i0, j0 = r0 * s_h + u * d_h, v * d_w
                        target = plane[:, :, i0 : i0 + span_h : s_h, j0 : j0 + span_w : s_w]
                        np.add(target, cols[:, u, v].transpose(1, 0, 2, 3), out=target)
                done += 1
                if progress is not None:
                    progress(done, total)
        result = block_full[:, :, p_h : p_h + m_h, p_w : p_w + m_w]
        if b is not None:
            result = result + b
        out[n0:n1] = result


@dataclass(frozen=True)
class _Phase:
    """One residue ``r`` of an output axis: the outputs ``first, first + s, ...`` (``count``
    of them) are a stride-1 correlation of ``x[start:stop]``, padded ``low`` and ``high``,
    with the ``taps`` flipped kernel taps ``r, r + s, ...`` (none: those outputs are 0)."""

    residue: int
    first: int
    count: int
    taps: int
    start: int
    stop: int
    low: int
    high: int

    @property
    def empty(self) -> bool:
        return self.taps == 0 or self.stop <= self.start


def _axis_phases(size: int, kernel: int, stride: int, padding: int, out: int) -> list[_Phase]:
    """The phases of one axis (dilation 1) that have outputs.

    Output ``o`` is uncropped position ``o + p = q*s + r``; it sums ``x[q - t] * w[r + t*s]``
    over ``t``: a correlation of the input, padded ``taps - 1 - q0`` in front, with the
    sub-kernel reversed. A negative front padding crops the input instead.
    """
    phases = []
    for residue in range(stride):
        first = (residue - padding) % stride
        count = max(0, -(-(out - first) // stride))
        if count == 0:
            continue
        taps = max(0, -(-(kernel - residue) // stride))
        q0 = (first + padding - residue) // stride
        low = taps - 1 - q0
        start, low = max(0, -low), max(0, low)
        stop = max(start, min(size, start + count + taps - 1 - low))
        high = count + taps - 1 - low - (stop - start)
        phases.append(_Phase(residue, first, count, taps, start, stop, low, high))
    return phases


def _phase_geometry(ph: _Phase, pw: _Phase) -> ConvGeometry:
    return ConvGeometry(
        in_size=(ph.stop - ph.start, pw.stop - pw.start),
        kernel_size=(ph.taps, pw.taps),
        stride=(1, 1),
        padding=(ph.low, ph.high, pw.low, pw.high),
        dilation=(1, 1),
        out_size=(ph.count, pw.count),
    )


def _geometry_phases(geom: TransposedGeometry) -> list[tuple[_Phase, _Phase]]:
    (h, w), (k_h, k_w), (s_h, s_w) = geom.in_size, geom.kernel_size, geom.stride
    (p_h, p_w), (m_h, m_w) = geom.padding, geom.out_size
    rows = _axis_phases(h, k_h, s_h, p_h, m_h)
    cols = _axis_phases(w, k_w, s_w, p_w, m_w)
    return [(ph, pw) for ph in rows for pw in cols]


@dataclass(frozen=True)
class _Stack:
    """All phases of one axis as one correlation: when every phase has the same number of
    taps (``k % s == 0``), phase ``r``'s outputs are outputs ``offsets[r]``, ... of one
    correlation of ``x[start:stop]`` padded ``low`` and ``high`` (``count`` outputs)."""

    phases: tuple[_Phase, ...]
    offsets: tuple[int, ...]
    start: int
    stop: int
    low: int
    high: int
    count: int


def _axis_stack(phases: list[_Phase], size: int, kernel: int, stride: int) -> _Stack | None:
    if kernel % stride or len(phases) != stride or any(ph.empty for ph in phases):
        return None
    taps = kernel // stride
    raw = [ph.low - ph.start for ph in phases]  # where x[0] sits in each phase's padding
    front = max(raw)
    offsets = tuple(front - r for r in raw)
    count = max(o + ph.count for o, ph in zip(offsets, phases, strict=True))
    start, low = max(0, -front), max(0, front)
    stop = min(size, start + count + taps - 1 - low)
    if stop <= start:
        return None
    high = count + taps - 1 - low - (stop - start)
    return _Stack(tuple(phases), offsets, start, stop, low, high, count)


# Stack the phases into one product only when a phase's own product is short (fewer output
# channels per group than this): one taller GEMM then beats s_h*s_w short ones (batch up,
# 64->32: 0.75x the time), while for tall ones the stack's larger padded window costs more
# than it saves (DCGAN 256->128: 1.08x). Measured in benchmarks/README.md.
_STACK_BELOW_CHANNELS = 128


def _stacks(geom: TransposedGeometry, c_og: int) -> tuple[_Stack, _Stack] | None:
    """Both axes as stacks, or None: then each phase is its own convolution."""
    if c_og >= _STACK_BELOW_CHANNELS:
        return None
    (h, w), (k_h, k_w), (s_h, s_w) = geom.in_size, geom.kernel_size, geom.stride
    (p_h, p_w), (m_h, m_w) = geom.padding, geom.out_size
    rows = _axis_stack(_axis_phases(h, k_h, s_h, p_h, m_h), h, k_h, s_h)
    cols = _axis_stack(_axis_phases(w, k_w, s_w, p_w, m_w), w, k_w, s_w)
    return None if rows is None or cols is None else (rows, cols)


def _stack_geometry(rows: _Stack, cols: _Stack, kernel: tuple[int, int]) -> ConvGeometry:
    return ConvGeometry(
        in_size=(rows.stop - rows.start, cols.stop - cols.start),
        kernel_size=kernel,
        stride=(1, 1),
        padding=(rows.low, rows.high, cols.low, cols.high),
        dilation=(1, 1),
        out_size=(rows.count, cols.count),
    )


def _plan_phases(
    n: int,
    c_i: int,
    weight_shape: Shape,
    groups: int,
    geom: TransposedGeometry,
    out_dtype: np.dtype[Any],
    compute: np.dtype[Any],
    workspace_bytes: int,
) -> tuple[int, int]:
    """Samples per block and the workspace of the phase decomposition: a phase's output
    block (written to its strided place afterwards) and the largest phase convolution's
    own workspace."""
    c_ig, c_og = c_i // groups, weight_shape[1]
    c_o = c_og * groups
    stacks = _stacks(geom, c_og)
    if stacks is not None:
        rows, cols = stacks
        kernel = (geom.kernel_size[0] // geom.stride[0], geom.kernel_size[1] // geom.stride[1])
        channels = c_o * geom.stride[0] * geom.stride[1]
        per_sample = channels * rows.count * cols.count * out_dtype.itemsize
        samples = max(1, min(n, workspace_bytes // 4 // max(1, per_sample)))
        shape = (channels, c_ig, *kernel)
        conv_geom = _stack_geometry(rows, cols, kernel)
        conv = conv_workspace_bytes(
            samples, c_i, shape, groups, conv_geom, compute.itemsize, workspace_bytes
        )
        stacked_weight = 2 * math.prod(shape) * compute.itemsize  # gathered, then cast
        bias = 2 * channels * compute.itemsize
        return samples, samples * per_sample + conv + stacked_weight + bias
    phases = _geometry_phases(geom)
    largest = max(ph.count * pw.count for ph, pw in phases)
    per_sample = c_o * largest * out_dtype.itemsize
    samples = max(1, min(n, workspace_bytes // 4 // max(1, per_sample)))
    conv = 0
    for ph, pw in phases:
        if not (ph.empty or pw.empty):
            shape = (c_o, c_ig, ph.taps, pw.taps)
            conv_geom = _phase_geometry(ph, pw)
            conv = max(
                conv,
                conv_workspace_bytes(
                    samples, c_i, shape, groups, conv_geom, compute.itemsize, workspace_bytes
                )
                # the sub-kernel, gathered and cast
                + 2 * c_o * c_ig * ph.taps * pw.taps * compute.itemsize,
            )
    return samples, samples * per_sample + conv


def _run_phases(
    out: Array,
    x: Array,
    weight: Array,
    bias: Array | None,
    geom: TransposedGeometry,
    groups: int,
    compute: np.dtype[Any],
    samples: int,
    progress: Progress | None,
) -> None:
    n, c_i = x.shape[:2]
    _, c_og, k_h, k_w = weight.shape
    c_ig, c_o = c_i // groups, c_og * groups
    (s_h, s_w) = geom.stride
    tap_index = np.arange(k_h * k_w).reshape(k_h, k_w)
    stacks = _stacks(geom, c_og)
    if stacks is not None or groups > 1:
        # (c_o, c_ig, k_h * k_w): the weight in conv2d's channel order, group by group,
        # copied once; each phase's sub-kernel is then one gather of whole taps (np.take:
        # a third of the time of copying a strided, flipped view, whose innermost run is
        # T_w values).
        regrouped = np.ascontiguousarray(
            weight.reshape(groups, c_ig, c_og, k_h, k_w).transpose(0, 2, 1, 3, 4)
        ).reshape(c_o, c_ig, k_h * k_w)
    if stacks is not None:
        _run_stacked(
            out, x, regrouped, tap_index, bias, geom, groups, compute, samples, stacks, progress
        )
        return
    if groups == 1:
        # (c_i, k_h * k_w, c_o): each tap's (c_i, c_o) block whole, so a phase's sub-kernel
        # is a gather of contiguous blocks, handed to conv2d as a transposed view that its
        # product reads as is (BLAS's transposed operand): no copy into (c_o, c_i, taps)
        # order, which cost DCGAN up 1.2 of its 7 ms on one thread (benchmarks/README.md).
        by_tap = np.ascontiguousarray(weight.reshape(c_i, c_og, k_h * k_w).transpose(0, 2, 1))

    def sub_kernel(taps: Array) -> Array:
        t_h, t_w = taps.shape
        if groups == 1:
            gathered = np.take(by_tap, taps.ravel(), axis=1)
            return gathered.reshape(c_i, t_h, t_w, c_o).transpose(3, 0, 1, 2)
        return np.take(regrouped, taps.ravel(), axis=2).reshape(c_o, c_ig, t_h, t_w)

    phases = _geometry_phases(geom)
    blocks = range(0, n, samples)
    total, done = len(blocks) * len(phases), 0
    if progress is not None:
        progress(done, total)
    fill = 0 if bias is None else bias.reshape(-1, 1, 1)
    for n0 in blocks:
        n1 = min(n, n0 + samples)
        for ph, pw in phases:
            target = out[
                n0:n1,
                :,
                ph.first : ph.first + (ph.count - 1) * s_h + 1 : s_h,
                pw.first : pw.first + (pw.count - 1) * s_w + 1 : s_w,
            ]
            if ph.empty or pw.empty:
                target[...] = fill
            else:
                sub = sub_kernel(tap_index[ph.residue :: s_h, pw.residue :: s_w][::-1, ::-1])
                block = np.empty((n1 - n0, c_o, ph.count, pw.count), out.dtype)
                part = x[n0:n1, :, ph.start : ph.stop, pw.start : pw.stop]
                conv2d_into(block, part, sub, bias, _phase_geometry(ph, pw), groups, compute)
                target[...] = block
            done += 1
            if progress is not None:
                progress(done, total)


def _run_stacked(
    out: Array,
    x: Array,
    regrouped: Array,
    tap_index: Array,
    bias: Array | None,
    geom: TransposedGeometry,
    groups: int,
    compute: np.dtype[Any],
    samples: int,
    stacks: tuple[_Stack, _Stack],
    progress: Progress | None,
) -> None:
    """Every phase in one ``conv2d``: the phases' sub-kernels stacked as output channels
    (group, phase, channel), one im2col and one product for all of them, then each phase's
    crop written to its strided place."""
    rows, cols = stacks
    n = x.shape[0]
    c_o, c_ig, _ = regrouped.shape
    c_og = c_o // groups
    (s_h, s_w), (m_h, m_w) = geom.stride, geom.out_size
    kernel = (geom.kernel_size[0] // s_h, geom.kernel_size[1] // s_w)
    pairs = [(ph, pw) for ph in range(s_h) for pw in range(s_w)]
    by_group = regrouped.reshape(groups, c_og, c_ig, -1)
    stacked = np.empty((groups, len(pairs), c_og, c_ig, kernel[0] * kernel[1]), regrouped.dtype)
    for p, (i, j) in enumerate(pairs):
        taps = tap_index[rows.phases[i].residue :: s_h, cols.phases[j].residue :: s_w]
        stacked[:, p] = np.take(by_group, taps[::-1, ::-1].ravel(), axis=3)
    weight = stacked.reshape(-1, c_ig, *kernel)
    b = None
    if bias is not None:
        b = np.broadcast_to(bias.reshape(groups, 1, c_og), (groups, len(pairs), c_og)).ravel()
    conv_geom = _stack_geometry(rows, cols, kernel)
    part = x[:, :, rows.start : rows.stop, cols.start : cols.stop]
    by_out = out.reshape(n, groups, c_og, m_h, m_w)
    blocks = range(0, n, samples)
    if progress is not None:
        progress(0, len(blocks))
    for n0 in blocks:
        n1 = min(n, n0 + samples)
        block = np.empty((n1 - n0, weight.shape[0], rows.count, cols.count), out.dtype)
        conv2d_into(block, part[n0:n1], weight, b, conv_geom, groups, compute)
        phased = block.reshape(n1 - n0, groups, len(pairs), c_og, rows.count, cols.count)
        for p, (i, j) in enumerate(pairs):
            ph, pw = rows.phases[i], cols.phases[j]
            oh, ow = rows.offsets[i], cols.offsets[j]
            by_out[
                n0:n1,
                :,
                :,
                ph.first : ph.first + (ph.count - 1) * s_h + 1 : s_h,
                pw.first : pw.first + (pw.count - 1) * s_w + 1 : s_w,
            ] = phased[:, :, p, :, oh : oh + ph.count, ow : ow + pw.count]
        if progress is not None:
            progress(n0 // samples + 1, len(blocks))


def conv_transpose_with(
    x: Array,
    kernel: Array,
    bias: Array | None,
    options: TransposedOptions,
    progress: Progress | None = None,
) -> Array:
    """``conv_transpose2d`` with the options of ``options``.

    Examples
    --------
    >>> conv_transpose_with(np.ones((1, 2, 2)), np.ones((1, 1, 3, 3)), None,
    ...                     TransposedOptions(stride=2)).shape
    (1, 5, 5)
    """
    return conv_transpose2d(
        x,
        kernel,
        bias,
        stride=options.stride,
        padding=options.padding,
        output_padding=options.output_padding,
        groups=options.groups,
        dilation=options.dilation,
        output_size=options.output_size,
        progress=progress,
    )


def check_transposed_kernel(kernel_shape: Shape) -> None:
    """Refuse a kernel that is not 4-D, as the commands read it (before its other shapes).

    Examples
    --------
    >>> check_transposed_kernel((2, 3, 3))
    Traceback (most recent call last):
    ...
    convcli.errors.ShapeError: a transposed convolution needs a 4-D kernel (c_i, c_o/groups, \
k_h, k_w), got 3-D (2, 3, 3)
    """
    if len(kernel_shape) != 4:
        raise ShapeError(
            _(
                "a transposed convolution needs a 4-D kernel (c_i, c_o/groups, k_h, k_w), got "
                "{kernel_ndim}-D {kernel_shape}"
            ).format(kernel_ndim=len(kernel_shape), kernel_shape=tuple(kernel_shape))
        )


def run_transposed(
    x: Array,
    kernel: Array,
    bias: Array | None,
    options: TransposedOptions,
    progress: Progress | None = None,
) -> RunResult:
    """``conv_transpose2d`` as ``convcli run --transposed`` computes and describes it
    (``progress(done, total)``, when given, called after each block).

    Examples
    --------
    >>> r = run_transposed(np.ones((1, 2, 2)), np.ones((1, 2, 3, 3)), None,
    ...                    TransposedOptions(stride=2, output_size=(6, 6)))
    >>> r.output.shape, r.kernel_axes
    ((2, 6, 6), ('c_i', 'c_o', 'k_h', 'k_w'))
    """
    check_transposed_kernel(kernel.shape)
    output = conv_transpose_with(x, kernel, bias, options, progress)
    geom = options_geometry(x.shape, kernel.shape, options)
    if geom.dilation == (1, 1):
        method = _(
            "conv_transpose2d: each input value stamps the kernel (run as stride-1 "
            "convolutions, one per output phase)"
        )
    else:
        method = _("conv_transpose2d: each input value stamps the kernel (one GEMM, then col2im)")
    if geom.output_padding != (0, 0):
        padding = f"output_padding {geom.output_padding[0]},{geom.output_padding[1]}"
        method = clauses([method, padding])
    batch = ("n",) if x.ndim == 4 else ()
    groups = int(options.groups)
    return RunResult(
        output=output,
        method=method,
        input_axes=(*batch, "c_i", "n_h", "n_w"),
        kernel_axes=("c_i", "c_o/g" if groups > 1 else "c_o", "k_h", "k_w"),
        output_axes=(*batch, "c_o", "m_h", "m_w"),
    )
