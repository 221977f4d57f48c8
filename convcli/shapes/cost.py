"""What one convolution costs forward and backward: products, sums and bytes.

Pure Python, counted from shapes alone. ``training_cost`` is what
``convcli shapes --backward`` explains (``transposed_training_cost`` with
``--transposed``); ``vary_layer`` is ``shapes --vary``.

Conventions (the lesson's exercise 2):

* A window of ``c_i/g * k_h * k_w`` products is summed with one addition fewer than
  products; the bias is one more addition per output value.
* Totals count every tap, padding included, as PyTorch's
  ``torch.utils.flop_counter.FlopCounterMode`` does (it counts 2 FLOPs per MAC);
  ``useful`` counts only the taps that land on the input itself.
* The backward keeps the input (for dW) and the weights (for dX), and writes the
  gradient buffers dY (received), dX, dW and db.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from convcli.errors import ShapeError
from convcli.i18n import _
from convcli.shapes.geometry import PaddingArg
from convcli.shapes.layer import LayerShapes, describe_layer
from convcli.shapes.transposed import TransposedGeometry

__all__ = [
    "VARY_NAMES",
    "BackwardCost",
    "ForwardCost",
    "TrainingCost",
    "TransposedTrainingCost",
    "VariedRow",
    "training_cost",
    "transposed_training_cost",
    "useful_taps",
    "vary_layer",
]

Shape = tuple[int, ...]
VARY_NAMES = ("c_i", "c_o", "n_h", "n_w", "k", "p", "s", "d", "g")


def useful_taps(n: int, k: int, s: int, d: int, before: int, m: int) -> int:
    """Kernel taps, over the ``m`` output positions of one axis, that land on the input.

    The other taps multiply a padded zero. Counted per tap, not per position.

    Examples
    --------
    >>> useful_taps(5, 3, 1, 1, 1, 5)  # padding 1: the two border outputs lose a tap each
    13
    >>> useful_taps(5, 3, 1, 1, 0, 3)
    9
    """
    total = 0
    for t in range(k):
        offset = t * d - before  # output i reads input i*s + offset
        first = max(0, -(offset // s))  # ceil(-offset / s)
        last = min(m - 1, (n - 1 - offset) // s)
        total += max(0, last - first + 1)
    return total


def _covered(k: int, s: int, d: int, m: int) -> int:
    """Positions of the padded axis that at least one tap reaches (dX's sums land there).

    Tap ``t`` reaches ``t*d + i*s`` for ``i < m``: per residue of ``t*d`` modulo ``s``, a
    run of ``m`` positions on that lattice; the runs are merged.

    Examples
    --------
    >>> _covered(3, 1, 1, 4), _covered(2, 2, 1, 3), _covered(2, 1, 5, 3)
    (6, 6, 6)
    """
    runs: dict[int, list[int]] = {}
    for t in range(k):
        runs.setdefault(t * d % s, []).append(t * d // s)
    total = 0
    for starts in runs.values():
        end = -1
        for start in sorted(starts):
            stop = start + m - 1
            total += max(0, stop - max(start - 1, end))
            end = max(end, stop)
    return total


@dataclass(frozen=True)
class ForwardCost:
    """The forward pass: products, sums, and the bytes of input, weights and output."""

    multiplications: int
    useful_multiplications: int
    additions: int
    input_bytes: int
    weight_bytes: int
    output_bytes: int

    @property
    def bytes(self) -> int:
        return self.input_bytes + self.weight_bytes + self.output_bytes


@dataclass(frozen=True)
class BackwardCost:
    """The backward pass: dX, dW and db, what it keeps, and the gradient buffers.

    ``flop_counter_dw`` is what ``FlopCounterMode`` reports for dW: its formula uses
    all ``c_i`` input channels where a grouped layer's weight sees ``c_i/g``.
    """

    dx_multiplications: int
    dx_additions: int
    dw_multiplications: int
    dw_additions: int
    db_additions: int
    kept_bytes: int
    gradient_bytes: int
    flop_counter_dx: int
    flop_counter_dw: int

    @property
    def multiplications(self) -> int:
        return self.dx_multiplications + self.dw_multiplications

    @property
    def additions(self) -> int:
        return self.dx_additions + self.dw_additions + self.db_additions

    @property
    def bytes(self) -> int:
        return self.kept_bytes + self.gradient_bytes

    @property
    def flop_counter(self) -> int:
        return self.flop_counter_dx + self.flop_counter_dw


@dataclass(frozen=True)
class TrainingCost:
    """A layer's forward and backward cost at ``bytes_per_value`` bytes a number."""

    layer: LayerShapes
    bytes_per_value: int
    forward: ForwardCost
    backward: BackwardCost

    @property
    def flop_counter_forward(self) -> int:
        """FlopCounterMode's forward count: 2 per MAC, every tap, no bias."""
        return 2 * self.layer.macs

    @property
    def dw_correct_flops(self) -> int:
        """dW's FLOPs counted right: 2 per product, ``c_i/g`` channels per weight."""
        return 2 * self.backward.dw_multiplications


def training_cost(layer: LayerShapes, *, bytes_per_value: int = 4) -> TrainingCost:
    """Products, sums and bytes of ``layer``'s forward and backward passes.

    Examples
    --------
    >>> layer = describe_layer((2, 3, 3), (3, 2, 2, 2), bias=True)
    >>> cost = training_cost(layer)
    >>> cost.forward.multiplications, cost.forward.additions  # 12 windows of 8 products
    (96, 96)
    >>> cost.backward.dw_multiplications, cost.backward.db_additions
    (96, 9)
    >>> cost.forward.bytes  # input 18, weights 24 + bias 3, output 12 numbers, float32
    228
    """
    c_o, c_g, k_h, k_w = layer.kernel_shape
    g = layer.geometry
    n, c_i = layer.batch, c_g * layer.groups
    m_h, m_w = g.out_size
    window = c_g * k_h * k_w
    outputs = layer.outputs
    products = layer.macs
    useful = (
        n
        * c_o
        * c_g
        * useful_taps(g.in_size[0], k_h, g.stride[0], g.dilation[0], g.padding[0], m_h)
        * useful_taps(g.in_size[1], k_w, g.stride[1], g.dilation[1], g.padding[2], m_w)
    )
    has_bias = layer.bias_shape is not None
    input_values = n * c_i * g.in_size[0] * g.in_size[1]
    weight_values = layer.params
    b = bytes_per_value
    forward = ForwardCost(
        multiplications=products,
        useful_multiplications=useful,
        additions=outputs * (window - 1) + (outputs if has_bias else 0),
        input_bytes=input_values * b,
        weight_bytes=weight_values * b,
        output_bytes=outputs * b,
    )
    covered = (
        n
        * c_i
        * _covered(k_h, g.stride[0], g.dilation[0], m_h)
        * _covered(k_w, g.stride[1], g.dilation[1], m_w)
    )
    positions = n * m_h * m_w
    backward = BackwardCost(
        dx_multiplications=products,
        dx_additions=products - covered,
        dw_multiplications=products,
        dw_additions=c_o * window * (positions - 1),
        db_additions=c_o * (positions - 1) if has_bias else 0,
        kept_bytes=(input_values + layer.weight_params) * b,  # not the bias
        gradient_bytes=(outputs + input_values + weight_values) * b,
        flop_counter_dx=2 * products,
        flop_counter_dw=2 * products * layer.groups,
    )
    return TrainingCost(layer=layer, bytes_per_value=b, forward=forward, backward=backward)


@dataclass(frozen=True)
class VariedRow:
    """One row of ``vary_layer``: the value, the layer, and its factors against row one."""

    value: int
    layer: LayerShapes
    cost: TrainingCost
    macs_factor: Fraction
    params_factor: Fraction
    bytes_factor: Fraction
    outputs_factor: Fraction


def _varied(layer: LayerShapes, names: tuple[str, ...], value: int) -> LayerShapes:
    """``layer`` with each of ``names`` set to ``value`` (the kernel follows ``c_i`` and ``g``)."""
    inp, (c_o, c_g, k_h, k_w), g = layer.input_shape, layer.kernel_shape, layer.geometry
    groups = layer.groups
    c_i = c_g * groups
    stride, dilation = g.stride, g.dilation
    top, bottom, left, right = g.padding
    # uneven sides come only from padding="same", which stays "same"
    padding: PaddingArg = (top, left) if (top, left) == (bottom, right) else "same"
    batch, (n_h, n_w) = inp[:-3], g.in_size
    if "c_i" in names:
        c_i = value
    if "c_o" in names:
        c_o = value
    if "n_h" in names:
        n_h = value
    if "n_w" in names:
        n_w = value
    if "k" in names:
        k_h = k_w = value
    if "p" in names:
        padding = (value, value)
    if "s" in names:
        stride = (value, value)
    if "d" in names:
        dilation = (value, value)
    if "g" in names:
        groups = value
    if c_i % groups:
        raise ShapeError(
            _("groups={groups} does not divide the {c_i} input channels").format(
                groups=groups, c_i=c_i
            )
        )
    return describe_layer(
        (*batch, c_i, n_h, n_w),
        (c_o, c_i // groups, k_h, k_w),
        bias=layer.bias_shape is not None,
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=groups,
    )


def vary_layer(
    layer: LayerShapes, name: str, values: list[int], *, bytes_per_value: int = 4
) -> list[VariedRow]:
    """``layer`` with ``name`` (one of ``VARY_NAMES``) set to each value, and the factors.

    ``k``, ``p``, ``s`` and ``d`` set both axes; ``c_i`` and ``g`` reshape the kernel's
    second axis to ``c_i/g``. Names joined by ``+`` (``"c_i+c_o"``) are set together.

    Examples
    --------
    >>> layer = describe_layer((3, 32, 32), (8, 3, 3, 3), bias=False, padding=1)
    >>> [int(row.macs_factor) for row in vary_layer(layer, "c_i", [3, 6])]
    [1, 2]
    >>> [int(row.macs_factor) for row in vary_layer(layer, "c_i+c_o", [8, 16])]
    [1, 4]
    >>> rows = vary_layer(layer, "p", [1, 2])
    >>> [row.layer.output_shape for row in rows]
    [(8, 32, 32), (8, 34, 34)]
    """
    names = tuple(name.split("+"))
    if not set(names) <= set(VARY_NAMES):
        raise ShapeError(
            _("can vary one of {names}, got {name!r}").format(
                names=", ".join(VARY_NAMES), name=name
            )
        )
    if not values:
        raise ShapeError(_("give at least one value to vary {name} over").format(name=name))
    rows: list[VariedRow] = []
    first: TrainingCost | None = None
    for value in values:
        varied = _varied(layer, names, value)
        cost = training_cost(varied, bytes_per_value=bytes_per_value)
        base = first or cost
        first = base
        rows.append(
            VariedRow(
                value=value,
                layer=varied,
                cost=cost,
                macs_factor=Fraction(varied.macs, base.layer.macs),
                params_factor=Fraction(varied.params, base.layer.params),
                bytes_factor=Fraction(cost.forward.bytes, base.forward.bytes),
                outputs_factor=Fraction(varied.outputs, base.layer.outputs),
            )
        )
    return rows


def _reached(n: int, k: int, s: int, d: int, before: int, m: int) -> int:
    """Positions of a transposed convolution's output axis (length ``n``) that a product
    lands in: input ``i < m`` through tap ``t`` lands on ``i*s + t*d - before``.

    As ``_covered``'s runs per residue of ``t*d`` modulo ``s``, each clipped to the
    output (the ``before`` cropped positions and those past the end are not counted).

    Examples
    --------
    >>> _reached(6, 3, 1, 1, 0, 4), _reached(4, 3, 1, 1, 1, 4), _reached(9, 1, 2, 1, 0, 5)
    (6, 4, 5)
    """
    runs: dict[int, list[int]] = {}
    for t in range(k):
        runs.setdefault(t * d % s, []).append(t * d // s)
    total = 0
    for residue, starts in runs.items():
        # lattice index j is position j*s + residue - before; keep 0 <= position < n
        low = -((residue - before) // s)  # ceil((before - residue) / s)
        high = (n - 1 + before - residue) // s
        end = low - 1
        for start in sorted(starts):
            first, stop = max(start, end + 1), min(start + m - 1, high)
            total += max(0, stop - first + 1)
            end = max(end, start + m - 1)
    return total


@dataclass(frozen=True)
class TransposedTrainingCost:
    """A transposed convolution's forward and backward cost at ``bytes_per_value`` bytes.

    ``forward.multiplications`` counts every input value times every tap (the products
    of the convolution it transposes, FlopCounterMode's count); ``useful_multiplications``
    and ``useful_additions`` only the products that land in the output (the others land
    in the ``padding`` rows and columns the output crops). ``reached`` is how many output
    values at least one product lands in.
    """

    input_shape: Shape
    kernel_shape: Shape
    output_shape: Shape
    bias: bool
    groups: int
    bytes_per_value: int
    forward: ForwardCost
    useful_additions: int
    reached: int
    backward: BackwardCost

    @property
    def batch(self) -> int:
        return self.input_shape[0] if len(self.input_shape) == 4 else 1

    @property
    def flop_counter_forward(self) -> int:
        """FlopCounterMode's forward count: 2 per product, every tap, no bias."""
        return 2 * self.forward.multiplications

    @property
    def dw_correct_flops(self) -> int:
        """dW's FLOPs counted right: 2 per product, ``c_o/g`` channels per weight."""
        return 2 * self.backward.dw_multiplications


def transposed_training_cost(
    input_shape: Shape,
    kernel_shape: Shape,
    geometry: TransposedGeometry,
    *,
    bias: bool,
    groups: int = 1,
    bytes_per_value: int = 4,
) -> TransposedTrainingCost:
    """Products, sums and bytes of a ``conv_transpose2d``'s forward and backward passes.

    ``kernel_shape`` is ``(c_i, c_o/g, k_h, k_w)``. Each output value sums the products
    of the input values and taps that land on it; dX is ``conv2d(dY, K)`` (each input
    value sums ``(c_o/g)*k_h*k_w`` products), dW correlates the input with dY.

    Examples
    --------
    >>> from convcli.shapes.transposed import resolve_transposed_geometry
    >>> g = resolve_transposed_geometry((2, 2), 3, stride=2, padding=1)  # 2x2 -> 3x3
    >>> cost = transposed_training_cost((1, 2, 2), (1, 1, 3, 3), g, bias=False)
    >>> cost.forward.multiplications, cost.forward.useful_multiplications
    (36, 16)
    >>> cost.useful_additions, cost.reached  # 16 products into 9 outputs
    (7, 9)
    >>> cost.backward.dx_additions, cost.backward.dw_additions  # 4 sums of 9, 9 of 4
    (32, 27)
    """
    c_i, c_og, k_h, k_w = kernel_shape
    n = input_shape[0] if len(input_shape) == 4 else 1
    h, w = geometry.in_size
    m_h, m_w = geometry.out_size
    (s_h, s_w), (d_h, d_w), (p_h, p_w) = geometry.stride, geometry.dilation, geometry.padding
    c_o = c_og * groups
    inputs = n * c_i * h * w
    outputs = n * c_o * m_h * m_w
    window = c_og * k_h * k_w  # products per input value: its group's taps
    products = inputs * window
    useful = (
        n
        * c_i
        * c_og
        * useful_taps(m_h, k_h, s_h, d_h, p_h, h)
        * useful_taps(m_w, k_w, s_w, d_w, p_w, w)
    )
    reached = n * c_o * _reached(m_h, k_h, s_h, d_h, p_h, h) * _reached(m_w, k_w, s_w, d_w, p_w, w)
    # every tap: the uncropped output's cells each sum what lands there
    covered = n * c_o * _covered(k_h, s_h, d_h, h) * _covered(k_w, s_w, d_w, w)
    bias_adds = outputs if bias else 0
    weight_values = c_i * c_og * k_h * k_w
    b = bytes_per_value
    forward = ForwardCost(
        multiplications=products,
        useful_multiplications=useful,
        additions=products - covered + bias_adds,
        input_bytes=inputs * b,
        weight_bytes=(weight_values + (c_o if bias else 0)) * b,
        output_bytes=outputs * b,
    )
    backward = BackwardCost(
        dx_multiplications=products,
        dx_additions=inputs * (window - 1),
        dw_multiplications=products,
        dw_additions=weight_values * (n * h * w - 1),
        db_additions=c_o * (n * m_h * m_w - 1) if bias else 0,
        kept_bytes=(inputs + weight_values) * b,  # not the bias
        gradient_bytes=(outputs + inputs + weight_values + (c_o if bias else 0)) * b,
        flop_counter_dx=2 * products,
        flop_counter_dw=2 * products * groups,
    )
    lead = input_shape[:1] if len(input_shape) == 4 else ()
    return TransposedTrainingCost(
        input_shape=tuple(input_shape),
        kernel_shape=tuple(kernel_shape),
        output_shape=(*lead, c_o, m_h, m_w),
        bias=bias,
        groups=groups,
        bytes_per_value=b,
        forward=forward,
        useful_additions=useful - reached + bias_adds,
        reached=reached,
        backward=backward,
    )
