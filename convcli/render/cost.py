"""What ``shapes --backward`` and ``shapes --vary`` show: the cost forward and backward.

Payloads are plain dicts (the ``--json`` contract); reports are lists of renderables.
Nothing here prints.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import Any

from rich import box
from rich.table import Table
from rich.text import Text

from convcli.i18n import _
from convcli.ops.budget import format_bytes
from convcli.render.widgets import Fitting, Renderable, render_key_values, render_line
from convcli.shapes.cost import (
    BackwardCost,
    ForwardCost,
    TrainingCost,
    TransposedTrainingCost,
    VariedRow,
)

__all__ = [
    "backward_payload",
    "backward_report",
    "transposed_backward_payload",
    "transposed_backward_report",
    "vary_payload",
    "vary_report",
]


def _n(value: int) -> str:
    return f"{value:,}"


def _bytes(value: int) -> str:
    return f"{_n(value)} B ({format_bytes(value)})" if value >= 1024 else f"{value} B"


def backward_payload(cost: TrainingCost | TransposedTrainingCost, **counts: int) -> dict[str, Any]:
    """The ``forward`` and ``backward`` objects ``shapes --backward --json`` adds;
    ``counts``: further forward counts, after its additions."""
    f, b = cost.forward, cost.backward
    return {
        "forward": {
            "multiplications": f.multiplications,
            "useful_multiplications": f.useful_multiplications,
            "additions": f.additions,
            **counts,
            "bytes": f.bytes,
            "input_bytes": f.input_bytes,
            "weight_bytes": f.weight_bytes,
            "output_bytes": f.output_bytes,
            "flop_counter_flops": cost.flop_counter_forward,
        },
        "backward": {
            "multiplications": b.multiplications,
            "additions": b.additions,
            "bytes": b.bytes,
            "kept_bytes": b.kept_bytes,
            "gradient_bytes": b.gradient_bytes,
            "dx": {"multiplications": b.dx_multiplications, "additions": b.dx_additions},
            "dw": {"multiplications": b.dw_multiplications, "additions": b.dw_additions},
            "db": {"additions": b.db_additions},
            "flop_counter_flops": b.flop_counter,
            "flop_counter_dw_flops": b.flop_counter_dw,
            "dw_flops": cost.dw_correct_flops,
        },
        "bytes_per_value": cost.bytes_per_value,
    }


def backward_report(cost: TrainingCost) -> list[Renderable]:
    """Forward products, sums and memory; the backward's dX, dW, db, kept tensors, buffers."""
    layer, f, b = cost.layer, cost.forward, cost.backward
    c_o, c_g, k_h, k_w = layer.kernel_shape
    m_h, m_w = layer.geometry.out_size
    n = layer.batch
    nb, nv = ("n*", f"{n}*") if n > 1 else ("", "")
    window = c_g * k_h * k_w
    outputs = layer.outputs
    padded = f.multiplications - f.useful_multiplications
    bias = layer.bias_shape is not None
    size = _("{b} bytes a number (float32)").format(b=cost.bytes_per_value)
    forward_adds = _("{outputs} outputs x ({window} - 1) = {sums}").format(
        outputs=_n(outputs), window=window, sums=_n(outputs * (window - 1))
    )
    if bias:
        forward_adds += _(" + {outputs} bias additions = {adds}").format(
            outputs=_n(outputs), adds=_n(f.additions)
        )
    forward = [
        (
            _("multiplications"),
            f"{nb}c_o*m_h*m_w*(c_i/g)*k_h*k_w = {nv}{c_o}*{m_h}*{m_w}*{c_g}*{k_h}*{k_w}"
            f" = {_n(f.multiplications)}",
        ),
        (
            "",
            _(
                "every tap, padding included (as FlopCounterMode counts); "
                "{useful} land on the input, {padded} multiply a padded zero"
            ).format(useful=_n(f.useful_multiplications), padded=_n(padded)),
        ),
        (
            _("additions"),
            _(
                "a window of {window} products needs {less} additions (one fewer), "
                "plus one for the bias: {adds}"
            ).format(window=window, less=window - 1, adds=forward_adds),
        ),
        (
            _("memory"),
            _("input {x} + weights {w} + output {y} = {total}; {size}").format(
                x=_bytes(f.input_bytes),
                w=_bytes(f.weight_bytes),
                y=_bytes(f.output_bytes),
                total=_bytes(f.bytes),
                size=size,
            ),
        ),
        (
            "FlopCounterMode",
            _("2*MACs = {flops} FLOPs (the bias is not counted)").format(
                flops=_n(cost.flop_counter_forward)
            ),
        ),
    ]
    positions = n * m_h * m_w
    backward = [
        (
            "dX",
            _(
                "each dY value times each weight it was made with: {mults} multiplications "
                "(as many as forward), {adds} additions (into the {covered} cells they reach)"
            ).format(
                mults=_n(b.dx_multiplications),
                adds=_n(b.dx_additions),
                covered=_n(b.dx_multiplications - b.dx_additions),
            ),
        ),
        (
            "dW",
            _(
                "each of the {weights} weights sums {positions} products (n*m_h*m_w): "
                "{mults} multiplications, {weights}*({positions} - 1) = {adds} additions"
            ).format(
                weights=_n(c_o * window),
                positions=_n(positions),
                mults=_n(b.dw_multiplications),
                adds=_n(b.dw_additions),
            ),
        ),
        (
            "db",
            _("c_o*(n*m_h*m_w - 1) = {c_o}*({positions} - 1) = {adds} additions").format(
                c_o=c_o, positions=_n(positions), adds=_n(b.db_additions)
            )
            if bias
            else _("no bias"),
        ),
        *_backward_totals(f, b),
    ]
    report = _sections(forward, backward)
    if layer.groups > 1:
        report.append(
            render_line(
                _(
                    "FlopCounterMode counts dW as 2*n*c_o*c_i*k_h*k_w*m_h*m_w = {wrong}: it "
                    "uses all c_i = {c_i} input channels, but each weight of a grouped layer "
                    "(groups {g}) sees c_i/g = {c_g}; the right count is 2*{mults} = {right}, "
                    "{g} times fewer."
                ).format(
                    wrong=_n(b.flop_counter_dw),
                    c_i=c_g * layer.groups,
                    g=layer.groups,
                    c_g=c_g,
                    mults=_n(b.dw_multiplications),
                    right=_n(cost.dw_correct_flops),
                )
            )
        )
    return report


def _backward_totals(f: ForwardCost, b: BackwardCost) -> list[tuple[str, str]]:
    """The backward's closing rows, alike for conv2d and conv_transpose2d: its totals,
    what it keeps, its gradient buffers, its memory and FlopCounterMode's count."""
    return [
        (
            _("total"),
            _("{mults} multiplications, {adds} additions (about twice the forward)").format(
                mults=_n(b.multiplications), adds=_n(b.additions)
            ),
        ),
        (
            _("kept for backward"),
            _("the input {x} (for dW) + the weights {w} (for dX) = {kept}").format(
                x=_bytes(f.input_bytes),
                w=_bytes(b.kept_bytes - f.input_bytes),
                kept=_bytes(b.kept_bytes),
            ),
        ),
        (
            _("gradient buffers"),
            _("dY {y} + dX {x} + dW, db {w} = {grads}").format(
                y=_bytes(f.output_bytes),
                x=_bytes(f.input_bytes),
                w=_bytes(f.weight_bytes),
                grads=_bytes(b.gradient_bytes),
            ),
        ),
        (_("backward memory"), _bytes(b.bytes)),
        (
            "FlopCounterMode",
            _("dX 2*MACs {dx} + dW {dw} = {total} FLOPs").format(
                dx=_n(b.flop_counter_dx), dw=_n(b.flop_counter_dw), total=_n(b.flop_counter)
            ),
        ),
    ]


def _sections(
    forward: Sequence[tuple[str, str]], backward: Sequence[tuple[str, str]]
) -> list[Renderable]:
    """The forward's and the backward's key-value sections, titled."""
    return [
        render_key_values(forward, title=_("forward: products, sums and memory")),
        render_key_values(backward, title=_("backward: the gradients dX, dW, db")),
    ]


def _factor(value: Fraction) -> str:
    if value.denominator == 1:
        return f"{value.numerator}x"
    return f"{float(value):.3g}x"


def vary_payload(name: str, rows: Sequence[VariedRow]) -> dict[str, Any]:
    """The ``shapes --vary --json`` object: a row per value, factors against the first."""
    return {
        "vary": name,
        "rows": [
            {
                "value": row.value,
                "output_shape": list(row.layer.output_shape),
                "params": row.layer.params,
                "macs": row.layer.macs,
                "forward_bytes": row.cost.forward.bytes,
                "backward_bytes": row.cost.backward.bytes,
                "macs_factor": float(row.macs_factor),
                "params_factor": float(row.params_factor),
                "bytes_factor": float(row.bytes_factor),
                "outputs_factor": float(row.outputs_factor),
            }
            for row in rows
        ],
    }


def vary_report(name: str, rows: Sequence[VariedRow]) -> list[Renderable]:
    """A table: one row per value of ``name``, and each count's factor against row one."""
    title = _("varying {name}: factors against the first row").format(name=name)
    table = Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        show_edge=False,
    )
    for heading in (name, _("output"), _("params"), "MACs", _("memory")):
        table.add_column(heading, justify="right", no_wrap=True)
    stacked: list[str] = [title]
    for row in rows:
        cells = (
            "x".join(map(str, row.layer.output_shape)),
            f"{_n(row.layer.params)} {_factor(row.params_factor)}",
            f"{_n(row.layer.macs)} {_factor(row.macs_factor)}",
            f"{format_bytes(row.cost.forward.bytes)} {_factor(row.bytes_factor)}",
        )
        table.add_row(Text(str(row.value)), *(Text(cell) for cell in cells))
        stacked.append(
            _("{name}={value}: output {output}, params {params}, MACs {macs}, memory {memory}")
            .format(name=name, value=row.value, output=cells[0], params=cells[1],
                    macs=cells[2], memory=cells[3])
        )  # fmt: skip
    notes: list[Renderable] = [Fitting(table, render_line("\n".join(stacked)))]
    last = rows[-1]
    notes.append(
        render_line(
            _(
                "memory is the forward's input + weights + output; MACs grow as "
                "c_o*m_h*m_w*(c_i/g)*k_h*k_w. Last row: MACs x{macs}, output values x{outputs}."
            ).format(macs=_factor(last.macs_factor)[:-1], outputs=_factor(last.outputs_factor)[:-1])
        )
    )
    return notes


def transposed_backward_payload(cost: TransposedTrainingCost) -> dict[str, Any]:
    """``shapes --transposed --backward --json``'s ``forward`` and ``backward`` objects:
    ``shapes --backward``'s keys, and the useful additions and reached outputs."""
    return backward_payload(
        cost, useful_additions=cost.useful_additions, reached_outputs=cost.reached
    )


def transposed_backward_report(cost: TransposedTrainingCost) -> list[Renderable]:
    """A transposed convolution's forward products, sums and memory, and its backward."""
    f, b = cost.forward, cost.backward
    c_i, c_og, k_h, k_w = cost.kernel_shape
    h, w = cost.input_shape[-2:]
    m_h, m_w = cost.output_shape[-2:]
    n = cost.batch
    nb, nv = ("n*", f"{n}*") if n > 1 else ("", "")
    window = c_og * k_h * k_w
    inputs = n * c_i * h * w
    outputs = n * c_og * cost.groups * m_h * m_w
    cropped = f.multiplications - f.useful_multiplications
    bias_adds = _(" + {outputs} bias additions").format(outputs=_n(outputs)) if cost.bias else ""
    size = _("{b} bytes a number (float32)").format(b=cost.bytes_per_value)
    forward = [
        (
            _("multiplications"),
            _(
                "{useful} useful: each output value sums the products of the input values "
                "and taps that land on it"
            ).format(useful=_n(f.useful_multiplications)),
        ),
        (
            "",
            _(
                "FlopCounterMode counts {nb}c_i*n_h*n_w*(c_o/g)*k_h*k_w = "
                "{nv}{c_i}*{h}*{w}*{c_og}*{k_h}*{k_w} = {mults}: every input value times "
                "every tap, as the convolution this one transposes; {cropped} of them land "
                "in the padding rows and columns the output crops and are thrown away"
            ).format(
                nb=nb,
                nv=nv,
                c_i=c_i,
                h=h,
                w=w,
                c_og=c_og,
                k_h=k_h,
                k_w=k_w,
                mults=_n(f.multiplications),
                cropped=_n(cropped),
            ),
        ),
        (
            _("additions"),
            _(
                "the {useful} useful products land in {reached} of the {outputs} outputs: "
                "{useful} - {reached} = {sums}{bias} = {adds} (every tap: {all_adds})"
            ).format(
                useful=_n(f.useful_multiplications),
                reached=_n(cost.reached),
                outputs=_n(outputs),
                sums=_n(f.useful_multiplications - cost.reached),
                bias=bias_adds,
                adds=_n(cost.useful_additions),
                all_adds=_n(f.additions),
            ),
        ),
        (
            _("memory"),
            _("input {x} + weights {w} + output {y} = {total}; {size}").format(
                x=_bytes(f.input_bytes),
                w=_bytes(f.weight_bytes),
                y=_bytes(f.output_bytes),
                total=_bytes(f.bytes),
                size=size,
            ),
        ),
        (
            "FlopCounterMode",
            _("2*MACs = {flops} FLOPs (the bias is not counted)").format(
                flops=_n(cost.flop_counter_forward)
            ),
        ),
    ]
    positions = n * h * w
    backward = [
        (
            "dX",
            _(
                "conv2d(dY, K) with the same stride, padding and dilation: each of the "
                "{inputs} input values sums (c_o/g)*k_h*k_w = {window} products: {mults} "
                "multiplications, {inputs}*({window} - 1) = {adds} additions"
            ).format(
                inputs=_n(inputs),
                window=window,
                mults=_n(b.dx_multiplications),
                adds=_n(b.dx_additions),
            ),
        ),
        (
            "dW",
            _(
                "each of the {weights} weights sums {positions} products (n*n_h*n_w, the "
                "input times the dY value its tap reached): {mults} multiplications, "
                "{weights}*({positions} - 1) = {adds} additions"
            ).format(
                weights=_n(c_i * window),
                positions=_n(positions),
                mults=_n(b.dw_multiplications),
                adds=_n(b.dw_additions),
            ),
        ),
        (
            "db",
            _("c_o*(n*m_h*m_w - 1) = {c_o}*({positions} - 1) = {adds} additions").format(
                c_o=c_og * cost.groups, positions=_n(n * m_h * m_w), adds=_n(b.db_additions)
            )
            if cost.bias
            else _("no bias"),
        ),
        *_backward_totals(f, b),
    ]
    report = _sections(forward, backward)
    if cost.groups > 1:
        report.append(
            render_line(
                _(
                    "FlopCounterMode counts dW as 2*n*c_o*c_i*k_h*k_w*n_h*n_w = {wrong}: it "
                    "uses all c_o = {c_o} output channels, but each weight of a grouped layer "
                    "(groups {g}) sees c_o/g = {c_og}; the right count is 2*{mults} = "
                    "{right}, {g} times fewer."
                ).format(
                    wrong=_n(b.flop_counter_dw),
                    c_o=c_og * cost.groups,
                    g=cost.groups,
                    c_og=c_og,
                    mults=_n(b.dw_multiplications),
                    right=_n(cost.dw_correct_flops),
                )
            )
        )
    return report
