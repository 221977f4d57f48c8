"""A convolution layer described by shapes alone: named axes, output size, cost.

Pure Python. ``describe_layer`` is what ``convcli shapes`` explains, and
``check_conv_shapes`` is the one place that decides whether an input, a weight and a
bias fit together.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from convcli.errors import Param, ShapeError, Words
from convcli.i18n import _, ngettext
from convcli.shapes.geometry import ConvGeometry, IntOrPair, PaddingArg, as_int, resolve_geometry

if TYPE_CHECKING:  # fractions (and decimal) load only where a ratio is computed
    from fractions import Fraction

__all__ = [
    "LayerShapes",
    "SeparableCost",
    "check_conv_shapes",
    "describe_layer",
    "lift_to_conv2d",
    "separable_cost",
]

Shape = tuple[int, ...]


def check_conv_shapes(
    input_shape: Shape, weight_shape: Shape, bias_shape: Shape | None, groups: int
) -> None:
    """Raise ``ValueError`` unless the shapes form a valid ``conv2d`` (PyTorch's rules).

    ``input_shape`` is ``(c_i, h, w)`` or ``(n, c_i, h, w)``, ``weight_shape`` is
    ``(c_o, c_i / groups, k_h, k_w)``, ``bias_shape`` is ``(c_o,)`` or ``None``.

    Examples
    --------
    >>> check_conv_shapes((2, 3, 3), (4, 3, 2, 2), None, 1)
    Traceback (most recent call last):
    ...
    convcli.errors.ShapeError: kernel expects 3 input channels, input has 2
    """
    if len(input_shape) not in (3, 4):
        raise ShapeError(
            _(
                "input must be 3-D (c_i, h, w) or 4-D (n, c_i, h, w), got {len_input_shape}-D"
            ).format(len_input_shape=len(input_shape))
        )
    if len(weight_shape) != 4:
        raise ShapeError(
            _("weight must be 4-D (c_o, c_i/groups, k_h, k_w), got {len_weight_shape}-D").format(
                len_weight_shape=len(weight_shape)
            )
        )
    if as_int(groups, "groups") < 1:
        raise ShapeError(_("groups must be a positive int, got {groups!r}").format(groups=groups))
    groups = int(groups)
    c_i = input_shape[-3]
    c_o, c_per_group = weight_shape[0], weight_shape[1]
    if c_i % groups:
        raise ShapeError(
            ngettext(
                "groups={groups} does not divide the {c_i} input channel",
                "groups={groups} does not divide the {c_i} input channels",
                c_i,
            ).format(groups=groups, c_i=c_i)
        )
    if c_o % groups:
        raise ShapeError(
            ngettext(
                "groups={groups} does not divide the {c_o} output channel",
                "groups={groups} does not divide the {c_o} output channels",
                c_o,
            ).format(groups=groups, c_o=c_o)
        )
    if c_per_group * groups != c_i:
        hint = channel_hint(tuple(input_shape), tuple(weight_shape), groups)
        if groups == 1:
            raise ShapeError(
                _("{problem}{hint}"),
                problem=_("kernel expects {channels}, input has {c_i}").format(
                    channels=channels(c_per_group), c_i=c_i
                ),
                hint=hint,
            )
        raise ShapeError(
            _("{problem}{hint}"),
            problem=_(
                "kernel expects {channels} ({c_per_group} per group x {groups} groups), "
                "input has {c_i}"
            ).format(
                channels=channels(c_per_group * groups),
                c_per_group=c_per_group,
                groups=groups,
                c_i=c_i,
            ),
            hint=hint,
        )
    if bias_shape is not None and tuple(bias_shape) != (c_o,):
        raise ShapeError(
            _(
                "bias must have shape ({c_o},), one per output channel, got {tuple_bias_shape}"
            ).format(c_o=c_o, tuple_bias_shape=tuple(bias_shape))
        )


def channels(count: int) -> str:
    """``1 input channel``, ``2 input channels``.

    Examples
    --------
    >>> channels(1), channels(3)
    ('1 input channel', '3 input channels')
    """
    return ngettext("{n} input channel", "{n} input channels", count).format(n=count)


def channel_hint(input_shape: Shape, weight_shape: Shape, groups: int) -> Words:
    """The likely fix when the kernel's input channels and the input's disagree, as
    ``": hint"`` (empty when none is likely); a parameter it names is a ``Param``.

    Examples
    --------
    >>> str(channel_hint((32, 32, 3), (8, 3, 3, 3), 1))
    ": the input looks channels-last (h, w, c): use input_layout='nhwc'"
    >>> str(channel_hint((64, 8, 8), (3, 3, 64, 128), 1))
    ": the kernel looks (k_h, k_w, c_i, c_o), TensorFlow's HWIO: use kernel_layout='hwio'"
    >>> print(channel_hint((8, 8, 64), (3, 3, 64, 128), 1))  # doctest: +NORMALIZE_WHITESPACE
    : the input looks channels-last (h, w, c) and the kernel (k_h, k_w, c_i, c_o),
    TensorFlow's layouts: use input_layout='nhwc' and kernel_layout='hwio'
    >>> str(channel_hint((2, 9, 9), (4, 1, 3, 3), 1))
    ': a kernel made for groups=2? try groups=2'
    >>> str(channel_hint((1, 28, 28), (1, 10, 5, 5), 1))
    ': a 3-D kernel is (c_i, k_h, k_w); for 10 filters of one channel use (10, 1, 5, 5)'
    """
    c_i = input_shape[-3]
    c_o, c_per_group, k_h, k_w = weight_shape
    expected = c_per_group * groups
    nhwc, hwio = Param("input_layout", "nhwc"), Param("kernel_layout", "hwio")
    if k_h * groups == input_shape[-1] and c_o == c_per_group and input_shape[-1] != c_i:
        return Words(
            ": "
            + _(
                "the input looks channels-last (h, w, c) and the kernel (k_h, k_w, c_i, c_o), "
                "TensorFlow's layouts: use {input_layout} and {kernel_layout}"
            ),
            input_layout=nhwc,
            kernel_layout=hwio,
        )
    if input_shape[-1] == expected and c_i > expected:
        return Words(
            ": " + _("the input looks channels-last (h, w, c): use {input_layout}"),
            input_layout=nhwc,
        )
    if k_h * groups == c_i and c_o == c_per_group:  # HWIO: a square window first
        return Words(
            ": "
            + _("the kernel looks (k_h, k_w, c_i, c_o), TensorFlow's HWIO: use {kernel_layout}"),
            kernel_layout=hwio,
        )
    if groups == 1 and c_o == 1 and c_per_group > c_i:
        filters = ngettext(
            "for {n} filters of one channel", "for {n} filters of {c} channels", c_i
        ).format(n=c_per_group, c=c_i)
        return Words(
            ": "
            + _("a 3-D kernel is (c_i, k_h, k_w); {filters} use {shape}").format(
                filters=filters, shape=f"({c_per_group}, {c_i}, {k_h}, {k_w})"
            )
        )
    if groups == 1 and c_per_group < c_i and c_i % c_per_group == 0:
        g = c_i // c_per_group
        if c_o % g == 0:
            return Words(
                ": " + _("a kernel made for {groups}? try {groups}"), groups=Param("groups", g)
            )
    return Words("")


def lift_to_conv2d(input_shape: Shape, kernel_shape: Shape) -> tuple[Shape, Shape]:
    """Read a kernel by its rank, as the lesson does, and return conv2d's shapes.

    A 2-D kernel ``(k_h, k_w)`` is ``corr2d`` of a 2-D input; a 3-D kernel
    ``(c_i, k_h, k_w)`` is one multi-input output channel; a 4-D kernel is already a
    conv2d weight.

    Examples
    --------
    >>> lift_to_conv2d((3, 3), (2, 2))
    ((1, 3, 3), (1, 1, 2, 2))
    >>> lift_to_conv2d((2, 3, 3), (2, 2, 2))
    ((2, 3, 3), (1, 2, 2, 2))
    """
    if len(kernel_shape) == 2:
        if len(input_shape) != 2:
            raise ShapeError(
                _(
                    "a 2-D kernel (k_h, k_w) needs a 2-D input (n_h, n_w), got {len_input_shape}-D"
                ).format(len_input_shape=len(input_shape))
            )
        return (1, *input_shape), (1, 1, *kernel_shape)
    if len(kernel_shape) == 3:
        return input_shape, (1, *kernel_shape)
    if len(kernel_shape) == 4:
        return input_shape, kernel_shape
    raise ShapeError(
        _("kernel must be 2-D, 3-D or 4-D (c_o, c_i, k_h, k_w), got {len_kernel_shape}-D").format(
            len_kernel_shape=len(kernel_shape)
        )
    )


@dataclass(frozen=True)
class LayerShapes:
    """Shapes, geometry and cost of one conv2d layer."""

    input_shape: Shape
    kernel_shape: Shape
    bias_shape: Shape | None
    output_shape: Shape
    groups: int
    geometry: ConvGeometry

    @property
    def batch(self) -> int:
        return self.input_shape[0] if len(self.input_shape) == 4 else 1

    @property
    def weight_params(self) -> int:
        c_o, c_per_group, k_h, k_w = self.kernel_shape
        return c_o * c_per_group * k_h * k_w

    @property
    def bias_params(self) -> int:
        return self.bias_shape[0] if self.bias_shape else 0

    @property
    def params(self) -> int:
        return self.weight_params + self.bias_params

    @property
    def outputs(self) -> int:
        """Output values over all batch items."""
        m_h, m_w = self.geometry.out_size
        return self.batch * self.kernel_shape[0] * m_h * m_w

    @property
    def macs(self) -> int:
        """Weight multiply-accumulates over all batch items (bias excluded)."""
        _c_o, c_per_group, k_h, k_w = self.kernel_shape
        return self.outputs * c_per_group * k_h * k_w

    @property
    def flops(self) -> int:
        """2 FLOPs per MAC plus one addition per output for the bias."""
        return 2 * self.macs + (self.outputs if self.bias_shape else 0)

    @property
    def receptive_field(self) -> tuple[int, int]:
        """The input span one output value sees, ``(k-1)d+1`` per axis (the dilated kernel)."""
        return self.geometry.effective_kernel


@dataclass(frozen=True)
class SeparableCost:
    """The depthwise-separable alternative of a layer (the lesson's Q&A, MobileNet).

    A depthwise ``k_h x k_w`` convolution per input channel (``groups = c_i``, same
    stride, padding and dilation), then a pointwise ``1x1`` convolution ``c_i -> c_o``.
    Parameters: ``c_i*k_h*k_w`` + ``c_i*c_o`` weights, plus ``c_i + c_o`` biases when
    the layer has a bias. MACs and FLOPs follow ``LayerShapes``' conventions.
    """

    depthwise_params: int
    pointwise_params: int
    bias_params: int
    depthwise_macs: int
    pointwise_macs: int
    bias_adds: int
    macs_ratio: Fraction
    params_ratio: Fraction

    @property
    def params(self) -> int:
        return self.depthwise_params + self.pointwise_params + self.bias_params

    @property
    def macs(self) -> int:
        return self.depthwise_macs + self.pointwise_macs

    @property
    def flops(self) -> int:
        return 2 * self.macs + self.bias_adds


def separable_cost(layer: LayerShapes) -> SeparableCost:
    """Parameters and MACs of the depthwise-separable alternative, and the ratios to ``layer``.

    For an ungrouped layer the MAC ratio is exactly ``1/c_o + 1/(k_h k_w)``.

    Examples
    --------
    >>> from fractions import Fraction
    >>> layer = describe_layer((3, 32, 32), (64, 3, 3, 3), bias=False, padding=1)
    >>> cost = separable_cost(layer)
    >>> cost.params, layer.params, cost.macs_ratio == Fraction(1, 64) + Fraction(1, 9)
    (219, 1728, True)
    """
    from fractions import Fraction

    c_o, c_per_group, k_h, k_w = layer.kernel_shape
    c_i = c_per_group * layer.groups
    positions = layer.batch * layer.geometry.out_size[0] * layer.geometry.out_size[1]
    depthwise_macs = positions * c_i * k_h * k_w
    pointwise_macs = positions * c_o * c_i
    has_bias = layer.bias_shape is not None
    params = c_i * k_h * k_w + c_i * c_o + (c_i + c_o if has_bias else 0)
    return SeparableCost(
        depthwise_params=c_i * k_h * k_w,
        pointwise_params=c_i * c_o,
        bias_params=c_i + c_o if has_bias else 0,
        depthwise_macs=depthwise_macs,
        pointwise_macs=pointwise_macs,
        bias_adds=positions * (c_i + c_o) if has_bias else 0,
        macs_ratio=Fraction(depthwise_macs + pointwise_macs, layer.macs),
        params_ratio=Fraction(params, layer.params),
    )


def describe_layer(
    input_shape: Shape,
    kernel_shape: Shape,
    *,
    bias: bool = True,
    stride: IntOrPair = 1,
    padding: PaddingArg = 0,
    dilation: IntOrPair = 1,
    groups: int = 1,
) -> LayerShapes:
    """Check a layer's shapes and compute its output shape, parameters and cost.

    Examples
    --------
    >>> layer = describe_layer((2, 3, 3), (3, 2, 2, 2))
    >>> layer.output_shape, layer.params, layer.macs
    ((3, 2, 2), 27, 96)
    >>> layer = describe_layer((1, 28, 28), (10, 1, 5, 5))
    >>> layer.output_shape, layer.params, layer.macs
    ((10, 24, 24), 260, 144000)
    """
    c_o = kernel_shape[0] if len(kernel_shape) == 4 else 0
    bias_shape = (c_o,) if bias else None
    check_conv_shapes(input_shape, kernel_shape, bias_shape, groups)
    geometry = resolve_geometry(
        (input_shape[-2], input_shape[-1]),
        (kernel_shape[2], kernel_shape[3]),
        stride=stride,
        padding=padding,
        dilation=dilation,
    )
    output_shape = (*input_shape[:-3], c_o, *geometry.out_size)
    return LayerShapes(
        input_shape=tuple(input_shape),
        kernel_shape=tuple(kernel_shape),
        bias_shape=bias_shape,
        output_shape=output_shape,
        groups=groups,
        geometry=geometry,
    )
