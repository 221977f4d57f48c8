"""The compute kernels behind ``conv2d``: one algorithm per shape, in tiles, into ``out``.

``core.conv2d`` validates, resolves the geometry and picks the dtypes; this module only
computes. Every kernel writes the result tile by tile into a caller-supplied C-contiguous
``out`` of shape ``(n, c_o, m_h, m_w)`` (an ndarray or a writable ``numpy.memmap``), using
a workspace bounded by ``workspace_bytes`` whatever the input size.

The algorithms (``choose_algorithm`` decides, by shape alone):

``"tiny"``
    The lesson-sized problems: one im2col of the whole input and one matrix product,
    with as few numpy calls as possible (there, Python overhead is the cost).
``"gemm_1x1"``
    A 1x1 kernel, stride 1, no padding, one group: ``W (c_o, c_i) @ x[n] (c_i, h*w)``,
    straight on the input, one GEMM per sample and no copy.
``"im2col_gemm"``
    Everything dense or grouped: im2col of a tile of output rows (several samples
    folded into the GEMM's columns when an image is small) into a cache-sized buffer,
    then one GEMM per tile (a stacked GEMM per group when ``groups > 1``). At stride 1
    the tile is built on the padded width, so all taps are one strided copy of
    contiguous runs; the spare columns are dropped when the tile is written out. A
    stride whose taps all fall on its grid (dilation a multiple of the stride, or a
    1-wide kernel) first becomes stride 1 on a subsampled view of the input.
``"depthwise_direct"``
    One input channel per group (depthwise, any channel multiplier): no dense GEMM
    over zeros. A block of channel planes is padded once, its taps gathered (at
    stride 1 all of them in one strided copy), and one (1, taps) x (taps, pixels)
    product per plane sums them.

Integer inputs arrive here already mapped to an exact compute dtype (float64 or int64);
float16 computes in float32; the tile is cast to ``out.dtype`` only when written.

Each calling thread keeps the buffers of its last im2col or depthwise plan (up to 16 MiB)
for its next call with the same plan: large fresh buffers cost a page fault per 4 KiB.
"""

from __future__ import annotations

import dataclasses
import functools
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import as_strided

from convcli.errors import ShapeError
from convcli.i18n import _
from convcli.ops.numerics import Accumulation, accumulation_for
from convcli.shapes.geometry import ConvGeometry, IntOrPair, PaddingArg, resolve_geometry

__all__ = [
    "DEFAULT_WORKSPACE_BYTES",
    "Algorithm",
    "MemoryEstimate",
    "TilePlan",
    "choose_algorithm",
    "conv2d_into",
    "conv_runner",
    "conv_workspace_bytes",
    "estimate_memory",
    "plan_dtypes",
    "plan_tiles",
]

Array = npt.NDArray[Any]
Shape = tuple[int, ...]
Algorithm = Literal["tiny", "gemm_1x1", "im2col_gemm", "depthwise_direct"]

DEFAULT_WORKSPACE_BYTES = 64 * 2**20
# Tile sizes chosen by timing whole conv2d calls (the numbers: benchmarks/README.md,
# "Tuning measurements"). Smaller im2col blocks mean more, smaller GEMMs and more
# hand-overs between numpy's copies and OpenBLAS, whose idle workers spin for a while after
# each call; much larger ones fall out of the caches. Depthwise gathers all taps of a block
# of planes with one strided copy, then one product per plane: faster than per-tap multiply
# and add passes on L2-sized tiles (numpy has no fused multiply-add), even on two threads.
_GEMM_TILE_BYTES = 8 * 2**20
_DIRECT_TILE_BYTES = 4 * 2**20
# Below this many multiply-adds the whole problem is one im2col + one GEMM.
_TINY_MACS = 2**15
# From this many input channels per group (None: never), a stride-1 tile runs one GEMM
# per tap on contiguous views of the padded tile, accumulated, instead of copying the
# im2col. Off for now: 0.8x the time of the im2col on one BLAS thread (batch and resnet
# cases), but 1.15-1.3x on two threads (nine short products and eight numpy additions
# per tile, OpenBLAS's workers spinning between them); measured on a loaded machine
# (benchmarks/README.md), to be decided on a quiet one. With few channels (rgb) each
# product is too thin (K = c_i) either way.
_PER_TAP_CHANNELS: int | None = None
# A strided layer whose whole output rows fit a tile unfolds from its stride phases
# (contiguous runs, one copy of the input to split it) instead of gathering every tap
# with the stride (benchmarks/README.md).
_PHASED = False


@dataclass(frozen=True)
class TilePlan:
    """How a convolution is cut into tiles, and the workspace that needs.

    ``samples``, ``rows``, ``cols`` and ``channels`` are the tile's extent in output
    samples, output rows, output columns and (depthwise only) input channels.
    ``flat`` marks the padded-width im2col (stride 1); ``per_tap`` (flat only) one
    product per kernel tap straight on the padded tile, accumulated, instead of the
    im2col copy; ``phased`` (strided, whole rows) the im2col from the tile split into
    its ``s_h * s_w`` stride phases, where every tap is a contiguous run.
    ``workspace_bytes`` counts every buffer the kernel allocates.
    """

    algorithm: Algorithm
    samples: int
    rows: int
    cols: int
    channels: int
    flat: bool
    workspace_bytes: int
    per_tap: bool = False
    phased: bool = False


@dataclass(frozen=True)
class MemoryEstimate:
    """What one ``conv2d`` call holds at its peak, in bytes, decided before allocating."""

    algorithm: Algorithm
    output_shape: Shape
    output_dtype: np.dtype[Any]
    input_bytes: int
    output_bytes: int
    workspace_bytes: int

    @property
    def total_bytes(self) -> int:
        return self.input_bytes + self.output_bytes + self.workspace_bytes


@dataclass(frozen=True)
class _Problem:
    n: int
    c_i: int
    c_o: int
    c_per_group: int
    kernel: tuple[int, int]
    groups: int
    geom: ConvGeometry

    @property
    def taps(self) -> int:
        return self.kernel[0] * self.kernel[1]

    @property
    def macs(self) -> int:
        m_h, m_w = self.geom.out_size
        return self.n * self.c_o * m_h * m_w * self.c_per_group * self.taps


def choose_algorithm(
    input_shape: Shape,
    weight_shape: Shape,
    *,
    stride: IntOrPair = 1,
    padding: PaddingArg = 0,
    dilation: IntOrPair = 1,
    groups: int = 1,
) -> Algorithm:
    """The algorithm ``conv2d`` runs for these shapes and options.

    Examples
    --------
    >>> choose_algorithm((2, 3, 3), (3, 2, 2, 2))
    'tiny'
    >>> choose_algorithm((1, 256, 56, 56), (64, 256, 1, 1))
    'gemm_1x1'
    >>> choose_algorithm((1, 64, 56, 56), (64, 64, 3, 3), padding=1)
    'im2col_gemm'
    >>> choose_algorithm((1, 128, 56, 56), (128, 1, 3, 3), padding=1, groups=128)
    'depthwise_direct'
    """
    return _choose(_problem(input_shape, weight_shape, stride, padding, dilation, groups))


def plan_dtypes(
    input_dtype: npt.DTypeLike,
    weight_dtype: npt.DTypeLike | None = None,
    bias_dtype: npt.DTypeLike | None = None,
) -> tuple[Accumulation, np.dtype[Any]]:
    """The accumulation of operands of these dtypes and the dtype a plan computes in.

    ``weight_dtype`` defaults to ``input_dtype``; no bias when ``bias_dtype`` is None.
    Integers compute exactly in float64 (sums below 2**53) or int64: both 8 bytes.

    Examples
    --------
    >>> acc, compute = plan_dtypes(np.int32)
    >>> acc.out, compute
    (dtype('int64'), dtype('float64'))
    >>> plan_dtypes(np.float16)[1]
    dtype('float32')
    """
    x_dtype = np.dtype(input_dtype)
    w_dtype = x_dtype if weight_dtype is None else np.dtype(weight_dtype)
    operands = [np.empty(0, x_dtype), np.empty(0, w_dtype)]
    if bias_dtype is not None:
        operands.append(np.empty(0, np.dtype(bias_dtype)))
    acc = accumulation_for(*operands)
    compute = np.dtype(np.float64) if acc.is_integer else acc.acc
    return acc, compute


def estimate_memory(
    input_shape: Shape,
    weight_shape: Shape,
    *,
    input_dtype: npt.DTypeLike = np.float32,
    weight_dtype: npt.DTypeLike | None = None,
    bias_dtype: npt.DTypeLike | None = None,
    stride: IntOrPair = 1,
    padding: PaddingArg = 0,
    dilation: IntOrPair = 1,
    groups: int = 1,
    workspace_bytes: int = DEFAULT_WORKSPACE_BYTES,
) -> MemoryEstimate:
    """Input, output and workspace bytes of one ``conv2d``, from shapes and dtypes only.

    ``weight_dtype`` defaults to ``input_dtype``; ``bias_dtype=None`` means no bias.
    The workspace is exactly what the kernel will allocate (``plan_tiles``), and never
    more than ``workspace_bytes`` unless a single output column needs more; a thread
    that repeats a plan reuses its buffers and allocates none. The input
    is counted once: a C-contiguous input is never copied whole.

    Examples
    --------
    >>> e = estimate_memory((1, 64, 1024, 1024), (64, 64, 3, 3), padding=1)
    >>> e.output_shape, e.output_dtype, e.input_bytes // 2**20, e.output_bytes // 2**20
    ((1, 64, 1024, 1024), dtype('float32'), 256, 256)
    >>> e.workspace_bytes <= 64 * 2**20
    True
    """
    acc, compute = plan_dtypes(input_dtype, weight_dtype, bias_dtype)
    prob = _problem(input_shape, weight_shape, stride, padding, dilation, groups)
    plan = plan_tiles(prob, compute.itemsize, workspace_bytes)
    m_h, m_w = prob.geom.out_size
    out_shape: Shape = (prob.c_o, m_h, m_w)
    if len(input_shape) == 4:
        out_shape = (prob.n, *out_shape)
    return MemoryEstimate(
        algorithm=plan.algorithm,
        output_shape=out_shape,
        output_dtype=acc.out,
        input_bytes=int(np.prod(input_shape)) * np.dtype(input_dtype).itemsize,
        output_bytes=int(np.prod(out_shape)) * acc.out.itemsize,
        workspace_bytes=plan.workspace_bytes,
    )


@functools.lru_cache(maxsize=256)
def plan_tiles(prob: _Problem, itemsize: int, workspace_bytes: int) -> TilePlan:
    """Tile sizes for ``prob`` at ``itemsize`` bytes per compute element (pure, cached)."""
    algorithm = _choose(prob)
    if algorithm == "tiny":
        return _plan_tiny(prob, itemsize)
    if algorithm == "gemm_1x1":
        return _plan_1x1(prob, itemsize, workspace_bytes)
    reduced = _stride_one(prob)
    if reduced is not None:
        prob = reduced[0]
    if algorithm == "depthwise_direct":
        return _plan_direct(prob, itemsize, workspace_bytes)
    return _plan_im2col(prob, itemsize, workspace_bytes)


def conv_workspace_bytes(
    n: int,
    c_i: int,
    weight_shape: Shape,
    groups: int,
    geom: ConvGeometry,
    itemsize: int,
    workspace_bytes: int = DEFAULT_WORKSPACE_BYTES,
) -> int:
    """The workspace ``conv2d_into`` allocates for these operands and resolved geometry.

    Examples
    --------
    >>> from convcli.shapes.geometry import resolve_geometry
    >>> g = resolve_geometry((8, 8), (2, 2), padding=1)
    >>> conv_workspace_bytes(1, 4, (4, 4, 2, 2), 1, g, 4) <= 64 * 2**20
    True
    """
    c_o, c_per_group, k_h, k_w = weight_shape
    prob = _Problem(n, c_i, c_o, c_per_group, (k_h, k_w), groups, canonical_geometry(geom))
    return plan_tiles(prob, itemsize, workspace_bytes).workspace_bytes


def conv2d_into(
    out: Array,
    x: Array,
    weight: Array,
    bias: Array | None,
    geom: ConvGeometry,
    groups: int,
    compute: np.dtype[Any],
    *,
    workspace_bytes: int = DEFAULT_WORKSPACE_BYTES,
) -> Algorithm:
    """Compute ``conv2d`` of validated operands into ``out``; return the algorithm used.

    ``x`` is ``(n, c_i, h, w)`` (any numeric dtype, cast tile by tile), ``weight``
    ``(c_o, c_i/groups, k_h, k_w)``, ``out`` a C-contiguous ``(n, c_o, m_h, m_w)``.
    ``geom`` gives zero padding only: other padding modes pad ``x`` first and pass a
    geometry with ``padding=0``.
    """
    prob, plan = _plan_call(x.shape[:2], weight.shape, groups, geom, compute, workspace_bytes)
    if plan.algorithm == "tiny":
        _tiny_runner(prob, compute)(out, x, weight, bias)
        return plan.algorithm
    geom = prob.geom
    w = weight
    if not (weight.dtype == compute and np.moveaxis(weight, 0, -1).flags.c_contiguous):
        w = np.ascontiguousarray(weight, dtype=compute)
    # else: a weight stored tap-major, (c_i/groups, k_h, k_w, c_o) (conv_transpose2d's
    # phases): every kernel reads it through reshapes, and the products take its
    # (c_o, c_i/groups * taps) view as a transposed operand, without a copy.
    b = None if bias is None else np.ascontiguousarray(bias, dtype=compute)
    if plan.algorithm == "gemm_1x1":
        _run_1x1(out, x, w, b, prob, plan, compute)
        return plan.algorithm
    reduced = _stride_one(prob)
    if reduced is not None:
        prob, (o_h, o_w) = reduced
        (s_h, s_w), (h, wd) = geom.stride, prob.geom.in_size
        x = x[:, :, o_h : o_h + (h - 1) * s_h + 1 : s_h, o_w : o_w + (wd - 1) * s_w + 1 : s_w]
    if plan.algorithm == "depthwise_direct":
        _run_direct(out, x, w, b, prob, plan, compute)
    else:
        _run_im2col(out, x, w, b, prob, plan, compute)
    return plan.algorithm


@functools.lru_cache(maxsize=256)
def _plan_call(
    n_c_i: Shape,
    weight_shape: Shape,
    groups: int,
    geom: ConvGeometry,
    compute: np.dtype[Any],
    workspace_bytes: int,
) -> tuple[_Problem, TilePlan]:
    """The problem and plan of one call, remembered: a lesson-sized call is all overhead."""
    n, c_i = n_c_i
    c_o, c_per_group, k_h, k_w = weight_shape
    geom = canonical_geometry(geom)
    prob = _Problem(n, c_i, c_o, c_per_group, (k_h, k_w), groups, geom)
    return prob, plan_tiles(prob, compute.itemsize, workspace_bytes)


def canonical_geometry(geom: ConvGeometry) -> ConvGeometry:
    """The same convolution with stride 1 on an axis of one output, dilation 1 on an
    axis of a one-wide kernel: neither changes a value there, and a stride or dilation
    of 10**17 would overflow the strides of numpy's views (every path uses views).

    Examples
    --------
    >>> from convcli.shapes.geometry import resolve_geometry
    >>> canonical_geometry(resolve_geometry((5, 5), (1, 3), stride=10**17, dilation=(7, 1))).stride
    (1, 1)
    """
    if geom.stride == (1, 1) and geom.dilation == (1, 1):
        return geom
    stride = tuple(1 if m == 1 else s for m, s in zip(geom.out_size, geom.stride, strict=True))
    dilation = tuple(
        1 if k == 1 else d for k, d in zip(geom.kernel_size, geom.dilation, strict=True)
    )
    if stride == geom.stride and dilation == geom.dilation:
        return geom
    return dataclasses.replace(geom, stride=stride, dilation=dilation)  # type: ignore[arg-type]


# --- choosing and planning -------------------------------------------------------------


def _problem(
    input_shape: Shape,
    weight_shape: Shape,
    stride: IntOrPair,
    padding: PaddingArg,
    dilation: IntOrPair,
    groups: int,
) -> _Problem:
    if len(input_shape) not in (3, 4) or len(weight_shape) != 4:
        raise ShapeError(
            _(
                "need a 3-D or 4-D input shape and a 4-D weight shape, got {input_shape} and "
                "{weight_shape}"
            ).format(input_shape=input_shape, weight_shape=weight_shape)
        )
    n = input_shape[0] if len(input_shape) == 4 else 1
    c_i, h, w = input_shape[-3:]
    c_o, c_per_group, k_h, k_w = weight_shape
    if groups < 1 or c_per_group * groups != c_i or c_o % groups:
        raise ShapeError(
            _("weight {weight_shape} with groups={groups} does not fit input {input_shape}").format(
                weight_shape=weight_shape, groups=groups, input_shape=input_shape
            )
        )
    geom = resolve_geometry((h, w), (k_h, k_w), stride=stride, padding=padding, dilation=dilation)
    return _Problem(n, c_i, c_o, c_per_group, (k_h, k_w), groups, geom)


def _stride_one(prob: _Problem) -> tuple[_Problem, tuple[int, int]] | None:
    """A strided convolution whose taps all fall on the stride's grid, at stride 1.

    When the dilation is a multiple of the stride (or the kernel is 1 wide) on both
    axes, every tap reads padded rows and columns that are multiples of the stride: the
    same convolution runs at stride 1 and dilation ``d / s`` on the input subsampled
    from offset ``o`` (a strided view, no copy), so the fast stride-1 im2col applies.
    Returns the new problem and ``(o_h, o_w)``, or ``None``.
    """
    geom = prob.geom
    if geom.stride == (1, 1):
        return None
    top, _, left, _ = geom.padding
    axes = []
    for n, k, s, d, low, m in zip(
        geom.in_size,
        prob.kernel,
        geom.stride,
        geom.dilation,
        (top, left),
        geom.out_size,
        strict=True,
    ):
        if k > 1 and d % s:
            return None
        offset = -low % s
        new_low = (low + s - 1) // s
        new_d = d // s if k > 1 else 1
        length = max(0, (n - offset + s - 1) // s)
        high = m + new_d * (k - 1) - new_low - length
        length += min(high, 0)
        if length <= 0:
            return None
        axes.append((offset, new_low, max(high, 0), new_d, length))
    (o_h, t, b, d_h, h), (o_w, lft, rgt, d_w, w) = axes
    reduced = ConvGeometry(
        in_size=(h, w),
        kernel_size=geom.kernel_size,
        stride=(1, 1),
        padding=(t, b, lft, rgt),
        dilation=(d_h, d_w),
        out_size=geom.out_size,
    )
    return _Problem(
        prob.n, prob.c_i, prob.c_o, prob.c_per_group, prob.kernel, prob.groups, reduced
    ), (o_h, o_w)


def _choose(prob: _Problem) -> Algorithm:
    if prob.macs <= _TINY_MACS:
        return "tiny"
    if prob.groups > 1 and prob.c_per_group == 1:
        return "depthwise_direct"
    plain = prob.geom.out_size == prob.geom.in_size and prob.geom.padding == (0, 0, 0, 0)
    if prob.kernel == (1, 1) and plain and prob.groups == 1:
        return "gemm_1x1"
    return "im2col_gemm"


def _plan_tiny(prob: _Problem, itemsize: int) -> TilePlan:
    m_h, m_w = prob.geom.out_size
    p_h, p_w = prob.geom.padded_size
    elements = prob.n * (prob.c_i * p_h * p_w + (prob.c_i * prob.taps + prob.c_o) * m_h * m_w)
    return TilePlan("tiny", prob.n, m_h, m_w, prob.c_i, False, elements * itemsize)


def _plan_1x1(prob: _Problem, itemsize: int, budget: int) -> TilePlan:
    # Straight on the input when its dtype is the compute dtype (no workspace at all);
    # otherwise input and result pixels go through cache-sized buffers, counted here.
    m_h, m_w = prob.geom.out_size
    per_pixel = (prob.c_i + prob.c_o) * itemsize
    pixels = _fit(min(budget, _GEMM_TILE_BYTES) // per_pixel, 1, m_h * m_w)
    rows, cols = (pixels // m_w, m_w) if pixels >= m_w else (1, pixels)
    return TilePlan("gemm_1x1", 1, rows, cols, prob.c_i, False, rows * cols * per_pixel)


def _plan_im2col(prob: _Problem, itemsize: int, budget: int) -> TilePlan:
    m_h, m_w = prob.geom.out_size
    flat = prob.geom.stride == (1, 1)
    phased = not flat and _PHASED
    width = prob.geom.padded_size[1] if flat else m_w
    if phased:
        width = _phase_extent(prob, 1)[1]
    per_row = prob.c_i * prob.taps * width * itemsize
    target = min(budget, _GEMM_TILE_BYTES)
    rows = _fit(target // per_row, 1, m_h)
    samples = _fit(target // (per_row * m_h), 1, prob.n) if rows == m_h else 1
    cols = m_w
    while (
        rows > 1
        and _im2col_bytes(prob, samples, rows, cols, flat, itemsize, phased=phased) > budget
    ):
        rows -= 1
    if _im2col_bytes(prob, samples, rows, cols, flat, itemsize, phased=phased) > budget:
        # One output row is over budget: drop to the strided im2col on column blocks.
        flat = phased = False
        per_col = (prob.c_i * prob.taps + prob.c_o) * itemsize
        cols = _fit(budget // (2 * per_col), 1, m_w)
        while cols > 1 and _im2col_bytes(prob, 1, 1, cols, False, itemsize) > budget:
            cols = max(1, cols // 2)
    per_tap = (
        flat
        and _PER_TAP_CHANNELS is not None
        and prob.c_per_group >= _PER_TAP_CHANNELS
        and prob.taps > 1
    )
    workspace = _im2col_bytes(prob, samples, rows, cols, flat, itemsize, per_tap, phased)
    return TilePlan("im2col_gemm", samples, rows, cols, prob.c_i, flat, workspace, per_tap, phased)


def _phase_extent(prob: _Problem, rows: int) -> tuple[int, int, int]:
    """Rows and columns of one stride phase of a tile of ``rows`` whole output rows,
    and the slack after the last phase: tap ``(a, b)`` reads phase
    ``(a*d_h % s_h, b*d_w % s_w)`` from ``(a*d_h // s_h, b*d_w // s_w)`` on."""
    geom = prob.geom
    (s_h, s_w), (d_h, d_w) = geom.stride, geom.dilation
    k_h, k_w = prob.kernel
    down, right = (k_h - 1) * d_h // s_h, (k_w - 1) * d_w // s_w
    return rows + down, geom.out_size[1] + right, right


def _im2col_bytes(
    prob: _Problem,
    samples: int,
    rows: int,
    cols: int,
    flat: bool,
    itemsize: int,
    per_tap: bool = False,
    phased: bool = False,
) -> int:
    if phased:  # the phases of the tile, the columns of all taps, the product
        ph_rows, ph_cols, slack = _phase_extent(prob, rows)
        (s_h, s_w), count = prob.geom.stride, samples * rows * ph_cols
        buffer = samples * prob.c_i * s_h * s_w * ph_rows * ph_cols + slack
        return (buffer + count * (prob.c_i * prob.taps + prob.c_o)) * itemsize
    in_rows, in_cols = _input_extent(prob.geom, rows, cols, flat)
    slack = prob.geom.effective_kernel[1] if flat else 0
    width = in_cols if flat else cols
    buffer = samples * prob.c_i * (in_rows * in_cols + slack)
    if per_tap:  # the sum and one tap's product, and the weight ordered by tap
        weights = prob.c_o * prob.c_per_group * prob.taps
        return (buffer + samples * rows * width * 2 * prob.c_o + weights) * itemsize
    columns = samples * rows * width * (prob.c_i * prob.taps + prob.c_o)
    return (buffer + columns) * itemsize


def _plan_direct(prob: _Problem, itemsize: int, budget: int) -> TilePlan:
    m_h, m_w = prob.geom.out_size
    planes = prob.n * prob.c_i

    def workspace(rows: int, cols: int, channels: int) -> int:
        flat = cols == m_w and prob.geom.stride == (1, 1)
        in_rows, in_cols = _input_extent(prob.geom, rows, cols, flat)
        width = in_cols if flat else cols
        slack = prob.geom.effective_kernel[1] if flat else 0
        return channels * (in_rows * in_cols + slack + (prob.taps + 1) * rows * width) * itemsize

    target = max(1, min(budget // 2, _DIRECT_TILE_BYTES))
    cols = m_w
    width = prob.geom.padded_size[1] if prob.geom.stride == (1, 1) else m_w
    per_row = (prob.taps + 1) * width * itemsize
    rows = _fit(target // per_row, 1, m_h)
    channels = _fit(target // (rows * per_row), 1, planes)
    while rows > 1 and workspace(rows, cols, channels) > budget:
        rows = max(1, rows // 2)
    while cols > 1 and workspace(rows, cols, channels) > budget:
        cols = max(1, cols // 2)
    flat = cols == m_w and prob.geom.stride == (1, 1)
    size = workspace(rows, cols, channels)
    return TilePlan("depthwise_direct", 1, rows, cols, channels, flat, size)


def _input_extent(geom: ConvGeometry, rows: int, cols: int, flat: bool) -> tuple[int, int]:
    """Padded input rows and columns one tile of ``rows`` x ``cols`` outputs reads."""
    (s_h, s_w), (eff_h, eff_w) = geom.stride, geom.effective_kernel
    in_rows = (rows - 1) * s_h + eff_h
    in_cols = geom.padded_size[1] if flat else (cols - 1) * s_w + eff_w
    return in_rows, in_cols


def _fit(value: int, low: int, high: int) -> int:
    return max(low, min(high, value))


# --- the kernels -------------------------------------------------------------------------


def conv_runner(
    n_c_i: Shape,
    weight_shape: Shape,
    groups: int,
    geom: ConvGeometry,
    compute: np.dtype[Any],
    workspace_bytes: int = DEFAULT_WORKSPACE_BYTES,
) -> Callable[[Array, Array, Array, Array | None], object]:
    """``conv2d_into`` with its plan bound: ``run(out, x, weight, bias)``.

    For a caller that repeats a call of the same shapes, dtypes and options (``conv2d``
    remembers one per such call): a lesson-sized call is all Python overhead, and the
    tiny kernel's runner has its views' shapes and strides worked out once.
    """
    prob, plan = _plan_call(n_c_i, weight_shape, groups, geom, compute, workspace_bytes)
    if plan.algorithm == "tiny":
        return _tiny_runner(prob, compute)
    return functools.partial(
        _into_positional, geom=geom, groups=groups, compute=compute, workspace=workspace_bytes
    )


def _into_positional(
    out: Array,
    x: Array,
    weight: Array,
    bias: Array | None,
    *,
    geom: ConvGeometry,
    groups: int,
    compute: np.dtype[Any],
    workspace: int,
) -> Algorithm:
    return conv2d_into(out, x, weight, bias, geom, groups, compute, workspace_bytes=workspace)


@functools.lru_cache(maxsize=256)
def _tiny_runner(
    prob: _Problem, compute: np.dtype[Any]
) -> Callable[[Array, Array, Array, Array | None], object]:
    """The tiny kernel for one problem: one im2col of the whole input, one product.

    Everything that depends on shapes only (the padded shape, the windows' shape and
    strides, the grouped views' shapes) is computed here once.
    """
    geom = prob.geom
    top, bottom, left, right = geom.padding
    n, c_i = prob.n, prob.c_i
    h, wd = geom.in_size
    padded = bool(top or bottom or left or right)
    p_h, p_w = h + top + bottom, wd + left + right
    (s_h, s_w), (d_h, d_w) = geom.stride, geom.dilation
    m_h, m_w = geom.out_size
    k_h, k_w = prob.kernel
    item = compute.itemsize
    st = (c_i * p_h * p_w * item, p_h * p_w * item, p_w * item, item)
    win_shape = (n, c_i, k_h, k_w, m_h, m_w)
    win_strides = (st[0], st[1], st[2] * d_h, st[3] * d_w, st[2] * s_h, st[3] * s_w)
    g = prob.groups
    cols_shape = (n, g, prob.c_per_group * prob.taps, m_h * m_w)
    w_shape = (g, prob.c_o // g, prob.c_per_group * prob.taps)
    y_shape = (n, g, prob.c_o // g, m_h * m_w)
    bias_shape = (prob.c_o, 1, 1)
    full = (n, c_i, p_h, p_w)
    ascontiguous, ndarray, matmul, dot = np.ascontiguousarray, np.ndarray, np.matmul, np.dot
    # np.dot for one sample of one group, unless a factor is one number (an inner size of
    # 1): numpy then scales a vector instead of a product, and 0 * inf gives 0, not NaN.
    single = n == 1 and g == 1 and prob.c_per_group * prob.taps > 1

    def run(out: Array, x: Array, weight: Array, bias: Array | None) -> None:
        if padded:
            xc = np.zeros(full, compute)
            xc[:, :, top : top + h, left : left + wd] = x
        else:
            xc = ascontiguous(x, dtype=compute)
        cols = ndarray(win_shape, compute, xc, 0, win_strides).reshape(cols_shape)
        w = ascontiguous(weight, dtype=compute).reshape(w_shape)
        b = None if bias is None else ascontiguous(bias, dtype=compute)
        if out.dtype == compute:
            if single:  # np.dot: the same BLAS product, less dispatch than matmul's
                dot(w[0], cols[0, 0], out=out.reshape(y_shape)[0, 0])
            else:
                matmul(w, cols, out=out.reshape(y_shape))
            if b is not None:
                out += b.reshape(bias_shape)
        else:
            _store(out, matmul(w, cols).reshape(out.shape), _bias4(b))

    return run


def _bias4(b: Array | None) -> Array | None:
    return None if b is None else b.reshape(1, -1, 1, 1)


def _run_1x1(
    out: Array,
    x: Array,
    w: Array,
    b: Array | None,
    prob: _Problem,
    plan: TilePlan,
    compute: np.dtype[Any],
) -> None:
    n, c_i, h, wd = x.shape
    c_o = prob.c_o
    w2 = w.reshape(c_o, c_i)
    bias = None if b is None else b.reshape(c_o, 1)
    rows_contiguous = x.strides[3] == x.itemsize and x.strides[2] == wd * x.itemsize
    if x.dtype == compute and out.dtype == compute and rows_contiguous:
        # One GEMM per sample, reading the input and writing the output in place.
        for i in range(n):
            dst = out[i].reshape(c_o, h * wd)
            np.matmul(w2, x[i].reshape(c_i, h * wd), out=dst)
            if bias is not None:
                dst += bias
        return
    rows, cols = plan.rows, plan.cols
    x_buf = np.empty(c_i * rows * cols, compute)
    y_buf = np.empty(c_o * rows * cols, compute)
    for i in range(n):
        for r0 in range(0, h, rows):
            r1 = min(h, r0 + rows)
            for j0 in range(0, wd, cols):
                j1 = min(wd, j0 + cols)
                pixels = (r1 - r0) * (j1 - j0)
                src = x_buf[: c_i * pixels].reshape(c_i, r1 - r0, j1 - j0)
                src[...] = x[i, :, r0:r1, j0:j1]
                y = y_buf[: c_o * pixels].reshape(c_o, pixels)
                np.matmul(w2, src.reshape(c_i, pixels), out=y)
                tile = y.reshape(c_o, r1 - r0, j1 - j0)
                _store(out[i, :, r0:r1, j0:j1], tile, None if b is None else b.reshape(c_o, 1, 1))


def _store(dst: Array, y: Array, bias: Array | None) -> None:
    """Write a finished tile, adding the bias and casting to ``dst.dtype`` in one pass."""
    if bias is None:
        np.copyto(dst, y, casting="unsafe")
    else:
        np.add(y, bias, out=dst, casting="unsafe")


# Each calling thread keeps the buffers of its last im2col or depthwise plan for its next
# call of the same plan, when they are small: fresh buffers cost a page fault per 4 KiB on
# first touch (glibc hands large blocks back to the system when they are freed), which
# slowed repeated calls severalfold in some allocation histories (benchmarks/README.md).
# The peak of a call is unchanged: a kept set is dropped before a new one is allocated,
# and the buffers are never handed out (results are copied into ``out``).
_KEEP_BYTES = 16 * 2**20
_KEPT = threading.local()
_T = TypeVar("_T")


def _kept(key: object, nbytes: int, make: Callable[[], _T]) -> _T:
    """The buffers ``make()`` returns, reused when this thread's last plan was ``key``."""
    entry: tuple[object, Any] | None = getattr(_KEPT, "entry", None)
    if entry is not None and entry[0] == key:
        kept: _T = entry[1]
        return kept
    # Both references dropped before allocating: the old buffers are freed first.
    _KEPT.entry = entry = None
    value = make()
    if nbytes <= _KEEP_BYTES:
        _KEPT.entry = (key, value)
    return value


def _padded_tiles(prob: _Problem, plan: TilePlan) -> Iterator[tuple[int, int, int, int]]:
    """``(n0, n1, r0, r1)`` blocks of samples and output rows, in output order."""
    m_h = prob.geom.out_size[0]
    for n0 in range(0, prob.n, plan.samples):
        for r0 in range(0, m_h, plan.rows):
            yield n0, min(prob.n, n0 + plan.samples), r0, min(m_h, r0 + plan.rows)


def _fill_padded(
    buf: Array, x: Array, row0: int, col0: int, top: int, left: int, whole_width: bool
) -> None:
    """Copy the zero-padded input window starting at padded (row0, col0) into ``buf``.

    ``buf`` is ``(..., rows, cols)`` over the leading axes of ``x`` (already sliced).
    When every tile spans the whole padded width (``whole_width``) the side columns sit
    at the same place in every tile, were zeroed when the buffer was allocated and are
    never written, so only the top and bottom padding rows (contiguous) are cleared.
    """
    rows, cols = buf.shape[-2:]
    h, w = x.shape[-2:]
    s0, s1 = max(row0 - top, 0), min(row0 + rows - top, h)
    c0, c1 = max(col0 - left, 0), min(col0 + cols - left, w)
    d0, e0 = s0 - (row0 - top), c0 - (col0 - left)
    if s1 <= s0 or c1 <= c0:
        buf[...] = 0
        return
    d1, e1 = d0 + s1 - s0, e0 + c1 - c0
    buf[..., :d0, :] = 0
    buf[..., d1:, :] = 0
    if not whole_width:
        buf[..., d0:d1, :e0] = 0
        buf[..., d0:d1, e1:] = 0
    buf[..., d0:d1, e0:e1] = x[..., s0:s1, c0:c1]


def _run_im2col(
    out: Array,
    x: Array,
    w: Array,
    b: Array | None,
    prob: _Problem,
    plan: TilePlan,
    compute: np.dtype[Any],
) -> None:
    geom = prob.geom
    (s_h, s_w), (d_h, d_w) = geom.stride, geom.dilation
    top, _, left, _ = geom.padding
    m_w = geom.out_size[1]
    k_h, k_w = prob.kernel
    c_i, c_o, g = prob.c_i, prob.c_o, prob.groups
    taps = prob.taps
    in_rows_max, in_cols = _input_extent(geom, plan.rows, plan.cols, plan.flat)
    width = in_cols if plan.flat else plan.cols
    slack = geom.effective_kernel[1] if plan.flat else 0
    plane = in_rows_max * in_cols + slack
    if plan.per_tap:
        _run_per_tap(out, x, w, b, prob, plan, compute, plane)
        return
    if plan.phased:
        _run_phased(out, x, w, b, prob, plan, compute)
        return
    buf, cols_buf, y_buf = _kept(
        (prob, plan, compute),
        plan.workspace_bytes,
        lambda: (
            np.zeros((plan.samples, c_i, plane), compute),
            np.empty(c_i * taps * plan.samples * plan.rows * width, compute),
            np.empty(c_o * plan.samples * plan.rows * width, compute),
        ),
    )
    w_groups = w.reshape(g, c_o // g, prob.c_per_group * taps)
    bias = None if b is None else b.reshape(1, c_o, 1, 1)
    for n0, n1, r0, r1 in _padded_tiles(prob, plan):
        nb, rows = n1 - n0, r1 - r0
        in_rows = (rows - 1) * s_h + geom.effective_kernel[0]
        for j0 in range(0, m_w, plan.cols):
            j1 = min(m_w, j0 + plan.cols)
            ncols = j1 - j0
            span = in_cols if plan.flat else (ncols - 1) * s_w + geom.effective_kernel[1]
            tile = buf[:nb, :, : in_rows * span].reshape(nb, c_i, in_rows, span)
            _fill_padded(tile, x[n0:n1], r0 * s_h, j0 * s_w, top, left, plan.cols == m_w)
            wid = span if plan.flat else ncols
            count = nb * rows * wid
            cols = cols_buf[: c_i * taps * count].reshape(c_i, taps, nb, rows, wid)
            if plan.flat:
                # Every tap is a contiguous run of each padded plane, at offsets on a
                # regular (a*d_h rows, b*d_w columns) grid: one strided view, one copy.
                step = buf.itemsize
                taps_view = as_strided(
                    buf,
                    shape=(c_i, k_h, k_w, nb, rows * span),
                    strides=(buf.strides[1], d_h * span * step, d_w * step, buf.strides[0], step),
                    writeable=False,
                )
                cols.reshape(taps_view.shape)[...] = taps_view
            else:
                for a in range(k_h):
                    for bb in range(k_w):
                        src = tile[
                            :,
                            :,
                            a * d_h : a * d_h + (rows - 1) * s_h + 1 : s_h,
                            bb * d_w : bb * d_w + (ncols - 1) * s_w + 1 : s_w,
                        ]
                        cols[:, a * k_w + bb] = src.transpose(1, 0, 2, 3)
            y = y_buf[: c_o * count].reshape(g, c_o // g, count)
            np.matmul(w_groups, cols.reshape(g, -1, count), out=y)
            result = y.reshape(c_o, nb, rows, wid)[..., :ncols].transpose(1, 0, 2, 3)
            _store(out[n0:n1, :, r0:r1, j0:j1], result, bias)


def _run_per_tap(
    out: Array,
    x: Array,
    w: Array,
    b: Array | None,
    prob: _Problem,
    plan: TilePlan,
    compute: np.dtype[Any],
    plane: int,
) -> None:
    """Stride 1 without an im2col copy: on the padded tile, flattened, the input of tap
    ``(a, b)`` for every output (computed on the padded width, cropped when stored) is
    the contiguous run starting ``a*d_h`` rows and ``b*d_w`` columns in, so each tap is
    one GEMM ``(c_o, c_i) @ (c_i, rows * W_p)`` straight on a view, summed into a block."""
    geom = prob.geom
    (d_h, d_w), (top, _, left, _) = geom.dilation, geom.padding
    k_w = prob.kernel[1]
    c_i, c_o, g, c_pg = prob.c_i, prob.c_o, prob.groups, prob.c_per_group
    span = geom.padded_size[1]
    buf, acc_buf, tap_buf, w_taps = _kept(
        (prob, plan, compute),
        plan.workspace_bytes,
        lambda: (
            np.zeros((plan.samples, c_i, plane), compute),
            np.empty(plan.samples * c_o * plan.rows * span, compute),
            np.empty(plan.samples * c_o * plan.rows * span, compute),
            np.empty((prob.taps, g, c_o // g, c_pg), compute),
        ),
    )
    # (taps, g, c_o/g, c_pg): each tap's (c_o, c_i) matrix, group by group.
    w_taps[...] = w.reshape(g, c_o // g, c_pg, prob.taps).transpose(3, 0, 1, 2)
    bias = None if b is None else b.reshape(1, c_o, 1, 1)
    planes = buf.reshape(plan.samples, g, c_pg, plane)
    for n0, n1, r0, r1 in _padded_tiles(prob, plan):
        nb, rows = n1 - n0, r1 - r0
        in_rows = rows - 1 + geom.effective_kernel[0]
        tile = buf[:nb, :, : in_rows * span].reshape(nb, c_i, in_rows, span)
        _fill_padded(tile, x[n0:n1], r0, 0, top, left, True)
        count = rows * span
        acc = acc_buf[: nb * c_o * count].reshape(nb, g, c_o // g, count)
        part = tap_buf[: nb * c_o * count].reshape(nb, g, c_o // g, count)
        for t in range(prob.taps):
            a, bb = divmod(t, k_w)
            start = a * d_h * span + bb * d_w
            src = planes[:nb, :, :, start : start + count]
            if t == 0:
                np.matmul(w_taps[t], src, out=acc)
            else:
                np.matmul(w_taps[t], src, out=part)
                acc += part
        result = acc.reshape(nb, c_o, rows, span)[..., : geom.out_size[1]]
        _store(out[n0:n1, :, r0:r1], result, bias)


def _run_phased(
    out: Array,
    x: Array,
    w: Array,
    b: Array | None,
    prob: _Problem,
    plan: TilePlan,
    compute: np.dtype[Any],
) -> None:
    """Strided, whole output rows: the padded tile is split into its ``s_h * s_w``
    stride phases (phase ``(p, q)`` holds padded rows ``p, p + s_h, ...`` and columns
    ``q, q + s_w, ...``), each a plane of ``ph_cols`` columns. Computed on that width
    and cropped, tap ``(a, b)`` of every output of the tile is then one contiguous run
    of its phase plane, so the im2col is one long copy per tap instead of a gather
    with the stride. Phase cells outside the input are zero; cells past the padded
    input feed only the cropped columns."""
    geom = prob.geom
    (s_h, s_w), (d_h, d_w) = geom.stride, geom.dilation
    top, _, left, _ = geom.padding
    h, wd = x.shape[-2:]
    m_w = geom.out_size[1]
    k_h, k_w = prob.kernel
    c_i, c_o, g = prob.c_i, prob.c_o, prob.groups
    taps = prob.taps
    ph_rows_max, ph_cols, slack = _phase_extent(prob, plan.rows)
    plane = ph_rows_max * ph_cols
    phases = s_h * s_w
    size = plan.samples * c_i * phases * plane
    buf, cols_buf, y_buf = _kept(
        (prob, plan, compute),
        plan.workspace_bytes,
        lambda: (
            np.zeros(size + slack, compute),
            np.empty(c_i * taps * plan.samples * plan.rows * ph_cols, compute),
            np.empty(c_o * plan.samples * plan.rows * ph_cols, compute),
        ),
    )
    planes = buf[:size].reshape(plan.samples, c_i, s_h, s_w, ph_rows_max, ph_cols)
    # Columns: phase q's column j is input column j*s_w + q - left, the same in every
    # tile; its columns outside the input stay zero from the allocation.
    col_ranges = []
    for q in range(s_w):
        j0 = max(0, -((q - left) // s_w))
        j1 = min(ph_cols, (wd - 1 - q + left) // s_w + 1)
        col_ranges.append((j0, j1, j0 * s_w + q - left))
    w_groups = w.reshape(g, c_o // g, prob.c_per_group * taps)
    bias = None if b is None else b.reshape(1, c_o, 1, 1)
    item = buf.itemsize
    for n0, n1, r0, r1 in _padded_tiles(prob, plan):
        nb, rows = n1 - n0, r1 - r0
        ph_rows = rows + ph_rows_max - plan.rows
        xs = x[n0:n1]
        for p in range(s_h):
            # Phase p's row i is input row (r0 + i)*s_h + p - top.
            first = r0 * s_h + p - top
            i0 = max(0, -(first // s_h))
            i1 = min(ph_rows, (h - 1 - first) // s_h + 1) if first <= h - 1 else 0
            i1 = max(i1, i0)
            for q, (j0, j1, x_col) in enumerate(col_ranges):
                dst = planes[:nb, :, p, q]
                dst[:, :, :i0] = 0
                dst[:, :, i1:ph_rows] = 0
                if i1 > i0 and j1 > j0:
                    x_row = first + i0 * s_h
                    dst[:, :, i0:i1, j0:j1] = xs[
                        :,
                        :,
                        x_row : x_row + (i1 - i0 - 1) * s_h + 1 : s_h,
                        x_col : x_col + (j1 - j0 - 1) * s_w + 1 : s_w,
                    ]
        count = rows * ph_cols
        cols = cols_buf[: c_i * taps * nb * count].reshape(c_i, taps, nb, count)
        for a in range(k_h):
            p, da = divmod(a * d_h, s_h)[::-1]
            for bb in range(k_w):
                q, db = divmod(bb * d_w, s_w)[::-1]
                start = ((p * s_w + q) * ph_rows_max + da) * ph_cols + db
                cols[:, a * k_w + bb] = as_strided(
                    buf[start:],
                    shape=(c_i, nb, count),
                    strides=(phases * plane * item, c_i * phases * plane * item, item),
                    writeable=False,
                )
        y = y_buf[: c_o * nb * count].reshape(g, c_o // g, nb * count)
        np.matmul(w_groups, cols.reshape(g, -1, nb * count), out=y)
        result = y.reshape(c_o, nb, rows, ph_cols)[..., :m_w].transpose(1, 0, 2, 3)
        _store(out[n0:n1, :, r0:r1], result, bias)


def _run_direct(
    out: Array,
    x: Array,
    w: Array,
    b: Array | None,
    prob: _Problem,
    plan: TilePlan,
    compute: np.dtype[Any],
) -> None:
    """Depthwise: each output plane is a weighted sum of shifted views of one input plane."""
    n, c_i, h, wd = x.shape
    m_h, m_w = prob.geom.out_size
    mult = prob.c_o // prob.groups
    planes_in = x.reshape(n * c_i, h, wd)
    # out[n, c*mult + j] comes from input plane (n, c): view out as (n*c_i, mult, m_h, m_w).
    planes_out = out.reshape(n * c_i, mult, m_h, m_w)
    # Per input plane: its mult x taps weights and mult biases (planes cycle over c_i).
    taps = np.tile(w.reshape(c_i, mult, prob.taps), (n, 1, 1))
    bias = None if b is None else np.tile(b.reshape(c_i, mult), (n, 1))
    blocks = [
        (q0, min(n * c_i, q0 + plan.channels), r0, min(m_h, r0 + plan.rows), j0)
        for q0 in range(0, n * c_i, plan.channels)
        for r0 in range(0, m_h, plan.rows)
        for j0 in range(0, m_w, plan.cols)
    ]

    # One thread: numpy's elementwise loops did not scale over two Python threads here, nor
    # did these blocks shared with a helper thread (OpenBLAS's workers spin between the
    # products; benchmarks/README.md), so the blocks simply run in order.
    kernel = _kept(
        (prob, plan, compute), plan.workspace_bytes, lambda: _DirectTile(prob, plan, compute)
    )
    with np.errstate(all="ignore"):  # inf and nan propagate silently, as in PyTorch
        for block in blocks:
            kernel.run(planes_in, planes_out, taps, bias, block)


class _DirectTile:
    """Buffers for depthwise tiles: a padded input block, its taps, and a result block."""

    def __init__(self, prob: _Problem, plan: TilePlan, compute: np.dtype[Any]) -> None:
        self.prob, self.plan = prob, plan
        in_rows, in_cols = _input_extent(prob.geom, plan.rows, plan.cols, plan.flat)
        slack = prob.geom.effective_kernel[1] if plan.flat else 0
        width = in_cols if plan.flat else plan.cols
        self.buf = np.zeros((plan.channels, in_rows * in_cols + slack), compute)
        self.cols = np.empty(plan.channels * prob.taps * plan.rows * width, compute)
        self.res = np.empty(plan.channels * plan.rows * width, compute)

    def run(
        self,
        planes_in: Array,
        planes_out: Array,
        taps: Array,
        bias: Array | None,
        block: tuple[int, int, int, int, int],
    ) -> None:
        q0, q1, r0, r1, j0 = block
        prob, geom, flat = self.prob, self.prob.geom, self.plan.flat
        (s_h, s_w), (d_h, d_w) = geom.stride, geom.dilation
        top, _, left, _ = geom.padding
        j1 = min(geom.out_size[1], j0 + self.plan.cols)
        whole = self.plan.cols == geom.out_size[1]
        k_w = prob.kernel[1]
        nq, rows, ncols = q1 - q0, r1 - r0, j1 - j0
        in_rows, in_cols = _input_extent(geom, rows, ncols, flat)
        tile = self.buf[:nq, : in_rows * in_cols].reshape(nq, in_rows, in_cols)
        _fill_padded(tile, planes_in[q0:q1], r0 * s_h, j0 * s_w, top, left, whole)
        width = in_cols if flat else ncols
        count = rows * width
        # Gather the taps of each plane (flat: stride 1 and whole rows, so every tap is
        # one contiguous run per plane), then one small product per plane sums them:
        # BLAS's multiply-add beats numpy's separate multiply and add passes.
        cols = self.cols[: nq * prob.taps * count].reshape(nq, prob.taps, count)
        if flat:
            # All taps in one copy: tap (a, b) of a plane starts a*d_h rows and b*d_w
            # columns into it, a regular grid of offsets, hence one strided view.
            planes = self.buf[:nq]
            step = planes.itemsize
            taps_view = as_strided(
                planes,
                shape=(nq, prob.kernel[0], k_w, count),
                strides=(planes.strides[0], d_h * in_cols * step, d_w * step, step),
                writeable=False,
            )
            cols.reshape(taps_view.shape)[...] = taps_view
        else:
            for t in range(prob.taps):
                a, bb = divmod(t, k_w)
                cols[:, t].reshape(nq, rows, width)[...] = tile[
                    :,
                    a * d_h : a * d_h + (rows - 1) * s_h + 1 : s_h,
                    bb * d_w : bb * d_w + (ncols - 1) * s_w + 1 : s_w,
                ]
        res = self.res[: nq * count].reshape(nq, 1, count)
        weights = taps[q0:q1]  # (nq, mult, taps)
        for j in range(weights.shape[1]):
            np.matmul(weights[:, j, None, :], cols, out=res)
            result = res.reshape(nq, rows, width)[..., :ncols]
            b = None if bias is None else bias[q0:q1, j].reshape(nq, 1, 1)
            _store(planes_out[q0:q1, j, r0:r1, j0:j1], result, b)
