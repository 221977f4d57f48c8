"""What ``explain`` and ``verify`` show: JSON payloads and report layouts.

As ``convcli.render.reports``: payloads are plain dicts (the ``--json`` contract), reports are
lists of renderables built from ``convcli.render.widgets``'s pieces. Nothing here prints.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from convcli.i18n import _, ngettext
from convcli.i18n.typeset import beside, clauses, spacing
from convcli.ops.explain import ChannelTerm, Explanation
from convcli.ops.verify import Im2colCheck
from convcli.render.numbers import count_text
from convcli.render.reports import comparison_rows, padding_object
from convcli.render.widgets import (
    EDGE_ITEMS,
    Renderable,
    edge_indices,
    format_value,
    render_array,
    render_columns,
    render_key_values,
    render_line,
    render_matrix,
)

__all__ = ["explain_payload", "explain_report", "verify_payload", "verify_report"]

# Up to this many taps, a channel's sum is written out product by product.
MAX_WRITTEN_TERMS = 16


def _scalar(value: Any) -> Any:
    """A number as JSON writes it (non-finite as strings, complex as real/imag)."""
    from convcli.tensorio.jsontext import tensor_to_json

    return tensor_to_json(np.asarray(value))["data"]


def _array(array: npt.NDArray[Any]) -> dict[str, object]:
    from convcli.tensorio.jsontext import tensor_to_json

    return tensor_to_json(array)


def _geometry_payload(e: Explanation) -> dict[str, Any]:
    g = e.geometry
    return {
        "stride": list(g.stride),
        "padding": padding_object(g.padding),
        "dilation": list(g.dilation),
        "groups": e.options.groups,
        "padding_mode": e.options.padding_mode,
        "flip": e.options.flip,
    }


def explain_payload(e: Explanation) -> dict[str, Any]:
    """The ``explain --json`` object: every number of the explanation."""
    return {
        "position": list(e.position),
        "output_axes": list(e.output_axes),
        "output_shape": list(e.output_shape),
        "index": dict(zip(e.output_axes, e.position, strict=True)),
        "group": e.group,
        "input_rows": list(e.input_rows),
        "input_cols": list(e.input_cols),
        **_geometry_payload(e),
        "channels": [_term_payload(term) for term in e.terms],
        "total": _scalar(e.total),
        "bias": None if e.bias is None else _scalar(e.bias),
        "value": _scalar(e.value),
        "dtype": str(np.asarray(e.value).dtype),
    }


def _term_payload(term: ChannelTerm) -> dict[str, Any]:
    return {
        "c_i": term.channel,
        "kernel_index": list(term.kernel_index),
        "window": _array(term.window),
        "padding_mask": term.padding.tolist(),
        "source_rows": list(term.source_rows),
        "source_cols": list(term.source_cols),
        "kernel": _array(term.kernel),
        "products": _array(term.products),
        "sum": _scalar(term.total),
    }


def _span(coords: tuple[int, ...]) -> str:
    if len(coords) == 1:
        return str(coords[0])
    step = coords[1] - coords[0]
    text = f"{coords[0]}..{coords[-1]}"
    return text if step == 1 else _("{span} step {step}").format(span=text, step=step)


def _value(value: Any) -> str:
    text = format_value(np.asarray(value).reshape(1)[0])
    return f"({text})" if text.startswith("-") else text


def _written_sum(term: ChannelTerm) -> str:
    if term.products.size > MAX_WRITTEN_TERMS:
        return _("sum of {n} products = {total}").format(
            n=count_text(term.products.size), total=format_value(term.total)
        )
    pairs = [
        f"{_value(w)}*{_value(k)}"
        for w, k in zip(term.window.ravel(), term.kernel.ravel(), strict=True)
    ]
    return " + ".join(pairs) + f" = {format_value(term.total)}"


def _input_name(e: Explanation, channel: int, batched: bool, has_channels: bool) -> str:
    parts = ([f"n={e.batch}"] if batched else []) + ([f"c_i={channel}"] if has_channels else [])
    return f"X[{', '.join(parts)}]" if parts else "X"


def _kernel_name(e: Explanation, term: ChannelTerm) -> str:
    names = {4: ("c_o", "c_i/g" if e.options.groups > 1 else "c_i"), 3: ("c_i",), 2: ()}
    parts = [f"{axis}={i}" for axis, i in zip(names[e.kernel_ndim], term.kernel_index, strict=True)]
    name = f"K[{', '.join(parts)}]" if parts else "K"
    return _("{name} flipped").format(name=name) if e.options.flip else name


def explain_report(e: Explanation, *, full: bool = False) -> list[Renderable]:
    """The ``explain`` report: per channel the window, kernel, products and sum; the total."""
    g = e.geometry
    label = ", ".join(f"{axis}={i}" for axis, i in zip(e.output_axes, e.position, strict=True))
    top, bottom, left, right = g.padding
    channels = [term.channel for term in e.terms]
    batched = "n" in e.output_axes
    has_channels = e.kernel_ndim > 2
    mode = e.options.padding_mode
    group = ""
    if e.options.groups > 1:
        note = _("(group {group} of {groups})").format(group=e.group, groups=e.options.groups)
        group = spacing("", note) + note
    how = [
        (
            _("reads"),
            _(
                "input rows {rows}, cols {cols}: "
                "row = i*s_h - top + a*d_h = {i}*{s_h} - {top} + a*{d_h}, "
                "col = j*s_w - left + b*d_w = {j}*{s_w} - {left} + b*{d_w} "
                "for the taps a < {k_h}, b < {k_w}"
            ).format(
                rows=_span(e.input_rows),
                cols=_span(e.input_cols),
                i=e.row,
                s_h=g.stride[0],
                top=top,
                d_h=g.dilation[0],
                j=e.col,
                s_w=g.stride[1],
                left=left,
                d_w=g.dilation[1],
                k_h=g.kernel_size[0],
                k_w=g.kernel_size[1],
            ),
        ),
        (_("channels"), f"c_i {_span(tuple(channels))}{group}"),
        (
            _("padding"),
            _("top {top}, bottom {bottom}, left {left}, right {right}, mode {mode}").format(
                top=top, bottom=bottom, left=left, right=right, mode=mode
            ),
        ),
    ]
    if e.options.flip:
        how.append((_("kernel"), _("flipped 180 degrees: true convolution")))
    report: list[Renderable] = [
        render_key_values(
            how, title=_("Y[{label}]: where the number comes from").format(label=label)
        ),
    ]
    shown = edge_indices(len(e.terms), not full)
    for index in shown:
        if index is None:
            hidden = len(e.terms) - 2 * EDGE_ITEMS
            more = ngettext(
                "… {n} more channel (--full shows it)",
                "… {n} more channels (--full shows them)",
                hidden,
            )
            report.append(render_line(more.format(n=count_text(hidden))))
            continue
        term = e.terms[index]
        marked = term.padding if term.padding.any() else None
        name = _input_name(e, term.channel, batched, has_channels)
        report.append(
            render_columns(
                render_matrix(
                    term.window,
                    _("{name} window").format(name=name),
                    row_labels=e.input_rows,
                    col_labels=e.input_cols,
                    marked=marked,
                    full=full,
                ),
                render_matrix(term.kernel, _kernel_name(e, term), full=full),
                render_matrix(term.products, _("products"), marked=marked, full=full),
            )
        )
        prefix = f"c_i={term.channel}: " if has_channels else ""
        report.append(render_line(prefix + _written_sum(term)))
    if e.padded_taps:
        per_channel, taps = int(e.terms[0].padding.sum()), e.terms[0].padding.size
        if mode == "zeros":
            line = _("[v] is padding: {n} of {taps} taps per channel read zeros")
        else:
            line = _(
                "[v] is padding: {n} of {taps} taps per channel read {mode} copies of input cells"
            )
        report.append(
            render_line(line.format(n=count_text(per_channel), taps=count_text(taps), mode=mode))
        )
    report.append(render_key_values(_sums(e), title=_("sum")))
    return report


def _sums(e: Explanation) -> list[tuple[str, str]]:
    sums = [format_value(term.total) for term in e.terms]
    if len(sums) == 1:
        total = _("{total} (one input channel)").format(total=sums[0])
    elif len(sums) <= MAX_WRITTEN_TERMS:
        total = " + ".join(f"({s})" if s.startswith("-") else s for s in sums)
        total += f" = {format_value(e.total)}"
    else:
        total = _("sum of {n} channel sums = {total}").format(
            n=count_text(len(sums)), total=format_value(e.total)
        )
    rows = [(_("total"), total)]
    if e.bias is not None:
        rows.append(
            ("+ " + _("bias"), f"{format_value(e.bias)} = {format_value(e.total + e.bias)}")
        )
    index = ", ".join(map(str, e.position))
    rows.append(
        (
            "= " + _("value"),
            _("Y[{index}] = {value}, as convcli run prints it").format(
                index=index, value=format_value(e.value)
            ),
        )
    )
    return rows


def verify_payload(check: Im2colCheck) -> dict[str, Any]:
    """The ``verify --json`` object."""
    c = check.comparison
    n, groups, rows, cols = check.columns.shape
    return {
        "agree": c.agree,
        "max_abs_diff": _scalar(c.max_abs_diff),
        "max_rel_diff": _scalar(c.max_rel_diff),
        "atol": c.atol,
        "rtol": c.rtol,
        "batch": n,
        "groups": groups,
        "column_matrix_shape": [rows, cols],
        "weight_matrix_shape": list(check.weight_matrix_shape),
        "padding_mode": check.options.padding_mode,
        "flip": check.options.flip,
        "output_axes": list(check.output_axes),
        "columns": _array(check.columns),
        "weights": _array(check.weights),
        "matrix_product": _array(check.matrix_product),
        "direct": _array(check.direct),
    }


def verify_report(check: Im2colCheck, *, full: bool = False) -> list[Renderable]:
    """The ``verify`` report: the unfolded input, the weight matrix, both results."""
    n, groups, rows, cols = check.columns.shape
    c_o_g = check.weight_matrix_shape[0]
    k_h, k_w = check.geometry.kernel_size
    m_h, m_w = check.geometry.out_size
    c_g = rows // (k_h * k_w)
    per = beside("", _("per batch item and group")) if n * groups > 1 else ""
    mode = check.options.padding_mode
    if check.options.flip:
        kernel_row = _("each output channel's kernel (flipped) becomes a row")
    else:
        kernel_row = _("each output channel's kernel becomes a row")
    steps = [
        (
            _("unfold X (im2col)"),
            _(
                "each output position's window of the {mode}-padded input becomes a column: "
                "X_cols (c_i/g*k_h*k_w, m_h*m_w) = ({c_g}*{k_h}*{k_w}, {m_h}*{m_w}) = "
                "({rows}, {cols}){per}; row c*k_h*k_w + a*k_w + b holds channel c, tap (a, b)"
            ).format(
                mode=mode,
                c_g=c_g,
                k_h=k_h,
                k_w=k_w,
                m_h=m_h,
                m_w=m_w,
                rows=rows,
                cols=cols,
                per=per,
            ),
        ),
        (
            _("reshape K"),
            beside(kernel_row + _(":"), f"W (c_o/g, c_i/g*k_h*k_w) = ({c_o_g}, {rows})")
            + (beside("", _("per group")) if groups > 1 else ""),
        ),
        (
            "Y = W @ X_cols",
            f"({c_o_g}, {rows}) @ ({rows}, {cols}) = ({c_o_g}, {cols}) -> "
            f"({c_o_g}, {m_h}, {m_w})"
            + (
                clauses(["", _("{groups} groups stacked").format(groups=groups)])
                if groups > 1
                else ""
            ),
        ),
        (_("directly"), _("the convolution as convcli run computes it")),
    ]
    c = check.comparison
    diffs = comparison_rows(c, _("the convolution is a matrix product on unfolded patches"))
    columns, column_axes = _squeeze(check.columns, ("n", "g", "row", "col"))
    weights, weight_axes = _squeeze(check.weights, ("g", "c_o/g", "row"))
    return [
        render_key_values(steps, title=_("a convolution as a matrix product (im2col)")),
        render_array(columns, column_axes, name="X_cols", full=full),
        render_array(weights, weight_axes, name="W", full=full),
        render_array(
            check.matrix_product, check.output_axes, name=_("Y matrix product"), full=full
        ),
        render_array(check.direct, check.output_axes, name=_("Y directly"), full=full),
        render_key_values(diffs, title=_("comparison")),
    ]


def _squeeze(
    array: npt.NDArray[Any], axes: tuple[str, ...]
) -> tuple[npt.NDArray[Any], tuple[str, ...]]:
    """Drop leading axes of length 1 (one batch item, one group), keeping two at least."""
    while array.ndim > 2 and array.shape[0] == 1:
        array, axes = array[0], axes[1:]
    return array, axes
