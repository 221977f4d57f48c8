"""``verify --transposed``: a transposed convolution computed two independent ways, and its name.

1. Directly (``conv_transpose2d``: every input value stamps the kernel, GEMM + col2im).
2. As a plain ``conv2d`` (stride 1) over the input with ``stride - 1`` zeros inserted
   between values and ``d(k-1) - p`` zeros around them (plus ``output_padding`` at the
   bottom/right; negative means crop), with the kernel flipped 180 degrees and its two
   channel axes swapped per group: conv_arithmetic's Relationship 14, PyTorch's definition.
3. The adjoint identity ``<conv2d(z, w), x> == <z, conv_transpose2d(x, w)>`` for random
   ``z`` and ``x`` of the layer's shapes: the transposed convolution is the transpose
   (adjoint) of the strided ``conv2d`` with the same weight, which gives it its name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from convcli.errors import BudgetError
from convcli.i18n import _
from convcli.ops.conv import conv2d
from convcli.ops.numerics import accumulation_for
from convcli.ops.transposed import conv_transpose2d, run_transposed
from convcli.ops.verify import Comparison, compare, default_atol
from convcli.shapes.transposed import (
    TransposedGeometry,
    TransposedOptions,
    check_transposed_shapes,
    options_geometry,
)

__all__ = [
    "TransposedCheck",
    "check_inserted_size",
    "direct_weight",
    "insert_zeros",
    "verify_transposed",
]

Array = npt.NDArray[Any]
MAX_INSERTED_VALUES = 2**27


@dataclass(frozen=True)
class TransposedCheck:
    """Both computations, the adjoint identity's two sides, and their comparisons."""

    direct: Array
    zero_inserted: Array
    comparison: Comparison
    inserted_shape: tuple[int, ...]
    conv_weight: Array
    adjoint_conv2d_side: float | complex
    adjoint_transposed_side: float | complex
    adjoint: Comparison
    geometry: TransposedGeometry
    groups: int
    output_axes: tuple[str, ...]

    @property
    def agree(self) -> bool:
        return self.comparison.agree and self.adjoint.agree


def insert_zeros(x: Array, geom: TransposedGeometry) -> Array:
    """``x`` (n, c, h, w) with ``s-1`` zeros between values and ``d(k-1)-p`` around them.

    Examples
    --------
    >>> from convcli.shapes.transposed import resolve_transposed_geometry
    >>> g = resolve_transposed_geometry((2, 2), 2, stride=2, padding=1)
    >>> insert_zeros(np.array([[[[1, 2], [3, 4]]]]), g)[0, 0]
    array([[1, 0, 2],
           [0, 0, 0],
           [3, 0, 4]])
    """
    n, c, h, w = x.shape
    (s_h, s_w) = geom.stride
    top, bottom, left, right = geom.direct_padding
    size_h, size_w = (h - 1) * s_h + 1, (w - 1) * s_w + 1
    full = np.zeros(
        (n, c, size_h + max(0, top) + max(0, bottom), size_w + max(0, left) + max(0, right)),
        dtype=x.dtype,
    )
    top0, left0 = max(0, top), max(0, left)
    full[:, :, top0 : top0 + size_h : s_h, left0 : left0 + size_w : s_w] = x
    # Negative "padding" (p > d(k-1)) crops the zero-inserted input instead.
    rows = slice(-min(0, top), full.shape[2] + min(0, bottom))
    cols = slice(-min(0, left), full.shape[3] + min(0, right))
    return full[:, :, rows, cols]


def direct_weight(weight: Array, groups: int) -> Array:
    """The ``conv2d`` weight of the direct form: per group, channel axes swapped, flipped.

    ``(c_i, c_o/g, k_h, k_w)`` -> ``(c_o, c_i/g, k_h, k_w)``.

    Examples
    --------
    >>> direct_weight(np.arange(4).reshape(1, 1, 2, 2), 1)[0, 0]
    array([[3, 2],
           [1, 0]])
    """
    c_i = weight.shape[0]
    per = c_i // groups
    parts = [
        weight[g * per : (g + 1) * per].transpose(1, 0, 2, 3)[:, :, ::-1, ::-1]
        for g in range(groups)
    ]
    return np.ascontiguousarray(np.concatenate(parts, axis=0))


def check_inserted_size(input_shape: tuple[int, ...], stride: tuple[int, int]) -> None:
    """Refuse an input whose zero-inserted form would hold over ``MAX_INSERTED_VALUES``.

    Examples
    --------
    >>> check_inserted_size((1, 3, 3), (2, 2))
    >>> check_inserted_size((1, 9000, 9000), (2, 2))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    convcli.errors.BudgetError: the zero-inserted input would hold 323,964,001 values (more ...
    """
    n_c = 1
    for size in input_shape[:-2]:
        n_c *= size
    h, w = input_shape[-2:]
    inserted_values = n_c * ((h - 1) * stride[0] + 1) * ((w - 1) * stride[1] + 1)
    if inserted_values > MAX_INSERTED_VALUES:
        raise BudgetError(
            _(
                "the zero-inserted input would hold {inserted_values:,} values (more than "
                "{MAX_INSERTED_VALUES:,}): verify a smaller input"
            ).format(inserted_values=inserted_values, MAX_INSERTED_VALUES=MAX_INSERTED_VALUES)
        )


def verify_transposed(
    x: Array,
    kernel: Array,
    bias: Array | None = None,
    options: TransposedOptions | None = None,
    *,
    atol: float | None = None,
    rtol: float = 0.0,
    seed: int = 0,
) -> TransposedCheck:
    """Compute a transposed convolution directly and as a conv2d over inserted zeros, and
    check the adjoint identity.

    Examples
    --------
    >>> check = verify_transposed(np.arange(4).reshape(1, 2, 2), np.ones((1, 1, 2, 2)),
    ...                           options=TransposedOptions(stride=2))
    >>> check.inserted_shape, check.agree
    ((1, 1, 5, 5), True)
    """
    options = options or TransposedOptions()
    groups = int(options.groups)
    check_transposed_shapes(x.shape, kernel.shape, None if bias is None else bias.shape, groups)
    result = run_transposed(x, kernel, bias, options)
    geom = options_geometry(x.shape, kernel.shape, options)
    xb = x if x.ndim == 4 else x[None]
    check_inserted_size(x.shape, geom.stride)
    acc = accumulation_for(xb, kernel, bias)
    inserted = insert_zeros(xb.astype(acc.acc), geom)
    weight = direct_weight(kernel, groups)
    with np.errstate(all="ignore"):  # IEEE results for inf and NaN inputs, without warnings
        zero_inserted = conv2d(inserted, weight, bias, dilation=geom.dilation, groups=groups)
    zero_inserted = zero_inserted.astype(acc.out)
    if x.ndim == 3:
        zero_inserted = zero_inserted[0]
    terms = (kernel.shape[0] // groups) * kernel.shape[2] * kernel.shape[3]
    tolerance = default_atol(xb, kernel, terms) if atol is None else atol
    lhs, rhs, adjoint = _adjoint(xb.shape, kernel, geom, groups, seed, rtol)
    return TransposedCheck(
        direct=result.output,
        zero_inserted=zero_inserted,
        comparison=compare(result.output, zero_inserted, atol=tolerance, rtol=rtol),
        inserted_shape=inserted.shape,
        conv_weight=weight,
        adjoint_conv2d_side=lhs,
        adjoint_transposed_side=rhs,
        adjoint=adjoint,
        geometry=geom,
        groups=groups,
        output_axes=result.output_axes,
    )


def _adjoint(
    x_shape: tuple[int, ...],
    kernel: Array,
    geom: TransposedGeometry,
    groups: int,
    seed: int,
    rtol: float,
) -> tuple[Any, Any, Comparison]:
    """``<conv2d(z, w), x>`` and ``<z, conv_transpose2d(x, w)>`` for random ``x``, ``z``."""
    rng = np.random.default_rng(seed)
    wide = np.complex128 if kernel.dtype.kind == "c" else np.float64
    w = kernel.astype(wide)
    x = rng.standard_normal(x_shape)
    z = rng.standard_normal((x_shape[0], kernel.shape[1] * groups, *geom.out_size))
    s, p, d = geom.stride, geom.padding, geom.dilation
    with np.errstate(all="ignore"):
        forward = conv2d(z, w, stride=s, padding=p, dilation=d, groups=groups)
        backward = conv_transpose2d(
            x, w, stride=s, padding=p, output_padding=geom.output_padding, groups=groups,
            dilation=d,
        )  # fmt: skip
        # output_padding >= stride (allowed below the dilation) leaves conv2d rows beyond x's.
        forward = forward[..., : x_shape[-2], : x_shape[-1]]
        lhs = np.sum(forward * x)
        rhs = np.sum(z * backward)
        spread = conv2d(np.abs(z), np.abs(w), stride=s, padding=p, dilation=d, groups=groups)
        magnitude = float(np.sum(spread[..., : x_shape[-2], : x_shape[-1]] * np.abs(x)))
    terms = x.size + kernel[0].size
    atol = 4.0 * terms * float(np.finfo(np.float64).eps) * max(magnitude, 1.0)
    comparison = compare(np.array([lhs]), np.array([rhs]), atol=atol, rtol=rtol)
    return lhs.item(), rhs.item(), comparison
