"""dtype rules shared by every computation: what is accepted, what accumulates in what.

- bool and integer inputs give exact integer results (int64), never wrapped values;
- float16 accumulates in float32 and comes back as float16 (as PyTorch does);
- float32 stays float32, float64 stays float64, complex stays complex;
- mixed inputs follow numpy's promotion rules;
- anything else (strings, objects, datetimes, structured records) is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from convcli.errors import NumericError
from convcli.i18n import N_, _

__all__ = [
    "Accumulation",
    "ArrayStats",
    "accumulation_for",
    "array_stats",
    "check_mixed_integers",
    "check_numeric",
    "checked_accumulation",
    "exact_integer_bound",
    "is_supported",
]

_NUMERIC_KINDS = frozenset("biufc")
SUPPORTED_TEXT = N_("expected bool, int, uint, float16/32/64 or complex64/128")
INT64_MAX = 2**63 - 1
# Every integer of magnitude up to 2**53 is a float64, and so is every partial sum
# below it: integer convolutions whose worst case stays there can run on BLAS.
FLOAT64_EXACT = 2**53
_DOWN = 2.0**-64


@dataclass(frozen=True)
class Accumulation:
    """How one computation accumulates (``acc``) and what it returns (``out``)."""

    acc: np.dtype[np.generic]
    out: np.dtype[np.generic]

    @property
    def is_integer(self) -> bool:
        return self.out.kind in "iub"


def check_numeric(array: npt.NDArray[np.generic], name: str) -> None:
    """Raise ``NumericError`` unless ``array`` holds a supported dtype (``is_supported``)."""
    if not is_supported(array.dtype):
        raise NumericError(
            _("{name} has unsupported dtype {array_dtype}: {SUPPORTED_TEXT}").format(
                name=name, array_dtype=array.dtype, SUPPORTED_TEXT=_(SUPPORTED_TEXT)
            )
        )


def is_supported(dtype: np.dtype[Any]) -> bool:
    """bool, int/uint up to 64 bits, float16/32/64, complex64/128: what convcli computes with.

    float128 and complex256 (``longdouble``) are not: BLAS has no such type, and their
    extra precision would be lost silently in a float64 step.

    Examples
    --------
    >>> [is_supported(np.dtype(code)) for code in ("f8", "c16", "longdouble", "U3")]
    [True, True, False, False]
    """
    if dtype.fields is not None or dtype.kind not in _NUMERIC_KINDS:
        return False
    return dtype.itemsize <= {"f": 8, "c": 16}.get(dtype.kind, 8)


def accumulation_for(*arrays: npt.NDArray[np.generic] | None) -> Accumulation:
    """The accumulation and result dtypes for a product-sum over ``arrays``.

    Examples
    --------
    >>> a = accumulation_for(np.ones(2, np.int8), np.ones(2, np.uint8))
    >>> a.acc, a.out
    (dtype('int64'), dtype('int64'))
    >>> a = accumulation_for(np.ones(2, np.float16), np.ones(2, np.float16))
    >>> a.acc, a.out
    (dtype('float32'), dtype('float16'))
    """
    present = [a for a in arrays if a is not None]
    result = np.result_type(*present)
    if result.kind in "biu":
        int64 = np.dtype(np.int64)
        return Accumulation(acc=int64, out=int64)
    if result == np.float16:
        return Accumulation(acc=np.dtype(np.float32), out=result)
    return Accumulation(acc=result, out=result)


def checked_accumulation(
    x: npt.NDArray[np.generic],
    weight: npt.NDArray[np.generic],
    bias: npt.NDArray[np.generic] | None,
    terms: int,
) -> Accumulation:
    """``accumulation_for`` the operands, refusing a result that would not be exact.

    The one dtype decision of every product-sum (``conv2d`` and the lesson's modes):
    integer sums that could leave int64, and int64 with uint64 (computed in float64)
    beyond 2**53, are refused; the bias takes part in both the dtype and the check.

    Examples
    --------
    >>> checked_accumulation(np.ones(1, np.int8), np.ones(1, np.int8), np.ones(1), 1).out
    dtype('float64')
    >>> checked_accumulation(np.array([127]), np.array([127]), np.array([2**63 - 1]), 1)
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    convcli.errors.NumericError: integer result could reach ..., beyond int64: ...
    """
    acc = accumulation_for(x, weight, bias)
    if acc.is_integer:
        exact_integer_bound(x, weight, bias, terms)
    else:
        check_mixed_integers(x, weight, bias, terms)
    return acc


def exact_integer_bound(
    x: npt.NDArray[np.generic],
    weight: npt.NDArray[np.generic],
    bias: npt.NDArray[np.generic] | None,
    terms: int,
) -> int:
    """An upper bound on any partial sum's magnitude of an integer product-sum.

    ``terms`` is how many products one output sums. Python ints, so the bound
    itself never overflows. Raises ``ValueError`` when the result could leave int64.
    """
    bound = _max_abs(x) * _max_abs(weight) * terms + (_max_abs(bias) if bias is not None else 0)
    if bound > INT64_MAX:
        raise NumericError(
            _(
                "integer result could reach {bound}, beyond int64: convert the inputs to float64"
            ).format(bound=bound)
        )
    return bound


def check_mixed_integers(
    x: npt.NDArray[np.generic],
    weight: npt.NDArray[np.generic],
    bias: npt.NDArray[np.generic] | None,
    terms: int,
) -> None:
    """Refuse integer inputs that numpy's promotion sends to float64 when sums could round.

    int64 with uint64 promotes to float64: exact only while every partial sum stays below
    2**53. Beyond that the result would be silently rounded, so it is refused instead.

    Examples
    --------
    >>> check_mixed_integers(np.array([2**60], np.uint64), np.array([1]), None, 1)
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    convcli.errors.NumericError: int64 and uint64 inputs compute in float64, whose sums are ...
    """
    present = [a for a in (x, weight, bias) if a is not None]
    if not all(a.dtype.kind in "biu" for a in present):
        return
    if np.result_type(*present).kind in "biu":
        return  # int64 accumulation, checked against overflow by exact_integer_bound
    bound = _max_abs(x) * _max_abs(weight) * terms + (_max_abs(bias) if bias is not None else 0)
    if bound >= FLOAT64_EXACT:
        raise NumericError(
            _(
                "int64 and uint64 inputs compute in float64, whose sums are exact only below "
                "2**53 and could reach {bound} here: convert the inputs to one integer dtype "
                "(int64 if the values fit) or to float64 knowingly"
            ).format(bound=bound)
        )


def _max_abs(array: npt.NDArray[np.generic]) -> int:
    if array.size == 0:
        return 0
    return max(abs(int(array.max())), abs(int(array.min())))


@dataclass(frozen=True)
class ArrayStats:
    """Summary of an array's values; min/max/mean over the finite values only."""

    size: int
    non_finite: int
    minimum: float | None
    maximum: float | None
    mean: complex | float | None


def array_stats(array: npt.NDArray[Any], *, chunk_bytes: int = 16 * 1024**2) -> ArrayStats:
    """min, max, mean and the count of non-finite values, in bounded memory.

    Works through the array a block of rows at a time, so a 256 MiB result (or a
    memory-mapped one) needs no full-size temporaries. min and max are ``None`` for
    complex arrays, everything is ``None`` when no value is finite.

    Examples
    --------
    >>> s = array_stats(np.array([1.0, np.nan, 3.0, np.inf]))
    >>> s.minimum, s.maximum, s.mean, s.non_finite
    (1.0, 3.0, 2.0, 2)
    """
    flat = array.reshape(-1) if array.flags.c_contiguous else np.ravel(array, order="K")
    step = max(1, chunk_bytes // max(1, array.dtype.itemsize))
    inexact = array.dtype.kind in "fc"
    is_complex = array.dtype.kind == "c"
    lo: float | None = None
    hi: float | None = None
    total: complex | float = 0j if is_complex else 0.0
    finite_count = 0
    wide = np.complex128 if is_complex else np.float64
    for start in range(0, flat.size, step):
        block = flat[start : start + step]
        if inexact:
            block = block[np.isfinite(block)]
        if block.size == 0:
            continue
        finite_count += block.size
        with np.errstate(over="ignore", invalid="ignore"):  # huge finite values: see below
            total += block.sum(dtype=wide).item()
        if not is_complex:
            block_lo, block_hi = block.min().item(), block.max().item()
            lo = block_lo if lo is None else min(lo, block_lo)
            hi = block_hi if hi is None else max(hi, block_hi)
    mean = (total / finite_count) if finite_count else None
    if mean is not None and not np.isfinite(mean):
        # The sum of finite values overflowed (1e308 + 1e308): sum again scaled by
        # 2**-64, exactly, so the mean (never beyond the largest value) comes out finite.
        scaled: complex | float = 0j if is_complex else 0.0
        for start in range(0, flat.size, step):
            block = flat[start : start + step]
            block = block[np.isfinite(block)]
            scaled += (block.astype(wide) * _DOWN).sum().item()
        mean = scaled / finite_count / _DOWN
    return ArrayStats(
        size=int(array.size),
        non_finite=int(array.size - finite_count),
        minimum=lo,
        maximum=hi,
        mean=mean,
    )
