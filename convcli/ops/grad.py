"""The backward pass (反向传播): the gradients of a loss through conv2d, its transpose and pooling.

Pure numpy. With ``dY`` the loss's gradient with respect to the output (all ones when
the loss is the sum of the outputs), each function returns what ``torch.autograd``
returns:

- ``dX`` of a convolution is the transposed convolution of ``dY`` with the same kernel
  (every output sends its gradient back along the taps that read the input);
- ``dW`` is a correlation of the input with ``dY``: tap ``(u, v)`` of the kernel sums
  ``X * dY`` over every position the tap visited;
- ``db`` is the sum of ``dY`` over the batch and the positions;
- the gradient through reflect/replicate/circular padding folds back onto the input
  cells the padding copied;
- of a transposed convolution, the roles swap: ``dX`` is the (direct) convolution of
  ``dY`` with the kernel;
- max pooling sends each output's gradient to its window's winner (PyTorch's index:
  ties to the first, NaN wins), average pooling spreads it over the window divided by
  the window's divisor, adaptive windows overlap.

dtype rules: floats keep their dtype (float16 sums in float32), complex numbers follow
PyTorch's convention (``dX = dY * conj(W)``, ``dW = conj(X) * dY``), and integers give
exact int64 gradients (refused when a sum could leave int64), where PyTorch refuses
integer tensors outright. Integer average pooling gives float64, as the forward pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from convcli.errors import ShapeError
from convcli.i18n import _
from convcli.ops.conv import _operand, conv2d
from convcli.ops.grad_weight import (
    all_finite,
    dy_grid,
    input_grad_phases,
    kept_buffer,
    weight_grad_phases,
)
from convcli.ops.numerics import (
    FLOAT64_EXACT,
    accumulation_for,
    check_mixed_integers,
    exact_integer_bound,
)
from convcli.ops.padding import flip_kernel, pad_input, source_index
from convcli.ops.pooling import avg_divisors, pool, pool_dtypes, pool_indices
from convcli.ops.transposed import conv_transpose2d
from convcli.shapes.geometry import ConvGeometry, IntOrPair, PaddingArg, resolve_geometry
from convcli.shapes.layer import check_conv_shapes, lift_to_conv2d
from convcli.shapes.options import ConvOptions
from convcli.shapes.pooling import (
    PoolOptions,
    adaptive_output_size,
    adaptive_window,
    resolve_pool_geometry,
)
from convcli.shapes.transposed import (
    TransposedOptions,
    check_transposed_shapes,
    resolve_transposed_geometry,
)

__all__ = [
    "ConvGrads",
    "conv2d_backward",
    "conv_grads",
    "conv_transpose2d_backward",
    "grad_output_shape",
    "pool2d_backward",
    "transposed_grads",
]

Array = npt.NDArray[Any]
# The input's tap copies one product of dW multiplies at once (im2col, in tiles).
GRAD_TILE_BYTES = 32 * 2**20
# Up to this many multiply-adds dW runs as im2col: the padded-width path's extra numpy
# calls cost more than they save on the lesson's sizes.
_SMALL_MACS = 2**16


@dataclass(frozen=True)
class ConvGrads:
    """The gradients of the loss with respect to the input, the kernel and the bias
    (``grad_bias`` is None without a bias); ``grad_output`` is the ``dY`` used."""

    grad_input: Array
    grad_weight: Array
    grad_bias: Array | None
    grad_output: Array


def conv2d_backward(
    x: npt.ArrayLike,
    weight: npt.ArrayLike,
    grad_output: npt.ArrayLike | None = None,
    bias: npt.ArrayLike | None = None,
    stride: IntOrPair = 1,
    padding: PaddingArg = 0,
    dilation: IntOrPair = 1,
    groups: int = 1,
    *,
    padding_mode: str = "zeros",
    flip: bool = False,
) -> ConvGrads:
    """The gradients of ``conv2d`` (反向传播), as ``torch.autograd`` computes them.

    Parameters
    ----------
    x : array_like, shape (c_i, h, w) or (n, c_i, h, w)
    weight : array_like, shape (c_o, c_i / groups, k_h, k_w)
    grad_output : array_like, optional
        ``dY``, the loss's gradient with respect to the output (its shape). Default:
        all ones, the gradient of the sum of the outputs.
    bias : array_like, shape (c_o,), optional
        Only its presence, shape and dtype matter: it adds ``grad_bias``.
    stride, padding, dilation, groups, padding_mode, flip
        As ``conv2d``.

    Returns
    -------
    ConvGrads
        ``grad_input`` (x's shape), ``grad_weight`` (weight's shape), ``grad_bias``
        ((c_o,) or None) and the ``grad_output`` used.

    Examples
    --------
    >>> x = np.arange(9).reshape(1, 3, 3)
    >>> g = conv2d_backward(x, np.ones((1, 1, 2, 2), dtype=int), bias=[0])
    >>> g.grad_input[0]
    array([[1, 2, 1],
           [2, 4, 2],
           [1, 2, 1]])
    >>> g.grad_weight[0, 0], g.grad_bias
    (array([[ 8, 12],
           [20, 24]]), array([4]))
    """
    xa = _operand(x, "input", None)
    w = _operand(weight, "weight", 4)
    b = None if bias is None else _operand(bias, "bias", 1)
    check_conv_shapes(xa.shape, w.shape, None if b is None else b.shape, groups)
    groups = int(groups)
    batched = xa.ndim == 4
    xb = xa if batched else xa[None]
    geom = resolve_geometry(
        (xb.shape[2], xb.shape[3]),
        (w.shape[2], w.shape[3]),
        stride=stride,
        padding=padding,
        dilation=dilation,
    )
    acc = accumulation_for(xb, w, b)
    out_shape = (xb.shape[0], w.shape[0], *geom.out_size)
    dy = _grad_output(grad_output, out_shape if batched else out_shape[1:], acc.out)
    dyb = dy if batched else dy[None]
    kernel = flip_kernel(w) if flip else w
    if padding_mode == "zeros":
        padded = _zero_pad(xb, geom)
    else:
        padded = pad_input(xb, geom.padding, padding_mode)

    # dY on the padded-width grid, made once for both gradients (in their compute dtype)
    grids: dict[np.dtype[Any], Array] = {}
    if acc.acc.kind in "fc" and dyb.size * w[0].size > _SMALL_MACS:
        compute = accumulation_for(padded, dyb).acc
        grids[compute] = dy_grid(dyb, w.shape, geom.stride, geom.dilation, compute)

    grad_padded = _input_grad(
        dyb, kernel, geom.padded_size, geom.stride, geom.dilation, groups, grids
    )
    grad_input = _unpad(grad_padded, geom, padding_mode)
    grad_kernel = _weight_grad(
        padded, dyb, kernel.shape, geom.stride, geom.dilation, groups, grids=grids
    )
    grad_weight = flip_kernel(grad_kernel) if flip else grad_kernel
    grad_bias = None if b is None else _bias_grad(dyb)
    return _in_dtype(
        grad_input if batched else grad_input[0], grad_weight, grad_bias, dy,
        accumulation_for(xb, w, b, dy).out,
    )  # fmt: skip


def conv_transpose2d_backward(
    x: npt.ArrayLike,
    weight: npt.ArrayLike,
    grad_output: npt.ArrayLike | None = None,
    bias: npt.ArrayLike | None = None,
    stride: IntOrPair = 1,
    padding: IntOrPair = 0,
    output_padding: IntOrPair = 0,
    groups: int = 1,
    dilation: IntOrPair = 1,
    output_size: Sequence[int] | None = None,
) -> ConvGrads:
    """The gradients of ``conv_transpose2d``: the roles of conv2d's swap.

    ``dX`` is the direct convolution of ``dY`` with the kernel, ``dW`` a correlation of
    ``dY`` with the input. Arguments as ``conv_transpose2d``, plus ``grad_output`` (default
    all ones) as ``conv2d_backward``.

    Examples
    --------
    >>> g = conv_transpose2d_backward(np.array([[[1, 2], [3, 4]]]),
    ...                               np.ones((1, 1, 2, 2), dtype=int), stride=2)
    >>> g.grad_input.tolist(), g.grad_weight.tolist()
    ([[[4, 4], [4, 4]]], [[[[10, 10], [10, 10]]]])
    """
    xa = _operand(x, "input", None)
    w = _operand(weight, "weight", 4)
    b = None if bias is None else _operand(bias, "bias", 1)
    c_o = check_transposed_shapes(xa.shape, w.shape, None if b is None else b.shape, groups)
    groups = int(groups)
    batched = xa.ndim == 4
    xb = xa if batched else xa[None]
    h, wd = xb.shape[2], xb.shape[3]
    tgeom = resolve_transposed_geometry(
        (h, wd),
        (w.shape[2], w.shape[3]),
        stride=stride,
        padding=padding,
        output_padding=output_padding,
        dilation=dilation,
        output_size=output_size,
    )
    acc = accumulation_for(xb, w, b)
    out_shape = (xb.shape[0], c_o, *tgeom.out_size)
    dy = _grad_output(grad_output, out_shape if batched else out_shape[1:], acc.out)
    dyb = dy if batched else dy[None]
    (s_h, s_w), (d_h, d_w), (p_h, p_w) = tgeom.stride, tgeom.dilation, tgeom.padding
    # The forward read of dY by input (i, j) and tap (u, v): dY[i*s - p + u*d]. A conv2d of
    # dY padded by p (and by zeros up to the last tap) with stride s and dilation d.
    eff_h, eff_w = tgeom.effective_kernel
    need_h, need_w = (h - 1) * s_h + eff_h, (wd - 1) * s_w + eff_w
    m_h, m_w = tgeom.out_size
    padded = np.zeros(
        (*dyb.shape[:2], max(need_h, m_h + 2 * p_h), max(need_w, m_w + 2 * p_w)), dtype=dyb.dtype
    )
    padded[..., p_h : p_h + m_h, p_w : p_w + m_w] = dyb
    padded = padded[..., :need_h, :need_w]
    wt = np.conj(w) if w.dtype.kind == "c" else w
    grad_input = conv2d(padded, wt, stride=(s_h, s_w), dilation=(d_h, d_w), groups=groups)
    # dW[c, o, u, v] = sum x[c] * dY[o] at the tap's reads: dY plays conv2d's input, x its dY.
    xg = np.conj(xb) if xb.dtype.kind == "c" else xb
    grad_weight = _weight_grad(padded, xg, w.shape, (s_h, s_w), (d_h, d_w), groups, conj=False)
    grad_bias = None if b is None else _bias_grad(dyb)
    return _in_dtype(
        grad_input if batched else grad_input[0], grad_weight, grad_bias, dy,
        accumulation_for(xb, w, b, dy).out,
    )  # fmt: skip


def _in_dtype(
    grad_input: Array, grad_weight: Array, grad_bias: Array | None, dy: Array, out: np.dtype[Any]
) -> ConvGrads:
    """The three gradients in the result dtype ``out`` (autograd's: the operands' own)."""
    return ConvGrads(
        grad_input=grad_input.astype(out, copy=False),
        grad_weight=grad_weight.astype(out, copy=False),
        grad_bias=None if grad_bias is None else grad_bias.astype(out, copy=False),
        grad_output=dy,
    )


def pool2d_backward(
    x: npt.ArrayLike, options: PoolOptions, grad_output: npt.ArrayLike | None = None
) -> Array:
    """The input's gradient through the pooling ``options`` describe.

    Max pooling routes each output's ``dY`` to its window's winner (PyTorch's index),
    average pooling spreads ``dY / divisor`` over the window, adaptive windows overlap.
    ``grad_output`` defaults to all ones (the sum of the outputs).

    Examples
    --------
    >>> x = np.array([[[1, 5, 2], [0, 3, 4], [6, 1, 0]]])
    >>> pool2d_backward(x, PoolOptions("max", kernel_size=2, stride=1))
    array([[[0, 2, 0],
            [0, 0, 1],
            [1, 0, 0]]])
    >>> pool2d_backward(np.ones((1, 2, 2)), PoolOptions("avg", kernel_size=2)).tolist()
    [[[0.25, 0.25], [0.25, 0.25]]]
    """
    xa = _operand(x, "input", None)
    if options.kind in ("max", "adaptive-max"):
        values, indices = pool_indices(xa, options)
        dy = _grad_output(grad_output, values.shape, _max_grad_dtype(xa.dtype))
        h, w = xa.shape[-2:]
        planes = int(np.prod(xa.shape[:-2]))
        dtype = np.result_type(_max_grad_dtype(xa.dtype), dy.dtype)
        grad = np.zeros(planes * h * w, dtype=dtype)
        rows = np.repeat(np.arange(planes), values.shape[-2] * values.shape[-1])
        index = indices.reshape(-1)
        # A window wholly in the padding has no winner: PyTorch's index for it points past
        # the plane (and its backward writes out of bounds); here its gradient goes nowhere.
        inside = (index >= 0) & (index < h * w)
        flat = rows[inside] * (h * w) + index[inside]
        np.add.at(grad, flat, dy.reshape(-1).astype(dtype)[inside])
        return grad.reshape(xa.shape)
    output = pool(xa, options)  # checks every option, and gives the result's shape and dtype
    acc, out = pool_dtypes(xa.dtype, "avg")
    dy = _grad_output(grad_output, output.shape, out)
    dtype = np.result_type(_avg_grad_dtype(acc, out), dy.dtype)
    if options.kind == "adaptive-avg":
        size = adaptive_output_size((xa.shape[-2], xa.shape[-1]), options.output_size)
        spread_h = _adaptive_matrix(xa.shape[-2], size[0])
        spread_w = _adaptive_matrix(xa.shape[-1], size[1])
        counts = np.multiply.outer(spread_h.sum(axis=1), spread_w.sum(axis=1))
        scaled = dy.astype(dtype) / counts.astype(dtype)
        spread: Array = spread_h.T.astype(dtype) @ scaled @ spread_w.astype(dtype)
        return spread.astype(_result(out, dy), copy=False)
    assert options.kernel_size is not None  # pool() refused it otherwise
    geom = resolve_pool_geometry(
        (xa.shape[-2], xa.shape[-1]),
        options.kernel_size,
        stride=options.stride,
        padding=options.padding,
        ceil_mode=options.ceil_mode,
    )
    if options.divisor_override is not None:
        divisors: Array = np.full(geom.out_size, int(options.divisor_override))
    else:
        divisors = avg_divisors(geom, options.count_include_pad)
    share = dy.astype(dtype) / divisors.astype(dtype)
    (k_h, k_w), (s_h, s_w), (p_h, p_w) = geom.kernel_size, geom.stride, geom.padding
    m_h, m_w = geom.out_size
    h, w = xa.shape[-2:]
    span_h, span_w = (m_h - 1) * s_h + 1, (m_w - 1) * s_w + 1
    full = np.zeros(
        (*xa.shape[:-2], max(span_h + k_h - 1, h + p_h), max(span_w + k_w - 1, w + p_w)),
        dtype=dtype,
    )
    for u in range(k_h):
        for v in range(k_w):
            target = full[..., u : u + span_h : s_h, v : v + span_w : s_w]
            np.add(target, share, out=target)
    return full[..., p_h : p_h + h, p_w : p_w + w].astype(_result(out, dy), copy=False)


def conv_grads(
    x: Array,
    kernel: Array,
    bias: Array | None = None,
    options: ConvOptions | None = None,
    grad_output: Array | None = None,
) -> ConvGrads:
    """``conv2d_backward`` of ``convcli run``'s convolution: a kernel read by its rank
    (2-D corr2d, 3-D multi-in, 4-D conv2d) and ``options``; every gradient has its
    tensor's shape, ``grad_output`` the result's.

    Examples
    --------
    >>> g = conv_grads(np.arange(9).reshape(3, 3), np.array([[0, 1], [2, 3]]))
    >>> g.grad_input.tolist(), g.grad_weight.tolist()
    ([[0, 1, 1], [2, 6, 4], [2, 5, 3]], [[8, 12], [20, 24]])
    """
    options = options or ConvOptions()
    input_shape, weight_shape = lift_to_conv2d(x.shape, kernel.shape)
    dy = grad_output
    if dy is not None and kernel.ndim < 4:
        lead = dy.shape[:-2] if x.ndim == 4 else ()
        dy = dy.reshape(*lead, 1, *dy.shape[-2:]) if dy.ndim >= 2 else dy
    grads = conv2d_backward(
        x.reshape(input_shape),
        kernel.reshape(weight_shape),
        dy,
        bias,
        stride=options.stride,
        padding=options.padding,
        dilation=options.dilation,
        groups=options.groups,
        padding_mode=options.padding_mode,
        flip=options.flip,
    )
    used = grads.grad_output
    if kernel.ndim < 4:
        used = used[..., 0, :, :]
    return ConvGrads(
        grad_input=grads.grad_input.reshape(x.shape),
        grad_weight=grads.grad_weight.reshape(kernel.shape),
        grad_bias=grads.grad_bias,
        grad_output=used,
    )


def transposed_grads(
    x: Array,
    kernel: Array,
    bias: Array | None,
    options: TransposedOptions,
    grad_output: Array | None = None,
) -> ConvGrads:
    """``conv_transpose2d_backward`` with the options of ``options``.

    Examples
    --------
    >>> transposed_grads(np.ones((1, 2, 2)), np.ones((1, 1, 3, 3)), None,
    ...                  TransposedOptions(stride=2)).grad_input.tolist()
    [[[9.0, 9.0], [9.0, 9.0]]]
    """
    return conv_transpose2d_backward(
        x,
        kernel,
        grad_output,
        bias,
        stride=options.stride,
        padding=options.padding,
        output_padding=options.output_padding,
        groups=options.groups,
        dilation=options.dilation,
        output_size=options.output_size,
    )


def grad_output_shape(
    input_shape: tuple[int, ...],
    kernel_shape: tuple[int, ...],
    options: ConvOptions | TransposedOptions,
) -> tuple[int, ...]:
    """The shape ``dY`` must have: the output's, as ``convcli run`` gives it.

    Examples
    --------
    >>> grad_output_shape((2, 3, 3), (2, 2, 2), ConvOptions(padding=1))
    (4, 4)
    >>> grad_output_shape((1, 2, 2), (1, 3, 3, 3), TransposedOptions(stride=2))
    (3, 5, 5)
    """
    if isinstance(options, TransposedOptions):
        from convcli.shapes.transposed import options_geometry

        c_o = check_transposed_shapes(input_shape, kernel_shape, None, options.groups)
        geometry = options_geometry(input_shape, kernel_shape, options)
        return (*input_shape[:-3], c_o, *geometry.out_size)
    x_shape, w_shape = lift_to_conv2d(input_shape, kernel_shape)
    check_conv_shapes(x_shape, w_shape, None, options.groups)
    conv_geometry = resolve_geometry(
        (x_shape[-2], x_shape[-1]),
        (w_shape[-2], w_shape[-1]),
        stride=options.stride,
        padding=options.padding,
        dilation=options.dilation,
    )
    lead = x_shape[:-3]
    channels = (w_shape[0],) if len(kernel_shape) == 4 else ()
    return (*lead, *channels, *conv_geometry.out_size)


# --- the pieces -----------------------------------------------------------------------------


def _grad_output(value: npt.ArrayLike | None, shape: tuple[int, ...], dtype: Any) -> Array:
    """``dY``: all ones of the output's ``shape``, or the given array, which must have it."""
    if value is None:
        return np.ones(shape, dtype=dtype)
    dy = _operand(value, "grad_output", None)
    if dy.shape != tuple(shape):
        raise ShapeError(
            _("grad_output must have the output's shape {shape}, got {dy_shape}").format(
                shape=tuple(shape), dy_shape=dy.shape
            )
        )
    return dy


def _zero_pad(x: Array, geom: ConvGeometry) -> Array:
    top, bottom, left, right = geom.padding
    if (top, bottom, left, right) == (0, 0, 0, 0):
        return x
    # only the padded-width paths read it, and nothing returned views it: kept per thread
    padded = kept_buffer("padded", (*x.shape[:2], *geom.padded_size), x.dtype)
    h, w = x.shape[2:]
    padded[..., :top, :] = 0
    padded[..., top + h :, :] = 0
    padded[..., top : top + h, :left] = 0
    padded[..., top : top + h, left + w :] = 0
    padded[..., top : top + h, left : left + w] = x
    return padded


def _input_grad(
    dy: Array,
    kernel: Array,
    padded_size: tuple[int, int],
    stride: tuple[int, int],
    dilation: tuple[int, int],
    groups: int,
    grids: dict[np.dtype[Any], Array] | None = None,
) -> Array:
    """The gradient of the padded input: ``conv_transpose2d(dY, K)``, zero-extended to the
    padded size (rows no window reached get none)."""
    kt = np.conj(kernel) if kernel.dtype.kind == "c" else kernel
    c_o, c_ig, k_h, k_w = kernel.shape
    if not all_finite(kt):
        # An inf or NaN in the kernel: only the products autograd's col2im forms (each real
        # output's dY times each tap), never the kernel times a zero of dY's padding or grid
        # (0 * inf = NaN where PyTorch has a number): conv_transpose2d's col2im does that.
        full = conv_transpose2d(dy, kt, stride=stride, dilation=dilation, groups=groups)
    elif c_ig == 1 and groups > 1:
        full = _depthwise_input_grad(dy, kt, padded_size, stride, dilation, groups)
    elif c_ig * groups < c_o or k_h * k_w == 1 or dy.size * c_ig * k_h * k_w <= _SMALL_MACS:
        # Fewer input channels than output ones: adding each tap's product (c_i rows)
        # moves less than gathering dY's taps (c_o rows) for the transposed convolution.
        # A 1x1 kernel: one product (the transposed convolution's phases cost 5x that).
        acc = accumulation_for(dy, kt)
        compute = acc.acc
        if acc.is_integer:
            if exact_integer_bound(dy, kt, None, c_o * k_h * k_w) < FLOAT64_EXACT:
                compute = np.dtype(np.float64)
        else:
            check_mixed_integers(dy, kt, None, c_o * k_h * k_w)
        with np.errstate(all="ignore"):
            grid = None if grids is None else grids.get(compute)
            grad = input_grad_phases(dy, kt, padded_size, stride, dilation, groups, compute, grid)
        return grad.astype(np.int64 if acc.is_integer else acc.out, copy=False)
    elif stride == (1, 1):
        # The full correlation of dY with the flipped kernel, channels swapped per group:
        # conv2d straight away (the transposed convolution's phases add a third to it).
        c_og = c_o // groups
        swapped = flip_kernel(kt).reshape(groups, c_og, c_ig, k_h, k_w).swapaxes(1, 2)
        spans = (dilation[0] * (k_h - 1), dilation[1] * (k_w - 1))
        weight = np.ascontiguousarray(swapped.reshape(groups * c_ig, c_og, k_h, k_w))
        full = conv2d(dy, weight, padding=spans, dilation=dilation, groups=groups)
    else:
        full = conv_transpose2d(dy, kt, stride=stride, dilation=dilation, groups=groups)
    if full.shape[2:] == padded_size:
        return full
    grad = np.zeros((*full.shape[:2], *padded_size), dtype=full.dtype)
    grad[..., : full.shape[2], : full.shape[3]] = full
    return grad


def _unpad(grad: Array, geom: ConvGeometry, mode: str) -> Array:
    """The input's gradient from the padded input's: the interior, plus (reflect,
    replicate, circular) every padded cell's gradient added to the cell it copied."""
    top, _bottom, left, _right = geom.padding
    h, w = geom.in_size
    if mode == "zeros":
        return grad[..., top : top + h, left : left + w]
    rows = _fold_axis(grad, 2, h, top, mode)
    return _fold_axis(rows, 3, w, left, mode)


def _fold_axis(grad: Array, axis: int, n: int, before: int, mode: str) -> Array:
    moved = np.moveaxis(grad, axis, 0)
    folded = np.array(moved[before : before + n])
    with np.errstate(all="ignore"):  # IEEE results for inf and NaN, without warnings
        for index in [*range(before), *range(before + n, moved.shape[0])]:
            source = source_index(index, n, before, mode)
            if source is not None:
                folded[source] += moved[index]
    return np.moveaxis(folded, 0, axis)


def _weight_grad(
    padded: Array,
    dy: Array,
    kernel_shape: tuple[int, ...],
    stride: tuple[int, int],
    dilation: tuple[int, int],
    groups: int,
    *,
    conj: bool = True,
    grids: dict[np.dtype[Any], Array] | None = None,
) -> Array:
    """``dW[o, c, u, v] = sum X[c, i*s + u*d, j*s + v*d] * dY[o, i, j]`` over samples and
    positions, exact for integers: on the padded width (``grad_weight``) unless the problem
    is lesson-sized or that gives an inf or NaN, else one product per tile of taps' copies."""
    n, c_i = padded.shape[:2]
    c_o, c_ig, k_h, k_w = kernel_shape
    c_og = c_o // groups
    m_h, m_w = dy.shape[2:]
    (s_h, s_w), (d_h, d_w) = stride, dilation
    xs = np.conj(padded) if conj and padded.dtype.kind == "c" else padded
    acc = accumulation_for(padded, dy)
    compute = acc.acc
    terms = n * m_h * m_w
    if acc.is_integer:
        if exact_integer_bound(padded, dy, None, terms) < FLOAT64_EXACT:
            compute = np.dtype(np.float64)
    else:
        check_mixed_integers(padded, dy, None, terms)
    if c_o * c_ig * k_h * k_w * terms > _SMALL_MACS:
        with np.errstate(all="ignore"):
            grid = None if grids is None else grids.get(compute)
            fast = weight_grad_phases(
                xs, dy, kernel_shape, stride, dilation, groups, compute, GRAD_TILE_BYTES, grid
            )
            # An inf or NaN anywhere in the input makes some sum inf or NaN; only then
            # may dY's zero columns have met it (0 * inf): im2col decides.
            if compute.kind not in "fc" or np.isfinite(fast).all():
                return _exact(fast, acc.is_integer)
    grad = np.empty((c_o, c_ig, k_h * k_w), dtype=compute)
    span_h, span_w = (m_h - 1) * s_h + 1, (m_w - 1) * s_w + 1
    taps = [(u, v) for u in range(k_h) for v in range(k_w)]
    with np.errstate(all="ignore"):  # IEEE results for inf and NaN, without warnings
        dy_t = np.ascontiguousarray(dy.transpose(1, 0, 2, 3), dtype=compute).reshape(c_o, -1)
        if c_ig == 1 and groups > 1:  # depthwise: each output reads one channel
            dy_m = dy_t.reshape(c_i, c_og, -1)  # output o reads channel o // c_og
            for t, (u, v) in enumerate(taps):
                tap = xs[..., u * d_h : u * d_h + span_h : s_h, v * d_w : v * d_w + span_w : s_w]
                plane = np.ascontiguousarray(tap.transpose(1, 0, 2, 3), dtype=compute)
                grad[:, 0, t] = np.matmul(dy_m, plane.reshape(c_i, -1, 1)).reshape(c_o)
            return _exact(grad.reshape(kernel_shape), acc.is_integer)
        # Several taps' copies of the input side by side (im2col, at most a tile's worth):
        # one product per group and tile, dY (c_o/g, N) @ cols (N, c_i/g * taps).
        tap_bytes = c_i * terms * compute.itemsize
        per_tile = max(1, min(len(taps), GRAD_TILE_BYTES // max(1, tap_bytes)))
        for start in range(0, len(taps), per_tile):
            tile = taps[start : start + per_tile]
            cols = np.empty((c_i, len(tile), terms), dtype=compute)
            for t, (u, v) in enumerate(tile):
                tap = xs[..., u * d_h : u * d_h + span_h : s_h, v * d_w : v * d_w + span_w : s_w]
                np.copyto(cols[:, t].reshape(c_i, n, m_h, m_w), tap.transpose(1, 0, 2, 3))
            for g in range(groups):
                block = cols[g * c_ig : (g + 1) * c_ig].reshape(c_ig * len(tile), terms)
                product = dy_t[g * c_og : (g + 1) * c_og] @ block.T
                grad[g * c_og : (g + 1) * c_og, :, start : start + len(tile)] = product.reshape(
                    c_og, c_ig, len(tile)
                )
    return _exact(grad.reshape(kernel_shape), acc.is_integer)


def _exact(grad: Array, is_integer: bool) -> Array:
    """Integer gradients come back as int64 (exact from float64 or int64 sums)."""
    return grad.astype(np.int64) if is_integer else grad


def _depthwise_input_grad(
    dy: Array,
    kernel: Array,
    padded_size: tuple[int, int],
    stride: tuple[int, int],
    dilation: tuple[int, int],
    groups: int,
) -> Array:
    """``conv_transpose2d(dY, K)`` of a depthwise kernel (one input channel per group): per
    tap, every output's ``dY * K`` added where the tap read, summed over the multiplier."""
    n, c_o, m_h, m_w = dy.shape
    k_h, k_w = kernel.shape[2:]
    multiplier = c_o // groups
    if stride == (1, 1):
        # At stride 1 the transposed convolution is the full correlation of dY with the
        # flipped kernel: conv2d's own depthwise path (channel c reads dY's c*mult.. block).
        taps = flip_kernel(kernel).reshape(groups, multiplier, k_h, k_w)
        eff = (dilation[0] * (k_h - 1), dilation[1] * (k_w - 1))
        full: Array = conv2d(dy, taps, padding=eff, dilation=dilation, groups=groups)
        return full
    acc = accumulation_for(dy, kernel)
    compute = acc.acc
    if acc.is_integer and exact_integer_bound(dy, kernel, None, c_o * k_h * k_w) < FLOAT64_EXACT:
        compute = np.dtype(np.float64)
    (s_h, s_w), (d_h, d_w) = stride, dilation
    span_h, span_w = (m_h - 1) * s_h + 1, (m_w - 1) * s_w + 1
    grad = np.zeros((n, groups, *padded_size), dtype=compute)
    wide = dy.astype(compute, copy=False)
    with np.errstate(all="ignore"):
        for u in range(k_h):
            for v in range(k_w):
                part = wide * kernel[:, 0, u, v].astype(compute)[None, :, None, None]
                if multiplier > 1:
                    part = part.reshape(n, groups, multiplier, m_h, m_w).sum(axis=2)
                target = grad[
                    ..., u * d_h : u * d_h + span_h : s_h, v * d_w : v * d_w + span_w : s_w
                ]
                np.add(target, part, out=target)
    return grad.astype(np.int64 if acc.is_integer else acc.out, copy=False)


def _bias_grad(dy: Array) -> Array:
    acc = accumulation_for(dy)
    if acc.is_integer:
        exact_integer_bound(dy, np.ones(1, np.int64), None, dy.size // dy.shape[1])
    with np.errstate(all="ignore"):
        total: Array = dy.astype(acc.acc, copy=False).sum(axis=(0, 2, 3))
    return total


def _adaptive_matrix(n_in: int, n_out: int) -> Array:
    """``A[i, a] = 1`` when input ``a`` lies in adaptive window ``i``."""
    spread = np.zeros((n_out, n_in), dtype=np.int64)
    for i in range(n_out):
        start, end = adaptive_window(i, n_in, n_out)
        spread[i, start:end] = 1
    return spread


def _max_grad_dtype(dtype: np.dtype[Any]) -> np.dtype[Any]:
    return np.dtype(np.int64) if dtype.kind in "biu" else dtype


def _avg_grad_dtype(acc: np.dtype[Any], out: np.dtype[Any]) -> np.dtype[Any]:
    return np.dtype(np.float32) if out == np.float16 else out


def _result(out: np.dtype[Any], dy: Array) -> np.dtype[Any]:
    return np.result_type(out, dy.dtype)
