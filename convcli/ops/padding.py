"""Padding modes and true convolution: what ``--padding-mode`` and ``--flip`` do.

Pure numpy. PyTorch's ``Conv2d(padding_mode=...)`` pads the input itself with
``F.pad`` and then convolves with no padding; ``pad_for_conv`` does the same, so
``conv2d`` only ever runs its zero-padding path. ``source_index`` says which input
cell a padded cell copies, which is how ``explain`` shows where a number comes from.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from convcli.errors import OptionError
from convcli.i18n import _
from convcli.ops.numerics import check_numeric
from convcli.shapes.geometry import IntOrPair, PaddingArg, resolve_geometry
from convcli.shapes.layer import check_conv_shapes
from convcli.shapes.padding_modes import PADDING_MODES, check_padding_mode

__all__ = [
    "PADDING_MODES",
    "check_padding_mode",
    "flip_kernel",
    "pad_for_conv",
    "pad_input",
    "source_index",
]

Array = npt.NDArray[Any]
NumpyPadMode = Literal["constant", "reflect", "edge", "wrap"]
_NUMPY_MODES: dict[str, NumpyPadMode] = {
    "zeros": "constant",
    "reflect": "reflect",
    "replicate": "edge",
    "circular": "wrap",
}


def pad_input(x: npt.ArrayLike, padding: tuple[int, int, int, int], mode: str = "zeros") -> Array:
    """Pad the last two axes of ``x`` by ``(top, bottom, left, right)`` as PyTorch's ``mode``.

    ``zeros`` adds zeros; ``reflect`` mirrors without repeating the edge;
    ``replicate`` repeats the edge; ``circular`` wraps around.

    Examples
    --------
    >>> x = np.array([[1, 2, 3]])
    >>> [pad_input(x, (0, 0, 2, 2), mode)[0].tolist() for mode in PADDING_MODES]
    [[0, 0, 1, 2, 3, 0, 0], [3, 2, 1, 2, 3, 2, 1], [1, 1, 1, 2, 3, 3, 3], [2, 3, 1, 2, 3, 1, 2]]
    """
    array = np.asarray(x)
    if array.ndim < 2:
        raise OptionError(
            _("padding needs at least 2 axes, got {array_ndim}-D {array_shape}").format(
                array_ndim=array.ndim, array_shape=array.shape
            )
        )
    check_padding_mode(mode, (array.shape[-2], array.shape[-1]), padding)
    top, bottom, left, right = padding
    widths = [(0, 0)] * (array.ndim - 2) + [(top, bottom), (left, right)]
    padded: Array = np.pad(
        array, widths, mode="constant" if mode == "zeros" else _NUMPY_MODES[mode]
    )
    return padded


def source_index(index: int, n: int, before: int, mode: str) -> int | None:
    """The input index that cell ``index`` of a padded axis copies (``None``: a zero).

    ``n`` is the input's length along the axis and ``before`` the padding before it.

    Examples
    --------
    >>> [source_index(i, 3, 2, "reflect") for i in range(7)]
    [2, 1, 0, 1, 2, 1, 0]
    >>> [source_index(i, 3, 2, "zeros") for i in range(7)]
    [None, None, 0, 1, 2, None, None]
    """
    u = index - before
    if 0 <= u < n:
        return u
    if mode == "zeros":
        return None
    if mode == "replicate":
        return min(max(u, 0), n - 1)
    if mode == "circular":
        return u % n
    if mode == "reflect":
        return -u if u < 0 else 2 * (n - 1) - u
    raise OptionError(
        _("padding mode must be one of {join_PADDING_MODES}, got {mode!r}").format(
            join_PADDING_MODES=", ".join(PADDING_MODES), mode=mode
        )
    )


def flip_kernel(weight: npt.ArrayLike) -> Array:
    """The kernel rotated by 180 degrees over its last two axes (true convolution).

    Cross-correlating with the flipped kernel is the convolution of signal
    processing (``scipy.signal.convolve2d``).

    Examples
    --------
    >>> flip_kernel([[1, 2], [3, 4]]).tolist()
    [[4, 3], [2, 1]]
    """
    array = np.asarray(weight)
    if array.ndim < 2:
        return array
    return np.ascontiguousarray(array[..., ::-1, ::-1])


def pad_for_conv(
    x: npt.ArrayLike,
    weight: npt.ArrayLike,
    *,
    stride: IntOrPair = 1,
    padding: PaddingArg = 0,
    dilation: IntOrPair = 1,
    groups: int = 1,
    mode: str = "zeros",
) -> Array:
    """The input of ``conv2d`` padded as ``Conv2d(padding_mode=mode)`` pads it.

    ``padding`` is resolved as ``conv2d`` resolves it (``"same"`` included), so
    ``conv2d(pad_for_conv(x, w, padding=p, mode=m), w)`` is PyTorch's result.

    Examples
    --------
    >>> x = np.arange(4).reshape(1, 2, 2)
    >>> pad_for_conv(x, np.ones((1, 1, 3, 3)), padding=1, mode="replicate")[0].tolist()
    [[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 3, 3], [2, 2, 3, 3]]
    """
    if mode not in PADDING_MODES:
        raise OptionError(
            _("padding mode must be one of {join_PADDING_MODES}, got {mode!r}").format(
                join_PADDING_MODES=", ".join(PADDING_MODES), mode=mode
            )
        )
    xa, w = np.asarray(x), np.asarray(weight)
    check_numeric(xa, "input")
    check_numeric(w, "weight")
    check_conv_shapes(xa.shape, w.shape, None, groups)
    if xa.size == 0 or w.size == 0:
        raise OptionError(
            _("input {xa_shape} and weight {w_shape} must not be empty").format(
                xa_shape=xa.shape, w_shape=w.shape
            )
        )
    geometry = resolve_geometry(
        (xa.shape[-2], xa.shape[-1]),
        (w.shape[-2], w.shape[-1]),
        stride=stride,
        padding=padding,
        dilation=dilation,
    )
    return pad_input(xa, geometry.padding, mode)
