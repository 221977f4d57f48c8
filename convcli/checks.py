"""Checks that compute one thing two ways and compare: ``convcli verify-1x1``.

Pure numpy. A check returns both results, their differences and whether they agree
within a tolerance that follows the dtype.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from convcli.core import corr2d_multi_in_out, corr2d_multi_in_out_1x1
from convcli.numerics import accumulation_for

__all__ = ["Comparison", "OneByOneCheck", "compare", "default_atol", "verify_1x1"]

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
    scale = float(np.max(np.abs(x))) * float(np.max(np.abs(k))) * terms
    return 2.0 * terms * eps * max(scale, 1.0)


def compare(expected: Array, actual: Array, *, atol: float, rtol: float) -> Comparison:
    """Max absolute and relative differences of two same-shape results.

    Examples
    --------
    >>> c = compare(np.array([1.0, 2.0]), np.array([1.0, 2.5]), atol=0.1, rtol=0.0)
    >>> c.max_abs_diff, c.agree
    (0.5, False)
    """
    if expected.shape != actual.shape:
        raise ValueError(f"results have different shapes {expected.shape} and {actual.shape}")
    wide = np.complex128 if "c" in (expected.dtype.kind, actual.dtype.kind) else np.float64
    e, a = expected.astype(wide), actual.astype(wide)
    diff = np.abs(e - a)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(diff == 0, 0.0, diff / np.abs(e))
    return Comparison(
        max_abs_diff=float(np.nanmax(diff)) if diff.size else 0.0,
        max_rel_diff=float(np.nanmax(rel)) if rel.size else 0.0,
        atol=atol,
        rtol=rtol,
        # numpy.isclose's rule, element by element: |a - e| <= atol + rtol * |e|.
        agree=bool(np.all(diff <= atol + rtol * np.abs(e))),
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
    if x.ndim != 3:
        raise ValueError(f"input must be 3-D (c_i, h, w), got {x.ndim}-D {x.shape}")
    if kernel.ndim != 4 or kernel.shape[2:] != (1, 1):
        raise ValueError(f"kernel must be (c_o, c_i, 1, 1), got shape {kernel.shape}")
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
