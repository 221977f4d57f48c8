"""A reference 2-D convolution written straight from the definition, as a test oracle.

Independent of convcli on purpose: it shares no code with it, pads nothing and uses no
numpy arithmetic, only Python loops over batch, output channel, output position and
kernel tap::

    y[n, o, i, j] = bias[o] + sum over c, u, v of
                    x[n, g*C + c, i*s_h - top + u*d_h, j*s_w - left + v*d_w] * w[o, c, u, v]

where ``g = o // (c_o / groups)`` is the output channel's group, ``C = c_i / groups``,
and taps that fall outside the input read the zero padding (they are skipped).

Sums are exact or as good as float64 can be: integers (and bools) add up as Python ints,
real floats as ``math.fsum`` of float64 products (exact products for float16/float32
inputs), complex numbers as one ``math.fsum`` per real and imaginary part.

The oracle checks values, not dtypes: it returns int64 for integer inputs (object
arrays of Python ints with ``exact_ints=True``), float64 for real and complex128 for
complex inputs. It does not validate arguments either; give it valid ones.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

Pair = tuple[int, int]
Padding = int | Pair | Literal["same", "valid"]

__all__ = ["conv2d_reference", "resolve_padding"]


def conv2d_reference(
    x: npt.ArrayLike,
    weight: npt.ArrayLike,
    bias: npt.ArrayLike | None = None,
    stride: int | Pair = 1,
    padding: Padding = 0,
    dilation: int | Pair = 1,
    groups: int = 1,
    *,
    exact_ints: bool = False,
) -> npt.NDArray[Any]:
    """``torch.nn.functional.conv2d`` by its definition.

    Examples
    --------
    >>> x = [[[0, 1, 2], [3, 4, 5], [6, 7, 8]]]
    >>> conv2d_reference(x, [[[[0, 1], [2, 3]]]])
    array([[[19, 25],
            [37, 43]]])
    >>> conv2d_reference(x, [[[[1]]]], bias=[10], stride=2, padding=1)
    array([[[10, 10, 10],
            [10, 14, 10],
            [10, 10, 10]]])
    """
    xs, ws = np.asarray(x), np.asarray(weight)
    bs = None if bias is None else np.asarray(bias)
    batched = xs.ndim == 4
    images = xs.tolist() if batched else [xs.tolist()]
    kernel, offsets = ws.tolist(), (bs.tolist() if bs is not None else None)
    c_o, c_per_group, k_h, k_w = ws.shape
    h, w = xs.shape[-2:]
    s_h, s_w = _pair(stride)
    d_h, d_w = _pair(dilation)
    top, bottom, left, right = resolve_padding(padding, (k_h, k_w), (d_h, d_w))
    m_h = (h + top + bottom - d_h * (k_h - 1) - 1) // s_h + 1
    m_w = (w + left + right - d_w * (k_w - 1) - 1) // s_w + 1
    outs_per_group = c_o // groups

    kinds = {a.dtype.kind for a in (xs, ws, bs) if a is not None}
    add_up = _sum_complex if "c" in kinds else math.fsum if "f" in kinds else sum

    result = []
    for image in images:
        planes = []
        for o in range(c_o):
            # The input channels of output channel o's group, each with its kernel slice.
            first = (o // outs_per_group) * c_per_group
            pairs = [(image[first + c], kernel[o][c]) for c in range(c_per_group)]
            plane = []
            for i in range(m_h):
                # Kernel rows u that land inside the input (the rest read zero padding).
                rows = [(u, r) for u in range(k_h) if 0 <= (r := i * s_h - top + u * d_h) < h]
                row = []
                for j in range(m_w):
                    cols = [(v, q) for v in range(k_w) if 0 <= (q := j * s_w - left + v * d_w) < w]
                    terms = [
                        channel[r][q] * taps[u][v]
                        for channel, taps in pairs
                        for u, r in rows
                        for v, q in cols
                    ]
                    if offsets is not None:
                        terms.append(offsets[o])
                    row.append(add_up(terms))
                plane.append(row)
            planes.append(plane)
        result.append(planes)

    out = result if batched else result[0]
    if "c" in kinds:
        return np.array(out, dtype=np.complex128)
    if "f" in kinds:
        return np.array(out, dtype=np.float64)
    if exact_ints:
        return _object_array(out)
    # Raises OverflowError rather than wrapping if a sum leaves int64.
    return np.array(out, dtype=np.int64)


def resolve_padding(padding: Padding, kernel: Pair, dilation: Pair) -> tuple[int, int, int, int]:
    """``(top, bottom, left, right)``; ``"same"`` puts an odd total's extra at bottom/right.

    Examples
    --------
    >>> resolve_padding("same", (4, 3), (1, 1))
    (1, 2, 1, 1)
    >>> resolve_padding((2, 0), (3, 3), (1, 1))
    (2, 2, 0, 0)
    """
    if padding == "valid":
        return (0, 0, 0, 0)
    if padding == "same":
        total_h, total_w = (dilation[0] * (kernel[0] - 1), dilation[1] * (kernel[1] - 1))
        return (total_h // 2, total_h - total_h // 2, total_w // 2, total_w - total_w // 2)
    p_h, p_w = _pair(padding)
    return (p_h, p_h, p_w, p_w)


def _pair(value: Any) -> Pair:
    if isinstance(value, int):
        return (value, value)
    return (int(value[0]), int(value[1]))


def _sum_complex(terms: list[Any]) -> complex:
    return complex(
        math.fsum(complex(t).real for t in terms), math.fsum(complex(t).imag for t in terms)
    )


def _object_array(nested: list[Any]) -> npt.NDArray[Any]:
    # np.array would try to fit Python ints into a fixed-width dtype; keep them whole.
    flat: list[Any] = []
    shape: list[int] = []
    level: Any = nested
    while isinstance(level, list):
        shape.append(len(level))
        level = level[0]
    stack: list[Any] = [nested]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(reversed(item))
        else:
            flat.append(int(item))
    out = np.empty(len(flat), dtype=object)
    out[:] = flat
    return out.reshape(shape)
