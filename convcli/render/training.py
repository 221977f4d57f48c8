"""What ``net --training`` shows: backward MACs and what training holds, per layer and in all.

Nothing here prints.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich import box
from rich.table import Table
from rich.text import Text

from convcli.i18n import _
from convcli.ops.budget import format_bytes
from convcli.render.widgets import Renderable, render_key_values, render_line
from convcli.shapes.modules import Origin
from convcli.shapes.training import TrainingLayer, TrainingMemory

__all__ = ["training_payload", "training_report"]


def training_payload(
    memory: TrainingMemory, dtype: str, origins: Mapping[str, Origin] | None = None
) -> dict[str, Any]:
    """The ``training`` object ``net --training --json`` adds (with ``origins``, a model
    file's rows: each layer's ``node`` and ``module`` as ``net --json`` gives them)."""
    layers = []
    for layer in memory.layers:
        entry: dict[str, Any] = {
            "index": layer.index,
            "layer": layer.text,
            "backward_macs": layer.backward_macs,
            "kept_bytes": layer.kept_bytes,
        }
        origin = origins.get(layer.index) if origins is not None else None
        if origin is not None:
            entry["node"] = origin.node
            entry["module"] = origin.module
        layers.append(entry)
    return {
        "optimizer": memory.optimizer,
        "dtype": dtype,
        "layers": layers,
        "backward_macs": memory.backward_macs,
        "param_bytes": memory.param_bytes,
        "gradient_bytes": memory.gradient_bytes,
        "optimizer_bytes": memory.optimizer_bytes,
        "kept_bytes": memory.kept_bytes,
        "kept_param_bytes": memory.kept_param_bytes,
        "activation_bytes": memory.activation_bytes,
        "total_bytes": memory.total_bytes,
    }


def _size(value: int) -> str:
    return format_bytes(value) if value else "-"


def _label(layer: TrainingLayer, origin: Origin | None) -> str:
    """A row's layer as the table shows it: a join by its kind, and for a model file the
    module that computed it (``layer1.0.conv1: conv(...)``) or the operator convcli does
    not know (``Erf ?``)."""
    if origin is None:
        return layer.label
    text = f"{origin.unknown} ?" if origin.unknown else layer.label
    name = origin.qualified
    # the module's name where it says more than the layer (conv1, fc; not relu)
    said = name and name != text.split("(", 1)[0]
    return f"{name}: {text}" if said else text


def training_report(
    memory: TrainingMemory, dtype: str, origins: Mapping[str, Origin] | None = None
) -> list[Renderable]:
    """A row per layer (backward MACs, bytes kept), then the totals of training's memory.

    ``origins``: where a model file's rows come from, to name each by its module."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column(_("layer"), overflow="fold")
    table.add_column(_("backward MACs"), justify="right", no_wrap=True)
    table.add_column(_("kept"), justify="right", no_wrap=True)
    for layer in memory.layers:
        table.add_row(
            Text(layer.index),
            Text(_label(layer, origins.get(layer.index) if origins is not None else None)),
            Text(f"{layer.backward_macs:,}" if layer.backward_macs else "-"),
            Text(_size(layer.kept_bytes)),
        )
    state = {
        "sgd": _("plain SGD keeps none"),
        "momentum": _("one momentum buffer per parameter"),
        "adam": _("two moments per parameter and a float32 step per tensor"),
    }[memory.optimizer]
    totals = [
        (_("backward MACs"), f"{memory.backward_macs:,}"),
        (_("parameters"), format_bytes(memory.param_bytes)),
        (_("gradients"), format_bytes(memory.gradient_bytes)),
        (
            _("optimizer state"),
            _("{size} ({optimizer}: {state})").format(
                size=format_bytes(memory.optimizer_bytes), optimizer=memory.optimizer, state=state
            ),
        ),
        (
            _("kept for backward"),
            _("{kept}, of which weights {weights}: activations {activations}").format(
                kept=format_bytes(memory.kept_bytes),
                weights=format_bytes(memory.kept_param_bytes),
                activations=format_bytes(memory.activation_bytes),
            ),
        ),
        (_("total"), format_bytes(memory.total_bytes)),
    ]
    return [
        render_line(
            _(
                "training ({dtype}): the backward pass's MACs (dW, and dX where the input "
                "needs a gradient) and the bytes each layer is the first to keep for it"
            ).format(dtype=dtype)
        ),
        table,
        render_key_values(totals, title=_("training memory")),
        render_line(
            _(
                "Kept as PyTorch's autograd keeps it without in-place operations: a "
                "convolution its input and weight, ReLU its output, max pooling its input "
                "and indices, BatchNorm its input and statistics; a tensor kept by two "
                "layers is counted once. Total: parameters + gradients + optimizer state + "
                "activations."
            )
        ),
    ]
