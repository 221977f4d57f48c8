"""What every drawing shares: value text, titles' option text, positions and the size limits."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from typing import Any

from convcli.errors import BudgetError, Param, PositionError
from convcli.i18n import _

__all__ = [
    "MAX_CELLS",
    "MAX_FRAMES",
    "check_position",
    "check_size",
    "listing",
    "pair_text",
    "positions",
    "shapes_title",
    "sides_text",
    "sum_text",
    "value_text",
]

# A GIF frame per output cell: a few hundred frames is a long animation already.
MAX_FRAMES = 400
# Cells drawn in one picture (all grids): past this no cell is readable anyway.
MAX_CELLS = 3000


def value_text(value: Any) -> str:
    """A number as a cell shows it: integers whole, others to 3 significant digits.

    Examples
    --------
    >>> [value_text(v) for v in (56, 2.0, -0.125, 1/3, float("nan"), float("-inf"), -0.0)]
    ['56', '2', '-0.125', '0.333', 'NaN', '-inf', '-0']
    """
    if isinstance(value, complex) or (hasattr(value, "dtype") and value.dtype.kind == "c"):
        z = complex(value)
        return f"{value_text(z.real)}{'+' if z.imag >= 0 else '-'}{value_text(abs(z.imag))}j"
    if hasattr(value, "dtype") and value.dtype.kind in "iub":
        return str(int(value))
    if isinstance(value, (bool, int)):
        return str(int(value))
    number = float(value)
    if number != number:
        return "NaN"
    if number in (float("inf"), float("-inf")):
        return "inf" if number > 0 else "-inf"
    if number == 0 and math.copysign(1.0, number) < 0:
        return "-0"  # max pooling's result can hang on the sign (PyTorch's scan keeps it)
    if number.is_integer() and abs(number) < 1e6:
        return str(int(number))
    return f"{number:.3g}"


def sum_text(values: Sequence[Any]) -> str:
    """Terms of a sum as written by hand: a negative term is subtracted.

    Examples
    --------
    >>> sum_text([19, 37]), sum_text([-19, -21, 2.5])
    ('19 + 37', '-19 - 21 + 2.5')
    """
    text = ""
    for number, value in enumerate(values):
        shown = value_text(value)
        if number == 0:
            text = shown
        elif shown.startswith("-") and "j" not in shown:
            text += " - " + shown[1:]
        else:
            text += " + " + shown
    return text


def pair_text(pair: Sequence[int]) -> str:
    """``(2, 2)`` -> ``"2"``, ``(1, 2)`` -> ``"1,2"``.

    Examples
    --------
    >>> pair_text((2, 2)), pair_text((1, 2))
    ('2', '1,2')
    """
    return str(pair[0]) if len(set(pair)) == 1 else ",".join(map(str, pair))


def listing(parts: Sequence[str]) -> str:
    """Settings one after the other, separated as the selected language separates a list.

    Examples
    --------
    >>> listing(["stride 2", "padding 1", "groups 1"])
    'stride 2, padding 1, groups 1'
    """
    text = parts[0]
    for part in parts[1:]:
        text = _("{earlier}, {later}").format(earlier=text, later=part)
    return text


def sides_text(top: int, bottom: int, left: int, right: int) -> str:
    """Padding that differs between the sides, as a title states it.

    Examples
    --------
    >>> sides_text(0, 1, 0, 1)
    '0,1 (top,bottom) 0,1 (left,right)'
    """
    return _("{top},{bottom} (top,bottom) {left},{right} (left,right)").format(
        top=top, bottom=bottom, left=left, right=right
    )


def shapes_title(name: str, input_shape: str, kernel_shape: str, output_shape: str) -> str:
    """A drawing's first title line: the function and its shapes.

    Examples
    --------
    >>> shapes_title("conv2d", "5x5", "3x3", "3x3")
    'conv2d: input 5x5, kernel 3x3 -> output 3x3'
    """
    return _("{name}: input {input}, kernel {kernel} -> output {output}").format(
        name=name, input=input_shape, kernel=kernel_shape, output=output_shape
    )


def positions(shape: Sequence[int]) -> Iterator[tuple[int, ...]]:
    """Every index of an array of ``shape``, in row-major order.

    Examples
    --------
    >>> list(positions((2, 2)))
    [(0, 0), (0, 1), (1, 0), (1, 1)]
    """
    return itertools.product(*(range(n) for n in shape))


def check_position(position: Sequence[int], axes: Sequence[str], shape: Sequence[int]) -> None:
    """Raise ``PositionError`` unless ``position`` indexes an output of ``shape``.

    Examples
    --------
    >>> check_position((0, 3), ("m_h", "m_w"), (2, 2))
    Traceback (most recent call last):
    ...
    convcli.errors.PositionError: position 0,3 is out of range: m_w=3 but the output has m_w in 0..1
    """
    if len(position) != len(axes):
        shown = "x".join(map(str, shape))
        raise PositionError(
            _(
                "position needs {len_axes} indices ({join_axes}) for an output of shape {shown}, "
                "got {len_position}"
            ).format(
                len_axes=len(axes),
                join_axes=" ".join(axes),
                shown=shown,
                len_position=len(position),
            )
        )
    from convcli.ops.explain import check_in_range

    check_in_range(position, axes, shape)


def check_size(frames: int, cells: int, *, still: bool) -> None:
    """Refuse an animation of more than ``MAX_FRAMES`` frames or a picture of too many cells.

    Examples
    --------
    >>> check_size(9, 50, still=False)
    >>> check_size(900, 50, still=False)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    convcli.errors.BudgetError: an animation of 900 frames (one per output cell) is more than ...
    """
    if not still and frames > MAX_FRAMES:
        raise BudgetError(
            _(
                "an animation of {frames:,} frames (one per output cell) is more than "
                "{MAX_FRAMES:,}: draw one step with {position}, or a smaller configuration"
            ),
            frames=frames,
            MAX_FRAMES=MAX_FRAMES,
            position=Param("position"),
        )
    if cells > MAX_CELLS:
        raise BudgetError(
            _(
                "a picture of {cells:,} cells is more than {MAX_CELLS:,}, too many to read: draw a "
                "smaller configuration (fewer channels, a smaller input)"
            ).format(cells=cells, MAX_CELLS=MAX_CELLS)
        )
