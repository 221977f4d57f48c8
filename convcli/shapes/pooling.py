"""Output sizes of 2-D pooling, with PyTorch's rules (``aten/src/ATen/native/Pool.h``).

Pure Python. Three rules differ from the textbook formula and are followed here as
PyTorch's code does them:

- ``stride`` defaults to the window (``kernel_size``);
- ``padding`` may be at most half the window, ``kernel_size // 2`` per axis;
- with ``ceil_mode`` the size rounds up, but a last window that would *start* in the
  right padding is dropped (PyTorch issues 57178, 46929).

Adaptive pooling splits an axis of ``n`` values into ``m`` windows, window ``i``
covering ``floor(i*n/m)`` to ``ceil((i+1)*n/m)`` (end excluded).
"""

from __future__ import annotations

from dataclasses import dataclass

from convcli.errors import OptionError, ShapeError
from convcli.i18n import _
from convcli.shapes.geometry import IntOrPair, Pair, as_int, as_pair

__all__ = [
    "POOL_KINDS",
    "PoolGeometry",
    "PoolOptions",
    "adaptive_output_size",
    "adaptive_window",
    "ceil_mode_drops",
    "pool_output_size",
    "resolve_pool_geometry",
]

AdaptiveSize = int | None | tuple[int | None, int | None]
POOL_KINDS = ("max", "avg", "adaptive-max", "adaptive-avg")


@dataclass(frozen=True)
class PoolOptions:
    """One pooling: its ``kind`` (one of ``POOL_KINDS``) and PyTorch's arguments for it.

    ``kernel_size`` is for max/avg, ``output_size`` for the adaptive kinds; ``dilation``
    is max pooling's, ``count_include_pad`` and ``divisor_override`` average pooling's.
    """

    kind: str = "max"
    kernel_size: IntOrPair | None = None
    stride: IntOrPair | None = None
    padding: IntOrPair = 0
    dilation: IntOrPair = 1
    ceil_mode: bool = False
    count_include_pad: bool = True
    divisor_override: int | None = None
    output_size: AdaptiveSize = None


def pool_output_size(
    n: int,
    k: int,
    *,
    stride: int | None = None,
    padding: int = 0,
    dilation: int = 1,
    ceil_mode: bool = False,
) -> int:
    """Length of one pooled axis, as ``torch.nn.functional.max_pool2d`` computes it.

    ``floor((n + 2p - d(k-1) - 1) / s) + 1``, or with ``ceil_mode`` the ceiling, less one
    when that last window would start in the right padding.

    Parameters
    ----------
    n : int
        Input length on this axis.
    k : int
        Window length (before dilation).
    stride : int, optional
        Step between windows; ``None`` means ``k``, PyTorch's default.
    padding : int
        Implicit padding on each side, at most ``k // 2``.
    dilation : int
        Spacing between the window's taps (max pooling only; average pooling uses 1).
    ceil_mode : bool
        Round up instead of down.

    Returns
    -------
    int
        The output length, at least 1.

    Raises
    ------
    OptionError
        A window, stride or dilation below 1, a negative padding or one over half the window.
    ShapeError
        An output length below 1 (the window does not fit).

    Examples
    --------
    >>> pool_output_size(112, 3, stride=2, padding=1)
    56
    >>> pool_output_size(5, 2)
    2
    >>> pool_output_size(5, 2, ceil_mode=True)
    3
    >>> pool_output_size(5, 2, stride=2, padding=1, ceil_mode=True)  # 4th window dropped
    3
    >>> pool_output_size(5, 2, padding=2)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    convcli.errors.OptionError: padding must be at most half the window (kernel_size // 2 = 1), ...
    """
    k, s, p, d = _check_axis(k, stride, padding, dilation)
    out = _raw_size(n, k, s, p, d, ceil_mode)
    if ceil_mode and _starts_in_right_padding(out, n, s, p):
        out -= 1
    if out < 1:
        if d == 1:
            problem = _(
                "the pooling window {k} does not fit the input length {n} "
                "with padding {p}: output length would be {out}"
            )
        else:
            problem = _(
                "the pooling window {k} (dilated to {d_k_1_1}) does not fit the input length {n} "
                "with padding {p}: output length would be {out}"
            )
        raise ShapeError(problem.format(k=k, d_k_1_1=d * (k - 1) + 1, n=n, p=p, out=out))
    return out


def ceil_mode_drops(
    n: int, k: int, *, stride: int | None = None, padding: int = 0, dilation: int = 1
) -> bool:
    """Whether ``ceil_mode`` drops a last window because it would start in the right padding.

    Examples
    --------
    >>> ceil_mode_drops(5, 2, stride=2, padding=1)
    True
    >>> ceil_mode_drops(5, 2, stride=2)
    False
    """
    k, s, p, d = _check_axis(k, stride, padding, dilation)
    return _starts_in_right_padding(_raw_size(n, k, s, p, d, True), n, s, p)


def _check_axis(k: int, stride: int | None, padding: int, dilation: int) -> tuple[int, ...]:
    k = as_int(k, "kernel_size")
    s = k if stride is None else as_int(stride, "stride")
    p = as_int(padding, "padding")
    d = as_int(dilation, "dilation")
    if k < 1:
        raise OptionError(_("kernel_size must be >= 1, got {k}").format(k=k))
    if s < 1:
        raise OptionError(_("stride must be >= 1, got {s}").format(s=s))
    if d < 1:
        raise OptionError(_("dilation must be >= 1, got {d}").format(d=d))
    if p < 0:
        raise OptionError(_("padding must be >= 0, got {p}").format(p=p))
    # PyTorch checks both p <= (d(k-1)+1) // 2 and p <= k // 2; the second implies the first.
    if p > k // 2:
        raise OptionError(
            _(
                "padding must be at most half the window (kernel_size // 2 = {k_2}), got padding "
                "{p} with kernel_size {k}"
            ).format(k_2=k // 2, p=p, k=k)
        )
    return k, s, p, d


def _raw_size(n: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    span = n + 2 * p - d * (k - 1) - 1
    return (span + (s - 1 if ceil_mode else 0)) // s + 1


def _starts_in_right_padding(out: int, n: int, s: int, p: int) -> bool:
    return (out - 1) * s >= n + p


@dataclass(frozen=True)
class PoolGeometry:
    """The resolved geometry of one 2-D pooling: every field is ``(h, w)``.

    ``dropped`` says, per axis, whether ``ceil_mode`` dropped a window that would have
    started in the right padding.
    """

    in_size: Pair
    kernel_size: Pair
    stride: Pair
    padding: Pair
    dilation: Pair
    ceil_mode: bool
    out_size: Pair
    dropped: tuple[bool, bool]

    @property
    def effective_kernel(self) -> Pair:
        """The span of the dilated window, ``d(k-1)+1`` per axis."""
        return (
            self.dilation[0] * (self.kernel_size[0] - 1) + 1,
            self.dilation[1] * (self.kernel_size[1] - 1) + 1,
        )


def resolve_pool_geometry(
    in_size: Pair,
    kernel_size: IntOrPair,
    *,
    stride: IntOrPair | None = None,
    padding: IntOrPair = 0,
    dilation: IntOrPair = 1,
    ceil_mode: bool = False,
) -> PoolGeometry:
    """Normalise pooling arguments (ints or pairs) and compute the output size per axis.

    Parameters
    ----------
    in_size : (int, int)
        Input height and width.
    kernel_size, stride, padding, dilation : int or (int, int)
        As ``torch.nn.functional.max_pool2d``; ``stride=None`` means the window.
    ceil_mode : bool
        Round the output size up (see ``pool_output_size``).

    Returns
    -------
    PoolGeometry

    Examples
    --------
    >>> g = resolve_pool_geometry((5, 4), 2, stride=2, padding=1, ceil_mode=True)
    >>> g.out_size, g.dropped
    ((3, 3), (True, False))
    >>> resolve_pool_geometry((7, 7), (3, 2)).stride
    (3, 2)
    """
    k = as_pair(kernel_size, "kernel_size", minimum=1)
    s = k if stride is None else as_pair(stride, "stride", minimum=1)
    p = as_pair(padding, "padding", minimum=0)
    d = as_pair(dilation, "dilation", minimum=1)
    if p[0] > k[0] // 2 or p[1] > k[1] // 2:
        raise OptionError(
            _(
                "padding must be at most half the window (kernel_size // 2 = "
                "{show_k_0_2_k_1_2}), got padding {show_p} with kernel_size {show_k}"
            ).format(
                show_k_0_2_k_1_2=_show((k[0] // 2, k[1] // 2)), show_p=_show(p), show_k=_show(k)
            )
        )
    out = (
        pool_output_size(
            in_size[0], k[0], stride=s[0], padding=p[0], dilation=d[0], ceil_mode=ceil_mode
        ),
        pool_output_size(
            in_size[1], k[1], stride=s[1], padding=p[1], dilation=d[1], ceil_mode=ceil_mode
        ),
    )
    dropped = (
        ceil_mode and ceil_mode_drops(in_size[0], k[0], stride=s[0], padding=p[0], dilation=d[0]),
        ceil_mode and ceil_mode_drops(in_size[1], k[1], stride=s[1], padding=p[1], dilation=d[1]),
    )
    return PoolGeometry(
        in_size=in_size,
        kernel_size=k,
        stride=s,
        padding=p,
        dilation=d,
        ceil_mode=bool(ceil_mode),
        out_size=out,
        dropped=dropped,
    )


def _show(pair: Pair) -> str:
    return str(pair[0]) if pair[0] == pair[1] else f"{pair[0]},{pair[1]}"


def adaptive_window(i: int, n_in: int, n_out: int) -> tuple[int, int]:
    """The input range ``[start, end)`` of adaptive pooling's output index ``i`` on one axis.

    ``start = floor(i * n_in / n_out)``, ``end = ceil((i + 1) * n_in / n_out)``: windows
    may overlap by one and differ in length by one.

    Examples
    --------
    >>> [adaptive_window(i, 5, 3) for i in range(3)]
    [(0, 2), (1, 4), (3, 5)]
    """
    return (i * n_in) // n_out, -((-(i + 1) * n_in) // n_out)


def adaptive_output_size(in_size: Pair, output_size: AdaptiveSize) -> Pair:
    """Adaptive pooling's ``output_size`` (an int, a pair, ``None`` = keep that axis) as a pair.

    Examples
    --------
    >>> adaptive_output_size((7, 5), 1)
    (1, 1)
    >>> adaptive_output_size((7, 5), (None, 3))
    (7, 3)
    >>> adaptive_output_size((7, 5), 0)
    Traceback (most recent call last):
    ...
    convcli.errors.OptionError: output_size must be >= 1, got 0
    """
    items = output_size if isinstance(output_size, (tuple, list)) else (output_size, output_size)
    if len(items) != 2:
        raise OptionError(
            _("output_size must be an int or a pair of ints, got {output_size!r}").format(
                output_size=output_size
            )
        )
    sizes = tuple(
        in_size[axis] if item is None else as_int(item, "output_size", output_size)
        for axis, item in enumerate(items)
    )
    if min(sizes) < 1:
        # PyTorch returns an empty tensor for 0; convcli refuses empty arrays everywhere.
        raise OptionError(
            _("output_size must be >= 1, got {output_size!r}").format(output_size=output_size)
        )
    return sizes[0], sizes[1]
