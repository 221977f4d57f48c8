"""What ``convcli net`` shows: the layer table, the totals, the conventions, the JSON payload.

Builds renderables and plain dicts; never prints.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from fractions import Fraction
from typing import Any

from rich import box
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from convcli.i18n import N_, _, ngettext
from convcli.render.numbers import (
    byte_size_text,
    compact_count,
    count_text,
    megabytes_text,
    number_text,
)
from convcli.render.widgets import Fitting, Renderable, render_key_values, render_line
from convcli.shapes.netspec import LayerSpec
from convcli.shapes.network import DTYPE_SIZES, CellTrace, LayerRow, Network
from convcli.shapes.receptive import Field

__all__ = ["net_payload", "net_report", "net_table"]

FIELD_NOTE = N_(
    "field, jump, start (Araujo et al., Distill 2019): input span of one output cell, padding "
    "included; input step between neighbouring cells; centre of cell (0, 0)'s field, 0-based. "
    "One number when H and W agree."
)
NONUNIFORM_NOTE = N_(
    "-: not one field for all cells (strided transposed conv, adaptive pooling that does not "
    "divide); --at I,J traces one cell back to the input."
)
FLAT_NOTE = N_("-: after flatten or linear the output is no longer an image.")
BIAS_NOTE = N_(
    "params count the bias of every conv, convT and linear layer that does not say "
    "bias=False (torch.nn's default bias=True; --no-bias leaves those out)."
)
NO_BIAS_NOTE = N_(
    "params leave out the bias of conv, convT and linear layers that do not say bias=True "
    "(--no-bias; torch.nn's default is bias=True)."
)
ONNX_PARAMS_NOTE = N_(
    "params: the elements of the initializers each node reads as weights (a conv's "
    "weight and bias, a norm's scale and shift), as the file stores them; "
    "BatchNormalization's running mean and variance are buffers."
)
GLOBAL_NOTE = N_(
    "all: every output cell sees the whole input (a branch pooled to one cell and broadcast "
    "back, as in squeeze-excitation), whatever the input size."
)
JOIN_NOTE = N_(
    "| a, | b, ...: a join's branches, each on the join's input (a chunk's: one channel "
    "part each); its field is the union of theirs, '-' where their jumps differ."
)
AVGPOOL_NOTE = N_(
    "*: print(model) does not show AvgPool2d's ceil_mode and count_include_pad, so "
    "PyTorch's defaults (False, True) were assumed; write them on the line where the model "
    "sets them (timm's ResNet-D: AvgPool2d(2, 2, ceil_mode=True, count_include_pad=False))."
)
PRINTOUT_NOTE = N_(
    "print(model) text cannot show a module used twice (it prints as two identical lines, "
    "counted twice here), nor requires_grad=False: trainable means as printed."
)
IN_ORDER_NOTE = N_(
    "{names}: children read in printed order (--in-order); the forward is not printed and "
    "may order or join them otherwise."
)
STATISTICS_NOTE = N_(
    "{names}: mean and variance taken across the map (a layernorm's: over its "
    "normalized_shape), in eval mode too, so one output cell's gradient reaches every "
    "input cell along those axes; the field holds them fixed: the cells each value is "
    "computed from, as for bn in eval mode."
)
COST_NOTE = N_(
    "MACs: weight multiply-accumulates, whole batch. FLOPs: 2 per MAC + 1 per bias add; "
    "pooling window-1 comparisons or additions per output (no division); activations 1, "
    "BatchNorm 2, residual sum 1 per value."
)


def _pair(values: tuple[object, object]) -> str:
    first, second = (_number(value) for value in values)
    return first if first == second else f"{first}x{second}"


def _number(value: object) -> str:
    assert isinstance(value, int | Fraction), value
    return number_text(value)


def _shape(shape: Sequence[int]) -> str:
    return "x".join(str(size) for size in shape)


def _field_cells(fields: tuple[Field | None, Field | None]) -> tuple[str, str, str]:
    first, second = fields
    if first is not None and second is not None and (first.whole or second.whole):
        sizes = tuple("all" if f.whole else _number(f.size) for f in (first, second))
        field = sizes[0] if sizes[0] == sizes[1] else f"{sizes[0]}x{sizes[1]}"
        if not first.jump or not second.jump:
            return field, "-", "-"
        return field, _pair((first.jump, second.jump)), _pair((first.start, second.start))
    if first is None or second is None:
        return "-", "-", "-"
    return (
        _pair((first.size, second.size)),
        _pair((first.jump, second.jump)),
        _pair((first.start, second.start)),
    )


def _flat_rows(
    rows: Sequence[LayerRow], depth: int | None = None, indent: int = 0, level: int = 1
) -> Iterator[tuple[LayerRow, int, str]]:
    """Every row to print with its indent and role; a block at level ``depth`` is one
    ``folded`` row (``depth`` None: every layer)."""
    for row in rows:
        is_block = row.spec.kind == "residual" or bool(row.branches)
        if not is_block:
            yield row, indent, ""
        elif depth is not None and level >= depth:
            yield row, indent, "folded"
        elif row.branches:
            yield row, indent, "join"
            for number, branch in enumerate(row.branches):
                yield row, indent + 1, f"branch {number}" + ("" if branch else " identity")
                yield from _flat_rows(branch, depth, indent + 2, level + 1)
        else:
            yield row, indent, "residual"
            yield from _flat_rows(row.main, depth, indent + 1, level + 1)
            if row.shortcut:
                yield row, indent + 1, "shortcut"
                yield from _flat_rows(row.shortcut, depth, indent + 2, level + 1)
            else:
                yield row, indent + 1, "identity"


def _layer_count(row: LayerRow) -> int:
    """The layers inside a block (a residual's paths, a join's branches), at every depth."""
    return sum(1 + _layer_count(layer) for layer in row.inner)


def folds(network: Network) -> bool:
    """Whether the network has a block that ``depth`` can fold."""
    return any(row.spec.kind == "residual" or row.branches for row in network.rows)


def join_label(row: LayerRow) -> str:
    """A join's row: its kind and counts, its branches listed under it."""
    spec = row.spec
    if spec.kind == "chunk":
        return f"chunk({spec.args['chunks']})"
    if spec.kind == "se":
        return spec.text
    return spec.kind


COLUMNS = (
    ("#", "right"),
    (N_("layer"), "left"),
    (N_("output"), "right"),
    (N_("params"), "right"),
    (N_("params %"), "right"),
    ("MACs", "right"),
    ("FLOPs", "right"),
    (N_("field"), "right"),
    (N_("jump"), "right"),
    (N_("start"), "right"),
)
PERCENT_COLUMN = 4
# The share of params is the first column a narrow table drops.
NO_PERCENT = tuple(c for c in range(len(COLUMNS)) if c != PERCENT_COLUMN)
# Where the whole table does not fit: first without the share of params (the --json keeps
# it), then the layers with their costs, then the fields.
COST_COLUMNS = (0, 1, 2, 3, 5, 6)
FIELD_COLUMNS = (0, 1, 7, 8, 9)
FIELDS_TITLE = N_("receptive field (did not fit beside the costs)")
FOLDED_NOTE = N_(
    "Blocks folded into one row each (the terminal is too narrow for one line per layer): "
    "--depth all unfolds them, --depth 2 shows one level inside."
)


def _table_rows(network: Network, depth: int | None = None) -> list[tuple[str, ...]]:
    """The cells of every row, residual blocks' layers indented under them."""
    rows: list[tuple[str, ...]] = [
        ("", _("input"), _shape(network.input_shape), "", "", "", "", "1", "1", "0")
    ]
    for row, depth_in, role in _flat_rows(network.rows, depth):
        indent = "  " * depth_in
        if role in ("shortcut", "identity"):
            label = indent + "+ " + (_("shortcut") if role == "shortcut" else _("identity"))
            rows.append(("", label, "", "", "", "", "", "", "", ""))
            continue
        if role.startswith("branch"):
            number = int(role.split()[1])
            label = indent + "| " + _branch_letter(number)
            if role.endswith("identity"):
                label += " " + _("identity")
            rows.append(("", label, "", "", "", "", "", "", "", ""))
            continue
        if role == "folded":
            count = _layer_count(row)
            name = _("residual") if row.spec.kind == "residual" else join_label(row)
            text = ngettext("{name} ({count} layer)", "{name} ({count} layers)", count).format(
                name=name, count=count
            )
        elif role == "join":
            text = join_label(row)
        else:
            text = _("residual") if role == "residual" else row.spec.text
        if row.spec.assumed and role == "":
            text += " *"
        field, jump, start = _field_cells(row.fields)
        costs = (row.params, row.macs, row.flops)
        blocks = ("residual", "folded", "join")
        cells = [compact_count(n) if n or role in blocks else "-" for n in costs]
        cells.insert(1, _percent_text(row.params, network.params))
        rows.append(
            (row.index, indent + text, _shape(row.output_shape), *cells, field, jump, start)
        )
    return rows


def _percent_text(part: int, whole: int) -> str:
    """``part``'s share of ``whole`` as torchinfo's ``Param %`` (two decimals); ``<0.01%``
    rather than a share of zero for a layer that has params."""
    if not part or not whole:
        return "-"
    share = Fraction(100 * part, whole)
    return "<0.01%" if share < Fraction(1, 200) else f"{float(share):.2f}%"


def _first_word_width(label: str) -> int:
    """The width of a label's indent and first word, which wrapping cannot part."""
    words = label.split()
    return len(label) - len(label.lstrip(" ")) + (cell_len(words[0]) if words else 0)


def _branch_letter(number: int) -> str:
    return chr(ord("a") + number) if number < 26 else f"b{number + 1}"


def _columns_table(
    rows: Sequence[Sequence[str]],
    columns: tuple[int, ...],
    title: str = "",
    *,
    wrap_layers: bool = False,
) -> Table:
    table = Table(
        title=title or None,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        show_edge=False,
        collapse_padding=True,
    )
    for column in columns:
        name, justify = COLUMNS[column]
        # Nothing is folded: a number or shape is printed whole or the layout changes.
        # A layer's text may wrap between its words (``Conv2d(3, 16, kernel_size=...``).
        wraps = wrap_layers and name == "layer"
        table.add_column(
            _heading(name),
            justify=justify,  # type: ignore[arg-type]
            no_wrap=not wraps,
            # A layer's first word stays on its indented line: rich measures the longest
            # word alone, and cut ``maxpool(3,s=1,p=1)`` under a branch to ``maxpool(3,s=1,p…``.
            min_width=max(map(_first_word_width, (r[column] for r in rows))) if wraps else None,
        )
    for cells in rows:
        # Every row in every layout, "+ shortcut" lines too: a table never drops a layer.
        table.add_row(*(Text(cells[c]) for c in columns))
    return table


class _Narrowest:
    """A table whose layer column wraps: it fits wherever its narrowest form fits."""

    def __init__(self, renderable: RenderableType) -> None:
        self.renderable = renderable

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.renderable

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        narrowest = Measurement.get(console, options, self.renderable).minimum
        return Measurement(narrowest, narrowest)


def _heading(name: str) -> str:
    """A column's heading in the output's language (``MACs`` and ``FLOPs`` are symbols)."""
    return name if name in ("#", "MACs", "FLOPs") else _(name)


def _stacked(rows: Sequence[Sequence[str]]) -> Text:
    """Each layer on lines of its own: name, then its numbers as ``key value`` pairs."""
    text = Text()
    for cells in rows:
        index, label = cells[0], cells[1]
        indent = "  " * ((len(label) - len(label.lstrip(" "))) // 2)
        head = f"{index} {label.strip()}" if index else label.strip()
        text.append(("\n" if text else "") + indent + head, style="bold" if index else "")
        if not any(cells[2:]):
            continue
        pairs = [
            f"{_heading(COLUMNS[c][0])} {cells[c]}"
            for c in range(2, len(cells))
            if cells[c] and c != PERCENT_COLUMN
        ]
        # Three lines at most, so a pair is never split across a line end at 40 columns.
        for group in (pairs[:2], pairs[2:4], pairs[4:]):
            if group:
                text.append("\n" + indent + "    " + "  ".join(group))
    return text


def net_table(network: Network, depth: int | None = None) -> Fitting:
    """One row per layer; a residual block's layers indented under it, then its shortcut.

    Numbers and shapes are never cut: where the table does not fit the width, the
    receptive-field columns move to a second table under it, and where that does not
    fit either, each layer is listed on lines of its own. A layer's text wraps between
    words before any of that happens. Every layout prints every row. ``depth`` (as
    torchinfo's): blocks at that level are one row each, their layers' sums.
    """
    return rows_table(_table_rows(network, depth), bool(network.params))


def rows_table(rows: Sequence[Sequence[str]], shares: bool = True) -> Fitting:
    """The table of ``rows`` (cells in ``COLUMNS`` order), in the first layout that fits;
    ``shares``: the params % column is shown where it fits (there are params to share)."""
    every = NO_PERCENT
    return Fitting(
        _columns_table(rows, _widest(shares)),
        _columns_table(rows, every),
        _Narrowest(_columns_table(rows, every, wrap_layers=True)),
        _Narrowest(
            Group(
                _columns_table(rows, COST_COLUMNS, wrap_layers=True),
                Text(),
                _columns_table(rows, FIELD_COLUMNS, _(FIELDS_TITLE), wrap_layers=True),
            )
        ),
        _stacked(rows),
    )


def _widest(shares: bool) -> tuple[int, ...]:
    """Every column; the share of params only where there are params to share."""
    return tuple(range(len(COLUMNS))) if shares else NO_PERCENT


def _layers_table(network: Network, depth: int | None, fold_narrow: bool) -> Renderable:
    """The layer table at ``depth`` (None: every layer); ``fold_narrow``: every layer where
    one line per layer fits the width, else (a narrow terminal) each block folded, with a
    note saying how to unfold."""
    if not fold_narrow or not folds(network):
        return net_table(network, depth)
    rows = _table_rows(network)
    return Fitting(
        _columns_table(rows, _widest(bool(network.params))),
        _columns_table(rows, NO_PERCENT),
        Group(net_table(network, 1), Text(), render_line(_(FOLDED_NOTE), style="dim")),
    )


def net_report(
    network: Network,
    dtype: str,
    trace: CellTrace | None = None,
    *,
    depth: int | None = None,
    fold_narrow: bool = False,
    bias: bool = True,
    onnx: bool = False,
    table: Renderable | None = None,
) -> list[Renderable]:
    """The table, the totals and the notes that say which convention each number follows.

    ``depth`` None: every layer; ``fold_narrow``: each block folded where one line per
    layer does not fit the width (the table says so). ``bias``: the spec's default for
    ``bias=``, said under the totals. ``onnx``: the layers were read from an ONNX file
    (its totals say what the file holds). ``table``: shown instead of the layer table.
    """
    itemsize = DTYPE_SIZES[dtype]
    buffers, param_bytes = network.buffers, network.param_bytes(itemsize)
    if onnx:
        # An ONNX file keeps no num_batches_tracked counter, nor any requires_grad.
        counters = sum(row.counters for row in _all_rows(network.rows))
        buffers -= counters
        param_bytes = (network.params + buffers) * itemsize
        trainable = (
            _("params"),
            _("{params} (the weights each node reads)").format(params=count_text(network.params)),
        )
        frozen = (_("non-trainable"), _("not in the file (ONNX keeps no requires_grad)"))
    else:
        trainable = (
            _("params"),
            _("{params} trainable").format(params=count_text(network.params)),
        )
        frozen = (_("non-trainable"), _("0 (as printed: requires_grad=False does not print)"))
    totals = [
        (_("input"), _shape(network.input_shape)),
        (_("output"), _shape(network.output_shape)),
        trainable,
        frozen,
        (_("MACs"), count_text(network.macs)),
        (_("FLOPs"), count_text(network.flops)),
        (
            _("param memory"),
            _("{size} ({dtype})").format(size=byte_size_text(param_bytes), dtype=dtype),
        ),
        (
            _("activation memory"),
            _("{size} ({dtype}, every layer's output)").format(
                size=byte_size_text(network.activation_bytes(itemsize)), dtype=dtype
            ),
        ),
    ]
    sizes = network.torchinfo_bytes(itemsize)
    totals.append(
        (
            _("MB (torchinfo)"),
            _("input {input} + fwd/bwd pass {passes} + params {params} = {total}").format(
                input=megabytes_text(sizes[0]),
                passes=megabytes_text(sizes[1]),
                params=megabytes_text(sizes[2]),
                total=megabytes_text(sum(sizes)),
            ),
        )
    )
    if buffers:
        totals.insert(
            4,
            (
                _("BatchNorm buffers"),
                (
                    _("{count} (running mean and variance)")
                    if onnx
                    else _("{count} (running mean and variance, counter)")
                ).format(count=count_text(buffers)),
            ),
        )
    report: list[Renderable] = [
        _layers_table(network, depth, fold_narrow) if table is None else table,
        render_key_values(totals, title=_("total")),
    ]
    if trace is not None:
        report.append(render_line(trace_text(trace)))
    if onnx:
        report.append(render_line(_(ONNX_PARAMS_NOTE), style="dim"))
    else:
        report.append(render_line(_(BIAS_NOTE if bias else NO_BIAS_NOTE), style="dim"))
    report.append(render_line(_(FIELD_NOTE), style="dim"))
    specs = list(_all_specs(network.rows))
    if table is None and any(
        row.spec.branches or row.spec.kind == "se" for row in _all_rows(network.rows)
    ):
        report.append(render_line(_(JOIN_NOTE), style="dim"))
    if any(
        field is not None and field.whole for row in _all_rows(network.rows) for field in row.fields
    ):
        report.append(render_line(_(GLOBAL_NOTE), style="dim"))
    if any(spec.assumed for spec in specs):
        report.append(render_line(_(AVGPOOL_NOTE), style="dim"))
    if any(spec.torch_name for spec in specs):
        report.append(render_line(_(PRINTOUT_NOTE), style="dim"))
    containers = sorted({spec.container for spec in specs if spec.container})
    if containers:
        names = ", ".join(f"{name}(" for name in containers)
        report.append(render_line(_(IN_ORDER_NOTE).format(names=names), style="dim"))
    statistics = sorted({row.spec.kind for row in _all_rows(network.rows) if row.map_statistics})
    if statistics:
        note = _(STATISTICS_NOTE).format(names=", ".join(statistics))
        report.append(render_line(note, style="dim"))
    if _nonuniform(network.rows):
        report.append(render_line(_(NONUNIFORM_NOTE), style="dim"))
    elif any(not row.spatial for row in network.rows):
        report.append(render_line(_(FLAT_NOTE), style="dim"))
    report.append(render_line(_(COST_NOTE), style="dim"))
    return report


def _all_rows(rows: Sequence[LayerRow]) -> Iterator[LayerRow]:
    for row in rows:
        yield row
        yield from _all_rows(row.inner)


def _all_specs(rows: Sequence[LayerRow]) -> Iterator[LayerSpec]:
    for row in _all_rows(rows):
        yield row.spec


def _nonuniform(rows: Sequence[LayerRow]) -> bool:
    return any(row.spatial and None in row.fields for row in rows)


def trace_text(trace: CellTrace) -> str:
    """One line: the input rows and columns that output cell ``trace.cell`` can be reached from."""
    where = _("output cell ({i}, {j}) of layer {layer}").format(
        i=count_text(trace.cell[0]), j=count_text(trace.cell[1]), layer=trace.index
    )
    if trace.rows is None or trace.cols is None:
        return _("{where}: no input cell reaches it (only biases)").format(where=where)
    (r0, r1), (c0, c1) = trace.rows, trace.cols
    line = _(
        "{where}: input rows {r0}..{r1}, columns {c0}..{c1} ({rows}x{cols}): "
        "the first to the last input cell that reaches it, carried back layer by layer "
        "(padding is not a cell)"
    ).format(
        where=where,
        r0=count_text(r0),
        r1=count_text(r1),
        c0=count_text(c0),
        c1=count_text(c1),
        rows=r1 - r0 + 1,
        cols=c1 - c0 + 1,
    )
    spans = (r1 - r0 + 1, c1 - c0 + 1)
    reached = (len(trace.row_cells), len(trace.col_cells))
    if trace.row_cells and trace.col_cells and reached != spans:
        line += _("; of those, {rows} rows and {cols} columns are reached (gaps between)").format(
            rows=count_text(reached[0]), cols=count_text(reached[1])
        )
    return line


def _json_number(value: Fraction | int) -> int | Fraction:
    """A whole number as an ``int``; a half stays a ``Fraction``, which ``--json`` writes
    as an exact decimal number (``-9007199254740992.5``), never through a float."""
    if isinstance(value, Fraction):
        return value.numerator if value.denominator == 1 else value
    return value


def _percent(part: int, whole: int) -> float:
    """``part`` as a percentage of ``whole``, two decimals (0 when there is no whole)."""
    return round(100 * part / whole, 2) if whole else 0.0


def _layer_payload(
    row: LayerRow, number: int, level: int = 1, total_params: int = 0
) -> dict[str, Any]:
    first, second = row.fields
    uniform = first is not None and second is not None
    entry: dict[str, Any] = {
        "index": number,
        "level": level,
        "layer": row.spec.text,
        "output_shape": list(row.output_shape),
        "params": row.params,
        "macs": row.macs,
        "flops": row.flops,
        "params_percent": _percent(row.params, total_params),
        "receptive_field": [first.size, second.size] if first and second else None,
        "jump": [first.jump, second.jump] if first and second else None,
        "start": (
            [_json_number(first.start), _json_number(second.start)]
            if uniform and first and second
            else None
        ),
    }
    if (first is not None and first.whole) or (second is not None and second.whole):
        entry["global_field"] = True
        entry["receptive_field"] = None
        if not (first and first.jump and second and second.jump):
            entry["jump"] = entry["start"] = None
    if row.spec.kind == "residual":
        entry["layers"] = [
            _layer_payload(inner, i, level + 1, total_params) for i, inner in enumerate(row.main, 1)
        ]
        entry["shortcut"] = [
            _layer_payload(inner, i, level + 1, total_params)
            for i, inner in enumerate(row.shortcut, 1)
        ]
    if row.map_statistics:
        # The field holds the mean and variance taken over the whole map fixed.
        entry["field_without_statistics"] = True
    if row.spec.assumed:
        entry["assumed_defaults"] = list(row.spec.assumed)
    if row.spec.container:
        entry["read_in_order_from"] = row.spec.container
    if row.branches:
        entry["join"] = row.spec.kind
        entry["branches"] = [
            [_layer_payload(inner, i, level + 1, total_params) for i, inner in enumerate(branch, 1)]
            for branch in row.branches
        ]
    return entry


def net_payload(
    network: Network,
    dtype: str,
    trace: CellTrace | None = None,
    depth: int | None = None,
    *,
    bias: bool = True,
    onnx: bool = False,
) -> dict[str, Any]:
    """The ``--json`` object: input and output shapes, one entry per layer, the totals.

    Every layer is kept whatever ``depth``: each entry has its ``level`` (1: the top),
    and ``depth`` (None: all) says which a folded table shows: those with
    ``level <= depth``, a block at ``level == depth`` standing for its layers.
    ``bias_default``: whether a layer that does not say ``bias=`` has one (not for an
    ONNX file, ``onnx``, which says; its ``non_trainable_params`` are unknown, None).
    """
    itemsize = DTYPE_SIZES[dtype]
    payload: dict[str, Any] = {
        "input_shape": list(network.input_shape),
        "output_shape": list(network.output_shape),
        "bias_default": bias,
        "layers": [
            _layer_payload(row, i, 1, network.params) for i, row in enumerate(network.rows, start=1)
        ],
        "total": {
            "params": network.params,
            "buffers": network.buffers,
            "macs": network.macs,
            "flops": network.flops,
            "dtype": dtype,
            "param_bytes": network.param_bytes(itemsize),
            "activation_bytes": network.activation_bytes(itemsize),
            "trainable_params": network.params,
            "non_trainable_params": 0,
            "torchinfo_bytes": dict(
                zip(
                    ("input", "forward_backward_pass", "params", "estimated_total"),
                    (*network.torchinfo_bytes(itemsize), sum(network.torchinfo_bytes(itemsize))),
                    strict=True,
                )
            ),
        },
    }
    if depth is not None:
        payload["depth"] = depth
    if onnx:
        del payload["bias_default"]
        total = payload["total"]
        total["buffers"] -= sum(row.counters for row in _all_rows(network.rows))
        total["param_bytes"] = (network.params + total["buffers"]) * itemsize
        total["non_trainable_params"] = None
    if trace is not None:
        # A cell is reached only when a row and a column both are: else neither is given.
        reached = trace.rows is not None and trace.cols is not None
        payload["at"] = {
            "layer": int(trace.index),
            "cell": list(trace.cell),
            "input_rows": list(trace.rows) if reached and trace.rows else None,
            "input_cols": list(trace.cols) if reached and trace.cols else None,
            # Every row and column reached: the set, gaps left out (through joins too).
            "input_row_cells": sorted(trace.row_cells),
            "input_col_cells": sorted(trace.col_cells),
        }
        if not reached:
            payload["at"]["note"] = "no input cell reaches it"
    return payload
