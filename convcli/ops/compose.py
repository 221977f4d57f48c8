"""Two convolutions with nothing between them are one (the lesson's exercise 1).

Layer 1 reads ``X`` at ``s1*p + d1*a``; layer 2 reads layer 1 at ``s2*q + d2*t``: so
layer 2 reads ``X`` at ``s1*s2*q + s1*d2*t + d1*a``. Correlating twice adds the kernel
offsets, and the weight at each summed offset ``u = s1*d2*t + d1*a`` is the sum of
``K2[o, m, t] * K1[m, c, a]`` over the ``m`` and the pairs that give ``u``: the kernels
convolve. The converse fails in general: a kernel is separable into ``k x 1`` and
``1 x k`` only when its rank is one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from convcli.errors import NumericError, ShapeError
from convcli.i18n import _
from convcli.ops.conv import conv2d

__all__ = [
    "Composed",
    "CompositionCheck",
    "Separability",
    "check_composition",
    "compose_kernels",
    "separability",
]

Array = npt.NDArray[np.float64]
Pair = tuple[int, int]


@dataclass(frozen=True)
class Composed:
    """The single convolution two convolutions make: kernel, bias, stride, dilation."""

    kernel: Array
    bias: Array | None
    stride: Pair
    dilation: Pair


def _pair(value: int | Pair) -> Pair:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


def _real(value: npt.ArrayLike, name: str) -> Array:
    """``value`` as float64, refusing complex numbers (their imaginary part would be lost)."""
    array = np.asarray(value)
    if array.dtype.kind == "c":
        raise NumericError(_("{name} is complex: compose works on real numbers").format(name=name))
    return array.astype(np.float64)


def _check_kernels(k1: Array, k2: Array) -> None:
    if k1.ndim != 4 or k2.ndim != 4:
        raise ShapeError(
            _("both kernels must be 4-D (c_o, c_i, k_h, k_w), got {a}-D and {b}-D").format(
                a=k1.ndim, b=k2.ndim
            )
        )
    if k2.shape[1] != k1.shape[0]:
        raise ShapeError(
            _(
                "the second kernel reads {c} channels but the first makes {m}: "
                "k2's second axis must be k1's first"
            ).format(c=k2.shape[1], m=k1.shape[0])
        )


def compose_kernels(
    k1: npt.ArrayLike,
    k2: npt.ArrayLike,
    *,
    bias1: npt.ArrayLike | None = None,
    bias2: npt.ArrayLike | None = None,
    stride1: int | Pair = 1,
    stride2: int | Pair = 1,
    dilation1: int | Pair = 1,
    dilation2: int | Pair = 1,
) -> Composed:
    """The kernel, bias, stride and dilation of ``conv2d(conv2d(X, k1), k2)`` as one layer.

    Parameters
    ----------
    k1 : array_like, shape (c_m, c_i, k1_h, k1_w)
    k2 : array_like, shape (c_o, c_m, k2_h, k2_w)
    bias1, bias2 : array_like, shape (c_m,) and (c_o,), optional
    stride1, stride2, dilation1, dilation2 : int or (int, int)

    Returns
    -------
    Composed
        Kernel ``(c_o, c_i, k_h, k_w)`` with ``k = ((k1-1)*d1 + (k2-1)*s1*d2)/d + 1``,
        stride ``s1*s2``, dilation ``d = gcd(d1, s1*d2)`` (``k1 + s1*(k2-1)`` when both
        dilations are 1); bias ``b2 + sum K2 * b1``.

    Examples
    --------
    >>> k1 = np.array([[[[1, -1]]]])
    >>> k2 = np.array([[[[1, 1]]]])
    >>> c = compose_kernels(k1, k2)
    >>> c.kernel.astype(int).tolist(), c.stride
    ([[[[1, 0, -1]]]], (1, 1))
    >>> compose_kernels(k1, k2, stride1=2).kernel.astype(int).tolist()
    [[[[1, -1, 1, -1]]]]
    """
    a1, a2 = _real(k1, "k1"), _real(k2, "k2")
    _check_kernels(a1, a2)
    s1, s2 = _pair(stride1), _pair(stride2)
    d1, d2 = _pair(dilation1), _pair(dilation2)
    for name, pair in (("stride1", s1), ("stride2", s2), ("dilation1", d1), ("dilation2", d2)):
        if min(pair) < 1:
            raise ShapeError(
                _("{name} must be positive, got {value}").format(name=name, value=pair)
            )
    c_m, c_i, k1h, k1w = a1.shape
    c_o, _c_m, k2h, k2w = a2.shape
    step2 = (s1[0] * d2[0], s1[1] * d2[1])  # layer 2's taps, in input cells
    dil = (math.gcd(d1[0], step2[0]), math.gcd(d1[1], step2[1]))
    span = (
        (k1h - 1) * d1[0] + (k2h - 1) * step2[0],
        (k1w - 1) * d1[1] + (k2w - 1) * step2[1],
    )
    size = (span[0] // dil[0] + 1, span[1] // dil[1] + 1)
    kernel = np.zeros((c_o, c_i, *size))
    for t_h in range(k2h):
        for t_w in range(k2w):
            # (c_o, c_m) @ (c_m, c_i * k1h * k1w): every K1 tap under this K2 tap
            with np.errstate(all="ignore"):  # inf and NaN as IEEE says
                block = (a2[:, :, t_h, t_w] @ a1.reshape(c_m, -1)).reshape(c_o, c_i, k1h, k1w)
            top, left = t_h * step2[0] // dil[0], t_w * step2[1] // dil[1]
            rows = slice(top, top + (k1h - 1) * d1[0] // dil[0] + 1, d1[0] // dil[0])
            cols = slice(left, left + (k1w - 1) * d1[1] // dil[1] + 1, d1[1] // dil[1])
            kernel[:, :, rows, cols] += block
    bias: Array | None = None
    if bias1 is not None or bias2 is not None:
        bias = np.zeros(c_o)
        if bias2 is not None:
            bias = bias + _real(bias2, "bias2")
        if bias1 is not None:
            with np.errstate(all="ignore"):  # inf and NaN as IEEE says
                bias = bias + a2.sum(axis=(2, 3)) @ _real(bias1, "bias1")
    return Composed(kernel=kernel, bias=bias, stride=(s1[0] * s2[0], s1[1] * s2[1]), dilation=dil)


@dataclass(frozen=True)
class Separability:
    """One 2-D slice of a kernel: its rank, and its ``k x 1`` and ``1 x k`` factors at rank 1.

    ``rank`` is ``None`` when the slice holds NaN or infinite values (no rank)."""

    rank: int | None
    column: Array | None
    row: Array | None


def separability(kernel_slice: npt.ArrayLike) -> Separability:
    """The rank of a 2-D kernel and, when it is 1, ``column`` and ``row`` with
    ``column @ row == kernel`` (the column is the kernel's column through its largest entry).

    Examples
    --------
    >>> s = separability([[1, 0, -1], [2, 0, -2], [1, 0, -1]])  # Sobel
    >>> s.rank, s.column.astype(int).tolist(), s.row.astype(int).tolist()
    (1, [1, 2, 1], [1, 0, -1])
    >>> separability([[0, 1, 0], [1, -4, 1], [0, 1, 0]]).rank  # the Laplacian
    2
    """
    k = np.asarray(kernel_slice, dtype=np.float64)
    if not np.all(np.isfinite(k)):
        return Separability(rank=None, column=None, row=None)
    if not np.any(k):
        return Separability(rank=0, column=None, row=None)
    rank = int(np.linalg.matrix_rank(k))
    if rank != 1:
        return Separability(rank=rank, column=None, row=None)
    i, j = np.unravel_index(int(np.argmax(np.abs(k))), k.shape)
    return Separability(rank=1, column=k[:, j].copy(), row=k[i, :] / k[i, j])


@dataclass(frozen=True)
class CompositionCheck:
    """Both ways applied to one input: two layers, and the one composed layer.

    ``differ`` marks the outputs that disagree (beyond float rounding); ``border`` marks
    the outputs whose layer-2 window reaches layer 2's padding, the only ones that can.
    """

    two_layers: Array
    one_layer: Array
    differ: npt.NDArray[np.bool_]
    border: npt.NDArray[np.bool_]
    padding: Pair
    max_abs_diff: float


def _border(m1: int, m2: int, k2: int, s2: int, d2: int, p2: int) -> npt.NDArray[np.bool_]:
    return np.array([any(not 0 <= q * s2 - p2 + t * d2 < m1 for t in range(k2)) for q in range(m2)])


def check_composition(
    x: npt.ArrayLike,
    k1: npt.ArrayLike,
    k2: npt.ArrayLike,
    *,
    bias1: npt.ArrayLike | None = None,
    bias2: npt.ArrayLike | None = None,
    stride1: int | Pair = 1,
    stride2: int | Pair = 1,
    dilation1: int | Pair = 1,
    dilation2: int | Pair = 1,
    padding1: int | Pair = 0,
    padding2: int | Pair = 0,
) -> CompositionCheck:
    """Apply ``k1`` then ``k2``, and their composition with padding ``p1 + s1*p2``.

    With no padding the two agree everywhere; with padding they agree on the interior
    and differ where layer 2 reads its zero padding: those zeros are not what layer 1
    would have computed there.

    Examples
    --------
    >>> x = np.arange(1, 11).reshape(1, 1, 10)
    >>> k = np.array([[[[1, -1]]]])
    >>> check = check_composition(x, k, k, padding2=(0, 1))
    >>> check.differ.astype(int).tolist()
    [[[[1, 0, 0, 0, 0, 0, 0, 0, 0, 1]]]]
    >>> bool(np.array_equal(check.differ, check.border))
    True
    """
    xa = _real(x, "x")
    if xa.ndim == 3:
        xa = xa[np.newaxis]
    composed = compose_kernels(
        k1,
        k2,
        bias1=bias1,
        bias2=bias2,
        stride1=stride1,
        stride2=stride2,
        dilation1=dilation1,
        dilation2=dilation2,
    )
    s1, s2 = _pair(stride1), _pair(stride2)
    d2, p1, p2 = _pair(dilation2), _pair(padding1), _pair(padding2)
    k2a = np.asarray(k2, dtype=np.float64)
    y1 = conv2d(xa, k1, bias1, stride=s1, padding=p1, dilation=dilation1)
    two = conv2d(y1, k2a, bias2, stride=s2, padding=p2, dilation=d2)
    padding = (p1[0] + s1[0] * p2[0], p1[1] + s1[1] * p2[1])
    one = conv2d(
        xa,
        composed.kernel,
        composed.bias,
        stride=composed.stride,
        padding=padding,
        dilation=composed.dilation,
    )
    h, w = min(two.shape[-2], one.shape[-2]), min(two.shape[-1], one.shape[-1])
    two, one = two[..., :h, :w], one[..., :h, :w]
    finite = np.abs(two[np.isfinite(two)])
    scale = max(1.0, float(finite.max()) if finite.size else 1.0)
    with np.errstate(all="ignore"):  # inf and NaN as IEEE says
        gap = np.abs(two - one)
    same = (two == one) | (gap <= 1e-9 * scale) | (np.isnan(two) & np.isnan(one))
    differ = ~same
    rows = _border(y1.shape[-2], h, k2a.shape[2], s2[0], d2[0], p2[0])
    cols = _border(y1.shape[-1], w, k2a.shape[3], s2[1], d2[1], p2[1])
    border = np.broadcast_to(rows[:, None] | cols[None, :], differ.shape)
    return CompositionCheck(
        two_layers=two,
        one_layer=one,
        differ=differ,
        border=np.array(border),
        padding=padding,
        max_abs_diff=float(np.nanmax(gap)) if two.size and not np.all(np.isnan(gap)) else 0.0,
    )
