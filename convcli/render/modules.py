"""``convcli net MODEL.onnx --depth N``: the layer table grouped by the model's modules.

Builds renderables and plain dicts; never prints.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from convcli.i18n import N_, _, ngettext
from convcli.render.net import COLUMNS, _field_cells, _percent_text, _shape, rows_table
from convcli.render.numbers import compact_count
from convcli.render.widgets import Fitting
from convcli.shapes.modules import ModuleRow, Origin, module_of_row

__all__ = ["annotate_layers", "module_payload", "module_table"]

MODULES_NOTE = N_(
    "Rows are the modules named in the nodes (PyTorch's exporter writes "
    "/layer1/layer1.0/conv1/Conv), in the order the file computes them: each sums the "
    "layers inside it; its output and field are its last node's. --depth all lists "
    "every layer."
)
PRINTED_MODULES_NOTE = N_(
    "Rows are the modules the pasted print(model) text names ((features): Sequential(, "
    "(0): Conv2d(), in printed order: each sums the layers inside it; its output and "
    "field are its last layer's. --depth all lists every layer."
)
PRINTED_ROOT_NOTE = N_(
    "A row without a module name is the add in a block's own forward (torchvision's "
    "InvertedResidual, MBConv), or a layer the text writes without one ((name): ...), "
    "placed in the modules of the layers before and after it."
)
ROOT_NOTE = N_(
    "A row without a module name is an op of the model's own forward (a node whose name "
    "gives no module is placed in the modules of the nodes before and after it)."
)
NO_MODULES_NOTE = N_(
    "The node names give no module path (PyTorch's exporters write one; this file has "
    "none): --depth folds the joins, as for a spec."
)
UNKNOWN_NOTE = N_(
    "?: an operator convcli does not know; its output keeps its input's shape (as the "
    "file says) and its cost is not counted."
)
AT_NOTE = N_("Layer {layer} (--at counts the layers of --depth all) is in row {row} here, {name}.")


def _label(row: ModuleRow) -> str:
    name = f"{row.name}: {row.kind}" if row.kind and not row.layer else row.name
    if row.layer:
        # The module's name where it says more than the layer (conv1, fc; not relu).
        said = name and name != row.layer.split("(", 1)[0]
        text = f"{name}: {row.layer}" if said else row.layer
    elif row.children or row.kind:
        text = name  # a class says what is inside; without one, how many layers
    else:
        text = ngettext("{name} ({count} layer)", "{name} ({count} layers)", row.layers).format(
            name=name, count=row.layers
        )
    # A layer's own text is marked already ("Erf ?"); a module holding one is marked here.
    return text + " ?" if row.unknown and not row.layer else text


def _flat(rows: Sequence[ModuleRow], indent: int = 0) -> Iterator[tuple[ModuleRow, int]]:
    for row in rows:
        yield row, indent
        yield from _flat(row.children, indent + 1)


def module_table(
    rows: Sequence[ModuleRow], input_shape: Sequence[int], total_params: int
) -> Fitting:
    """One row per module down to the depth ``rows`` were grouped to, each under its parent;
    ``total_params`` is the whole network's, of which each row's params % is the share."""
    cells = [_cells({"layer": _("input"), "output": _shape(input_shape)}, ("1", "1", "0"))]
    # Not indented: the index (4.1 inside 4) and the name (layer1.0 in layer1) say where
    # a module stands, and a name of the depth asked for fits 80 columns unwrapped.
    for row, _indent in _flat(rows):
        costs = (row.params, row.macs, row.flops)
        params, macs, flops = (compact_count(n) if n or not row.layer else "-" for n in costs)
        named = {
            "#": row.index,
            "layer": _label(row),
            "output": _shape(row.output_shape),
            "params": params,
            "params %": _percent_text(row.params, total_params),
            "MACs": macs,
            "FLOPs": flops,
        }
        cells.append(_cells(named, _field_cells(row.fields)))
    return rows_table(cells, bool(total_params))


def _cells(named: dict[str, str], field: tuple[str, str, str]) -> tuple[str, ...]:
    """A row's cells in the table's column order (a column not named here stays empty)."""
    named = {**named, "field": field[0], "jump": field[1], "start": field[2]}
    return tuple(named.get(name, "") for name, _justify in COLUMNS)


def module_notes(
    rows: Sequence[ModuleRow], traced: str | None = None, *, printed: bool = False
) -> list[str]:
    """The lines under a module table: what its rows are, and which row holds layer
    ``traced`` (the layer a cell was traced back from); ``printed``: the modules are
    those of pasted print(model) text, not a file's node names."""
    notes = [_(PRINTED_MODULES_NOTE if printed else MODULES_NOTE)]
    holder = None if traced is None else module_of_row(rows, traced)
    if holder is not None:
        name = holder.name or holder.layer
        notes.append(_(AT_NOTE).format(layer=traced, row=holder.index, name=name))
    if any(not row.name for row, _indent in _flat(rows)):
        notes.append(_(PRINTED_ROOT_NOTE if printed else ROOT_NOTE))
    return notes


def module_payload(rows: Sequence[ModuleRow]) -> list[dict[str, Any]]:
    """The ``--json`` entries of a module table (``modules``), children nested."""
    entries = []
    for row in rows:
        first, second = row.fields
        entry: dict[str, Any] = {
            "index": row.index,
            "module": row.name,
            "class": row.kind or None,
            "level": row.level,
            "layer": row.layer or None,
            "layers": row.layers,
            "output_shape": list(row.output_shape),
            "params": row.params,
            "macs": row.macs,
            "flops": row.flops,
            "receptive_field": [first.size, second.size]
            if first and second and not (first.whole or second.whole)
            else None,
        }
        if row.unknown:
            entry["unknown_ops"] = list(row.unknown)
        if row.children:
            entry["children"] = module_payload(row.children)
        entries.append(entry)
    return entries


def annotate_layers(
    entries: list[dict[str, Any]], origins: Mapping[str, Origin], *, printed: bool = False
) -> None:
    """Give every ``--json`` layer entry (nested ones too) its node and module path, and
    ``unknown_op`` where it stands for an operator convcli does not know; ``printed``: the
    origins are pasted print(model) text's, whose ``module`` is the name
    ``named_modules()`` gives the layer (``features.0``; None: the text names none)."""
    found = list(_entries(entries))
    if len(found) != len(origins):  # never so for a file's rows; nothing said rather than wrong
        return
    for entry, origin in zip(found, origins.values(), strict=True):
        if printed:
            entry["module"] = origin.scope[-1].name if origin.scope else None
            continue
        entry["node"] = origin.node
        entry["module"] = origin.module
        if origin.unknown:
            entry["unknown_op"] = origin.unknown


def _entries(entries: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for entry in entries:
        yield entry
        yield from _entries(entry.get("layers", []))
        yield from _entries(entry.get("shortcut", []))
        for branch in entry.get("branches", []):
            yield from _entries(branch)
