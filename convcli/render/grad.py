"""What ``grad``, ``grad --at``, ``verify --grad`` and ``pool --grad`` show (反向传播, 梯度).

As ``convcli.render.run``: payloads are plain dicts (the ``--json`` contract), reports lists
of renderables. Nothing here prints.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from convcli.i18n import _, ngettext
from convcli.ops.grad import ConvGrads
from convcli.ops.grad_explain import GradCheck, GradExplanation
from convcli.render.reports import comparison_rows
from convcli.render.run import geometry_line
from convcli.render.widgets import (
    Renderable,
    TensorRow,
    format_value,
    render_array,
    render_key_values,
    render_line,
    render_shapes,
    render_stats,
    render_title,
)
from convcli.shapes.axes import axis_names, output_axes
from convcli.shapes.options import ConvOptions
from convcli.shapes.transposed import TransposedOptions

__all__ = [
    "explain_grad_payload",
    "explain_grad_report",
    "grad_payload",
    "grad_report",
    "pool_grad_payload",
    "pool_grad_report",
    "verify_grad_payload",
    "verify_grad_report",
]

Array = npt.NDArray[Any]
# Terms listed by --at before the rest are counted only (all with --full).
SHOWN_TERMS = 40


def _scalar(value: Any) -> Any:
    """A number as JSON writes it (non-finite as strings, complex as real/imag)."""
    from convcli.tensorio.jsontext import tensor_to_json

    return tensor_to_json(np.asarray(value))["data"]


def _tensor(array: Array | None) -> dict[str, Any] | None:
    from convcli.tensorio.jsontext import tensor_to_json

    return None if array is None else tensor_to_json(array)


def grad_payload(grads: ConvGrads) -> dict[str, Any]:
    """The ``grad --json`` object: the three gradients in convcli's JSON form.

    Examples
    --------
    >>> from convcli.ops.grad import conv_grads
    >>> p = grad_payload(conv_grads(np.ones((3, 3)), np.ones((2, 2))))
    >>> sorted(p), p["grad_weight"]["data"], p["grad_bias"]
    (['grad_bias', 'grad_input', 'grad_weight'], [[4.0, 4.0], [4.0, 4.0]], None)
    """
    return {
        "grad_input": _tensor(grads.grad_input),
        "grad_weight": _tensor(grads.grad_weight),
        "grad_bias": _tensor(grads.grad_bias),
    }


def axes_of(
    x: Array, kernel: Array, options: ConvOptions | TransposedOptions
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """The axis names of the input, the kernel and the output (``dY``)."""
    if isinstance(options, TransposedOptions):
        batch = ("n",) if x.ndim == 4 else ()
        kernel_axes = ("c_i", "c_o/g" if int(options.groups) > 1 else "c_o", "k_h", "k_w")
        return (*batch, "c_i", "n_h", "n_w"), kernel_axes, (*batch, "c_o", "m_h", "m_w")
    return (
        axis_names("input", x.ndim),
        axis_names("kernel", kernel.ndim, groups=options.groups),
        output_axes(x.ndim, kernel.ndim),
    )


def loss_line(grad_output_source: str | None) -> str:
    """What the loss is: the sum of the outputs (``dY`` all ones), or ``dY`` from a file."""
    if grad_output_source is None:
        return _("loss L = sum of the outputs, so dY = dL/dY = 1 everywhere")
    return _("dY = dL/dY read from {file}").format(file=grad_output_source)


def method_line(transposed: bool) -> str:
    if transposed:
        return _(
            "backward pass of conv_transpose2d: dX = conv2d(dY, K), the direct "
            "convolution; dW = correlation of dY with X; db = sum of dY"
        )
    return _(
        "backward pass: dX = conv_transpose2d(dY, K), the transposed convolution; "
        "dW = correlation of X with dY; db = sum of dY"
    )


def grad_report(
    grads: ConvGrads,
    x: Array,
    kernel: Array,
    bias: Array | None,
    sources: tuple[str, str, str | None, str | None],
    options: ConvOptions | TransposedOptions,
    *,
    full: bool = False,
    stats_only: bool = False,
) -> list[Renderable]:
    """The ``grad`` report: the tensors with named axes, the geometry, the loss, then each
    gradient (``dX``, ``dW``, ``db``) as ``run`` prints a result, with its statistics.

    ``sources`` names the input, kernel, bias and ``dY`` files (``None``: not given).

    Examples
    --------
    >>> from convcli.ops.grad import conv_grads
    >>> x, k = np.ones((2, 3, 3)), np.ones((2, 2, 2))
    >>> len(grad_report(conv_grads(x, k), x, k, None, ("x", "k", None, None), ConvOptions()))
    11
    """
    in_axes, k_axes, out_axes = axes_of(x, kernel, options)
    dy = grads.grad_output
    rows = [
        TensorRow(_("input"), x.shape, in_axes, sources[0], str(x.dtype)),
        TensorRow(_("kernel"), kernel.shape, k_axes, sources[1], str(kernel.dtype)),
        TensorRow(
            _("bias"),
            None if bias is None else bias.shape,
            ("c_o",),
            sources[2] or "",
            "" if bias is None else str(bias.dtype),
        ),
        TensorRow(_("output gradient dY"), dy.shape, out_axes, sources[3] or "", str(dy.dtype)),
    ]
    report: list[Renderable] = [render_shapes(rows)]
    if isinstance(options, ConvOptions):
        report.append(render_line(geometry_line(x.shape, kernel.shape, options)))
    report.append(render_line(loss_line(sources[3])))
    report.append(render_line(method_line(isinstance(options, TransposedOptions))))
    parts: list[tuple[str, str, Array | None, tuple[str, ...]]] = [
        ("dX", _("gradient of the input, dL/dX"), grads.grad_input, in_axes),
        ("dW", _("gradient of the kernel, dL/dW"), grads.grad_weight, k_axes),
        ("db", _("gradient of the bias, dL/db"), grads.grad_bias, ("c_o",)),
    ]
    for name, title, array, axes in parts:
        if array is None:
            report.append(render_line(_("db: no bias")))
            continue
        if not stats_only:
            report.append(render_title(title))
            report.append(render_array(array, axes, name=name, full=full))
        report.append(render_stats(array, label=name))
    return report


def explain_grad_payload(e: GradExplanation) -> dict[str, Any]:
    """``grad --at --json``: the cell, every term and the sums.

    Examples
    --------
    >>> from convcli.ops.grad_explain import explain_grad
    >>> e = explain_grad(np.arange(4).reshape(2, 2), np.ones((1, 1), dtype=int), None,
    ...                  ConvOptions(), "weight", (0, 0))
    >>> p = explain_grad_payload(e)
    >>> p["target"], p["value"], len(p["terms"])
    ('weight', 6, 4)
    """
    return {
        "target": e.target,
        "index": list(e.index),
        "terms": [
            {
                "output": list(t.output),
                "tap": list(t.tap),
                "cell": list(t.cell),
                "dy": _scalar(t.dy),
                ("kernel" if e.target == "input" else "input"): _scalar(t.factor),
                "product": _scalar(t.product),
                "padded": None if t.padded is None else list(t.padded),
            }
            for t in e.terms
        ],
        "sum": _scalar(e.total),
        "value": _scalar(e.computed),
        "zero_reads": e.zero_reads,
    }


def _at(name: str, index: tuple[int, ...]) -> str:
    return f"{name}[{','.join(map(str, index))}]"


def explain_grad_report(e: GradExplanation, *, full: bool = False) -> list[Renderable]:
    """``grad --at``: each term of one gradient cell, the sum with the numbers, and the
    identity that gives the whole gradient.

    Examples
    --------
    >>> from convcli.ops.grad_explain import explain_grad
    >>> e = explain_grad(np.arange(9).reshape(3, 3), np.ones((2, 2), dtype=int), None,
    ...                  ConvOptions(), "input", (1, 1))
    >>> len(explain_grad_report(e))
    4
    """
    from rich import box
    from rich.table import Table

    is_input = e.target == "input"
    cell = _at("dX" if is_input else "dW", e.index)
    if is_input:
        title = ngettext(
            "{cell}: {n} output read input cell {x_cell}",
            "{cell}: {n} outputs read input cell {x_cell}",
            len(e.terms),
        ).format(cell=cell, n=len(e.terms), x_cell=_at("X", e.index))
    else:
        title = ngettext(
            "{cell}: kernel tap {tap} visited {n} position",
            "{cell}: kernel tap {tap} visited {n} positions",
            len(e.terms),
        ).format(cell=cell, n=len(e.terms), tap=_at("K", e.index))
    table = Table(box=box.SIMPLE_HEAD)
    shown = e.terms if full else e.terms[:SHOWN_TERMS]
    padded = any(t.padded is not None for t in shown)
    if is_input:
        headers = [_("output"), _("tap used"), "dY", "K", "dY * K"]
    else:
        headers = [_("output"), _("input cell"), "X", "dY", "X * dY"]
    if padded:  # where a reflect/replicate/circular copy of the cell was read
        headers.insert(2, _("read at padded"))
    for header in headers:
        # Indices and values are never cut: a narrow terminal wraps the headers instead.
        table.add_column(header, justify="right", overflow="fold")
    for t in shown:
        if is_input:
            row = [_at("Y", t.output), _at("K", t.tap), t.dy, t.factor, t.product]
        else:
            row = [_at("Y", t.output), _at("X", t.cell), t.factor, t.dy, t.product]
        cells = [*row[:2], *(format_value(v) for v in row[2:])]
        if padded:
            cells.insert(2, "" if t.padded is None else f"{t.padded[0]},{t.padded[1]}")
        table.add_row(*cells)
    report: list[Renderable] = [render_line(title), table]
    rest = len(e.terms) - len(shown)
    if rest:
        report.append(
            render_line(
                ngettext(
                    "... and {n} more term (--full lists all)",
                    "... and {n} more terms (--full lists all)",
                    rest,
                ).format(n=rest)
            )
        )
    products = ""
    for number, t in enumerate(shown):  # a negative term is subtracted, as written by hand
        text = format_value(t.product)
        if number == 0:
            products = text
        elif text.startswith("-") and "j" not in text:
            products += " - " + text[1:]
        else:
            products += " + " + text
    if rest:
        products += " + ..."
    formula = "dY * K" if is_input else "X * dY"
    total = format_value(e.total)
    if not e.terms:
        products = "0"
    report.append(
        render_line(
            _("{cell} = sum {formula} = {products} = {total}").format(
                cell=cell, formula=formula, products=products, total=total
            )
        )
    )
    notes = []
    if e.zero_reads:
        notes.append(
            ngettext(
                "{n} position read zero padding (or was cropped): no term",
                "{n} positions read zero padding (or were cropped): no term",
                e.zero_reads,
            ).format(n=e.zero_reads)
        )
    if is_input and not e.transposed:
        notes.append(
            _(
                "The whole of dX is the transposed convolution of dY with K "
                "(conv_transpose2d(dY, K) with the same stride, dilation and groups), "
                "cropped to the input; padding copies fold back onto the cells they copied."
            )
        )
    elif is_input:
        notes.append(
            _(
                "The whole of dX is the (direct) convolution of dY with K: a transposed "
                "convolution's gradient swaps the roles."
            )
        )
    else:
        notes.append(
            _(
                "The whole of dW is a correlation of the input with dY: dW[o,c,u,v] = sum over "
                "n, y, x of X[n, c, y*s + u*d, x*s + v*d] * dY[n, o, y, x] (the padded input)."
            )
            if not e.transposed
            else _(
                "The whole of dW is a correlation of dY with the input: each input value times "
                "the dY its stamp of the tap landed on."
            )
        )
    notes.append(
        _("convcli grad computes {cell} = {value}").format(
            cell=cell, value=format_value(e.computed)
        )
    )
    report.append(render_line("\n".join(notes)))
    return report


def verify_grad_payload(check: GradCheck) -> dict[str, Any]:
    """``verify --grad --json``: each identity's differences and verdict."""

    def entry(c: Any) -> dict[str, Any] | None:
        if c is None:
            return None
        return {
            "max_abs_diff": c.max_abs_diff,
            "max_rel_diff": c.max_rel_diff,
            "atol": c.atol,
            "rtol": c.rtol,
            "agree": c.agree,
        }

    comparisons = [check.input_comparison, check.weight_comparison, check.bias_comparison]
    return {
        "grad_input": entry(check.input_comparison),
        "grad_weight": entry(check.weight_comparison),
        "grad_bias": entry(check.bias_comparison),
        "transposed": check.transposed,
        "agree": all(c.agree for c in comparisons if c is not None),
    }


def verify_grad_report(check: GradCheck) -> list[Renderable]:
    """``verify --grad``: each identity, computed twice, compared."""
    if check.transposed:
        ways = [
            ("dX", _("conv2d(dY, K), same stride, padding, dilation, groups  vs  W @ cols(dY)")),
            ("dW", _("correlation of dY with X  vs  X @ cols(dY)^T")),
        ]
        claims = [
            (_("dX is the ordinary convolution (correlation) conv2d of dY with K")),
            (_("dW is the correlation of dY with X")),
        ]
        title = _("the backward pass of the transposed convolution, computed twice")
    else:
        ways = [
            ("dX", _("conv_transpose2d(dY, K)  vs  col2im(W^T @ dY)")),
            ("dW", _("correlation of X with dY  vs  dY @ cols^T")),
        ]
        claims = [
            _("dX is the transposed convolution of dY with K"),
            _("dW is the correlation of X with dY"),
        ]
        title = _("the backward pass, computed twice")
    report: list[Renderable] = [
        render_key_values([*ways, ("db", _("sum of dY over n, m_h, m_w"))], title=title)
    ]
    checks = [
        ("dX", check.input_comparison, claims[0]),
        ("dW", check.weight_comparison, claims[1]),
        ("db", check.bias_comparison, _("db is the sum of dY")),
    ]
    for name, comparison, claim in checks:
        if comparison is None:
            report.append(render_line(_("db: no bias")))
            continue
        report.append(render_key_values(comparison_rows(comparison, claim), title=name))
    return report


def pool_grad_payload(grad: Array) -> dict[str, Any]:
    """``pool --grad --json``: ``{"grad_input": {...}}``."""
    return {"grad_input": _tensor(grad)}


def pool_grad_report(
    grad: Array,
    x: Array,
    source: str,
    grad_output: Array,
    grad_output_source: str | None,
    kind: str,
    *,
    full: bool = False,
) -> list[Renderable]:
    """``pool --grad``: the shapes, the loss, how the gradient flows back, ``dX``."""
    batch = ("n",) if x.ndim == 4 else ()
    rows = [
        TensorRow(_("input"), x.shape, (*batch, "c", "n_h", "n_w"), source, str(x.dtype)),
        TensorRow(
            _("output gradient dY"),
            grad_output.shape,
            (*batch, "c", "m_h", "m_w"),
            grad_output_source or "",
            str(grad_output.dtype),
        ),
    ]
    how = {
        "max": _("max pooling: each output's dY goes to its window's winner (ties: the first)"),
        "adaptive-max": _(
            "adaptive max pooling: each output's dY goes to its window's winner (ties: the first)"
        ),
        "avg": _("average pooling: each output's dY / divisor goes to every cell of its window"),
        "adaptive-avg": _(
            "adaptive average pooling: dY / window size to every cell of each (overlapping) window"
        ),
    }[kind]
    return [
        render_shapes(rows),
        render_line(loss_line(grad_output_source)),
        render_line(how),
        render_title(_("gradient of the input, dL/dX")),
        render_array(grad, (*batch, "c", "n_h", "n_w"), name="dX", full=full),
        render_stats(grad, label="dX"),
    ]
