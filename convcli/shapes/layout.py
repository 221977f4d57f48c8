"""Tensor layouts: which axis holds what in a file, and the move to PyTorch's order.

convcli computes in PyTorch's layouts: an input ``(n, c, h, w)`` (NCHW, or ``(c, h, w)``)
and a kernel ``(c_o, c_i, k_h, k_w)`` (OIHW). TensorFlow and Keras keep channels last:
an input ``(n, h, w, c)`` (NHWC) and a kernel ``(k_h, k_w, c_i, c_o)`` (HWIO). A file in
those layouts is read with ``input_layout="nhwc"`` and ``kernel_layout="hwio"``: its axes
are moved once, after loading, and everything after (shapes, results) is PyTorch's.

Pure Python: the axis orders and the shapes; moving the data is ``convcli.ops.layout``.
"""

from __future__ import annotations

from dataclasses import dataclass

from convcli.errors import OptionError, Param, Words
from convcli.i18n import _

__all__ = [
    "INPUT_LAYOUTS",
    "KERNEL_LAYOUTS",
    "Layouts",
    "input_order",
    "kernel_order",
    "layout_note",
    "parse_layout",
    "permuted",
]

Shape = tuple[int, ...]
INPUT_LAYOUTS = ("nchw", "nhwc")
KERNEL_LAYOUTS = ("oihw", "hwio")


@dataclass(frozen=True)
class Layouts:
    """The layouts of the input and the kernel files (PyTorch's by default)."""

    input: str = "nchw"
    kernel: str = "oihw"

    def __post_init__(self) -> None:
        # Frozen: the parsed (lower-case) names replace what was given.
        object.__setattr__(self, "input", parse_layout(self.input, INPUT_LAYOUTS, "input_layout"))
        object.__setattr__(
            self, "kernel", parse_layout(self.kernel, KERNEL_LAYOUTS, "kernel_layout")
        )

    @property
    def default(self) -> bool:
        """Whether both are PyTorch's: nothing is moved."""
        return self == Layouts()


def parse_layout(text: str, choices: tuple[str, ...], name: str = "") -> str:
    """``text`` as one of ``choices`` (any case), or an ``OptionError`` (naming ``name``).

    Examples
    --------
    >>> parse_layout("NHWC", INPUT_LAYOUTS, "input_layout")
    'nhwc'
    >>> parse_layout("hwc", INPUT_LAYOUTS, "input_layout")
    Traceback (most recent call last):
    ...
    convcli.errors.OptionError: input_layout: expected nchw or nhwc, got 'hwc'
    """
    value = str(text).strip().lower()
    if value not in choices:
        err = OptionError(
            _("expected {first} or {second}, got {text!r}").format(
                first=choices[0], second=choices[1], text=text
            )
        )
        raise (err.with_context(name) if name else err) from None
    return value


def input_order(ndim: int, layout: str) -> Shape | None:
    """The ``numpy.transpose`` axes that take an input of ``ndim`` axes in ``layout`` to
    PyTorch's; ``None`` when nothing moves (NCHW, or a 2-D input without channels).

    Examples
    --------
    >>> input_order(3, "nhwc"), input_order(4, "nhwc"), input_order(2, "nhwc")
    ((2, 0, 1), (0, 3, 1, 2), None)
    """
    if layout == "nchw" or ndim < 3:
        return None
    return (2, 0, 1) if ndim == 3 else (0, *range(3, ndim), 1, 2)


def kernel_order(ndim: int, layout: str) -> Shape | None:
    """The ``numpy.transpose`` axes that take a kernel of ``ndim`` axes in ``layout`` to
    PyTorch's; ``None`` when nothing moves (OIHW, or a 2-D kernel).

    HWIO ``(k_h, k_w, c_i, c_o)`` becomes ``(c_o, c_i, k_h, k_w)``; a 3-D kernel
    ``(k_h, k_w, c_i)`` becomes the lesson's ``(c_i, k_h, k_w)``.

    Examples
    --------
    >>> kernel_order(4, "hwio"), kernel_order(3, "hwio"), kernel_order(4, "oihw")
    ((3, 2, 0, 1), (2, 0, 1), None)
    """
    if layout == "oihw" or ndim < 3:
        return None
    return (3, 2, 0, 1) if ndim == 4 else (2, 0, 1)


def permuted(shape: Shape, order: Shape | None) -> Shape:
    """``shape`` with its axes in ``order`` (unchanged for ``None``).

    >>> permuted((3, 3, 64, 128), (3, 2, 0, 1))
    (128, 64, 3, 3)
    """
    return tuple(shape) if order is None else tuple(shape[axis] for axis in order)


def layout_note(input_shape: Shape, kernel_shape: Shape) -> Words | None:
    """A note when a 4-D kernel read as PyTorch's OIHW fits, but looks like TensorFlow's
    HWIO: a square window in its first two axes, an oblong one in its last two, and its
    third axis the input's channels (``None`` otherwise). Such a kernel computes without
    error, with the wrong window: 3x3x3x16 read as OIHW is a 3x16 window.

    Examples
    --------
    >>> print(layout_note((3, 32, 32), (3, 3, 3, 16)))  # doctest: +NORMALIZE_WHITESPACE
    kernel 3x3x3x16 read as (c_o, c_i, k_h, k_w) has a 3x16 window; if it is
    TensorFlow's (k_h, k_w, c_i, c_o), use kernel_layout='hwio'
    >>> layout_note((3, 32, 32), (16, 3, 3, 3)) is None
    True
    """
    if len(kernel_shape) != 4 or len(input_shape) < 3:
        return None
    k_h, k_w, c_i, _c_o = kernel_shape
    channels = input_shape[-3]
    if k_h != k_w or kernel_shape[2] == kernel_shape[3] or c_i == 0 or channels % c_i:
        return None
    return Words(
        _(
            "kernel {shape} read as (c_o, c_i, k_h, k_w) has a {window} window; if it is "
            "TensorFlow's (k_h, k_w, c_i, c_o), use {kernel_layout}"
        ),
        shape="x".join(map(str, kernel_shape)),
        window=f"{kernel_shape[2]}x{kernel_shape[3]}",
        kernel_layout=Param("kernel_layout", "hwio"),
    )
