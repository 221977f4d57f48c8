"""Receptive fields through a stack of layers, one axis at a time.

Two conventions, each stated where a number is shown:

- **Araujo et al.**, "Computing Receptive Fields of Convolutional Neural Networks"
  (Distill, 2019): a chain of windowed layers (convolution, pooling) gives every output
  cell a field of the same size ``r``, cells ``jump`` input pixels apart (the effective
  stride ``S``), cell 0's field centred at ``start`` (0-based input coordinates; may be
  negative or a half, because the field is counted through the padding). Per layer with
  a window spanning ``k`` pixels (``d(k-1)+1`` when dilated), stride ``s`` and top/left
  padding ``p``::

      r' = r + (k - 1) * jump        jump' = jump * s        start' = start + ((k-1)/2 - p) * jump

- **Carried intervals**: after a transposed convolution with stride > 1 or an adaptive
  pooling whose sizes do not divide, fields differ from cell to cell, so the field of one
  chosen output cell is computed by carrying an interval of indices back through every
  layer, clipped to each layer's input: the first and last cell whose value reaches it
  (exact for each layer; through a chain, exact when no layer is dilated, else it may
  also span cells between dilated taps).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Literal

__all__ = [
    "GLOBAL_FIELD",
    "INPUT_FIELD",
    "AxisStep",
    "Field",
    "as_window",
    "back",
    "compose",
    "union",
    "whole",
]


@dataclass(frozen=True)
class AxisStep:
    """How one layer maps one spatial axis of its input to its output.

    ``window``: output cell ``o`` reads inputs ``o*stride - padding`` ... ``+ span - 1``
    (convolution, pooling; ``span`` is the dilated window). ``transposed``: output ``o``
    receives input ``i`` when ``i*stride - padding + dilation*t == o`` for a tap ``t``.
    ``adaptive``: output ``o`` reads ``floor(o*n_in/n_out)`` ... ``ceil((o+1)*n_in/n_out) - 1``.
    ``identity``: cell ``o`` reads cell ``o``. ``padding_mode`` (a window's) says what the
    padding holds: zeros, or input cells seen again (reflect, replicate, circular).
    ``upsample``: output ``o`` reads input ``floor(o * ratio)`` (``interpolation``
    ``nearest``) or the two cells around ``ratio * (o + 1/2) - 1/2`` (``bilinear``;
    ``bilinear-corners``: around ``ratio * o``), ``ratio`` input cells per output cell.
    """

    kind: Literal["window", "transposed", "adaptive", "identity", "upsample"]
    n_in: int
    n_out: int
    span: int = 1
    stride: int = 1
    padding: int = 0
    kernel: int = 1
    dilation: int = 1
    padding_mode: str = "zeros"
    ratio: Fraction = Fraction(1)
    interpolation: str = "nearest"


@dataclass(frozen=True)
class Field:
    """Araujo's receptive field on one axis: size ``r``, ``jump`` and cell 0's centre.

    ``whole``: every output cell sees the whole input (a branch pooled to one cell and
    broadcast back, as in squeeze-excitation); ``size`` is then not the field, and
    ``jump`` and ``start`` (those of the other branches; ``jump`` 0: not known) say how
    the cells' own windows step.
    """

    size: int
    jump: int
    start: Fraction
    whole: bool = False

    @property
    def first(self) -> Fraction:
        """The first input index of cell 0's field (``start - (r-1)/2``)."""
        return self.start - Fraction(self.size - 1, 2)


INPUT_FIELD = Field(size=1, jump=1, start=Fraction(0))
GLOBAL_FIELD = Field(size=0, jump=0, start=Fraction(0), whole=True)


def whole(field: Field | None) -> Field:
    """``field`` broadcast over the whole input: every output cell sees all of it."""
    return GLOBAL_FIELD if field is None else replace(field, whole=True)


def compose(field: Field | None, step: AxisStep) -> Field | None:
    """The field after ``step``, given the field of its input (``None``: not uniform).

    Examples
    --------
    >>> f = compose(INPUT_FIELD, AxisStep("window", 28, 28, span=5, padding=2))
    >>> f.size, f.jump, f.start
    (5, 1, Fraction(0, 1))
    >>> f = compose(f, AxisStep("window", 28, 14, span=2, stride=2))
    >>> f.size, f.jump, f.start
    (6, 2, Fraction(1, 2))
    """
    if field is None:
        return None
    if step.kind == "identity":
        return field
    window = as_window(step)
    if window is None:
        return GLOBAL_FIELD if field.whole else None
    return Field(
        size=field.size + (window.span - 1) * field.jump,
        jump=field.jump * window.stride,
        start=field.start + (Fraction(window.span - 1, 2) - window.padding) * field.jump,
        whole=field.whole,
    )


def as_window(step: AxisStep) -> AxisStep | None:
    """``step`` as an equivalent window, when there is one (else ``None``).

    A transposed convolution with stride 1 is a convolution padded with
    ``d(k-1) - p``; an adaptive pooling whose output size divides its input size is a
    pooling with window and stride ``n_in / n_out``.
    """
    if step.kind == "window":
        return step
    if step.kind == "transposed" and step.stride == 1:
        span = step.dilation * (step.kernel - 1) + 1
        return AxisStep(
            "window",
            step.n_in,
            step.n_out,
            span=span,
            padding=span - 1 - step.padding,
            kernel=step.kernel,
            dilation=step.dilation,
        )
    if step.kind == "adaptive" and step.n_in % step.n_out == 0:
        size = step.n_in // step.n_out
        return AxisStep("window", step.n_in, step.n_out, span=size, stride=size, kernel=size)
    return None


def union(a: Field | None, b: Field | None) -> Field | None:
    """The field of a sum of two paths: the smallest interval holding both fields.

    Uniform only when both are and their jumps agree (else the union's size changes
    from cell to cell).

    Examples
    --------
    >>> u = union(Field(5, 2, Fraction(1)), Field(1, 2, Fraction(0)))
    >>> u.size, u.jump, u.start
    (5, 2, Fraction(1, 1))
    """
    if (a is not None and a.whole) or (b is not None and b.whole):
        return _whole_union(a, b)
    if a is None or b is None or a.jump != b.jump:
        return None
    first = min(a.first, b.first)
    last = max(a.first + a.size - 1, b.first + b.size - 1)
    return Field(size=int(last - first) + 1, jump=a.jump, start=(first + last) / 2)


def _whole_union(a: Field | None, b: Field | None) -> Field:
    """A union with a whole field: whole, with the jump and start of the cells' own windows
    where the parts have them (a branch broadcast from one cell has none: jump 0).

    Examples
    --------
    >>> seen = whole(Field(3, 2, Fraction(0)))
    >>> _whole_union(seen, GLOBAL_FIELD) == seen
    True
    """
    if a is None or b is None:
        return GLOBAL_FIELD
    stepping = [field for field in (a, b) if field.jump]
    local = [field for field in stepping if not field.whole]
    if len(local) == 1:
        return whole(local[0])
    if len(stepping) == 1:
        return stepping[0]
    if len(stepping) == 2 and a.jump == b.jump:
        return a
    return GLOBAL_FIELD


def _upsample_sources(step: AxisStep, o: int) -> tuple[int, ...]:
    """The input cells output ``o`` of an upsampling reads (with a nonzero weight)."""
    last = step.n_in - 1
    if step.interpolation == "nearest":
        return (min(math.floor(o * step.ratio), last),)
    if step.interpolation == "bilinear":
        source = max(step.ratio * (o + Fraction(1, 2)) - Fraction(1, 2), Fraction(0))
    else:
        source = step.ratio * o
    first = min(math.floor(source), last)
    if source > first and first < last:
        return (first, first + 1)
    return (first,)


def back(step: AxisStep, lo: int, hi: int) -> tuple[int, int] | None:
    """The first and last input index that output cells ``lo`` ... ``hi`` read.

    Only cells inside the input count (padding is not a cell). ``None`` when no input
    cell reaches them (a transposed convolution's gaps). Exact for one layer: dilated
    taps that land in the padding are skipped tap by tap.

    Examples
    --------
    >>> back(AxisStep("window", 7, 3, span=3, kernel=3, stride=2, padding=1), 0, 0)
    (0, 1)
    >>> back(AxisStep("window", 3, 1, span=5, kernel=3, dilation=2, padding=1), 0, 0)
    (1, 1)
    >>> back(AxisStep("transposed", 3, 7, kernel=3, stride=2), 3, 3)
    (1, 1)
    >>> back(AxisStep("adaptive", 5, 3), 1, 1)
    (1, 3)
    """
    if step.kind == "identity":
        return _clipped(lo, hi, step.n_in)
    if step.kind == "upsample":
        lo, hi = max(lo, 0), min(hi, step.n_out - 1)
        if lo > hi:
            return None
        return _upsample_sources(step, lo)[0], _upsample_sources(step, hi)[-1]
    if step.kind == "adaptive":
        return _clipped(
            lo * step.n_in // step.n_out, -((-(hi + 1) * step.n_in) // step.n_out) - 1, step.n_in
        )
    s, p, d, n = step.stride, step.padding, step.dilation, step.n_in
    if step.kind == "window" and step.padding_mode != "zeros":
        return _through_padding(step.padding_mode, lo * s - p, hi * s - p + step.span - 1, n)
    if step.kernel > MAX_TAPS or (step.kernel == 1 and step.span > 1):
        # A window given by its span alone, or too many taps to walk: the span, clipped.
        if step.kind == "window":
            return _clipped(lo * s - p, hi * s - p + step.span - 1, n)
        reach = step.dilation * (step.kernel - 1)
        return _clipped(_ceil_div(lo + p - reach, s), (hi + p) // s, n)
    reached: list[tuple[int, int]] = []
    for tap in range(step.kernel):
        if step.kind == "window":
            # Input o*s - p + d*tap for o in [lo, hi], kept inside [0, n - 1].
            o_first = max(lo, _ceil_div(p - d * tap, s))
            o_last = min(hi, (n - 1 + p - d * tap) // s)
            if o_first <= o_last:
                reached.append((o_first * s - p + d * tap, o_last * s - p + d * tap))
        else:
            # Input i reaches output i*s - p + d*tap: i*s in [lo + p - d*tap, hi + p - d*tap].
            first = max(0, _ceil_div(lo + p - d * tap, s))
            last = min(n - 1, (hi + p - d * tap) // s)
            if first <= last:
                reached.append((first, last))
    if not reached:
        return None
    return min(first for first, _ in reached), max(last for _, last in reached)


MAX_TAPS = 4096
# Cells times taps walked one by one before ``back_cells`` falls back to ``back``'s interval.
MAX_CELL_STEPS = 1_000_000


def back_cells(step: AxisStep, cells: frozenset[int]) -> frozenset[int]:
    """The input cells that output ``cells`` read: exact, holes included.

    ``back`` gives the first and last of them; carrying only that interval through several
    layers counts the holes a stride leaves (and the cells a zero padding shows) as reached.
    A set keeps them apart. Cells in a zero padding reach nothing; reflect, replicate and
    circular padding reach the cell they copy. A set too large to walk tap by tap falls back
    to ``back``'s interval.

    Examples
    --------
    >>> sorted(back_cells(AxisStep("window", 5, 3, span=1, kernel=1, stride=2), frozenset({0, 1})))
    [0, 2]
    >>> sorted(back_cells(AxisStep("window", 3, 5, span=1, kernel=1, padding=1), frozenset({0, 2})))
    [1]
    >>> sorted(back_cells(AxisStep("transposed", 3, 7, kernel=3, stride=2), frozenset({3})))
    [1]
    """
    if not cells:
        return frozenset()
    taps = step.kernel if step.kind in ("window", "transposed") else 1
    if (
        len(cells) * max(taps, 1) > MAX_CELL_STEPS
        or step.kernel > MAX_TAPS
        or (step.kind == "window" and step.kernel == 1 and step.span > 1)
    ):
        span = back(step, min(cells), max(cells))
        return frozenset() if span is None else frozenset(range(span[0], span[1] + 1))
    n, s, p, d = step.n_in, step.stride, step.padding, step.dilation
    reached: set[int] = set()
    if step.kind == "identity":
        reached = {o for o in cells if 0 <= o < n}
    elif step.kind == "upsample":
        for o in cells:
            reached.update(_upsample_sources(step, o))
    elif step.kind == "adaptive":
        for o in cells:
            reached.update(range(o * n // step.n_out, -((-(o + 1) * n) // step.n_out)))
    elif step.kind == "window":
        for o in cells:
            for tap in range(step.kernel):
                source = _source(step.padding_mode, o * s - p + d * tap, n)
                if source is not None:
                    reached.add(source)
    else:
        for o in cells:
            for tap in range(step.kernel):
                shifted = o + p - d * tap
                if shifted % s == 0 and 0 <= shifted // s < n:
                    reached.add(shifted // s)
    return frozenset(reached)


def _source(mode: str, position: int, n: int) -> int | None:
    """The input cell a padded axis shows at ``position`` (``None``: a zero padding cell)."""
    if 0 <= position < n:
        return position
    if mode == "zeros":
        return None
    if mode == "replicate":
        return 0 if position < 0 else n - 1
    if mode == "circular":
        return position % n
    return -position if position < 0 else 2 * (n - 1) - position  # reflect


def _ceil_div(a: int, b: int) -> int:
    return -((-a) // b)


def _through_padding(mode: str, first: int, last: int, n: int) -> tuple[int, int]:
    """The first and last input cell that positions ``first`` ... ``last`` of a padded axis show.

    Reflect shows cell ``j`` at position ``-j`` (and ``n-1-j`` at ``n-1+j``), replicate the
    edge cells, circular wraps around (PyTorch keeps the padding below ``n``). The positions
    are taken as one interval: a dilated window's gaps are not followed.

    Examples
    --------
    >>> _through_padding("reflect", -2, 0, 5), _through_padding("circular", -1, 1, 5)
    ((0, 2), (0, 4))
    """
    right = n - 1
    pieces: list[tuple[int, int]] = []
    if max(first, 0) <= min(last, right):
        pieces.append((max(first, 0), min(last, right)))
    if first < 0:
        left_end = min(last, -1)
        pieces.append(
            {
                "reflect": (-left_end, -first),
                "replicate": (0, 0),
                "circular": (first + n, left_end + n),
            }[mode]
        )
    if last > right:
        right_start = max(first, n)
        pieces.append(
            {
                "reflect": (2 * right - last, 2 * right - right_start),
                "replicate": (right, right),
                "circular": (right_start - n, last - n),
            }[mode]
        )
    return min(a for a, _ in pieces), max(b for _, b in pieces)


def _clipped(first: int, last: int, n: int) -> tuple[int, int] | None:
    first, last = max(first, 0), min(last, n - 1)
    return (first, last) if first <= last else None
