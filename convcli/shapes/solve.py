"""The size questions asked the other way round: which options give a wanted output size.

Pure Python. Each solver works one axis at a time and returns every answer it finds,
each recomputed by the forward formula (``output_size``, ``pool_output_size``,
``transposed_output_size``) before it is returned, so an answer is never the inverse
formula's word alone. Where nothing reaches the wanted size, ``NoAnswer`` carries the
nearest sizes that can be reached.

- Convolution: the padding per side (and, without a fixed stride, the stride) that
  gives the size; ``leftover`` is the input cells (padding counted) after the last
  window that no window reaches. ``same`` is named where stride 1 keeps the size.
- Transposed convolution: the ``output_padding`` (and, if the given padding cannot, the
  paddings that can) giving the size; whether the convolution with the same options
  maps that size back to the input size (the one it undoes).
- Max and average pooling: the padding (at most half the window), and whether
  ``ceil_mode`` is needed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from convcli.errors import ConvcliError, ShapeError
from convcli.i18n import _
from convcli.shapes.geometry import output_size
from convcli.shapes.pooling import pool_output_size
from convcli.shapes.transposed import transposed_output_size

__all__ = [
    "AxisAnswer",
    "NoAnswer",
    "solve_conv_axis",
    "solve_pool_axis",
    "solve_transposed_axis",
]

# Without --stride, strides up to the window's span are tried (a longer stride skips input);
# the answers listed and the strides tried are capped, so huge sizes cost nothing.
_MAX_ANSWERS = 64
_MAX_STRIDES = 4096


@dataclass(frozen=True)
class AxisAnswer:
    """One way to get the wanted size on one axis.

    ``padding`` is per side, or ``"same"``; ``output_padding`` only for a transposed
    convolution; ``ceil_mode`` only for pooling; ``leftover``: input cells (padding
    counted) after the last window; ``undoes``: a transposed convolution's output that the
    convolution with the same options maps back to the input size.
    """

    stride: int
    padding: int | str
    output: int
    leftover: int = 0
    output_padding: int | None = None
    ceil_mode: bool | None = None
    undoes: bool | None = None


class NoAnswer(ShapeError):
    """No option reaches the wanted size; ``nearest`` holds the closest reachable sizes."""

    def __init__(self, message: str, /, nearest: tuple[int, ...] = (), **fields: object) -> None:
        super().__init__(message, **fields)
        self.nearest = nearest


def _span(k: int, d: int) -> int:
    return d * (k - 1) + 1


def _nearest(reachable: Iterable[int], want: int) -> tuple[int, ...]:
    """The closest reachable sizes below and above ``want`` (one of them if only one side)."""
    sizes = sorted(set(reachable))
    below = [size for size in sizes if size < want]
    above = [size for size in sizes if size > want]
    return tuple([*below[-1:], *above[:1]])


def solve_conv_axis(
    n: int, k: int, want: int, *, stride: int | None = None, dilation: int = 1
) -> list[AxisAnswer]:
    """Paddings (and strides, when ``stride`` is None) that give ``want`` cells on one axis.

    With a given stride every padding >= 0 that works is returned; without one, strides
    from 1 to the window's span, with paddings below the span (each window then still
    reads an input cell). ``same`` comes first where stride 1 keeps the size.

    Parameters
    ----------
    n, k, want : int
        Input length, kernel length and the wanted output length of the axis.
    stride : int or None
        The stride, or None to try strides too.
    dilation : int

    Returns
    -------
    list of AxisAnswer
        At most 64, each recomputed by ``output_size``.

    Raises
    ------
    NoAnswer
        Nothing gives ``want``; ``nearest`` holds the closest reachable lengths.

    Examples
    --------
    >>> [(a.stride, a.padding, a.leftover) for a in solve_conv_axis(56, 3, 28)]
    [(2, 1, 1)]
    >>> [(a.stride, a.padding) for a in solve_conv_axis(32, 3, 32, stride=1)]
    [(1, 'same'), (1, 1)]
    """
    span = _span(k, dilation)
    answers: list[AxisAnswer] = []
    if want == n and stride in (None, 1):
        answers.append(AxisAnswer(stride=1, padding="same", output=n))
    # Without a stride: from 1 up, while a padding below the span can still reach ``want``.
    strides = range(stride, stride + 1) if stride is not None else range(1, span + 1)
    for s in strides:
        if stride is None and (s * (want - 1) > n + span - 2 or s > _MAX_STRIDES):
            break
        # floor((n + 2p - span) / s) + 1 == want  <=>  s(want-1) <= n + 2p - span < s*want
        low = max(0, -(-(s * (want - 1) + span - n) // 2))
        high = (s * want - 1 + span - n) // 2
        if stride is None:
            high = min(high, span - 1)
        for p in range(low, high + 1):
            got = output_size(n, k, stride=s, padding=p, dilation=dilation)
            if got == want:
                leftover = n + 2 * p - span - s * (want - 1)
                answers.append(AxisAnswer(stride=s, padding=p, output=got, leftover=leftover))
            if len(answers) >= _MAX_ANSWERS:
                return answers
    if not answers:
        reachable = []
        for s in (stride or 1,):
            first = max(0, -(-(span - n) // 2))
            centre = max(first, (s * (want - 1) + span - n) // 2)
            for p in {first, *range(max(first, centre - 2), centre + 3)}:
                reachable.append(output_size(n, k, stride=s, padding=p, dilation=dilation))
        nearest = _nearest(reachable, want)
        raise NoAnswer(
            _(
                "no padding gives an output of {want} from {n} with kernel {k}{how}: the "
                "nearest reachable sizes are {sizes}"
            ),
            nearest=nearest,
            want=want,
            n=n,
            k=k,
            how=_(", stride {stride}").format(stride=stride) if stride is not None else "",
            sizes=_or(nearest),
        )
    return answers


def _or(sizes: tuple[int, ...]) -> str:
    return _(" or ").join(str(size) for size in sizes)


def solve_transposed_axis(
    n: int,
    k: int,
    want: int,
    *,
    stride: int = 1,
    padding: int = 0,
    dilation: int = 1,
) -> list[AxisAnswer]:
    """The ``output_padding`` that gives ``want`` with ``padding``; if none does, the
    (padding, output_padding) pairs that do, paddings below the window's span.

    ``output_padding`` must stay below the stride or the dilation (PyTorch's rule).

    Parameters
    ----------
    n, k, want : int
        Input length, kernel length and the wanted output length of the axis.
    stride, padding, dilation : int

    Returns
    -------
    list of AxisAnswer
        Each with its ``output_padding`` and whether it ``undoes`` a convolution.

    Raises
    ------
    NoAnswer
        Nothing gives ``want``; ``nearest`` holds the closest reachable lengths.

    Examples
    --------
    >>> [(a.padding, a.output_padding, a.undoes) for a in
    ...  solve_transposed_axis(28, 3, 56, stride=2, padding=1)]
    [(1, 1, True)]
    """
    limit = max(stride, dilation)
    span = _span(k, dilation)

    def answers_for(p: int) -> list[AxisAnswer]:
        found = []
        # The size with output_padding 0, by the formula (PyTorch may refuse it alone).
        op = want - ((n - 1) * stride - 2 * p + dilation * (k - 1) + 1)
        if 0 <= op < limit:
            got = _transposed_size(n, k, stride, p, dilation, op)
            if got == want:
                back = _conv_back(want, k, stride, p, dilation)
                found.append(
                    AxisAnswer(
                        stride=stride, padding=p, output=got, output_padding=op, undoes=back == n
                    )
                )
        return found

    answers = answers_for(padding)
    if answers:
        return answers
    # Each padding p gives output_padding want - C + 2p: those in [0, limit) are answers.
    base = (n - 1) * stride + dilation * (k - 1) + 1
    low = max(0, -(-(base - want) // 2))
    high = min(span - 1, (base - want + limit - 1) // 2)
    for p in range(low, min(high, low + _MAX_ANSWERS) + 1):
        if p != padding:
            answers += answers_for(p)
    if answers:
        return answers
    reachable = []
    for p in sorted({padding, 0}):
        lowest = base - 2 * p
        for op in {0, limit - 1, *range(max(0, want - lowest - 2), max(0, want - lowest + 3))}:
            if op < limit:
                size = _transposed_size(n, k, stride, p, dilation, op)
                if size is not None:
                    reachable.append(size)
    nearest = _nearest(reachable, want)
    raise NoAnswer(
        _(
            "no output_padding (below the stride or the dilation) and no padding gives an "
            "output of {want} from {n} with kernel {k}, stride {stride}: the nearest reachable "
            "sizes are {sizes}"
        ),
        nearest=nearest,
        want=want,
        n=n,
        k=k,
        stride=stride,
        sizes=_or(nearest),
    )


def _conv_back(m: int, k: int, s: int, p: int, d: int) -> int | None:
    """What the convolution with the same options makes of ``m`` (None: too small)."""
    if m + 2 * p < _span(k, d):
        return None
    return output_size(m, k, stride=s, padding=p, dilation=d)


def _transposed_size(n: int, k: int, s: int, p: int, d: int, op: int = 0) -> int | None:
    """``transposed_output_size``, or None where PyTorch refuses the options."""
    try:
        return transposed_output_size(n, k, stride=s, padding=p, output_padding=op, dilation=d)
    except ConvcliError:
        return None


def _pool_size(n: int, k: int, s: int, p: int, d: int, ceil: bool) -> int | None:
    """``pool_output_size``, or None where the window does not fit."""
    try:
        return pool_output_size(n, k, stride=s, padding=p, dilation=d, ceil_mode=ceil)
    except ConvcliError:
        return None


def solve_pool_axis(
    n: int,
    k: int,
    want: int,
    *,
    stride: int | None = None,
    padding: int = 0,
    dilation: int = 1,
) -> list[AxisAnswer]:
    """Whether ``want`` needs ``ceil_mode`` with ``padding``; if neither mode gives it,
    the paddings (at most half the window) that do, in either mode.

    Parameters
    ----------
    n, k, want : int
        Input length, window length and the wanted output length of the axis.
    stride : int or None
        None: the window (PyTorch's default).
    padding, dilation : int

    Returns
    -------
    list of AxisAnswer
        Each with ``ceil_mode``: True only where rounding down does not give ``want``.

    Raises
    ------
    NoAnswer
        Nothing gives ``want``; ``nearest`` holds the closest reachable lengths.

    Examples
    --------
    >>> [(a.padding, a.ceil_mode) for a in solve_pool_axis(5, 2, 3)]
    [(0, True)]
    >>> [(a.padding, a.ceil_mode) for a in solve_pool_axis(112, 3, 56, stride=2, padding=1)]
    [(1, False)]
    """
    s = k if stride is None else stride
    span = _span(k, dilation)

    def answers_for(p: int) -> list[AxisAnswer]:
        found: list[AxisAnswer] = []
        for ceil in (False, True):
            got = _pool_size(n, k, s, p, dilation, ceil)
            if got == want and not (ceil and found):
                leftover = n + 2 * p - span - s * (want - 1)
                found.append(
                    AxisAnswer(
                        stride=s, padding=p, output=got, leftover=max(leftover, 0), ceil_mode=ceil
                    )
                )
        return found

    answers = answers_for(padding)
    if answers:
        return answers
    # Rounding down needs s(want-1) <= n + 2p - span < s*want; rounding up differs by one
    # output at most, so the paddings a stride either side of that range are enough.
    low = max(0, (s * (want - 2) + span - n) // 2)
    high = min(k // 2, (s * (want + 1) + span - n) // 2 + 1)
    for p in range(low, min(high, low + _MAX_ANSWERS) + 1):
        if p != padding:
            answers += answers_for(p)
    if answers:
        return answers
    candidates = {0, k // 2, padding, *range(low, min(high, low + 8) + 1)}
    reachable = [
        size
        for p in sorted(candidates)
        if 0 <= p <= k // 2
        for ceil in (False, True)
        if (size := _pool_size(n, k, s, p, dilation, ceil)) is not None
    ]
    nearest = _nearest(reachable, want)
    raise NoAnswer(
        _(
            "no padding (at most half the window) gives a pooled output of {want} from {n} "
            "with kernel {k}, stride {s}, in floor or ceil mode: the nearest reachable sizes "
            "are {sizes}"
        ),
        nearest=nearest,
        want=want,
        n=n,
        k=k,
        s=s,
        sizes=_or(nearest),
    )
