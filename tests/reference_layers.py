"""Reference pooling and transposed convolution straight from their definitions (test oracles).

Independent of convcli on purpose: Python loops, no padding arrays, no shared code.

- ``conv_transpose2d_reference``: the scatter. Input ``x[n, c, i, j]`` adds
  ``x * w[c, o, u, v]`` to output ``(n, g*C_o + o, i*s - p + u*d, j*s - p + v*d)`` when
  that lies inside the output (``C_o = c_o / groups``, ``g = c // (c_i / groups)``).
- ``max_pool2d_reference``: the maximum of the taps that fall inside the input (the
  padding is -inf); NaN wins.
- ``avg_pool2d_reference``: the exact sum (``math.fsum``, Python ints) over the taps
  inside the input, divided by the window size clipped to the padded input, the count
  of input cells, or the override.
- adaptive forms: windows ``floor(i*n/m)`` to ``ceil((i+1)*n/m)``.

Output sizes are computed here too, from the formulas, without convcli's shape code.
Values come back as float64/complex128 (int64 for integer max and transposed results).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

Pair = tuple[int, int]
Array = npt.NDArray[Any]

__all__ = [
    "adaptive_avg_pool2d_reference",
    "adaptive_max_pool2d_reference",
    "avg_pool2d_reference",
    "conv_transpose2d_reference",
    "max_pool2d_reference",
    "pool_size_reference",
]


def _pair(value: int | Pair) -> Pair:
    return (value, value) if isinstance(value, int) else (value[0], value[1])


def _batched(x: npt.ArrayLike) -> tuple[Array, bool]:
    xs = np.asarray(x)
    return (xs, True) if xs.ndim == 4 else (xs[None], False)


def _exact_sum(values: list[Any], kind: str) -> Any:
    if kind in "biu":
        return sum(int(v) for v in values)
    if kind == "c":
        return complex(
            math.fsum(complex(v).real for v in values), math.fsum(complex(v).imag for v in values)
        )
    return math.fsum(float(v) for v in values)


def conv_transpose2d_reference(
    x: npt.ArrayLike,
    weight: npt.ArrayLike,
    bias: npt.ArrayLike | None = None,
    stride: int | Pair = 1,
    padding: int | Pair = 0,
    output_padding: int | Pair = 0,
    groups: int = 1,
    dilation: int | Pair = 1,
) -> Array:
    """``torch.nn.functional.conv_transpose2d`` as a scatter of every input value.

    >>> conv_transpose2d_reference([[[1, 2]]], [[[[1, 10]]]], stride=2)
    array([[[ 1, 10,  2, 20]]])
    """
    xb, batched = _batched(x)
    w = np.asarray(weight)
    s, p, op, d = _pair(stride), _pair(padding), _pair(output_padding), _pair(dilation)
    n, c_i, h, wd = xb.shape
    _, c_og, k_h, k_w = w.shape
    c_ig = c_i // groups
    size = [
        (h - 1) * s[0] - 2 * p[0] + d[0] * (k_h - 1) + op[0] + 1,
        (wd - 1) * s[1] - 2 * p[1] + d[1] * (k_w - 1) + op[1] + 1,
    ]
    kind = np.result_type(xb, w, *([] if bias is None else [np.asarray(bias)])).kind
    terms: dict[tuple[int, int, int, int], list[Any]] = {}
    for b in range(n):
        for c in range(c_i):
            g = c // c_ig
            for i in range(h):
                for j in range(wd):
                    for o in range(c_og):
                        for u in range(k_h):
                            for v in range(k_w):
                                oi = i * s[0] - p[0] + u * d[0]
                                oj = j * s[1] - p[1] + v * d[1]
                                if 0 <= oi < size[0] and 0 <= oj < size[1]:
                                    key = (b, g * c_og + o, oi, oj)
                                    terms.setdefault(key, []).append(
                                        _product(xb[b, c, i, j], w[c, o, u, v], kind)
                                    )
    dtype = np.int64 if kind in "biu" else (np.complex128 if kind == "c" else np.float64)
    out = np.zeros((n, c_og * groups, *size), dtype=dtype)
    for key, values in terms.items():
        out[key] = _exact_sum(values, kind)
    if bias is not None:
        out = out + np.asarray(bias).astype(dtype).reshape(-1, 1, 1)
    return out if batched else out[0]


def _product(a: Any, b: Any, kind: str) -> Any:
    if kind in "biu":
        return int(a) * int(b)
    if kind == "c":
        return complex(a) * complex(b)
    return float(a) * float(b)


def pool_size_reference(n: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """PyTorch's ``pooling_output_shape_pad_lr``, transcribed."""
    numerator = n + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)
    out = math.floor(numerator / s) + 1
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1
    return out


def max_pool2d_reference(
    x: npt.ArrayLike,
    kernel_size: int | Pair,
    stride: int | Pair | None = None,
    padding: int | Pair = 0,
    dilation: int | Pair = 1,
    ceil_mode: bool = False,
) -> Array:
    """The maximum of each window's taps inside the input; NaN propagates.

    >>> max_pool2d_reference([[[1.0, 5.0, 2.0]]], (1, 2), stride=1)
    array([[[5., 5.]]])
    """
    xb, batched = _batched(x)
    k, p, d = _pair(kernel_size), _pair(padding), _pair(dilation)
    s = k if stride is None else _pair(stride)
    n, c, h, w = xb.shape
    m = [pool_size_reference((h, w)[a], k[a], s[a], p[a], d[a], ceil_mode) for a in range(2)]
    integer = xb.dtype.kind in "biu"
    out = np.zeros((n, c, *m), dtype=np.int64 if integer else np.float64)
    for b in range(n):
        for ch in range(c):
            for i in range(m[0]):
                for j in range(m[1]):
                    best: Any = None
                    for u in range(k[0]):
                        for v in range(k[1]):
                            r, q = i * s[0] - p[0] + u * d[0], j * s[1] - p[1] + v * d[1]
                            if 0 <= r < h and 0 <= q < w:
                                value = xb[b, ch, r, q]
                                value = int(value) if integer else float(value)
                                if best is None or value > best or math.isnan(value):
                                    best = value
                                if not integer and math.isnan(best):
                                    break
                    if best is None:  # no tap inside the input: the padding's value
                        best = _lowest(xb.dtype)
                    out[b, ch, i, j] = best
    return out if batched else out[0]


def _lowest(dtype: np.dtype[Any]) -> Any:
    """The smallest value of ``dtype`` (PyTorch's ``lowest()``): what an empty window gives."""
    if dtype.kind == "b":
        return 0
    if dtype.kind in "iu":
        return int(np.iinfo(dtype).min)
    return -math.inf


def avg_pool2d_reference(
    x: npt.ArrayLike,
    kernel_size: int | Pair,
    stride: int | Pair | None = None,
    padding: int | Pair = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Array:
    """Each window's exact sum over the input cells, divided by PyTorch's divisor.

    >>> avg_pool2d_reference([[[1.0, 2.0, 3.0]]], (1, 2), padding=(0, 1))
    array([[[0.5, 2.5]]])
    """
    xb, batched = _batched(x)
    k, p = _pair(kernel_size), _pair(padding)
    s = k if stride is None else _pair(stride)
    n, c, h, w = xb.shape
    m = [pool_size_reference((h, w)[a], k[a], s[a], p[a], 1, ceil_mode) for a in range(2)]
    kind = xb.dtype.kind
    out = np.zeros((n, c, *m), dtype=np.complex128 if kind == "c" else np.float64)
    for b in range(n):
        for ch in range(c):
            for i in range(m[0]):
                for j in range(m[1]):
                    r0, q0 = i * s[0] - p[0], j * s[1] - p[1]
                    r1, q1 = min(r0 + k[0], h + p[0]), min(q0 + k[1], w + p[1])
                    cells = [
                        xb[b, ch, r, q]
                        for r in range(max(r0, 0), min(r1, h))
                        for q in range(max(q0, 0), min(q1, w))
                    ]
                    if divisor_override is not None:
                        divisor = divisor_override
                    elif count_include_pad:
                        divisor = (r1 - r0) * (q1 - q0)
                    else:
                        divisor = len(cells)
                    out[b, ch, i, j] = _exact_sum(cells, kind) / divisor
    return out if batched else out[0]


def _adaptive_bounds(i: int, n: int, m: int) -> Pair:
    return math.floor(i * n / m), math.ceil((i + 1) * n / m)


def adaptive_avg_pool2d_reference(x: npt.ArrayLike, output_size: int | Pair) -> Array:
    """Exact mean of each adaptive window.

    >>> adaptive_avg_pool2d_reference([[[1.0, 2.0, 4.0]]], (1, 2))
    array([[[1.5, 3. ]]])
    """
    return _adaptive_reference(x, output_size, "avg")


def adaptive_max_pool2d_reference(x: npt.ArrayLike, output_size: int | Pair) -> Array:
    """Maximum of each adaptive window; NaN propagates.

    >>> adaptive_max_pool2d_reference([[[1, 2, 4]]], (1, 2))
    array([[[2, 4]]])
    """
    return _adaptive_reference(x, output_size, "max")


def _adaptive_reference(x: npt.ArrayLike, output_size: int | Pair, how: str) -> Array:
    xb, batched = _batched(x)
    m = _pair(output_size)
    n, c, h, w = xb.shape
    kind = xb.dtype.kind
    if how == "max":
        dtype: Any = np.int64 if kind in "biu" else np.float64
    else:
        dtype = np.complex128 if kind == "c" else np.float64
    out = np.zeros((n, c, *m), dtype=dtype)
    for b in range(n):
        for ch in range(c):
            for i in range(m[0]):
                r0, r1 = _adaptive_bounds(i, h, m[0])
                for j in range(m[1]):
                    q0, q1 = _adaptive_bounds(j, w, m[1])
                    cells = [xb[b, ch, r, q] for r in range(r0, r1) for q in range(q0, q1)]
                    if how == "avg":
                        out[b, ch, i, j] = _exact_sum(cells, kind) / len(cells)
                    elif kind in "biu":
                        out[b, ch, i, j] = max(int(v) for v in cells)
                    else:
                        values = [float(v) for v in cells]
                        nan = any(math.isnan(v) for v in values)
                        out[b, ch, i, j] = math.nan if nan else max(values)
    return out if batched else out[0]
