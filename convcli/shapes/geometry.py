"""Shape arithmetic of a 2-D convolution: argument normalisation and output sizes.

Pure Python: no numpy arrays, no I/O. Every function here works on shapes only, so
``convcli shapes`` can explain a layer without any tensor.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Literal

from convcli.errors import OptionError, Param, ShapeError, Words
from convcli.i18n import N_, _

Pair = tuple[int, int]
IntOrPair = int | tuple[int, int]
PaddingArg = int | tuple[int, int] | Literal["same", "valid"]

__all__ = [
    "ConvGeometry",
    "IntOrPair",
    "PaddingArg",
    "Pair",
    "as_int",
    "as_pair",
    "output_size",
    "resolve_geometry",
]


def as_pair(value: IntOrPair, name: str, *, minimum: int) -> Pair:
    """Return ``value`` as an ``(h, w)`` pair of ints, each at least ``minimum``.

    Parameters
    ----------
    value : int or tuple of two ints
        A single number used for both axes, or one number per axis.
    name : str
        The argument's name, used in the error message.
    minimum : int
        The smallest allowed value.

    Returns
    -------
    tuple of int
        ``(h, w)``.

    Examples
    --------
    >>> as_pair(2, "stride", minimum=1)
    (2, 2)
    >>> as_pair((1, 3), "dilation", minimum=1)
    (1, 3)
    """
    items = value if isinstance(value, (tuple, list)) else (value, value)
    if len(items) != 2:
        raise OptionError(
            _("{name} must be an int or a pair of ints, got {value!r}").format(
                name=_(name), value=value
            )
        )
    pair = (as_int(items[0], name, value), as_int(items[1], name, value))
    if min(pair) < minimum:
        raise OptionError(
            _("{name} must be >= {minimum}, got {value!r}").format(
                name=_(name), minimum=minimum, value=value
            )
        )
    return pair


def as_int(item: object, name: str, shown: object = None) -> int:
    """``item`` as a Python int: ints and numpy integers, never bools or floats.

    Examples
    --------
    >>> as_int(3, "groups")
    3
    >>> as_int(2.0, "groups")
    Traceback (most recent call last):
    ...
    convcli.errors.OptionError: groups must be an int or a pair of ints, got 2.0
    """
    # operator.index takes exactly the integer types (numpy's too), not 2.0 or "2".
    if not isinstance(item, bool):
        try:
            return operator.index(item)  # type: ignore[arg-type]
        except TypeError:
            pass
    raise OptionError(
        _(
            "{name} must be an int or a pair of ints, got {item_if_shown_is_None_else_shown!r}"
        ).format(name=_(name), item_if_shown_is_None_else_shown=item if shown is None else shown)
    )


def output_size(n: int, k: int, *, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Length of one output axis: ``floor((n + 2p - d(k-1) - 1) / s) + 1``.

    ``padding`` here is the padding on *each* side; for asymmetric padding pass
    half of the total (``resolve_geometry`` does the general case).

    Examples
    --------
    >>> output_size(3, 2)
    2
    >>> output_size(5, 3, stride=2, padding=1)
    3
    >>> output_size(7, 3, dilation=2)
    3
    """
    return _axis_output(n, k, stride, 2 * padding, dilation)


def _axis_output(n: int, k: int, stride: int, total_padding: int, dilation: int) -> int:
    return (n + total_padding - dilation * (k - 1) - 1) // stride + 1


@dataclass(frozen=True)
class ConvGeometry:
    """The resolved geometry of one convolution.

    ``padding`` is ``(top, bottom, left, right)``: PyTorch's ``"same"`` puts the
    extra row/column of an even effective kernel at the bottom/right.
    """

    in_size: Pair
    kernel_size: Pair
    stride: Pair
    padding: tuple[int, int, int, int]
    dilation: Pair
    out_size: Pair

    @property
    def effective_kernel(self) -> Pair:
        """The span of the dilated kernel, ``d(k-1)+1`` per axis (the receptive field)."""
        return (
            self.dilation[0] * (self.kernel_size[0] - 1) + 1,
            self.dilation[1] * (self.kernel_size[1] - 1) + 1,
        )

    @property
    def padded_size(self) -> Pair:
        top, bottom, left, right = self.padding
        return (self.in_size[0] + top + bottom, self.in_size[1] + left + right)


def resolve_geometry(
    in_size: Pair,
    kernel_size: Pair,
    *,
    stride: IntOrPair = 1,
    padding: PaddingArg = 0,
    dilation: IntOrPair = 1,
) -> ConvGeometry:
    """Normalise the convolution arguments and compute the output size.

    Raises ``ValueError`` when an argument is out of range or the (dilated) kernel
    does not fit in the padded input.

    Examples
    --------
    >>> g = resolve_geometry((3, 3), (2, 2))
    >>> g.out_size
    (2, 2)
    >>> resolve_geometry((5, 5), (4, 4), padding="same").padding
    (1, 2, 1, 2)
    """
    s = as_pair(stride, N_("stride"), minimum=1)
    d = as_pair(dilation, N_("dilation"), minimum=1)
    k = as_pair(kernel_size, N_("kernel size"), minimum=1)
    try:
        pads = _resolve_padding(padding, s, d, k)
    except OptionError as err:
        if padding != "same":
            raise
        raise OptionError(
            _("{problem}{hint}"), problem=err, hint=_same_with_stride(in_size, k, s, d)
        ) from None
    top, bottom, left, right = pads
    padded = (in_size[0] + top + bottom, in_size[1] + left + right)
    effective = (d[0] * (k[0] - 1) + 1, d[1] * (k[1] - 1) + 1)
    for axis, name in enumerate((N_("height"), N_("width"))):
        if effective[axis] > padded[axis]:
            swapped = k[0] >= in_size[0] and k[1] >= in_size[1] and in_size != k
            if d[axis] == 1:
                problem = _(
                    "kernel {name} {k_axis} is larger than the padded input {name} {padded_axis}"
                )
            else:
                problem = _(
                    "kernel {name} {k_axis} (dilated to {effective_axis}) is larger than the "
                    "padded input {name} {padded_axis}"
                )
            raise ShapeError(
                problem.format(
                    name=_(name),
                    k_axis=k[axis],
                    effective_axis=effective[axis],
                    padded_axis=padded[axis],
                )
                + (": " + _("did you swap INPUT and KERNEL?") if swapped else "")
            )
    out = (
        _axis_output(in_size[0], k[0], s[0], top + bottom, d[0]),
        _axis_output(in_size[1], k[1], s[1], left + right, d[1]),
    )
    return ConvGeometry(
        in_size=in_size, kernel_size=k, stride=s, padding=pads, dilation=d, out_size=out
    )


def _same_with_stride(in_size: Pair, k: Pair, s: Pair, d: Pair) -> Words:
    """What to use instead of 'same' with a stride: the padding that gives ceil(n/s).

    Examples
    --------
    >>> print(str(_same_with_stride((28, 28), (3, 3), (2, 2), (1, 1)))[2:])
    PyTorch refuses it too; for ceil(n/s) = 14x14 pad 0+1 rows, 0+1 columns: padding=1 gives 14x14
    """
    want = [-(-in_size[i] // s[i]) for i in range(2)]
    totals = [max((want[i] - 1) * s[i] + d[i] * (k[i] - 1) + 1 - in_size[i], 0) for i in range(2)]
    per_side = [-(-t // 2) for t in totals]
    got = [(in_size[i] + 2 * per_side[i] - d[i] * (k[i] - 1) - 1) // s[i] + 1 for i in range(2)]
    option = per_side[0] if per_side[0] == per_side[1] else (per_side[0], per_side[1])
    return Words(
        ": "
        + _(
            "PyTorch refuses it too; for ceil(n/s) = {want} pad {rows} rows, {cols} columns: "
            "{padding} gives {got}"
        ),
        want=f"{want[0]}x{want[1]}",
        rows=f"{totals[0] // 2}+{totals[0] - totals[0] // 2}",
        cols=f"{totals[1] // 2}+{totals[1] - totals[1] // 2}",
        padding=Param("padding", option),
        got=f"{got[0]}x{got[1]}",
    )


def _resolve_padding(
    padding: PaddingArg, stride: Pair, dilation: Pair, kernel: Pair
) -> tuple[int, int, int, int]:
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding == "same":
            if stride != (1, 1):
                raise OptionError(
                    _("padding='same' needs stride 1, got stride {stride}").format(stride=stride)
                )
            totals = [dilation[i] * (kernel[i] - 1) for i in range(2)]
            return (
                totals[0] // 2,
                totals[0] - totals[0] // 2,
                totals[1] // 2,
                totals[1] - totals[1] // 2,
            )
        raise OptionError(
            _("padding must be an int, a pair, 'same' or 'valid', got {padding!r}").format(
                padding=padding
            )
        )
    p = as_pair(padding, N_("padding"), minimum=0)
    return (p[0], p[0], p[1], p[1])
