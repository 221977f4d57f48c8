"""What training a network costs beyond its forward pass: backward MACs and memory.

Pure Python, from a ``walk_network`` result. Memory follows what PyTorch's autograd keeps
for the backward pass (反向传播) without in-place operations, one tensor kept by several
layers counted once (as ``torch.autograd.graph.saved_tensors_hooks`` sees them,
deduplicated by storage):

- convolution, transposed convolution (every option): its input and its weight;
- linear: its input, and its weight when its input needs a gradient;
- ReLU, sigmoid, tanh, softmax: their output; GELU, SiLU, LeakyReLU, ReLU6, hardswish,
  hardsigmoid, Mish, ELU: their input; PReLU: its input and its weight;
- max pooling (adaptive too): its input and its indices (int64); average pooling: its
  input; adaptive average pooling: its input, or nothing when the output is 1x1 (a mean);
- BatchNorm: its input, weight (affine), running statistics (tracked) and the batch's
  mean and inverse standard deviation; GroupNorm: its input, weight (affine) and a mean
  and inverse standard deviation per sample and group; LayerNorm: its input, weight and
  bias (affine) and a mean and inverse standard deviation per normalised slice;
  InstanceNorm (a BatchNorm over n*c channels): its input, mean and inverse standard
  deviation per sample and channel, and the weight and running statistics repeated n
  times (affine, tracked);
- dropout: its mask (as the input's dtype), per channel for Dropout2d; with p = 0 the
  output is the input itself, with p = 1 it keeps one zero;
- flatten, identity, zero padding, upsampling (nearest and bilinear), channel shuffle,
  concatenation and a residual sum: nothing.

A layer whose input needs no gradient (before the first layer with parameters) keeps only
what its weight's gradient needs. Backward MACs: ``dW`` as many as the forward, ``dX`` as
many again when the input needs a gradient (convolutions and linear layers).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from convcli.errors import OptionError
from convcli.i18n import _
from convcli.shapes.network import LayerRow, Network

__all__ = [
    "OPTIMIZERS",
    "TrainingLayer",
    "TrainingMemory",
    "training_memory",
]

# Optimizer state per parameter value (Adam also keeps one float32 step per tensor).
OPTIMIZERS = {"sgd": 0, "momentum": 1, "adam": 2}
STEP_BYTES = 4
INDEX_BYTES = 8
KEEPS_OUTPUT = ("relu", "sigmoid", "tanh", "softmax")
KEEPS_INPUT = (
    "gelu", "silu", "leakyrelu", "avgpool", "relu6", "hardswish", "hardsigmoid", "mish", "elu",
)  # fmt: skip
KEEPS_NOTHING = ("gap", "flatten", "identity", "zeropad", "upsample", "shuffle")
NORMS = ("bn", "groupnorm", "layernorm", "layernorm2d", "instancenorm")
# Layers whose saved tensors are modelled here; any other is refused, not guessed.
MODELLED = (
    "conv", "convT", "linear", "prelu", *KEEPS_OUTPUT, *KEEPS_INPUT, *KEEPS_NOTHING, *NORMS,
    "maxpool", "adaptivemaxpool", "adaptiveavgpool", "dropout", "dropout2d", "residual",
    "concat", "add", "mul", "chunk", "se",
)  # fmt: skip


@dataclass(frozen=True)
class TrainingLayer:
    """One layer's backward MACs and the bytes it is the first to keep for backward."""

    index: str
    text: str
    backward_macs: int
    kept_bytes: int
    short: str = ""  # a join's kind alone (its branches' layers are rows of their own)

    @property
    def label(self) -> str:
        return self.short or self.text


@dataclass(frozen=True)
class TrainingMemory:
    """A network's training totals at ``itemsize`` bytes a number."""

    layers: tuple[TrainingLayer, ...]
    optimizer: str
    param_bytes: int
    gradient_bytes: int
    optimizer_bytes: int
    kept_bytes: int
    kept_param_bytes: int

    @property
    def backward_macs(self) -> int:
        return sum(layer.backward_macs for layer in self.layers)

    @property
    def activation_bytes(self) -> int:
        """What is kept for backward beyond the parameters themselves."""
        return self.kept_bytes - self.kept_param_bytes

    @property
    def total_bytes(self) -> int:
        """Parameters, gradients, optimizer state and kept activations."""
        return self.param_bytes + self.gradient_bytes + self.optimizer_bytes + self.activation_bytes


class _Walk:
    def __init__(self, itemsize: int) -> None:
        self.itemsize = itemsize
        self.kept: dict[str, int] = {}
        self.param_storages: set[str] = set()
        self.tensors = 0
        self.layers: list[TrainingLayer] = []
        self.whole: dict[str, int] = {}

    def keep(self, storage: str, values: int, *, itemsize: int | None = None) -> int:
        if storage in self.kept:
            return 0
        # A view (a chunk's part) keeps its whole storage alive.
        values = self.whole.get(storage, values)
        size = values * (self.itemsize if itemsize is None else itemsize)
        self.kept[storage] = size
        return size


def _weight_values(row: LayerRow) -> int:
    a = row.spec.args
    if row.spec.kind in ("conv", "convT"):
        out = a["out_channels"]
        assert isinstance(out, int)
        return row.params - (out if a["bias"] else 0)
    if row.spec.kind == "linear":
        features = a["out_features"]
        assert isinstance(features, int)
        return row.input_shape[-1] * features
    return 0


def _tensors(row: LayerRow) -> int:
    """How many parameter tensors the layer has (weight, bias)."""
    kind, a = row.spec.kind, row.spec.args
    if kind in ("conv", "convT", "linear"):
        return 1 + (1 if a["bias"] else 0)
    if kind == "prelu":
        return 1
    if kind in NORMS and _affine(row):
        return 1 + (1 if a["bias"] else 0)
    return 0


def _affine(row: LayerRow) -> bool:
    """Whether a normalisation layer has a weight (and maybe a bias)."""
    a = row.spec.args
    return bool(a["elementwise_affine"] if row.spec.kind.startswith("layernorm") else a["affine"])


def _walk(walk: _Walk, rows: tuple[LayerRow, ...], storage: str, grad: bool) -> tuple[str, bool]:
    """Walk ``rows`` from an input in ``storage`` (needing a gradient: ``grad``)."""
    for row in rows:
        storage, grad = _layer(walk, row, storage, grad)
    return storage, grad


def _layer(walk: _Walk, row: LayerRow, storage: str, grad: bool) -> tuple[str, bool]:
    kind, index = row.spec.kind, row.index
    output = f"out:{index}"
    values_in = math.prod(row.input_shape)
    kept = 0
    macs = 0
    if row.branches:
        return _join(walk, row, storage, grad)
    if kind == "residual":  # its layers are listed one by one; the sum keeps nothing
        _main, main_grad = _walk(walk, row.main, storage, grad)
        _short, short_grad = _walk(walk, row.shortcut, storage, grad)
        return output, main_grad or short_grad
    walk.tensors += _tensors(row)
    if kind in ("conv", "convT", "linear"):
        weight = _weight_values(row)
        weight_storage = f"weight:{index}"
        walk.param_storages.add(weight_storage)
        kept += walk.keep(storage, values_in)
        if kind != "linear" or grad:
            kept += walk.keep(weight_storage, weight)
        macs = row.macs * (2 if grad else 1)
        grad = True
    elif kind == "prelu":  # its weight needs the input whether or not the input does
        kept += walk.keep(storage, values_in)
        walk.param_storages.add(f"weight:{index}")
        kept += walk.keep(f"weight:{index}", _int(row, "num_parameters"))
        grad = True
    elif kind in KEEPS_OUTPUT:
        if grad:
            kept += walk.keep(output, values_in)
    elif kind in KEEPS_INPUT:
        if grad:
            kept += walk.keep(storage, values_in)
    elif kind in ("maxpool", "adaptivemaxpool"):
        if grad:
            kept += walk.keep(storage, values_in)
            kept += walk.keep(f"indices:{index}", row.outputs, itemsize=INDEX_BYTES)
    elif kind == "adaptiveavgpool":  # to 1x1 it is a mean, whose backward needs only shapes
        if grad and tuple(row.output_shape[-2:]) != (1, 1):
            kept += walk.keep(storage, values_in)
    elif kind in NORMS:
        kept += _norm(walk, row, storage, grad)
        grad = grad or _affine(row)
    elif kind in ("dropout", "dropout2d"):
        p = float(row.spec.args["p"])  # type: ignore[arg-type]
        if p == 0:
            output = storage  # the input itself
        elif grad:
            shape = row.input_shape
            # Dropout2d: one mask value per sample and channel (PyTorch reads a 3-D input
            # as (N, C, L), a 2-D one as (N, C): one per value)
            mask = math.prod(shape[:2]) if kind == "dropout2d" else values_in
            kept += walk.keep(f"mask:{index}", 1 if p == 1 else mask)
    elif kind in ("flatten", "identity"):
        output = storage  # a view of its input
    walk.layers.append(TrainingLayer(index, row.spec.text, macs, kept))
    return output, grad


def _join(walk: _Walk, row: LayerRow, storage: str, grad: bool) -> tuple[str, bool]:
    """A join's branches, each from the join's input (a chunk's parts are views of it);
    concatenation and a sum keep nothing, a product keeps each operand for the other's
    gradient (squeeze-excitation's gate and its input)."""
    ends: list[tuple[str, int]] = []
    grads = []
    at = len(walk.layers)  # the join's row goes before its branches' rows, as net lists them
    if row.spec.kind == "chunk":
        walk.whole[storage] = math.prod(row.input_shape)
    for branch in row.branches:
        end, branch_grad = _walk(walk, branch, storage, grad)
        shape = branch[-1].output_shape if branch else row.input_shape
        ends.append((end, math.prod(shape)))
        grads.append(branch_grad)
    kept = 0
    if row.spec.kind in ("mul", "se") and any(grads):
        for end, values in ends:
            kept += walk.keep(end, values)
    spec = row.spec
    short = f"chunk({spec.args['chunks']})" if spec.kind == "chunk" else spec.kind
    walk.layers.insert(at, TrainingLayer(row.index, spec.text, 0, kept, short))
    return f"out:{row.index}", any(grads)


def _unmodelled(rows: tuple[LayerRow, ...]) -> LayerRow | None:
    for row in rows:
        if row.spec.kind not in MODELLED:
            return row
        inner = _unmodelled(row.inner)
        if inner is not None:
            return inner
    return None


def _int(row: LayerRow, name: str) -> int:
    value = row.spec.args[name]
    assert isinstance(value, int)
    return value


def _norm(walk: _Walk, row: LayerRow, storage: str, grad: bool) -> int:
    """A normalisation's input, statistics and (affine) weight, as its kernel saves them."""
    kind, a, index, shape = row.spec.kind, row.spec.args, row.index, row.input_shape
    affine = _affine(row)
    if not (grad or affine):
        return 0
    # (N, C, *), but an InstanceNorm2d of a (C, H, W) input is of one sample
    unbatched = kind == "instancenorm" and len(shape) == 3
    batch = 1 if unbatched else shape[0]
    channels = shape[0] if unbatched else shape[1]
    kept = walk.keep(storage, math.prod(shape))
    weight = row.params // (2 if a["bias"] else 1)  # a bias as big as the weight
    if affine and kind != "instancenorm":  # InstanceNorm keeps a repeated copy instead
        walk.param_storages.add(f"weight:{index}")
        kept += walk.keep(f"weight:{index}", weight)
    if kind == "bn":
        stats = channels
        tracked = bool(a["track_running_stats"])
        parts = ["mean", "invstd", *(("running_mean", "running_var") if tracked else ())]
        for part in parts:
            kept += walk.keep(f"{part}:{index}", stats)
        return kept
    if kind == "groupnorm":
        stats = batch * _int(row, "num_groups")
    elif kind == "instancenorm":  # batch_norm over n*c channels, weight and stats repeated
        stats = batch * channels
        repeated = (["weight_rep"] if affine else []) + (
            ["running_mean", "running_var"] if a["track_running_stats"] else []
        )
        for part in repeated:
            kept += walk.keep(f"{part}:{index}", stats)
    else:  # layernorm: one mean and rstd per slice; its bias is saved too
        stats = math.prod(shape) // _normalized(row)
        if affine and a["bias"]:
            walk.param_storages.add(f"bias:{index}")
            kept += walk.keep(f"bias:{index}", weight)
    for part in ("mean", "invstd"):
        kept += walk.keep(f"{part}:{index}", stats)
    return kept


def _normalized(row: LayerRow) -> int:
    """How many values one LayerNorm slice holds (its normalized_shape's product)."""
    if row.spec.kind == "layernorm2d":
        return row.input_shape[-3]
    value = row.spec.args["normalized_shape"]
    dims = len(value) if isinstance(value, tuple) else 1  # the input's last dims (checked)
    return math.prod(row.input_shape[-dims:])


def training_memory(network: Network, itemsize: int, optimizer: str = "sgd") -> TrainingMemory:
    """Backward MACs per layer and what training ``network`` holds, at ``itemsize`` bytes.

    ``optimizer``: ``sgd`` keeps no state, ``momentum`` one buffer per parameter, ``adam``
    two (and a float32 step per parameter tensor).

    Examples
    --------
    >>> from convcli.shapes.netspec import parse_spec
    >>> from convcli.shapes.network import walk_network
    >>> net = walk_network(parse_spec("conv(2, k=3) > relu > conv(1, k=1)"), (1, 1, 4, 4))
    >>> memory = training_memory(net, 4)
    >>> [(layer.backward_macs, layer.kept_bytes) for layer in memory.layers]
    [(72, 136), (0, 32), (16, 8)]
    >>> memory.param_bytes, memory.kept_param_bytes  # (18 + 2) + (2 + 1) params, 4 bytes each
    (92, 80)
    """
    if optimizer not in OPTIMIZERS:
        raise OptionError(
            _("optimizer must be one of {names}, got {optimizer!r}").format(
                names=", ".join(OPTIMIZERS), optimizer=optimizer
            )
        )
    unknown = _unmodelled(network.rows)
    if unknown is not None:
        raise OptionError(
            _(
                "layer {index} {layer}: what autograd keeps for it is not modelled yet, so "
                "training's memory is not given"
            ).format(index=unknown.index, layer=unknown.spec.text)
        )
    walk = _Walk(itemsize)
    _walk(walk, network.rows, "input", False)
    param_bytes = network.params * itemsize
    state = OPTIMIZERS[optimizer] * param_bytes
    if optimizer == "adam":
        state += STEP_BYTES * walk.tensors
    return TrainingMemory(
        layers=tuple(walk.layers),
        optimizer=optimizer,
        param_bytes=param_bytes,
        gradient_bytes=param_bytes,
        optimizer_bytes=state,
        kept_bytes=sum(walk.kept.values()),
        kept_param_bytes=sum(walk.kept.get(s, 0) for s in walk.param_storages),
    )
