"""The lesson's cross-correlations, under the lesson's names, and PyTorch's ``conv2d``.

Pure numpy: no printing, no files. Shapes follow the lesson: an input ``X`` is
``(c_i, n_h, n_w)``, a kernel ``K`` is ``(c_o, c_i, k_h, k_w)``, an output is
``(c_o, m_h, m_w)``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from convcli.errors import OptionError, ShapeError
from convcli.i18n import _, ngettext
from convcli.ops.algorithms import DEFAULT_WORKSPACE_BYTES, conv2d_into, conv_runner
from convcli.ops.layout import to_nchw, to_oihw
from convcli.ops.numerics import (
    FLOAT64_EXACT,
    Accumulation,
    accumulation_for,
    check_mixed_integers,
    check_numeric,
    checked_accumulation,
    exact_integer_bound,
)
from convcli.ops.padding import flip_kernel, pad_for_conv
from convcli.shapes.geometry import ConvGeometry, IntOrPair, PaddingArg, resolve_geometry
from convcli.shapes.layer import check_conv_shapes

__all__ = [
    "conv2d",
    "corr2d",
    "corr2d_multi_in",
    "corr2d_multi_in_out",
    "corr2d_multi_in_out_1x1",
]

Array = npt.NDArray[Any]


def corr2d(X: npt.ArrayLike, K: npt.ArrayLike) -> Array:
    """2-D cross-correlation of one channel ``X`` (n_h, n_w) with ``K`` (k_h, k_w).

    Parameters
    ----------
    X : array_like, shape (n_h, n_w)
    K : array_like, shape (k_h, k_w)

    Returns
    -------
    ndarray, shape (n_h - k_h + 1, n_w - k_w + 1)

    Examples
    --------
    >>> corr2d(np.arange(9).reshape(3, 3), [[0, 1], [2, 3]])
    array([[19, 25],
           [37, 43]])
    """
    x, k = _operand(X, "X", 2), _operand(K, "K", 2)
    _check_fits(x.shape, k.shape)
    acc = _accumulation(x, k, None, k.size)
    windows = sliding_window_view(x.astype(acc.acc, copy=False), k.shape)
    with np.errstate(all="ignore"):  # IEEE results for inf and NaN inputs, without warnings
        products: Array = np.einsum("ijkl,kl->ij", windows, k.astype(acc.acc, copy=False))
    return products.astype(acc.out)


def corr2d_multi_in(X: npt.ArrayLike, K: npt.ArrayLike) -> Array:
    """Multi-input-channel cross-correlation: one ``corr2d`` per channel, summed.

    Parameters
    ----------
    X : array_like, shape (c_i, n_h, n_w)
    K : array_like, shape (c_i, k_h, k_w)

    Returns
    -------
    ndarray, shape (m_h, m_w)

    Examples
    --------
    >>> X = np.stack([np.arange(9).reshape(3, 3), np.arange(1, 10).reshape(3, 3)])
    >>> K = np.array([[[0, 1], [2, 3]], [[1, 2], [3, 4]]])
    >>> corr2d_multi_in(X, K)
    array([[ 56,  72],
           [104, 120]])
    """
    x, k = _operand(X, "X", 3), _operand(K, "K", 3)
    _check_channels(k.shape[0], x.shape[0])
    _check_fits(x.shape[1:], k.shape[1:])
    acc = _accumulation(x, k, None, k.size)
    total = np.zeros(_valid_size(x.shape[1:], k.shape[1:]), dtype=acc.acc)
    with np.errstate(all="ignore"):  # inf + -inf is NaN, as IEEE says, without a warning
        for x_channel, k_channel in zip(x, k, strict=True):
            total += corr2d(x_channel.astype(acc.acc), k_channel.astype(acc.acc))
    return total.astype(acc.out)


def corr2d_multi_in_out(X: npt.ArrayLike, K: npt.ArrayLike) -> Array:
    """Multi-input, multi-output: ``corr2d_multi_in`` per output channel, stacked.

    Parameters
    ----------
    X : array_like, shape (c_i, n_h, n_w)
    K : array_like, shape (c_o, c_i, k_h, k_w)

    Returns
    -------
    ndarray, shape (c_o, m_h, m_w)

    Examples
    --------
    >>> X = np.stack([np.arange(9).reshape(3, 3), np.arange(1, 10).reshape(3, 3)])
    >>> K = np.array([[[0, 1], [2, 3]], [[1, 2], [3, 4]]])
    >>> corr2d_multi_in_out(X, np.stack([K, K + 1, K + 2]))[:, 0, 0]
    array([56, 76, 96])
    """
    x, k = _operand(X, "X", 3), _operand(K, "K", 4)
    _check_channels(k.shape[1], x.shape[0])
    _check_fits(x.shape[1:], k.shape[2:])
    acc = _accumulation(x, k, None, k[0].size)
    return np.stack([corr2d_multi_in(x, k_out) for k_out in k]).astype(acc.out)


def corr2d_multi_in_out_1x1(X: npt.ArrayLike, K: npt.ArrayLike) -> Array:
    """A 1x1 convolution as one matrix product: ``K (c_o, c_i) @ X (c_i, h*w)``.

    Parameters
    ----------
    X : array_like, shape (c_i, h, w)
    K : array_like, shape (c_o, c_i, 1, 1)

    Returns
    -------
    ndarray, shape (c_o, h, w)

    Examples
    --------
    >>> X = np.arange(8).reshape(2, 2, 2)
    >>> corr2d_multi_in_out_1x1(X, np.array([[[[1]], [[10]]]]))
    array([[[40, 51],
            [62, 73]]])
    """
    x, k = _operand(X, "X", 3), _operand(K, "K", 4)
    if k.shape[2:] != (1, 1):
        raise ShapeError(
            _("a 1x1 convolution needs a 1x1 kernel, got {k_shape_2}x{k_shape_3}").format(
                k_shape_2=k.shape[2], k_shape_3=k.shape[3]
            )
        )
    _check_channels(k.shape[1], x.shape[0])
    c_i, h, w = x.shape
    c_o = k.shape[0]
    acc = _accumulation(x, k, None, c_i)
    with np.errstate(all="ignore"):  # IEEE results for inf and NaN inputs, without warnings
        y = k.reshape(c_o, c_i).astype(acc.acc) @ x.reshape(c_i, h * w).astype(acc.acc)
    return y.reshape(c_o, h, w).astype(acc.out)


def conv2d(
    x: npt.ArrayLike,
    weight: npt.ArrayLike,
    bias: npt.ArrayLike | None = None,
    stride: IntOrPair = 1,
    padding: PaddingArg = 0,
    dilation: IntOrPair = 1,
    groups: int = 1,
    *,
    out: Array | None = None,
    workspace_bytes: int = DEFAULT_WORKSPACE_BYTES,
    padding_mode: str = "zeros",
    flip: bool = False,
    input_layout: str = "nchw",
    kernel_layout: str = "oihw",
) -> Array:
    """2-D convolution (cross-correlation) with ``torch.nn.functional.conv2d`` semantics.

    Parameters
    ----------
    x : array_like, shape (c_i, h, w) or (n, c_i, h, w)
    weight : array_like, shape (c_o, c_i / groups, k_h, k_w)
    bias : array_like, shape (c_o,), optional
    stride, dilation : int or (int, int)
    padding : int, (int, int), "same" or "valid"
        ``"same"`` needs stride 1; an odd total goes bottom/right, as in PyTorch.
    groups : int
        Must divide both c_i and c_o.
    out : ndarray, optional
        A C-contiguous, writable array (a ``numpy.memmap`` works) of the result's shape
        and dtype (``kernels.estimate_memory`` gives both). The result is written into
        it tile by tile and it is returned.
    workspace_bytes : int
        Upper bound on the scratch memory of the tiles (default 64 MiB).
    padding_mode : {"zeros", "reflect", "replicate", "circular"}
        How the padding is filled, as ``torch.nn.Conv2d(padding_mode=...)``.
    flip : bool
        Rotate the kernel by 180 degrees first: true convolution, not cross-correlation.
    input_layout : {"nchw", "nhwc"}
        "nhwc": ``x`` is ``(h, w, c_i)`` or ``(n, h, w, c_i)``, TensorFlow's layout.
    kernel_layout : {"oihw", "hwio"}
        "hwio": ``weight`` is ``(k_h, k_w, c_i / groups, c_o)``, TensorFlow's layout.

    Returns
    -------
    ndarray, shape (c_o, m_h, m_w) or (n, c_o, m_h, m_w)
        PyTorch's layout, whatever the layouts of ``x`` and ``weight``.

    Examples
    --------
    >>> x = np.arange(16).reshape(1, 4, 4)
    >>> conv2d(x, np.ones((1, 1, 2, 2), dtype=int), stride=2)
    array([[[10, 18],
            [42, 50]]])
    >>> conv2d(x, np.ones((2, 1, 1, 1), dtype=int), bias=[0, 100], padding=1)[1, 0]
    array([100, 100, 100, 100, 100, 100])
    >>> conv2d(x.transpose(1, 2, 0), np.ones((2, 2, 1, 1), dtype=int), stride=2,
    ...        input_layout="nhwc", kernel_layout="hwio")
    array([[[10, 18],
            [42, 50]]])
    """
    key = None
    if (
        out is None
        and type(x) is np.ndarray
        and type(weight) is np.ndarray
        and (bias is None or type(bias) is np.ndarray)
        and padding_mode == "zeros"
        and not flip
        and input_layout == "nchw"
        and kernel_layout == "oihw"
        and type(groups) is int
        and type(workspace_bytes) is int
        and _plain(stride)
        and _plain(padding)
        and _plain(dilation)
    ):
        key = (
            x.shape,
            x.dtype,
            weight.shape,
            weight.dtype,
            None if bias is None else (bias.shape, bias.dtype),
            stride,
            padding,
            dilation,
            groups,
            workspace_bytes,
        )
        remembered = _REMEMBERED.get(key)
        if remembered is not None:
            shape, out_dtype, batched, run = remembered
            y_fast: Array = np.empty(shape, out_dtype)
            run(y_fast, x if batched else x[None], weight, bias)  # IEEE, no warnings
            return y_fast if batched else y_fast[0]
    if input_layout != "nchw":
        x = to_nchw(x, input_layout)
    if kernel_layout != "oihw":
        weight = to_oihw(weight, kernel_layout)
    if flip:
        weight = flip_kernel(weight)
    if padding_mode != "zeros":  # pad here, as torch.nn.Conv2d does: the kernels see zeros only
        x = pad_for_conv(
            x,
            weight,
            stride=stride,
            padding=padding,
            dilation=dilation,
            groups=groups,
            mode=padding_mode,
        )
        padding = 0
    xa = _operand(x, "input", None)
    w = _operand(weight, "weight", 4)
    if xa.ndim not in (3, 4):
        raise ShapeError(
            _("input must be 3-D (c_i, h, w) or 4-D (n, c_i, h, w), got {xa_ndim}-D").format(
                xa_ndim=xa.ndim
            )
        )
    b = None if bias is None else _operand(bias, "bias", 1)
    batched = xa.ndim == 4
    xb = xa if batched else xa[None]
    n, _c_i, h, wd = xb.shape
    c_o, c_per_group, k_h, k_w = w.shape
    check_conv_shapes(xb.shape, w.shape, None if b is None else b.shape, groups)
    geom = _geometry((h, wd), (k_h, k_w), stride, padding, dilation)
    acc = _dtype_rule(xb.dtype, w.dtype, None if b is None else b.dtype)
    compute = acc.acc
    terms = c_per_group * k_h * k_w
    if acc.is_integer and exact_integer_bound(xb, w, b, terms) < FLOAT64_EXACT:
        # Integers whose every partial sum stays below 2**53 run exactly in float64 (BLAS).
        compute = np.dtype(np.float64)
    elif not acc.is_integer:
        check_mixed_integers(xb, w, b, terms)
    shape = (n, c_o, *geom.out_size)
    if out is None:
        y: Array = np.empty(shape, dtype=acc.out)
    else:
        _check_out(out, shape if batched else shape[1:], acc.out, xb)
        y = out if batched else out[None]
    with np.errstate(all="ignore"):  # IEEE results for inf and NaN inputs, without warnings
        conv2d_into(y, xb, w, b, geom, groups, compute, workspace_bytes=workspace_bytes)
    if out is not None:
        return out
    if key is not None and any(a.dtype.kind in "fc" for a in (xb, w, b) if a is not None):
        # With a float or complex operand, a call's checks and plan depend on shapes,
        # dtypes and options only (integers' on their values: exact_integer_bound,
        # check_mixed_integers): the next identical call skips straight to the kernel.
        # A lesson-sized call is all overhead (benchmarks/README.md).
        if len(_REMEMBERED) >= _REMEMBER_CALLS:
            _REMEMBERED.clear()
        run = conv_runner((n, _c_i), w.shape, groups, geom, compute, workspace_bytes)
        # errstate as a decorator: thread-safe, and cheaper than entering it per call.
        _REMEMBERED[key] = (shape, acc.out, batched, np.errstate(all="ignore")(run))
    return y if batched else y[0]


# conv2d's remembered calls: (shapes, dtypes, options) -> (output shape, output dtype,
# batched input, the kernel with its plan bound).
_REMEMBER_CALLS = 256
_REMEMBERED: dict[
    tuple[Any, ...], tuple[tuple[int, ...], np.dtype[Any], bool, Callable[..., object]]
] = {}


def _geometry(
    in_size: tuple[int, int],
    kernel: tuple[int, int],
    stride: IntOrPair,
    padding: PaddingArg,
    dilation: IntOrPair,
) -> ConvGeometry:
    """``resolve_geometry``, remembered for plain int/str arguments (small calls are all
    overhead); anything else (bools, numpy ints, lists) goes through its checks again."""
    resolve = (
        _cached_geometry if all(map(_plain, (stride, padding, dilation))) else resolve_geometry
    )
    return resolve(in_size, kernel, stride=stride, padding=padding, dilation=dilation)


def _plain(value: object) -> bool:
    kind = type(value)
    if kind is int or kind is str:
        return True
    return kind is tuple and all(type(item) is int for item in value)  # type: ignore[attr-defined]


_cached_geometry = functools.lru_cache(maxsize=512)(resolve_geometry)


@functools.lru_cache(maxsize=256)
def _dtype_rule(x: np.dtype[Any], w: np.dtype[Any], bias: np.dtype[Any] | None) -> Accumulation:
    operands = [np.empty(0, x), np.empty(0, w)]
    if bias is not None:
        operands.append(np.empty(0, bias))
    return accumulation_for(*operands)


def _check_out(out: Array, shape: tuple[int, ...], dtype: np.dtype[Any], x: Array) -> None:
    if not isinstance(out, np.ndarray):
        raise OptionError(
            _("out must be a numpy array, got {type_out___name}").format(
                type_out___name=type(out).__name__
            )
        )
    if out.shape != shape:
        raise OptionError(
            _("out must have shape {shape}, got {out_shape}").format(
                shape=shape, out_shape=out.shape
            )
        )
    if out.dtype != dtype:
        raise OptionError(
            _("out must have dtype {dtype}, got {out_dtype}").format(
                dtype=dtype, out_dtype=out.dtype
            )
        )
    if not (out.flags.c_contiguous and out.flags.writeable):
        raise OptionError(_("out must be C-contiguous and writable"))
    if np.may_share_memory(out, x):
        raise OptionError(_("out must not overlap the input"))


def _operand(value: npt.ArrayLike, name: str, ndim: int | None) -> Array:
    array = np.asarray(value)
    check_numeric(array, name)
    if ndim is not None and array.ndim != ndim:
        raise ShapeError(
            _("{name} must be {ndim}-D, got {array_ndim}-D with shape {array_shape}").format(
                name=name, ndim=ndim, array_ndim=array.ndim, array_shape=array.shape
            )
        )
    if array.size == 0:
        raise ShapeError(
            _("{name} is empty (shape {array_shape})").format(name=name, array_shape=array.shape)
        )
    return array


def _accumulation(x: Array, k: Array, bias: Array | None, terms: int) -> Accumulation:
    return checked_accumulation(x, k, bias, terms)


def _check_channels(kernel_channels: int, input_channels: int) -> None:
    if kernel_channels != input_channels:
        raise ShapeError(
            ngettext(
                "kernel expects {n} input channel, input has {input_channels}",
                "kernel expects {n} input channels, input has {input_channels}",
                kernel_channels,
            ).format(n=kernel_channels, input_channels=input_channels)
        )


def _check_fits(in_size: tuple[int, ...], k_size: tuple[int, ...]) -> None:
    if k_size[0] > in_size[0] or k_size[1] > in_size[1]:
        raise ShapeError(
            _(
                "kernel {k_size_0}x{k_size_1} is larger than the input {in_size_0}x{in_size_1}"
            ).format(
                k_size_0=k_size[0], k_size_1=k_size[1], in_size_0=in_size[0], in_size_1=in_size[1]
            )
        )


def _valid_size(in_size: tuple[int, ...], k_size: tuple[int, ...]) -> tuple[int, int]:
    return (in_size[0] - k_size[0] + 1, in_size[1] - k_size[1] + 1)
