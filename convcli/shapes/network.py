"""A stack of layers worked through by shapes alone: output shapes, parameters, cost, fields.

Pure Python. ``walk_network`` takes the layers ``parse_spec`` read and an input shape and
returns one ``LayerRow`` per layer (residual blocks with their inner rows). A layer that
does not fit stops the walk: the rows before it are kept and the error names the layer.

Conventions (stated again where the numbers are shown):

- MACs: weight multiply-accumulates over all batch items, as ``convcli shapes`` counts
  them (convolution, transposed convolution: every input value times every kernel tap it
  meets, linear); bias additions are not MACs.
- FLOPs: 2 per MAC plus 1 per bias addition; per output value, pooling ``window - 1``
  comparisons (max) or additions (average, the division not counted), as ``convcli shapes
  --pool`` counts them (adaptive pooling: its own window's size); activations 1 per value;
  BatchNorm 2 per value (scale and shift, as at inference), as are GroupNorm, LayerNorm
  and InstanceNorm; softmax 3 per value (exponential, sum, division); a residual sum, and
  each add or mul join, 1 per value for each branch after the first; bilinear upsampling
  7 per value (four weighted taps); dropout, flatten, identity, concatenation, chunks,
  channel shuffles, zero padding and nearest upsampling 0.

Joins (``concat``, ``add``, ``mul``, ``chunk``, ``se``) are nested blocks: a row whose
``branches`` are chains on the same input (a chunk's branches: one channel part each).
Receptive fields through a join are the union of the branches' (``receptive.union``); a
branch broadcast from one cell over many sees the whole input (``receptive.GLOBAL_FIELD``),
the jump and start of the cells' own windows being the other branches'.
Normalisation layers are taken as per position (as at inference): the statistics that
GroupNorm, LayerNorm and InstanceNorm compute over the whole map do not widen the field.
BatchNorm in eval mode (and InstanceNorm with running statistics) is truly per position;
GroupNorm, InstanceNorm without running statistics and a LayerNorm over a spatial axis
take their mean and variance from the whole map in eval mode too (``LayerRow.map_statistics``),
so the gradient of one output cell reaches every input cell: their field is the cells
each value is computed from with those statistics held fixed. LayerNorm2d normalises
over the channels at each position and is per position in either mode.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction

from convcli.errors import ConvcliError, OptionError, Param, ShapeError
from convcli.i18n import _, ngettext
from convcli.shapes.geometry import IntOrPair, Pair, as_pair, resolve_geometry
from convcli.shapes.netspec import JOINS, LayerSpec, echo_text, parse_spec
from convcli.shapes.padding_modes import check_padding_mode
from convcli.shapes.pooling import adaptive_output_size, resolve_pool_geometry
from convcli.shapes.receptive import (
    GLOBAL_FIELD,
    INPUT_FIELD,
    AxisStep,
    Field,
    back_cells,
    compose,
    union,
)
from convcli.shapes.transposed import resolve_transposed_geometry

__all__ = ["DTYPE_SIZES", "CellTrace", "LayerRow", "Network", "trace_cell", "walk_network"]

Shape = tuple[int, ...]
Fields = tuple[Field | None, Field | None]
DTYPE_SIZES = {"float16": 2, "bfloat16": 2, "float32": 4, "float64": 8}
# BatchNorm's num_batches_tracked counter is an int64 whatever the dtype.
COUNTER_BYTES = 8
ACTIVATIONS = (
    "relu",
    "sigmoid",
    "tanh",
    "gelu",
    "silu",
    "leakyrelu",
    "relu6",
    "hardswish",
    "hardsigmoid",
    "mish",
    "elu",
)
NORMS = ("groupnorm", "layernorm2d", "layernorm", "instancenorm")


@dataclass(frozen=True)
class LayerRow:
    """One layer worked through: shapes, parameters, cost and receptive field.

    ``fields`` is Araujo's field per spatial axis (``None``: not uniform, or no longer
    spatial); ``steps`` how the layer maps each spatial axis (``None`` when the layer's
    output is not spatial). ``counters`` is the number of BatchNorm ``num_batches_tracked``
    counters among ``buffers``.
    """

    index: str
    spec: LayerSpec
    input_shape: Shape
    output_shape: Shape
    params: int = 0
    buffers: int = 0
    counters: int = 0
    macs: int = 0
    flops: int = 0
    fields: Fields = (None, None)
    steps: tuple[AxisStep, AxisStep] | None = None
    main: tuple[LayerRow, ...] = ()
    shortcut: tuple[LayerRow, ...] = ()
    branches: tuple[tuple[LayerRow, ...], ...] = ()

    @property
    def spatial(self) -> bool:
        return self.steps is not None

    @property
    def outputs(self) -> int:
        return math.prod(self.output_shape)

    @property
    def map_statistics(self) -> bool:
        """Whether the layer's mean and variance come from the whole map in eval mode too
        (GroupNorm, InstanceNorm without running statistics, LayerNorm over a spatial axis):
        its field holds them fixed (the module docstring).

        Examples
        --------
        >>> from convcli.shapes.netspec import parse_spec
        >>> net = walk_network(parse_spec("groupnorm(2) > layernorm2d > bn"), (1, 4, 3, 3))
        >>> [row.map_statistics for row in net.rows]
        [True, False, False]
        """
        kind, spatial = self.spec.kind, len(self.input_shape) == 4
        if kind == "instancenorm":
            return spatial and not self.spec.args["track_running_stats"]
        # A LayerNorm on a 4-D input normalises over its last axes: W at least.
        return spatial and kind in ("groupnorm", "layernorm")

    @property
    def inner(self) -> tuple[LayerRow, ...]:
        """Every row directly inside this block (none for a layer)."""
        return (*self.main, *self.shortcut, *(row for branch in self.branches for row in branch))

    def activations(self) -> int:
        """Values of this layer's output and, for a block, of every layer inside it."""
        return self.outputs + sum(row.activations() for row in self.inner)


@dataclass(frozen=True)
class Network:
    """Every layer that fitted, and the error of the first that did not (if any)."""

    input_shape: Shape
    rows: tuple[LayerRow, ...]
    error: ConvcliError | None = None

    @property
    def output_shape(self) -> Shape:
        return self.rows[-1].output_shape if self.rows else self.input_shape

    @property
    def params(self) -> int:
        return sum(row.params for row in self.rows)

    @property
    def buffers(self) -> int:
        return sum(row.buffers for row in self.rows)

    @property
    def macs(self) -> int:
        return sum(row.macs for row in self.rows)

    @property
    def flops(self) -> int:
        return sum(row.flops for row in self.rows)

    def param_bytes(self, itemsize: int) -> int:
        """Parameters and BatchNorm running statistics, at ``itemsize`` bytes each."""
        counters = sum(_counters(row) for row in self.rows)
        return (self.params + self.buffers - counters) * itemsize + counters * COUNTER_BYTES

    def torchinfo_bytes(self, itemsize: int) -> tuple[int, int, int]:
        """torchinfo's input size, forward/backward pass size and params size, in bytes.

        As torchinfo (1.8) defines them: the input tensor; twice the output of every layer
        with parameters that holds no other layer (the output and its gradient); the
        parameters alone (buffers not counted). Its "estimated total" is their sum.

        Examples
        --------
        >>> from convcli.shapes.netspec import parse_spec
        >>> net = walk_network(parse_spec("conv(2, k=3) > relu > bn"), (1, 1, 4, 4))
        >>> net.torchinfo_bytes(4)
        (64, 128, 96)
        """
        leaves = [row for row in _leaves(self.rows) if row.params > 0]
        passes = 2 * sum(row.outputs for row in leaves) * itemsize
        return math.prod(self.input_shape) * itemsize, passes, self.params * itemsize

    def activation_bytes(self, itemsize: int) -> int:
        """Every layer's output (kept for a backward pass), at ``itemsize`` bytes each."""
        return sum(row.activations() for row in self.rows) * itemsize


def _leaves(rows: Sequence[LayerRow]) -> Sequence[LayerRow]:
    """Every layer that holds no other layer, inside blocks too."""
    found: list[LayerRow] = []
    for row in rows:
        found.extend(_leaves(row.inner) if row.inner else [row])
    return found


def _counters(row: LayerRow) -> int:
    return row.counters + sum(_counters(inner) for inner in row.inner)


def walk_network(layers: Sequence[LayerSpec], input_shape: Shape) -> Network:
    """Work ``layers`` through from ``input_shape`` (``N x C x H x W``, or ``N x F``).

    Examples
    --------
    >>> from convcli.shapes.netspec import parse_spec
    >>> net = walk_network(parse_spec("conv(6, k=5, p=2) > avgpool(2)"), (1, 1, 28, 28))
    >>> [(row.output_shape, row.params, row.macs) for row in net.rows]
    [((1, 6, 28, 28), 156, 117600), ((1, 6, 14, 14), 0, 0)]
    >>> net = walk_network(parse_spec("conv(8, k=7)"), (1, 1, 4, 4))
    >>> str(net.error)
    'layer 1 conv(8, k=7): input 4x4 is smaller than the 7x7 window'
    """
    rows, error = _walk(layers, input_shape, (INPUT_FIELD, INPUT_FIELD), prefix="")
    return Network(input_shape=input_shape, rows=rows, error=error)


def _walk(
    layers: Sequence[LayerSpec], shape: Shape, fields: Fields, prefix: str
) -> tuple[tuple[LayerRow, ...], ConvcliError | None]:
    rows: list[LayerRow] = []
    for number, layer in enumerate(layers, start=1):
        index = f"{prefix}{number}"
        try:
            row = _apply(layer, index, shape, fields)
        except _InnerError as inner:
            return tuple(rows), inner.error
        except ConvcliError as err:
            return tuple(rows), ShapeError(
                _("layer {index} {layer_text}: {err}"),
                index=index,
                layer_text=echo_text(layer.text),
                err=err,
            )
        if _too_large(row):
            return tuple(rows), ShapeError(
                _(
                    "layer {index} {layer_text}: its sizes or cost have more than "
                    "{digits} digits; convcli works with networks below that"
                ),
                index=index,
                layer_text=echo_text(layer.text),
                digits=f"{MAX_DIGITS:,}",
            )
        rows.append(row)
        shape, fields = row.output_shape, row.fields
    return tuple(rows), None


# Every number stays exact (int, Fraction); past this many digits it would not be a number
# anyone reads, and Python's int-to-text conversion refuses 4,300 digits and more.
MAX_DIGITS = 4000
_LIMIT = 10**MAX_DIGITS


def _too_large(row: LayerRow) -> bool:
    numbers = [row.outputs, row.macs, row.flops, row.params, row.buffers, *row.output_shape]
    for axis_field in row.fields:
        if axis_field is not None:
            numbers += [axis_field.size, axis_field.jump, axis_field.start.numerator]
    return any(abs(number) >= _LIMIT for number in numbers)


class _InnerError(Exception):
    """A layer inside a residual block did not fit (its error already names it)."""

    def __init__(self, error: ConvcliError) -> None:
        super().__init__(str(error))
        self.error = error


def _apply(layer: LayerSpec, index: str, shape: Shape, fields: Fields) -> LayerRow:
    kind = layer.kind
    if kind == "residual":
        return _residual(layer, index, shape, fields)
    if kind in JOINS or kind == "se":
        return _join(layer, index, shape, fields)
    if kind in (
        "conv",
        "convT",
        "maxpool",
        "avgpool",
        "adaptiveavgpool",
        "adaptivemaxpool",
        "gap",
        "zeropad",
        "upsample",
    ):
        return _spatial(layer, index, _need_spatial(layer, shape), fields)
    row = LayerRow(index=index, spec=layer, input_shape=shape, output_shape=shape)
    values = math.prod(shape)
    spatial = len(shape) == 4
    keep = (_identity(shape, 0), _identity(shape, 1)) if spatial else None
    kept = fields if spatial else (None, None)
    if kind in ACTIVATIONS:
        return _replace(row, flops=values, steps=keep, fields=kept)
    if kind in ("dropout", "identity", "dropout2d"):
        return _replace(row, steps=keep, fields=kept)
    if kind == "softmax":
        _channel_axis(shape, _int(layer, "dim"))
        return _replace(row, flops=3 * values, steps=keep, fields=kept)
    if kind == "prelu":
        count = _int(layer, "num_parameters")
        if count != 1 and (len(shape) < 2 or count != shape[1]):
            raise ShapeError(
                _("num_parameters={count} must be 1 or the {channels} channels").format(
                    count=count, channels=shape[1] if len(shape) > 1 else 1
                )
            )
        return _replace(row, params=count, flops=values, steps=keep, fields=kept)
    if kind == "shuffle":
        groups = _int(layer, "groups")
        if len(shape) < 3:  # as PyTorch's channel_shuffle refuses it
            raise ShapeError(
                _("needs an input of more than 2 axes (N, C, ...), got {show_shape}").format(
                    show_shape=_show(shape)
                )
            )
        if shape[1] % groups:
            raise ShapeError(
                _("groups={groups} does not divide the {count} channels").format(
                    groups=groups, count=shape[1]
                )
            )
        return _replace(row, steps=keep, fields=kept)
    if kind in NORMS:
        return _replace(_norm(layer, row), steps=keep, fields=kept)
    if kind == "bn":
        return _batch_norm(layer, row, keep, kept)
    if kind == "flatten":
        return _replace(row, output_shape=_flatten(layer, shape))
    if kind == "linear":
        return _linear(layer, row)
    raise AssertionError(kind)


def _replace(row: LayerRow, **changes: object) -> LayerRow:
    return replace(row, **changes)  # type: ignore[arg-type]


def _identity(shape: Shape, axis: int) -> AxisStep:
    return AxisStep("identity", shape[2 + axis], shape[2 + axis])


def _need_spatial(layer: LayerSpec, shape: Shape) -> Shape:
    if len(shape) != 4:
        raise ShapeError(
            _(
                "needs a 4-D input (N, C, H, W), got {show_shape} (put it before flatten, or "
                "give {input_shape} as NxCxHxW)"
            ),
            show_shape=_show(shape),
            input_shape=Param("input_shape"),
        )
    stated = layer.stated.get("in_channels")
    if stated is not None and stated != shape[1]:
        raise ShapeError(
            _("{states}, {arrive}").format(
                states=ngettext(
                    "states {n} input channel", "states {n} input channels", stated
                ).format(n=stated),
                arrive=ngettext("{n} arrives", "{n} arrive", shape[1]).format(n=shape[1]),
            )
        )
    return shape


def _show(shape: Sequence[int]) -> str:
    return "x".join(str(size) for size in shape)


@dataclass(frozen=True)
class _Mapped:
    """What a spatial layer does to one batch item: channels, size, axis maps and cost."""

    channels: int
    size: tuple[int, int]
    steps: tuple[AxisStep, AxisStep]
    params: int = 0
    macs: int = 0
    flops: int = 0


def _spatial(layer: LayerSpec, index: str, shape: Shape, fields: Fields) -> LayerRow:
    n, c, h, w = shape
    if layer.kind == "conv":
        mapped = _conv(layer, c, (h, w))
    elif layer.kind == "convT":
        mapped = _conv_transposed(layer, c, (h, w))
    elif layer.kind in ("maxpool", "avgpool"):
        mapped = _pool(layer, c, (h, w))
    elif layer.kind == "zeropad":
        mapped = _zero_pad(layer, c, (h, w))
    elif layer.kind == "upsample":
        mapped = _upsample(layer, c, (h, w))
    else:
        mapped = _adaptive(layer, c, (h, w))
    steps = mapped.steps
    return LayerRow(
        index=index,
        spec=layer,
        input_shape=shape,
        output_shape=(n, mapped.channels, *mapped.size),
        params=mapped.params,
        macs=n * mapped.macs,
        flops=n * mapped.flops,
        fields=(compose(fields[0], steps[0]), compose(fields[1], steps[1])),
        steps=steps,
    )


def _check_groups(groups: int, c_in: int, c_out: int) -> None:
    if c_in % groups:
        raise ShapeError(
            ngettext(
                "groups={groups} does not divide the {c_i} input channel",
                "groups={groups} does not divide the {c_i} input channels",
                c_in,
            ).format(groups=groups, c_i=c_in)
        )
    if c_out % groups:
        raise ShapeError(
            ngettext(
                "groups={groups} does not divide the {c_o} output channel",
                "groups={groups} does not divide the {c_o} output channels",
                c_out,
            ).format(groups=groups, c_o=c_out)
        )


def _check_window_fits(size: Pair, padded: Pair, span: Pair) -> None:
    if padded[0] < span[0] or padded[1] < span[1]:
        shown = _show(size) + (f" (padded {_show(padded)})" if padded != size else "")
        raise ShapeError(
            _("input {shown} is smaller than the {show_span} window").format(
                shown=shown, show_span=_show(span)
            )
        )


def _weighted_cost(layer: LayerSpec, out_c: int, size: Pair, macs: int) -> tuple[int, int]:
    """MACs and FLOPs: 2 per MAC, plus one addition per output value for the bias."""
    bias = out_c * size[0] * size[1] if layer.args["bias"] else 0
    return macs, 2 * macs + bias


def _conv(layer: LayerSpec, c: int, size: Pair) -> _Mapped:
    a = layer.args
    out_c, groups = _int(layer, "out_channels"), _int(layer, "groups")
    k = as_pair(_pair_arg(layer, "kernel_size"), "kernel_size", minimum=1)
    d = as_pair(_pair_arg(layer, "dilation"), "dilation", minimum=1)
    s = as_pair(_pair_arg(layer, "stride"), "stride", minimum=1)
    padding, mode = a["padding"], str(a["padding_mode"])
    assert isinstance(padding, int | tuple | str), padding
    if padding == "same" and s != (1, 1):
        raise OptionError(
            _("padding='same' needs stride 1, got stride {pair_text_s}").format(
                pair_text_s=_pair_text(s)
            )
        )
    _check_groups(groups, c, out_c)
    span = (d[0] * (k[0] - 1) + 1, d[1] * (k[1] - 1) + 1)
    # The padding alone (resolved on an input the window fits), to say what did not fit.
    pads = resolve_geometry(span, k, stride=s, padding=padding, dilation=d).padding  # type: ignore[arg-type]
    top, bottom, left, right = pads
    _check_window_fits(size, (size[0] + top + bottom, size[1] + left + right), span)
    check_padding_mode(mode, size, pads)
    out = resolve_geometry(size, k, stride=s, padding=padding, dilation=d).out_size  # type: ignore[arg-type]
    per_group = c // groups
    macs, flops = _weighted_cost(
        layer, out_c, out, out_c * out[0] * out[1] * per_group * k[0] * k[1]
    )
    return _Mapped(
        channels=out_c,
        size=out,
        steps=(
            AxisStep("window", size[0], out[0], span[0], s[0], top, k[0], d[0], mode),
            AxisStep("window", size[1], out[1], span[1], s[1], left, k[1], d[1], mode),
        ),
        params=out_c * per_group * k[0] * k[1] + (out_c if a["bias"] else 0),
        macs=macs,
        flops=flops,
    )


def _conv_transposed(layer: LayerSpec, c: int, size: Pair) -> _Mapped:
    out_c, groups = _int(layer, "out_channels"), _int(layer, "groups")
    _check_groups(groups, c, out_c)
    geometry = resolve_transposed_geometry(
        size,
        _pair_arg(layer, "kernel_size"),
        stride=_pair_arg(layer, "stride"),
        padding=_pair_arg(layer, "padding"),
        output_padding=_pair_arg(layer, "output_padding"),
        dilation=_pair_arg(layer, "dilation"),
    )
    k, s, p, d = geometry.kernel_size, geometry.stride, geometry.padding, geometry.dilation
    span, out = geometry.effective_kernel, geometry.out_size
    per_group = out_c // groups
    # Every input value times every tap of its group's kernels.
    macs, flops = _weighted_cost(layer, out_c, out, c * size[0] * size[1] * per_group * k[0] * k[1])
    return _Mapped(
        channels=out_c,
        size=out,
        steps=(
            AxisStep("transposed", size[0], out[0], span[0], s[0], p[0], k[0], d[0]),
            AxisStep("transposed", size[1], out[1], span[1], s[1], p[1], k[1], d[1]),
        ),
        params=c * per_group * k[0] * k[1] + (out_c if layer.args["bias"] else 0),
        macs=macs,
        flops=flops,
    )


def _pool(layer: LayerSpec, c: int, size: Pair) -> _Mapped:
    k = as_pair(_pair_arg(layer, "kernel_size"), "kernel_size", minimum=1)
    d = as_pair(
        _pair_arg(layer, "dilation") if "dilation" in layer.args else 1, "dilation", minimum=1
    )
    p = as_pair(_pair_arg(layer, "padding"), "padding", minimum=0)
    span = (d[0] * (k[0] - 1) + 1, d[1] * (k[1] - 1) + 1)
    if p[0] <= k[0] // 2 and p[1] <= k[1] // 2:
        _check_window_fits(size, (size[0] + 2 * p[0], size[1] + 2 * p[1]), span)
    stride = layer.args["stride"]
    geometry = resolve_pool_geometry(
        size,
        k,
        stride=None if stride is None else _pair_arg(layer, "stride"),
        padding=p,
        dilation=d,
        ceil_mode=bool(layer.args["ceil_mode"]),
    )
    s, out = geometry.stride, geometry.out_size
    # Window - 1 comparisons (max) or additions (average) per output, as `shapes --pool`
    # counts them; the average's division is not counted.
    per_output = k[0] * k[1] - 1
    return _Mapped(
        channels=c,
        size=out,
        steps=(
            AxisStep("window", size[0], out[0], span[0], s[0], p[0], k[0], d[0]),
            AxisStep("window", size[1], out[1], span[1], s[1], p[1], k[1], d[1]),
        ),
        flops=c * out[0] * out[1] * per_output,
    )


def _zero_pad(layer: LayerSpec, c: int, size: Pair) -> _Mapped:
    padding = layer.args["padding"]
    sides = (padding,) * 4 if isinstance(padding, int) else padding
    assert isinstance(sides, tuple), padding
    left, right, top, bottom = (int(side) for side in sides)  # type: ignore[arg-type]
    out = (size[0] + top + bottom, size[1] + left + right)
    return _Mapped(
        channels=c,
        size=out,
        steps=(
            AxisStep("window", size[0], out[0], padding=top),
            AxisStep("window", size[1], out[1], padding=left),
        ),
    )


def _upsample(layer: LayerSpec, c: int, size: Pair) -> _Mapped:
    """nn.Upsample: ``size``, or ``floor(n * scale_factor)`` per axis."""
    a = layer.args
    target, scale, mode, corners = a["size"], a["scale_factor"], a["mode"], a["align_corners"]
    if (target is None) == (scale is None):
        raise OptionError(_("give one of size and scale_factor"))
    if mode == "nearest" and corners is not None:
        raise OptionError(_("align_corners is for mode='bilinear' only"))
    out: list[int] = []
    ratios: list[Fraction] = []
    for axis in range(2):
        if target is not None:
            wanted = target if isinstance(target, int) else target[axis]  # type: ignore[index]
            if wanted is None:
                raise OptionError(_("size needs both sizes (H, W)"))
            n_out = int(wanted)
            ratio = Fraction(size[axis], n_out)
        else:
            factor = scale if isinstance(scale, int | float) else scale[axis]  # type: ignore[index]
            n_out = math.floor(size[axis] * float(factor))  # type: ignore[arg-type]
            if n_out < 1:
                raise ShapeError(
                    _("scale_factor {factor} makes the {n}-cell axis empty").format(
                        factor=factor, n=size[axis]
                    )
                )
            ratio = 1 / Fraction(factor)  # type: ignore[arg-type]
        if mode == "bilinear" and corners:
            ratio = Fraction(size[axis] - 1, n_out - 1) if n_out > 1 else Fraction(0)
        out.append(n_out)
        ratios.append(ratio)
    how = "nearest" if mode == "nearest" else "bilinear-corners" if corners else "bilinear"
    return _Mapped(
        channels=c,
        size=(out[0], out[1]),
        steps=(
            AxisStep("upsample", size[0], out[0], ratio=ratios[0], interpolation=how),
            AxisStep("upsample", size[1], out[1], ratio=ratios[1], interpolation=how),
        ),
        flops=0 if mode == "nearest" else 7 * c * out[0] * out[1],
    )


def _channel_axis(shape: Shape, dim: int) -> int:
    rank = len(shape)
    if not -rank <= dim < rank:
        raise ShapeError(
            _("dim={dim} is outside a {rank}-D input {show_shape}").format(
                dim=dim, rank=rank, show_shape=_show(shape)
            )
        )
    return dim % rank


def _norm(layer: LayerSpec, row: LayerRow) -> LayerRow:
    """GroupNorm, LayerNorm (over the last axes, or over channels: layernorm2d), InstanceNorm."""
    shape, kind, a = row.input_shape, layer.kind, layer.args
    values = math.prod(shape)
    if kind == "layernorm":
        normalized = a["normalized_shape"]
        assert isinstance(normalized, int | tuple), normalized
        wanted: tuple[int, ...] = (normalized,) if isinstance(normalized, int) else normalized  # type: ignore[assignment]
        if tuple(shape[-len(wanted) :]) != wanted or len(wanted) > len(shape):
            raise ShapeError(
                _("normalized_shape {wanted} is not the last axes of {show_shape}").format(
                    wanted=_show(wanted),
                    show_shape=_show(shape),
                )
            )
        per = math.prod(wanted)
        params = per * (2 if a["bias"] else 1) if a["elementwise_affine"] else 0
        return _replace(row, params=params, flops=2 * values)
    if (
        kind in ("layernorm2d", "instancenorm")
        and len(shape) != 4
        and not (kind == "instancenorm" and len(shape) == 3)
    ):
        raise ShapeError(
            _("needs a 4-D input (N, C, H, W), got {show_shape}").format(show_shape=_show(shape))
        )
    if len(shape) < 2:
        raise ShapeError(
            _("needs a batch and a channel axis, got {show_shape}").format(show_shape=_show(shape))
        )
    # InstanceNorm2d reads a 3-D input as one unbatched sample (C, H, W), as PyTorch does
    channels = shape[0] if kind == "instancenorm" and len(shape) == 3 else shape[1]
    stated = layer.stated.get("num_channels", layer.stated.get("num_features"))
    if stated is not None and stated != channels:
        raise ShapeError(
            _("states {stated} channels, {channels} arrive").format(
                stated=stated, channels=channels
            )
        )
    if kind == "groupnorm":
        groups = _int(layer, "num_groups")
        if channels % groups:
            raise ShapeError(
                _("num_groups={groups} does not divide the {channels} channels").format(
                    groups=groups, channels=channels
                )
            )
        params = channels * (2 if a["bias"] else 1) if a["affine"] else 0
        return _replace(row, params=params, flops=2 * values)
    if kind == "layernorm2d":
        params = channels * (2 if a["bias"] else 1) if a["elementwise_affine"] else 0
        return _replace(row, params=params, flops=2 * values)
    tracked = bool(a["track_running_stats"])
    return _replace(
        row,
        params=channels * (2 if a["bias"] else 1) if a["affine"] else 0,
        buffers=2 * channels + 1 if tracked else 0,
        counters=1 if tracked else 0,
        flops=2 * values,
    )


def _adaptive(layer: LayerSpec, c: int, size: Pair) -> _Mapped:
    target = (1, 1) if layer.kind == "gap" else layer.args["output_size"]
    out = adaptive_output_size(size, target)  # type: ignore[arg-type]
    cells = _adaptive_cells(size[0], out[0]) * _adaptive_cells(size[1], out[1])
    outputs = out[0] * out[1]
    return _Mapped(
        channels=c,
        size=out,
        steps=(AxisStep("adaptive", size[0], out[0]), AxisStep("adaptive", size[1], out[1])),
        flops=c * (cells - outputs),
    )


def _adaptive_cells(n_in: int, n_out: int) -> int:
    """Input cells read by all of one axis's adaptive windows together, overlaps counted.

    The windows ``[floor(i*n/m), ceil((i+1)*n/m))`` add up to ``n + m - gcd(n, m)`` cells
    (``n`` when ``m`` divides ``n``): closed form, so a huge ``m`` costs nothing.
    """
    return n_in + n_out - math.gcd(n_in, n_out)


def _pair_arg(layer: LayerSpec, name: str) -> IntOrPair:
    value = layer.args[name]
    assert isinstance(value, int | tuple), (name, value)
    return value  # type: ignore[return-value]


def _pair_text(pair: tuple[int, int]) -> str:
    return str(pair[0]) if pair[0] == pair[1] else f"({pair[0]}, {pair[1]})"


def _batch_norm(
    layer: LayerSpec,
    row: LayerRow,
    steps: tuple[AxisStep, AxisStep] | None,
    fields: Fields,
) -> LayerRow:
    shape = row.input_shape
    wanted = layer.stated.get("ndim")
    if wanted == 4 and len(shape) != 4:
        raise ShapeError(
            _("BatchNorm2d needs a 4-D input (N, C, H, W), got {show_shape}").format(
                show_shape=_show(shape)
            )
        )
    if wanted == 2 and len(shape) not in (2, 3):
        raise ShapeError(
            _("BatchNorm1d needs a 2-D (N, C) or 3-D (N, C, L) input, got {show_shape}").format(
                show_shape=_show(shape)
            )
        )
    if len(shape) < 2:
        raise ShapeError(
            _("BatchNorm needs a batch and a channel axis, got {show_shape}").format(
                show_shape=_show(shape)
            )
        )
    channels = shape[1]
    stated = layer.stated.get("num_features")
    if stated is not None and stated != channels:
        raise ShapeError(
            _("{states}, {arrive}").format(
                states=ngettext("states {n} feature", "states {n} features", stated).format(
                    n=stated
                ),
                arrive=ngettext("{n} arrives", "{n} arrive", channels).format(n=channels),
            )
        )
    affine = bool(layer.args["affine"])
    tracked = bool(layer.args["track_running_stats"])
    return _replace(
        row,
        params=(channels + (channels if layer.args["bias"] else 0)) if affine else 0,
        buffers=2 * channels + 1 if tracked else 0,
        counters=1 if tracked else 0,
        flops=2 * math.prod(shape),
        steps=steps,
        fields=fields,
    )


def _flatten(layer: LayerSpec, shape: Shape) -> Shape:
    start, end = _int(layer, "start_dim"), _int(layer, "end_dim")
    rank = len(shape)
    first = start + rank if start < 0 else start
    last = end + rank if end < 0 else end
    if not (0 <= first < rank and 0 <= last < rank):
        raise ShapeError(
            _("dimensions {start}..{end} are outside a {rank}-D input {show_shape}").format(
                start=start, end=end, rank=rank, show_shape=_show(shape)
            )
        )
    if first > last:
        raise ShapeError(
            _("start_dim {start} comes after end_dim {end}").format(start=start, end=end)
        )
    return (*shape[:first], math.prod(shape[first : last + 1]), *shape[last + 1 :])


def _int(layer: LayerSpec, name: str) -> int:
    value = layer.args[name]
    assert isinstance(value, int), (name, value)
    return value


def _linear(layer: LayerSpec, row: LayerRow) -> LayerRow:
    shape = row.input_shape
    features = shape[-1]
    stated = layer.stated.get("in_features")
    if stated is not None and stated != features:
        if len(shape) == 4:
            raise ShapeError(
                _(
                    "states in_features={stated}, and a 4-D input {show_shape} arrives: put "
                    "flatten before it (torchvision's AlexNet and VGG flatten in their forward, "
                    "which print(model) does not show)"
                ).format(stated=stated, show_shape=_show(shape))
            )
        raise ShapeError(
            _("states in_features={stated}, {features} arrive (input {show_shape})").format(
                stated=stated, features=features, show_shape=_show(shape)
            )
        )
    out = _int(layer, "out_features")
    bias = bool(layer.args["bias"])
    lead = math.prod(shape[:-1])
    macs = lead * features * out
    return _replace(
        row,
        output_shape=(*shape[:-1], out),
        params=features * out + (out if bias else 0),
        macs=macs,
        flops=2 * macs + (lead * out if bias else 0),
    )


def _residual(layer: LayerSpec, index: str, shape: Shape, fields: Fields) -> LayerRow:
    main, error = _walk(layer.main, shape, fields, prefix=f"{index}.")
    if error is not None:
        raise _InnerError(error)
    shortcut, error = _walk(layer.shortcut, shape, fields, prefix=f"{index}.s")
    if error is not None:
        raise _InnerError(error)
    main_shape = main[-1].output_shape if main else shape
    short_shape = shortcut[-1].output_shape if shortcut else shape
    if main_shape != short_shape:
        if shortcut:
            message = _("the block gives {main}, the shortcut {short}; they must agree to be added")
        else:
            message = _(
                "the block gives {main}, the identity shortcut {short}; they must agree to be "
                "added (add shortcut=conv(C, k=1, s=S))"
            )
        raise ShapeError(message.format(main=_show(main_shape), short=_show(short_shape)))
    main_fields = main[-1].fields if main else fields
    short_fields = shortcut[-1].fields if shortcut else fields
    spatial = len(main_shape) == 4
    inner = (*main, *shortcut)
    return LayerRow(
        index=index,
        spec=layer,
        input_shape=shape,
        output_shape=main_shape,
        params=sum(row.params for row in inner),
        buffers=sum(row.buffers for row in inner),
        macs=sum(row.macs for row in inner),
        flops=sum(row.flops for row in inner) + math.prod(main_shape),
        fields=(
            (union(main_fields[0], short_fields[0]), union(main_fields[1], short_fields[1]))
            if spatial
            else (None, None)
        ),
        steps=(_identity(shape, 0), _identity(shape, 1)) if spatial else None,
        main=main,
        shortcut=shortcut,
    )


def _branch_name(number: int) -> str:
    """Branches are a, b, c, ... (then b27, b28, ...): row ``3.b2`` is layer 2 of branch b."""
    return chr(ord("a") + number) if number < 26 else f"b{number + 1}"


def _se_branch(layer: LayerSpec, channels: int) -> tuple[LayerSpec, ...]:
    """torchvision's SqueezeExcitation as a chain: pool, squeeze, act, expand, gate."""
    a = layer.args
    # torchvision's convolutions here always have a bias, whatever the spec's default.
    return parse_spec(
        f"gap > conv({a['squeeze']}, k=1) > {a['act']} > conv({channels}, k=1) > {a['gate']}",
        bias=True,
    )


def _join(layer: LayerSpec, index: str, shape: Shape, fields: Fields) -> LayerRow:
    """A join's branches walked on its input, then concatenated or combined element-wise."""
    kind = layer.kind
    branch_specs = layer.branches
    branch_input = shape
    if kind == "se":
        _need_spatial(layer, shape)
        branch_specs = ((), _se_branch(layer, shape[1]))
    if kind == "chunk":
        chunks = _int(layer, "chunks")
        if len(shape) < 2 or shape[1] % chunks:
            raise ShapeError(
                _("chunk({chunks}, ...) does not divide the {count} channels").format(
                    chunks=chunks, count=shape[1] if len(shape) > 1 else 1
                )
            )
        branch_input = (shape[0], shape[1] // chunks, *shape[2:])
    walked: list[tuple[LayerRow, ...]] = []
    outputs: list[tuple[Shape, Fields]] = []
    for number, specs in enumerate(branch_specs):
        rows, error = _walk(specs, branch_input, fields, prefix=f"{index}.{_branch_name(number)}")
        if error is not None:
            raise _InnerError(error)
        walked.append(rows)
        outputs.append((rows[-1].output_shape, rows[-1].fields) if rows else (branch_input, fields))
    shapes = [out for out, _ in outputs]
    if kind in ("concat", "chunk"):
        out_shape = _concatenated(shapes)
        join_flops = 0
    else:
        out_shape = _broadcast(shapes)
        join_flops = (len(shapes) - 1) * math.prod(out_shape)
    spatial = len(out_shape) == 4
    joined: Fields = (None, None)
    if spatial:
        per_axis: list[Field | None] = []
        for axis in range(2):
            result: Field | None = None
            for number, (branch_shape, branch_fields) in enumerate(outputs):
                branch_field = branch_fields[axis] if len(branch_shape) == 4 else None
                if len(branch_shape) != 4 or (
                    branch_shape[2 + axis] == 1 and out_shape[2 + axis] > 1
                ):
                    # Broadcast from one cell: every cell sees the whole input through it,
                    # and no window of its own steps (the other branches' jump and start).
                    branch_field = GLOBAL_FIELD
                result = branch_field if number == 0 else union(result, branch_field)
            per_axis.append(result)
        joined = (per_axis[0], per_axis[1])
    inner = [row for rows in walked for row in rows]
    return LayerRow(
        index=index,
        spec=layer,
        input_shape=shape,
        output_shape=out_shape,
        params=sum(row.params for row in inner),
        buffers=sum(row.buffers for row in inner),
        macs=sum(row.macs for row in inner),
        flops=sum(row.flops for row in inner) + join_flops,
        fields=joined,
        steps=(
            (
                AxisStep("identity", shape[2], out_shape[2]),
                AxisStep("identity", shape[3], out_shape[3]),
            )
            if spatial and len(shape) == 4
            else None
        ),
        branches=tuple(walked),
    )


def _concatenated(shapes: Sequence[Shape]) -> Shape:
    first = shapes[0]
    for number, shape in enumerate(shapes[1:], start=2):
        if (
            len(shape) != len(first)
            or len(shape) < 2
            or shape[:1] + shape[2:] != first[:1] + first[2:]
        ):
            raise ShapeError(
                _(
                    "branch {number} gives {shape}, branch 1 {first}: only the channels "
                    "may differ to concatenate"
                ).format(number=number, shape=_show(shape), first=_show(first))
            )
    return (first[0], sum(shape[1] for shape in shapes), *first[2:])


def _broadcast(shapes: Sequence[Shape]) -> Shape:
    """PyTorch's broadcasting: axes aligned from the right, each equal or 1."""
    out = shapes[0]
    for number, shape in enumerate(shapes[1:], start=2):
        rank = max(len(out), len(shape))
        a = (1,) * (rank - len(out)) + out
        b = (1,) * (rank - len(shape)) + shape
        if any(x != y and 1 not in (x, y) for x, y in zip(a, b, strict=True)):
            raise ShapeError(
                _(
                    "branch {number} gives {shape}, which does not broadcast with {out} "
                    "(each axis must agree or be 1)"
                ).format(number=number, shape=_show(shape), out=_show(out))
            )
        out = tuple(max(x, y) for x, y in zip(a, b, strict=True))
    return out


@dataclass(frozen=True)
class CellTrace:
    """The input cells one output cell can be reached from, per axis (``None``: none)."""

    index: str
    cell: tuple[int, int]
    rows: tuple[int, int] | None
    cols: tuple[int, int] | None
    # Every input row and column reached (the span's holes left out).
    row_cells: frozenset[int] = field(default=frozenset(), repr=False, compare=False)
    col_cells: frozenset[int] = field(default=frozenset(), repr=False, compare=False)


def trace_cell(network: Network, cell: tuple[int, int], layer: int | None = None) -> CellTrace:
    """Carry output cell ``cell`` of top-level layer ``layer`` back to the input.

    ``layer`` is the 1-based row number (default: the last layer with a spatial output).
    Each layer maps the interval of its output cells to the first and last input cell they
    read, cell by cell (``receptive.back_cells``: the holes a stride leaves and the cells a zero
    padding shows reach nothing); a residual block joins its two paths.

    Examples
    --------
    >>> from convcli.shapes.netspec import parse_spec
    >>> net = walk_network(parse_spec("convT(1, k=3, s=2) > conv(1, k=3)"), (1, 1, 4, 4))
    >>> trace_cell(net, (2, 0))
    CellTrace(index='2', cell=(2, 0), rows=(0, 2), cols=(0, 1))
    """
    spatial = [number for number, row in enumerate(network.rows, start=1) if row.spatial]
    if not spatial:
        raise OptionError(_("no layer has a spatial (N, C, H, W) output"))
    number = spatial[-1] if layer is None else layer
    if not 1 <= number <= len(network.rows):
        raise OptionError(
            _("there is no layer {number} (layers 1 to {len_network_rows})").format(
                number=number, len_network_rows=len(network.rows)
            )
        )
    row = network.rows[number - 1]
    if not row.spatial:
        raise OptionError(
            _(
                "layer {number} {row_spec_text} has no spatial output ({show_row_output_shape})"
            ).format(
                number=number,
                row_spec_text=echo_text(row.spec.text),
                show_row_output_shape=_show(row.output_shape),
            )
        )
    height, width = row.output_shape[2], row.output_shape[3]
    if not (0 <= cell[0] < height and 0 <= cell[1] < width):
        raise OptionError(
            _("cell {cell_0},{cell_1} is outside layer {number}'s {height}x{width} output").format(
                cell_0=cell[0], cell_1=cell[1], number=number, height=height, width=width
            )
        )
    spans: list[tuple[int, int] | None] = []
    sets: list[frozenset[int]] = []
    for axis in range(2):
        reached = _carry(network.rows[:number], axis, frozenset({cell[axis]}))
        spans.append((min(reached), max(reached)) if reached else None)
        sets.append(reached)
    return CellTrace(
        index=str(number),
        cell=cell,
        rows=spans[0],
        cols=spans[1],
        row_cells=sets[0],
        col_cells=sets[1],
    )


def _carry(rows: Sequence[LayerRow], axis: int, cells: frozenset[int]) -> frozenset[int]:
    for row in reversed(rows):
        if not cells:
            return cells
        if row.spec.kind == "residual":
            cells = _carry(row.main, axis, cells) | _carry(row.shortcut, axis, cells)
        elif row.branches:
            cells = _carry_join(row, axis, cells)
        elif row.steps is not None:
            cells = back_cells(row.steps[axis], cells)
    return cells


def _carry_join(row: LayerRow, axis: int, cells: frozenset[int]) -> frozenset[int]:
    """The input cells a join's output ``cells`` read: each branch's, broadcasts included."""
    n_out = row.output_shape[2 + axis]
    reached: frozenset[int] = frozenset()
    for branch in row.branches:
        size = branch[-1].output_shape if branch else row.input_shape
        if len(size) != 4:
            reached |= frozenset(range(row.input_shape[2 + axis]))
            continue
        wanted = frozenset({0}) if size[2 + axis] == 1 and n_out > 1 else cells
        reached |= _carry(branch, axis, wanted)
    return reached
