"""How far apart two float results are in units in the last place (the lesson's exercise 5).

``Y1`` (a 1x1 convolution per channel) and ``Y2`` (the same as one matrix product) add
the same products in another order; a float sum rounds after each addition, so the
order shows in the last bits. In float64 the gaps shrink, with integers they vanish.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from convcli.ops.conv import corr2d_multi_in_out, corr2d_multi_in_out_1x1

__all__ = ["OrderEffect", "UlpGap", "order_effect", "ulp_gap"]


@dataclass(frozen=True)
class UlpGap:
    """How many elements differ, and by how many units in the last place (of the larger
    of the two values) at most."""

    dtype: str
    differing: int
    total: int
    max_ulps: float
    median_ulps: float
    max_abs_diff: float


def ulp_gap(a: npt.ArrayLike, b: npt.ArrayLike) -> UlpGap:
    """Count the elements of ``a`` and ``b`` that differ and the largest gap in ULPs.

    A ULP is ``numpy.spacing`` of the larger magnitude of the pair, in the results'
    dtype. Integers differ by whole numbers: their gap is the difference itself.

    Examples
    --------
    >>> x = np.float32(1.0)
    >>> gap = ulp_gap([x, x], [x, np.nextafter(np.nextafter(x, 2), 2)])
    >>> gap.differing, int(gap.max_ulps)
    (1, 2)
    >>> ulp_gap(np.array([3, 4]), np.array([3, 4])).differing
    0
    """
    aa, ba = np.asarray(a), np.asarray(b)
    differ = aa != ba
    count = int(np.count_nonzero(differ))
    diff = float(np.max(np.abs(aa.astype(np.float64) - ba.astype(np.float64)))) if aa.size else 0.0
    if aa.dtype.kind == "f" and aa.dtype == ba.dtype and count:
        larger = np.maximum(np.abs(aa[differ]), np.abs(ba[differ]))
        gaps = np.abs(aa[differ].astype(np.float64) - ba[differ]) / np.spacing(larger)
        ulps, median = float(np.max(gaps)), float(np.median(gaps))
    else:
        ulps = median = diff
    return UlpGap(
        dtype=str(aa.dtype),
        differing=count,
        total=int(aa.size),
        max_ulps=ulps,
        median_ulps=median,
        max_abs_diff=diff,
    )


@dataclass(frozen=True)
class OrderEffect:
    """Y1 and Y2 compared in the given dtype, in float64, and with integer inputs."""

    given: UlpGap
    float64: UlpGap
    integers: UlpGap


def order_effect(x: npt.ArrayLike, kernel: npt.ArrayLike) -> OrderEffect:
    """Y1 (per channel) against Y2 (matrix product): as given, in float64, in integers.

    The integer run rounds ``x`` and ``kernel`` to whole numbers (times 8 first when
    they are small, so they are not all zero): every sum is then exact in any order.

    Examples
    --------
    >>> x = np.arange(12, dtype=np.float32).reshape(3, 2, 2) / 7
    >>> effect = order_effect(x, np.ones((2, 3, 1, 1), dtype=np.float32))
    >>> effect.integers.differing
    0
    """
    xa, ka = np.asarray(x), np.asarray(kernel)
    given = ulp_gap(corr2d_multi_in_out(xa, ka), corr2d_multi_in_out_1x1(xa, ka))
    x64, k64 = xa.astype(np.float64), ka.astype(np.float64)
    wide = ulp_gap(corr2d_multi_in_out(x64, k64), corr2d_multi_in_out_1x1(x64, k64))
    scale = 8.0 if max(np.max(np.abs(x64), initial=0), np.max(np.abs(k64), initial=0)) < 8 else 1.0
    xi, ki = np.rint(x64 * scale).astype(np.int64), np.rint(k64 * scale).astype(np.int64)
    exact = ulp_gap(corr2d_multi_in_out(xi, ki), corr2d_multi_in_out_1x1(xi, ki))
    return OrderEffect(given=given, float64=wide, integers=exact)
