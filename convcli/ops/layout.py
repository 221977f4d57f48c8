"""Moving a tensor from TensorFlow's layouts (NHWC, HWIO) to PyTorch's (NCHW, OIHW)."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from convcli.shapes.layout import (
    INPUT_LAYOUTS,
    KERNEL_LAYOUTS,
    input_order,
    kernel_order,
    parse_layout,
)

__all__ = ["to_nchw", "to_oihw"]


def to_nchw(x: npt.ArrayLike, layout: str = "nhwc") -> npt.NDArray[Any]:
    """An input in ``layout`` as PyTorch's ``(n, c, h, w)`` (or ``(c, h, w)``), contiguous.

    Parameters
    ----------
    x : array_like, shape (h, w, c) or (n, h, w, c) for "nhwc"
    layout : "nhwc" or "nchw"
        "nchw" returns ``x`` as it is; a 2-D input has no channel axis to move.

    Examples
    --------
    >>> x = np.arange(12).reshape(2, 3, 2)  # h=2, w=3, c=2
    >>> to_nchw(x).shape, to_nchw(x)[1].tolist()
    ((2, 2, 3), [[1, 3, 5], [7, 9, 11]])
    """
    array = np.asarray(x)
    order = input_order(array.ndim, parse_layout(layout, INPUT_LAYOUTS, "layout"))
    return array if order is None else np.ascontiguousarray(array.transpose(order))


def to_oihw(weight: npt.ArrayLike, layout: str = "hwio") -> npt.NDArray[Any]:
    """A kernel in ``layout`` as PyTorch's ``(c_o, c_i, k_h, k_w)``, contiguous.

    Parameters
    ----------
    weight : array_like, shape (k_h, k_w, c_i, c_o), or (k_h, k_w, c_i), for "hwio"
    layout : "hwio" or "oihw"
        "oihw" returns ``weight`` as it is; a 2-D kernel has no channel axes to move.

    Examples
    --------
    >>> w = np.zeros((3, 3, 64, 128))
    >>> to_oihw(w).shape
    (128, 64, 3, 3)
    """
    array = np.asarray(weight)
    order = kernel_order(array.ndim, parse_layout(layout, KERNEL_LAYOUTS, "layout"))
    return array if order is None else np.ascontiguousarray(array.transpose(order))
