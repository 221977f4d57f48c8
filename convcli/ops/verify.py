"""Checks that compute one thing two ways and compare: ``verify-1x1`` and ``verify``.

Pure numpy. A check returns both results, their differences and whether they agree
within a tolerance that follows the dtype.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from convcli.errors import BudgetError, ShapeError
from convcli.i18n import _
from convcli.ops.conv import corr2d_multi_in_out, corr2d_multi_in_out_1x1
from convcli.ops.layout import to_nchw, to_oihw
from convcli.ops.modes import run_convolution
from convcli.ops.numerics import accumulation_for
from convcli.ops.padding import flip_kernel, pad_input
from convcli.shapes.axes import output_axes
from convcli.shapes.geometry import ConvGeometry, resolve_geometry
from convcli.shapes.layer import check_conv_shapes, lift_to_conv2d
from convcli.shapes.options import ConvOptions

__all__ = [
    "Comparison",
    "Im2colCheck",
    "OneByOneCheck",
    "check_1x1_shapes",
    "compare",
    "default_atol",
    "unfold",
    "verify_1x1",
    "verify_im2col",
]

Array = npt.NDArray[Any]


@dataclass(frozen=True)
class Comparison:
    """How far ``actual`` is from ``expected``, and whether every value is within tolerance."""

    max_abs_diff: float
    max_rel_diff: float
    atol: float
    rtol: float
    agree: bool


def default_atol(x: Array, k: Array, terms: int) -> float:
    """A tolerance that two summation orders of the same products always meet.

    Each result of ``terms`` products carries a rounding error of at most about
    ``terms * eps * sum|x k|``; two different orders can differ by twice that.
    Integers are exact: 0.

    Examples
    --------
    >>> default_atol(np.ones(3, np.int64), np.ones(3, np.int64), 3)
    0.0
    """
    acc = accumulation_for(x, k)
    if acc.is_integer:
        return 0.0
    eps = float(np.finfo(acc.acc).eps)  # type: ignore[type-var]
    scale = _finite_max_abs(x) * _finite_max_abs(k) * terms
    return 2.0 * terms * eps * max(scale, 1.0)


def _finite_max_abs(array: Array) -> float:
    """The largest finite magnitude (non-finite values carry no rounding error to allow for)."""
    finite = np.abs(array[np.isfinite(array)])
    return float(finite.max()) if finite.size else 0.0


def compare(expected: Array, actual: Array, *, atol: float, rtol: float) -> Comparison:
    """Max absolute and relative differences of two same-shape results.

    Examples
    --------
    >>> c = compare(np.array([1.0, 2.0]), np.array([1.0, 2.5]), atol=0.1, rtol=0.0)
    >>> c.max_abs_diff, c.agree
    (0.5, False)
    >>> compare(np.array([np.nan, np.inf]), np.array([np.nan, np.inf]), atol=0, rtol=0).agree
    True
    >>> compare(np.array([np.nan]), np.array([1.0]), atol=1, rtol=0).max_abs_diff
    inf
    """
    if expected.shape != actual.shape:
        raise ValueError(
            _("results have different shapes {expected_shape} and {actual_shape}").format(
                expected_shape=expected.shape, actual_shape=actual.shape
            )
        )
    wide = np.complex128 if "c" in (expected.dtype.kind, actual.dtype.kind) else np.float64
    e, a = expected.astype(wide), actual.astype(wide)
    # NaN where both have NaN, and equal infinities, are the same result (IEEE in, IEEE out).
    same = (e == a) | (np.isnan(e) & np.isnan(a))
    one_nan = np.isnan(e) | np.isnan(a)
    with np.errstate(invalid="ignore"):
        diff = np.where(same, 0.0, np.where(one_nan, np.inf, np.abs(e - a)))
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(diff == 0, 0.0, diff / np.abs(e))
        rel = np.where(np.isnan(rel), np.inf, rel)  # a NaN on one side only, or inf vs -inf
        # numpy.isclose's rule, element by element: |a - e| <= atol + rtol * |e|.
        agree = bool(np.all(same | (diff <= atol + rtol * np.abs(e))))
    return Comparison(
        max_abs_diff=float(np.nanmax(diff)) if diff.size else 0.0,
        max_rel_diff=float(np.nanmax(rel)) if rel.size else 0.0,
        atol=atol,
        rtol=rtol,
        agree=agree,
    )


@dataclass(frozen=True)
class OneByOneCheck:
    """A 1x1 convolution computed per channel and as one matrix product."""

    x: Array
    kernel: Array
    per_channel: Array
    matrix_product: Array
    comparison: Comparison

    @property
    def x_matrix_shape(self) -> tuple[int, int]:
        c_i, h, w = self.x.shape
        return (c_i, h * w)

    @property
    def kernel_matrix_shape(self) -> tuple[int, int]:
        return (self.kernel.shape[0], self.kernel.shape[1])


def check_1x1_shapes(x_shape: tuple[int, ...], kernel_shape: tuple[int, ...]) -> None:
    """Refuse shapes ``verify_1x1`` cannot take: x ``(c_i, h, w)``, kernel ``(c_o, c_i, 1, 1)``.

    Examples
    --------
    >>> check_1x1_shapes((3, 4, 4), (2, 3, 3, 3))
    Traceback (most recent call last):
    ...
    convcli.errors.ShapeError: kernel must be (c_o, c_i, 1, 1), got shape (2, 3, 3, 3)
    """
    if len(x_shape) != 3:
        raise ShapeError(
            _("input must be 3-D (c_i, h, w), got {len_x_shape}-D {x_shape}").format(
                len_x_shape=len(x_shape), x_shape=x_shape
            )
        )
    if len(kernel_shape) != 4 or kernel_shape[2:] != (1, 1):
        raise ShapeError(
            _("kernel must be (c_o, c_i, 1, 1), got shape {kernel_shape}").format(
                kernel_shape=kernel_shape
            )
        )


def verify_1x1(
    x: Array, kernel: Array, *, atol: float | None = None, rtol: float = 0.0
) -> OneByOneCheck:
    """Compute a 1x1 convolution both ways (the lesson's proof that it is a dense layer).

    Examples
    --------
    >>> check = verify_1x1(np.arange(12.0).reshape(3, 2, 2), np.ones((2, 3, 1, 1)))
    >>> check.comparison.agree, check.x_matrix_shape, check.kernel_matrix_shape
    (True, (3, 4), (2, 3))
    """
    check_1x1_shapes(x.shape, kernel.shape)
    per_channel = corr2d_multi_in_out(x, kernel)
    matrix_product = corr2d_multi_in_out_1x1(x, kernel)
    tolerance = default_atol(x, kernel, x.shape[0]) if atol is None else atol
    return OneByOneCheck(
        x=x,
        kernel=kernel,
        per_channel=per_channel,
        matrix_product=matrix_product,
        comparison=compare(per_channel, matrix_product, atol=tolerance, rtol=rtol),
    )


# The unfolded matrices of ``verify`` are shown and compared in full: refuse the runs
# where they alone would take more than about 1 GiB of float64.
MAX_UNFOLDED_VALUES = 2**27


@dataclass(frozen=True)
class Im2colCheck:
    """A convolution computed directly and as matrix products on unfolded patches.

    ``columns`` is ``(n, groups, c_i/g*k_h*k_w, m_h*m_w)``: per batch item and group,
    one column per output position holding the window the kernel sees there, row
    ``c*k_h*k_w + a*k_w + b`` for channel ``c`` of the group and tap ``(a, b)``.
    ``weights`` is ``(groups, c_o/g, c_i/g*k_h*k_w)``: each output channel's kernel as
    a row. ``matrix_product`` and ``direct`` have the shape ``convcli run`` prints.
    """

    columns: Array
    weights: Array
    matrix_product: Array
    direct: Array
    comparison: Comparison
    geometry: ConvGeometry
    options: ConvOptions
    output_axes: tuple[str, ...]

    @property
    def column_matrix_shape(self) -> tuple[int, int]:
        return (self.columns.shape[2], self.columns.shape[3])

    @property
    def weight_matrix_shape(self) -> tuple[int, int]:
        return (self.weights.shape[1], self.weights.shape[2])


def unfold(x: Array, kernel_size: tuple[int, int], geometry: ConvGeometry, groups: int) -> Array:
    """im2col: the (already padded) ``x`` (n, c_i, H, W) as ``(n, groups, rows, m_h*m_w)``.

    Examples
    --------
    >>> from convcli.shapes.geometry import resolve_geometry
    >>> x = np.arange(9).reshape(1, 1, 3, 3)
    >>> unfold(x, (2, 2), resolve_geometry((3, 3), (2, 2)), 1)[0, 0]
    array([[0, 1, 3, 4],
           [1, 2, 4, 5],
           [3, 4, 6, 7],
           [4, 5, 7, 8]])
    """
    n, c_i = x.shape[:2]
    k_h, k_w = kernel_size
    (s_h, s_w), (d_h, d_w) = geometry.stride, geometry.dilation
    m_h, m_w = geometry.out_size
    windows = sliding_window_view(x, geometry.effective_kernel, axis=(2, 3))
    windows = windows[:, :, : (m_h - 1) * s_h + 1 : s_h, : (m_w - 1) * s_w + 1 : s_w, ::d_h, ::d_w]
    # (n, c_i, m_h, m_w, k_h, k_w) -> (n, g, c_i/g * k_h * k_w, m_h * m_w)
    per_group = c_i // groups
    columns = windows.transpose(0, 1, 4, 5, 2, 3).reshape(
        n, groups, per_group * k_h * k_w, m_h * m_w
    )
    return np.ascontiguousarray(columns)


def verify_im2col(
    x: Array,
    kernel: Array,
    bias: Array | None = None,
    options: ConvOptions | None = None,
    *,
    atol: float | None = None,
    rtol: float = 0.0,
    input_layout: str = "nchw",
    kernel_layout: str = "oihw",
) -> Im2colCheck:
    """Compute a convolution directly (``convcli run``) and as im2col matrix products.

    Any convolution is a matrix product: unfold the padded input into one column per
    output position, write each output channel's kernel as a row, multiply. The 1x1
    case is ``verify_1x1``. The kernel is read by its rank, as ``run`` reads it;
    ``input_layout="nhwc"`` and ``kernel_layout="hwio"`` read TensorFlow's layouts
    (``conv2d``'s parameters).

    Examples
    --------
    >>> X = np.stack([np.arange(9).reshape(3, 3), np.arange(1, 10).reshape(3, 3)])
    >>> K = np.array([[[0, 1], [2, 3]], [[1, 2], [3, 4]]])
    >>> check = verify_im2col(X, K)
    >>> check.column_matrix_shape, check.weight_matrix_shape, check.comparison.agree
    ((8, 4), (1, 8), True)
    >>> check.matrix_product.tolist()
    [[56, 72], [104, 120]]
    """
    options = options or ConvOptions()
    x, kernel = to_nchw(x, input_layout), to_oihw(kernel, kernel_layout)
    input_shape, weight_shape = lift_to_conv2d(x.shape, kernel.shape)
    check_conv_shapes(
        input_shape, weight_shape, None if bias is None else bias.shape, options.groups
    )
    xb = x.reshape(input_shape)
    xb = xb if xb.ndim == 4 else xb[None]
    w = kernel.reshape(weight_shape)
    if options.flip:
        w = flip_kernel(w)
    c_o, c_per_group, k_h, k_w = w.shape
    groups = options.groups
    geometry = resolve_geometry(
        (xb.shape[2], xb.shape[3]),
        (k_h, k_w),
        stride=options.stride,
        padding=options.padding,
        dilation=options.dilation,
    )
    m_h, m_w = geometry.out_size
    values = xb.shape[0] * xb.shape[1] * k_h * k_w * m_h * m_w
    if values > MAX_UNFOLDED_VALUES:
        raise BudgetError(
            _(
                "the unfolded input would hold {values:,} values (more than "
                "{MAX_UNFOLDED_VALUES:,}): verify a smaller input"
            ).format(values=values, MAX_UNFOLDED_VALUES=MAX_UNFOLDED_VALUES)
        )
    direct = run_convolution(x, kernel, bias, options=options).output
    acc = accumulation_for(xb, w, bias)
    padded = pad_input(xb, geometry.padding, options.padding_mode).astype(acc.acc)
    columns = unfold(padded, (k_h, k_w), geometry, groups)
    weights = w.astype(acc.acc).reshape(groups, c_o // groups, c_per_group * k_h * k_w)
    # (g, og, r) @ (n, g, r, m) -> (n, g, og, m) -> (n, c_o, m_h, m_w)
    with np.errstate(all="ignore"):  # IEEE results for inf and NaN inputs, without warnings
        product = np.matmul(weights[None], columns).reshape(xb.shape[0], c_o, m_h, m_w)
        if bias is not None:
            product = product + bias.astype(acc.acc).reshape(1, c_o, 1, 1)
    product = product.astype(acc.out)
    if kernel.ndim < 4:
        product = product[:, 0]
    if x.ndim < 4:
        product = product[0]
    tolerance = default_atol(xb, w, c_per_group * k_h * k_w) if atol is None else atol
    return Im2colCheck(
        columns=columns,
        weights=weights,
        matrix_product=product,
        direct=direct,
        comparison=compare(direct, product, atol=tolerance, rtol=rtol),
        geometry=geometry,
        options=options,
        output_axes=output_axes(x.ndim, kernel.ndim),
    )
