"""A model file's rows grouped by the modules that made them, as torchinfo's depth.

A reader of model files (ONNX) says where each row of the walk came from: an ``Origin``
with the node's name and its module path (``/layer1/layer1.0/conv1/Conv``, as PyTorch's
exporter names nodes: ``layer1``, ``layer1.0``, ``conv1``). ``row_origins`` lines the
walked rows up with their origins; ``printed_origins`` gives them from the modules that
pasted ``print(model)`` text names (``(layer1): Sequential(`` ... ``(conv1): Conv2d(``).
``module_tree`` groups the rows, in the order the file computes them, into one
``ModuleRow`` per module down to a depth: its layers' parameters, MACs and FLOPs summed,
its output shape and field its last node's.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace

from convcli.shapes.netspec import Scope
from convcli.shapes.network import Fields, LayerRow, Network, Shape

__all__ = [
    "ModuleRow",
    "Origin",
    "Scope",
    "module_of_row",
    "module_tree",
    "printed_origins",
    "relabel",
    "row_origins",
]


@dataclass(frozen=True)
class Origin:
    """Where one row of the walk came from.

    ``node`` is the node's name in the file, ``op`` the layer it was written as (``conv``,
    ``add``), ``position`` its place in the file's order; ``scope`` the modules from the
    root down (``None``: its name gives none, ``()``: the root module's own op);
    ``unknown`` the operator convcli does not know (``''``: a known one), and ``optional``
    whether it may make no row (a chunk's part, an identity alone in a branch).
    """

    node: str
    op: str
    position: int
    scope: tuple[Scope, ...] | None
    unknown: str = ""
    optional: bool = False

    @property
    def module(self) -> str:
        """The module path as PyTorch's exporter writes it: ``/layer1/layer1.0``."""
        return "/" + "/".join(s.name for s in self.scope) if self.scope else ""

    @property
    def qualified(self) -> str:
        """The module's name as ``model.named_modules()`` gives it: ``layer1.0.conv1``.

        TorchScript's path names a module by its attribute (``conv1``), or by its
        parent's and its own (``layer1.0``, ``downsample.0``); dynamo's by its whole
        name (``layer1.0.conv1``).

        >>> def qualified(*names):
        ...     return Origin("n", "conv", 1, tuple(Scope(name) for name in names)).qualified
        >>> qualified("layer1", "layer1.0", "conv1")
        'layer1.0.conv1'
        >>> qualified("layer2", "layer2.0", "downsample", "downsample.0")
        'layer2.0.downsample.0'
        >>> qualified("layer1", "layer1.0", "layer1.0.conv1")
        'layer1.0.conv1'
        """
        names: list[str] = []  # the qualified name of each module on the path
        raw = ""
        for scope in self.scope or ():
            parent = names[-1] if names else ""
            if not parent or scope.name.startswith(parent + "."):
                name = scope.name
            elif raw and scope.name.startswith(raw + ".") and parent.endswith(raw):
                # the parent's own name, extended: it replaces that name
                name = parent[: len(parent) - len(raw)] + scope.name
            else:
                name = f"{parent}.{scope.name}"
            names.append(name)
            raw = scope.name
        return names[-1] if names else ""


@dataclass(frozen=True)
class ModuleRow:
    """A module (or a layer of no module below the depth) with the sums of its layers.

    ``layer`` is the layer's text where the row holds one layer, else ``''``; ``layers``
    the number of rows folded in; ``unknown`` the operators convcli does not know in it.
    """

    index: str
    name: str
    kind: str
    layer: str
    level: int
    output_shape: Shape
    params: int
    macs: int
    flops: int
    fields: Fields
    layers: int
    unknown: tuple[str, ...] = ()
    children: tuple[ModuleRow, ...] = ()
    rows: frozenset[str] = frozenset()  # the indexes of the walk's rows folded in


_SAME = {("concat", "chunk"), ("chunkpart", "identity")}


def _preorder(rows: Sequence[LayerRow]) -> Iterator[LayerRow]:
    for row in rows:
        yield row
        yield from _preorder(row.inner)


def row_origins(network: Network, origins: Sequence[Origin]) -> dict[str, Origin] | None:
    """Each row's origin, by the row's index; None when the two do not line up.

    ``origins`` are in the order the spec was written (a join before its branches), the
    order ``walk_network`` makes the rows in.
    """
    found: dict[str, Origin] = {}
    queue = list(origins)
    at = 0
    for row in _preorder(network.rows):
        while at < len(queue) and queue[at].optional and row.spec.kind != "identity":
            at += 1
        if at == len(queue):
            return None
        origin = queue[at]
        if origin.op != row.spec.kind and (origin.op, row.spec.kind) not in _SAME:
            return None
        found[row.index] = origin
        at += 1
    if any(not origin.optional for origin in queue[at:]):
        return None
    return found


def printed_origins(network: Network) -> dict[str, Origin] | None:
    """Each row's origin from the modules pasted ``print(model)`` text names around it
    (``LayerSpec.module``), by the row's index; None where the text names no module.

    Rows are placed in the order they compute: a join after its branches (a printed
    SqueezeExcitation read as ``se(...)``: its pieces, then the product), each piece in
    the join's module. A row the text names no module for (a layer typed in a spec) is
    placed among its neighbours'.
    """
    found: dict[str, Origin] = {}

    def place(rows: Sequence[LayerRow], outer: tuple[Scope, ...] | None) -> None:
        for row in rows:
            scope = row.spec.module if row.spec.module is not None else outer
            place(row.inner, scope)
            found[row.index] = Origin(
                node=scope[-1].name if scope else "",
                op=row.spec.kind,
                position=len(found),
                scope=scope,
            )

    place(network.rows, None)
    if all(origin.scope is None for origin in found.values()):
        return None
    # In the walk's order (a join before its branches), as --json lists the layers.
    return {row.index: found[row.index] for row in _preorder(network.rows)}


@dataclass(frozen=True)
class _Item:
    row: LayerRow
    path: tuple[Scope, ...]
    params: int
    macs: int
    flops: int
    unknown: str


def module_tree(
    network: Network, origins: Mapping[str, Origin], depth: int
) -> tuple[ModuleRow, ...]:
    """The rows grouped by module down to ``depth`` (1: the top-level modules).

    Each row's own cost is counted once: a join's row adds only what the join computes.
    A row whose node has no module path is taken as the root module's own op.
    """
    items = []
    for row in _preorder(network.rows):
        origin = origins[row.index]
        inner = row.inner
        items.append(
            (
                origin.position,
                _Item(
                    row,
                    origin.scope or (),
                    row.params - sum(r.params for r in inner),
                    row.macs - sum(r.macs for r in inner),
                    row.flops - sum(r.flops for r in inner),
                    origin.unknown,
                ),
            )
        )
    ordered = [item for _position, item in sorted(items, key=lambda pair: pair[0])]
    return _group(_placed(ordered, origins), 1, depth, "")


def _placed(items: Sequence[_Item], origins: Mapping[str, Origin]) -> list[_Item]:
    """Rows whose node names no module (a node an optimiser wrote) placed in the modules
    its neighbours share: the common part of the paths before and after it."""
    known = [origins[item.row.index].scope is not None for item in items]
    # The nearest known path before and after each row, in two passes (files from an
    # optimiser may leave long runs of nodes unnamed).
    befores: list[tuple[Scope, ...]] = []
    last: tuple[Scope, ...] = ()
    for at, item in enumerate(items):
        befores.append(last)
        last = item.path if known[at] else last
    afters: list[tuple[Scope, ...]] = [()] * len(items)
    last = ()
    for at in range(len(items) - 1, -1, -1):
        afters[at] = last
        last = items[at].path if known[at] else last
    placed = list(items)
    for at, item in enumerate(items):
        if known[at]:
            continue
        before, after = befores[at], afters[at]
        shared: list[Scope] = []
        for one, other in zip(before, after, strict=False):
            if one != other:
                break
            shared.append(one)
        placed[at] = replace(item, path=tuple(shared))
    return placed


def _group(items: Sequence[_Item], level: int, depth: int, prefix: str) -> tuple[ModuleRow, ...]:
    runs: list[list[_Item]] = []
    for item in items:
        key = _key(item, level)
        if runs and key is not None and _key(runs[-1][0], level) == key:
            runs[-1].append(item)
        else:
            runs.append([item])
    rows: list[ModuleRow] = []
    for number, run in enumerate(runs, start=1):
        index = f"{prefix}{number}"
        first, last = run[0], run[-1]
        scope = first.path[level - 1] if len(first.path) >= level else None
        lone = len(run) == 1 and len(first.path) <= level
        children: tuple[ModuleRow, ...] = ()
        if not lone and level < depth:
            children = _group(run, level + 1, depth, index + ".")
        rows.append(
            ModuleRow(
                index=index,
                name=scope.name if scope is not None else "",
                kind=scope.kind if scope is not None else "",
                layer=_layer_text(first.row) if lone else "",
                level=level,
                output_shape=last.row.output_shape,
                params=sum(item.params for item in run),
                macs=sum(item.macs for item in run),
                flops=sum(item.flops for item in run),
                fields=last.row.fields,
                layers=len(run),
                unknown=tuple(item.unknown for item in run if item.unknown),
                children=children,
                rows=frozenset(item.row.index for item in run),
            )
        )
    return tuple(rows)


def module_of_row(rows: Sequence[ModuleRow], index: str) -> ModuleRow | None:
    """The deepest module row that holds the walk's row ``index`` (None: none does)."""
    for row in rows:
        if index in row.rows:
            return module_of_row(row.children, index) or row
    return None


def _layer_text(row: LayerRow) -> str:
    """A layer's text; a join's or residual's kind alone (its layers are rows of their own)."""
    if row.branches or row.main:
        spec = row.spec
        return f"chunk({spec.args['chunks']})" if spec.kind == "chunk" else spec.kind
    return row.spec.text


def _key(item: _Item, level: int) -> str | None:
    return item.path[level - 1].name if len(item.path) >= level else None


def relabel(network: Network, labels: Mapping[str, str]) -> Network:
    """The network with the rows named in ``labels`` (by index) shown with that text."""

    def rows(found: Sequence[LayerRow]) -> tuple[LayerRow, ...]:
        return tuple(one(row) for row in found)

    def one(row: LayerRow) -> LayerRow:
        if row.index in labels:
            row = replace(row, spec=replace(row.spec, text=labels[row.index]))
        if not row.inner:
            return row
        return replace(
            row,
            main=rows(row.main),
            shortcut=rows(row.shortcut),
            branches=tuple(rows(branch) for branch in row.branches),
        )

    return replace(network, rows=rows(network.rows))
