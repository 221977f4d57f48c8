"""Output sizes of a 2-D transposed convolution, with PyTorch's rules.

Pure Python. Per axis the output length is

    (h - 1) * s - 2p + d(k - 1) + output_padding + 1

``output_padding`` only adds rows/columns at the bottom/right, to pick one of the ``s``
input sizes a strided ``conv2d`` maps onto the same output size; PyTorch requires it
to be smaller than the stride or the dilation. ``output_padding_for`` chooses it from a
requested output size as ``nn.ConvTranspose2d.forward(output_size=...)`` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from convcli.errors import OptionError, ShapeError
from convcli.i18n import _, ngettext
from convcli.shapes.geometry import IntOrPair, Pair, as_int, as_pair

__all__ = [
    "TransposedGeometry",
    "TransposedOptions",
    "check_output_padding",
    "check_transposed_shapes",
    "options_geometry",
    "output_padding_for",
    "resolve_transposed_geometry",
    "transposed_output_size",
]


@dataclass(frozen=True)
class TransposedOptions:
    """``conv_transpose2d``'s options, with PyTorch's defaults.

    ``output_size`` (``(h, w)``), when set, chooses ``output_padding``.
    """

    stride: IntOrPair = 1
    padding: IntOrPair = 0
    output_padding: IntOrPair = 0
    groups: int = 1
    dilation: IntOrPair = 1
    output_size: tuple[int, int] | None = None


def transposed_output_size(
    n: int,
    k: int,
    *,
    stride: int = 1,
    padding: int = 0,
    output_padding: int = 0,
    dilation: int = 1,
) -> int:
    """Length of one output axis of ``conv_transpose2d``: ``(n-1)s - 2p + d(k-1) + op + 1``.

    Parameters
    ----------
    n : int
        Input length on this axis.
    k : int
        Kernel length (before dilation).
    stride, padding, output_padding, dilation : int
        As ``torch.nn.functional.conv_transpose2d``, for this axis.

    Returns
    -------
    int
        The output length, at least 1.

    Raises
    ------
    OptionError
        An argument out of range, or ``output_padding`` not smaller than the stride or
        the dilation.
    ShapeError
        An output length below 1 (padding larger than what the kernel adds).

    Examples
    --------
    >>> transposed_output_size(16, 4, stride=2, padding=1)
    32
    >>> transposed_output_size(5, 3, stride=2, output_padding=1)
    12
    >>> transposed_output_size(5, 3, stride=2, output_padding=2)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    convcli.errors.OptionError: output padding must be smaller than either stride or dilation, ...
    """
    n, k, s, p, op, d = _check_axis(n, k, stride, padding, output_padding, dilation)
    if not (op < s or op < d):
        raise OptionError(
            _(
                "output padding must be smaller than either stride or dilation, but got "
                "output_padding {op}, stride {s}, dilation {d}"
            ).format(op=op, s=s, d=d)
        )
    out = _min_size(n, k, s, p, d) + op
    if out < 1:
        raise ShapeError(
            _(
                "transposed convolution output length would be {out}: padding {p} removes more "
                "than the (n-1)*s + d*(k-1) + 1 = {out_2_p_op} values it makes"
            ).format(out=out, p=p, out_2_p_op=out + 2 * p - op)
        )
    return out


def _check_axis(
    n: int, k: int, stride: int, padding: int, output_padding: int, dilation: int
) -> tuple[int, ...]:
    values = (
        as_int(n, "input size"),
        as_int(k, "kernel size"),
        as_int(stride, "stride"),
        as_int(padding, "padding"),
        as_int(output_padding, "output_padding"),
        as_int(dilation, "dilation"),
    )
    names = ("input size", "kernel size", "stride", "padding", "output_padding", "dilation")
    minimums = (1, 1, 1, 0, 0, 1)
    for value, name, minimum in zip(values, names, minimums, strict=True):
        if value < minimum:
            raise OptionError(
                _("{name} must be >= {minimum}, got {value}").format(
                    name=name, minimum=minimum, value=value
                )
            )
    return values


def _min_size(n: int, k: int, s: int, p: int, d: int) -> int:
    return (n - 1) * s - 2 * p + d * (k - 1) + 1


def output_padding_for(
    in_size: Pair,
    kernel_size: IntOrPair,
    output_size: Sequence[int],
    *,
    stride: IntOrPair = 1,
    padding: IntOrPair = 0,
    dilation: IntOrPair = 1,
) -> Pair:
    """The ``output_padding`` that makes ``conv_transpose2d`` produce ``output_size``.

    As ``nn.ConvTranspose2d.forward(output_size=...)``: ``output_size`` is ``(h, w)``,
    or the whole shape (its last two values are used); per axis it must lie between
    the smallest size (``output_padding`` 0) and that plus ``stride - 1``.

    Parameters
    ----------
    in_size : (int, int)
        Input height and width.
    kernel_size, stride, padding, dilation : int or (int, int)
    output_size : sequence of int
        The wanted ``(h, w)``, or ``(c, h, w)`` / ``(n, c, h, w)``.

    Returns
    -------
    (int, int)
        ``output_padding`` per axis.

    Raises
    ------
    OptionError
        No ``output_padding`` reaches ``output_size``; the message gives the valid range.

    Examples
    --------
    >>> output_padding_for((5, 5), 3, (12, 11), stride=2)
    (1, 0)
    >>> output_padding_for((5, 5), 3, (8, 12), stride=2)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    convcli.errors.OptionError: requested an output size of (8, 12), but valid sizes range ...
    """
    wanted = tuple(as_int(v, "output_size", output_size) for v in output_size)
    if len(wanted) not in (2, 3, 4):
        raise OptionError(
            _("output_size must have 2 values (h, w), got {len_wanted}: {wanted}").format(
                len_wanted=len(wanted), wanted=wanted
            )
        )
    target = wanted[-2:]
    k = as_pair(kernel_size, "kernel size", minimum=1)
    s = as_pair(stride, "stride", minimum=1)
    p = as_pair(padding, "padding", minimum=0)
    d = as_pair(dilation, "dilation", minimum=1)
    smallest = tuple(_min_size(in_size[i], k[i], s[i], p[i], d[i]) for i in range(2))
    largest = tuple(smallest[i] + s[i] - 1 for i in range(2))
    if any(not smallest[i] <= target[i] <= largest[i] for i in range(2)):
        raise OptionError(
            _(
                "requested an output size of {target}, but valid sizes range from {smallest} to "
                "{largest} (for an input of {tuple_in_size})"
            ).format(
                target=target, smallest=smallest, largest=largest, tuple_in_size=tuple(in_size)
            )
        )
    return target[0] - smallest[0], target[1] - smallest[1]


@dataclass(frozen=True)
class TransposedGeometry:
    """The resolved geometry of one transposed convolution: every field is ``(h, w)``."""

    in_size: Pair
    kernel_size: Pair
    stride: Pair
    padding: Pair
    output_padding: Pair
    dilation: Pair
    out_size: Pair

    @property
    def effective_kernel(self) -> Pair:
        """The span of the dilated kernel, ``d(k-1)+1`` per axis."""
        return (
            self.dilation[0] * (self.kernel_size[0] - 1) + 1,
            self.dilation[1] * (self.kernel_size[1] - 1) + 1,
        )

    @property
    def direct_padding(self) -> tuple[int, int, int, int]:
        """``(top, bottom, left, right)`` zeros around the zero-inserted input for the
        equivalent direct convolution: ``d(k-1) - p`` each side, plus ``output_padding``
        at the bottom/right (negative means crop)."""
        eff = self.effective_kernel
        top, left = eff[0] - 1 - self.padding[0], eff[1] - 1 - self.padding[1]
        return (top, top + self.output_padding[0], left, left + self.output_padding[1])


def check_output_padding(
    output_padding: IntOrPair, *, stride: IntOrPair = 1, dilation: IntOrPair = 1
) -> Pair:
    """``output_padding`` as a pair, each smaller than its axis's stride or dilation.

    Examples
    --------
    >>> check_output_padding(1, stride=2)
    (1, 1)
    >>> check_output_padding((0, 2), stride=2)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    convcli.errors.OptionError: output padding must be smaller than either stride or dilation, ...
    """
    op = as_pair(output_padding, "output_padding", minimum=0)
    s = as_pair(stride, "stride", minimum=1)
    d = as_pair(dilation, "dilation", minimum=1)
    if not all(op[i] < s[i] or op[i] < d[i] for i in range(2)):
        raise OptionError(
            _(
                "output padding must be smaller than either stride or dilation, but got "
                "output_padding_height: {op_0} output_padding_width: {op_1} stride_height: {s_0} "
                "stride_width: {s_1} dilation_height: {d_0} dilation_width: {d_1}"
            ).format(op_0=op[0], op_1=op[1], s_0=s[0], s_1=s[1], d_0=d[0], d_1=d[1])
        )
    return op


def resolve_transposed_geometry(
    in_size: Pair,
    kernel_size: IntOrPair,
    *,
    stride: IntOrPair = 1,
    padding: IntOrPair = 0,
    output_padding: IntOrPair = 0,
    dilation: IntOrPair = 1,
    output_size: Sequence[int] | None = None,
) -> TransposedGeometry:
    """Normalise transposed-convolution arguments and compute the output size per axis.

    ``output_size``, when given, chooses ``output_padding`` (``output_padding_for``); giving
    both a non-zero ``output_padding`` and ``output_size`` is refused.

    Examples
    --------
    >>> resolve_transposed_geometry((16, 16), 4, stride=2, padding=1).out_size
    (32, 32)
    >>> g = resolve_transposed_geometry((5, 5), 3, stride=2, output_size=(12, 11))
    >>> g.output_padding, g.out_size
    ((1, 0), (12, 11))
    """
    k = as_pair(kernel_size, "kernel size", minimum=1)
    s = as_pair(stride, "stride", minimum=1)
    p = as_pair(padding, "padding", minimum=0)
    d = as_pair(dilation, "dilation", minimum=1)
    op = as_pair(output_padding, "output_padding", minimum=0)
    if output_size is not None:
        if op != (0, 0):
            raise OptionError(
                _(
                    "give output_padding or output_size, not both (got output_padding "
                    "{output_padding!r} and output_size {tuple_output_size!r})"
                ).format(output_padding=output_padding, tuple_output_size=tuple(output_size))
            )
        op = output_padding_for(in_size, k, output_size, stride=s, padding=p, dilation=d)
    check_output_padding(op, stride=s, dilation=d)
    out = tuple(
        transposed_output_size(
            in_size[i], k[i], stride=s[i], padding=p[i], output_padding=op[i], dilation=d[i]
        )
        for i in range(2)
    )
    return TransposedGeometry(
        in_size=in_size,
        kernel_size=k,
        stride=s,
        padding=p,
        output_padding=op,
        dilation=d,
        out_size=(out[0], out[1]),
    )


def options_geometry(
    input_shape: Sequence[int], kernel_shape: Sequence[int], options: TransposedOptions
) -> TransposedGeometry:
    """The geometry ``options`` give an input and a kernel of these shapes.

    Examples
    --------
    >>> options_geometry((1, 2, 2), (1, 1, 3, 3), TransposedOptions(stride=2)).out_size
    (5, 5)
    """
    return resolve_transposed_geometry(
        (input_shape[-2], input_shape[-1]),
        (kernel_shape[2], kernel_shape[3]),
        stride=options.stride,
        padding=options.padding,
        output_padding=options.output_padding,
        dilation=options.dilation,
        output_size=options.output_size,
    )


def check_transposed_shapes(
    input_shape: Sequence[int],
    weight_shape: Sequence[int],
    bias_shape: Sequence[int] | None,
    groups: int,
) -> int:
    """Check that the shapes form a ``conv_transpose2d``; return the output channels.

    ``input_shape`` is ``(c_i, h, w)`` or ``(n, c_i, h, w)``; ``weight_shape`` is
    ``(c_i, c_o / groups, k_h, k_w)``, the reverse of ``conv2d``'s channel order;
    ``bias_shape`` is ``(c_o,)`` or ``None``.

    Examples
    --------
    >>> check_transposed_shapes((4, 5, 5), (4, 3, 2, 2), None, 2)
    6
    >>> check_transposed_shapes((3, 5, 5), (4, 3, 2, 2), None, 1)
    Traceback (most recent call last):
    ...
    convcli.errors.ShapeError: weight (4, 3, 2, 2) expects 4 input channels, input has 3
    """
    if len(input_shape) not in (3, 4):
        raise ShapeError(
            _(
                "input must be 3-D (c_i, h, w) or 4-D (n, c_i, h, w), got {len_input_shape}-D"
            ).format(len_input_shape=len(input_shape))
        )
    if len(weight_shape) != 4:
        raise ShapeError(
            _("weight must be 4-D (c_i, c_o/groups, k_h, k_w), got {len_weight_shape}-D").format(
                len_weight_shape=len(weight_shape)
            )
        )
    groups = as_int(groups, "groups")
    if groups < 1:
        raise OptionError(_("groups must be >= 1, got {groups}").format(groups=groups))
    weight = tuple(weight_shape)
    c_i = input_shape[-3]
    if weight[0] % groups:
        raise ShapeError(
            _(
                "groups={groups} does not divide the weight's first axis ({weight_0} input "
                "channels) of weight {weight}"
            ).format(groups=groups, weight_0=weight[0], weight=weight)
        )
    if weight[0] != c_i:
        raise ShapeError(
            ngettext(
                "weight {weight} expects {weight_0} input channel, input has {c_i}",
                "weight {weight} expects {weight_0} input channels, input has {c_i}",
                weight[0],
            ).format(weight=weight, weight_0=weight[0], c_i=c_i)
        )
    c_o = weight[1] * groups
    if bias_shape is not None and tuple(bias_shape) != (c_o,):
        raise ShapeError(
            _(
                "bias must have shape ({c_o},), one per output channel, got {tuple_bias_shape}"
            ).format(c_o=c_o, tuple_bias_shape=tuple(bias_shape))
        )
    return c_o
