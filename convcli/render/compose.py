"""What ``convcli compose`` shows: the one kernel two convolutions make, and the converse.

Nothing here prints.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from convcli.i18n import _
from convcli.ops.compose import Composed, CompositionCheck, separability
from convcli.render.widgets import (
    Renderable,
    format_value,
    render_array,
    render_key_values,
    render_line,
)

__all__ = ["check_report", "compose_payload", "compose_report", "composition_check_payload"]

# Slices whose rank the report lists one by one; the rest are counted.
SHOWN_SLICES = 8


def _shape(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape))


def _pair(pair: tuple[int, int]) -> str:
    return str(pair[0]) if pair[0] == pair[1] else f"{pair[0]},{pair[1]}"


def _vector(values: npt.NDArray[np.float64]) -> str:
    return "[" + ", ".join(format_value(np.float64(v)) for v in values) + "]"


def _ranks(kernel: npt.NDArray[np.float64]) -> list[tuple[int, int, Any]]:
    return [
        (o, c, separability(kernel[o, c]))
        for o in range(kernel.shape[0])
        for c in range(kernel.shape[1])
    ]


def compose_payload(
    k1_shape: tuple[int, ...], k2_shape: tuple[int, ...], composed: Composed
) -> dict[str, Any]:
    """The ``compose --json`` object."""
    from convcli.tensorio.files import tensor_to_json

    c_m, c_i, k1h, k1w = k1_shape
    c_o, _c_m, k2h, k2w = k2_shape
    k = composed.kernel
    return {
        "kernel1_shape": list(k1_shape),
        "kernel2_shape": list(k2_shape),
        "kernel": tensor_to_json(k),
        "kernel_shape": list(k.shape),
        "bias": None if composed.bias is None else tensor_to_json(composed.bias),
        "stride": list(composed.stride),
        "dilation": list(composed.dilation),
        "params": {
            "two_layers": c_m * c_i * k1h * k1w + c_o * c_m * k2h * k2w,
            "one_layer": int(k.size),
        },
        "slices": [
            {
                "out_channel": o,
                "in_channel": c,
                "rank": s.rank,
                "column": None if s.column is None else s.column.tolist(),
                "row": None if s.row is None else s.row.tolist(),
            }
            for o, c, s in _ranks(k)
        ],
    }


def compose_report(
    k1_shape: tuple[int, ...],
    k2_shape: tuple[int, ...],
    strides: tuple[tuple[int, int], tuple[int, int]],
    dilations: tuple[tuple[int, int], tuple[int, int]],
    composed: Composed,
) -> list[Renderable]:
    """The layers, the one kernel and why, its size, and the converse with a count."""
    c_m, c_i, k1h, k1w = k1_shape
    c_o, _c_m, k2h, k2w = k2_shape
    (s1, s2), (d1, d2) = strides, dilations
    k = composed.kernel
    kh, kw = k.shape[-2:]
    size_formula = (
        _("k1 + s1*(k2 - 1) = {k1h} + {s1}*({k2h} - 1), {k1w} + {s1w}*({k2w} - 1) = {kh}x{kw}")
        if (d1, d2) == ((1, 1), (1, 1))
        else _("((k1-1)*d1 + (k2-1)*s1*d2)/d + 1 per axis = {kh}x{kw}")
    ).format(k1h=k1h, k1w=k1w, k2h=k2h, k2w=k2w, s1=s1[0], s1w=s1[1], kh=kh, kw=kw)
    layers = [
        (
            _("layer 1"),
            _("K1 {shape} (c_m, c_i, k_h, k_w), stride {s}, dilation {d}").format(
                shape=_shape(k1_shape), s=_pair(s1), d=_pair(d1)
            ),
        ),
        (
            _("layer 2"),
            _("K2 {shape} (c_o, c_m, k_h, k_w), stride {s}, dilation {d}").format(
                shape=_shape(k2_shape), s=_pair(s2), d=_pair(d2)
            ),
        ),
        (
            _("one layer"),
            _("K {shape} (c_o, c_i, k_h, k_w), stride s1*s2 = {s}, dilation {d}").format(
                shape=_shape(k.shape), s=_pair(composed.stride), d=_pair(composed.dilation)
            ),
        ),
        (_("kernel size"), size_formula),
        (
            _("bias"),
            _("b2 + sum over m, t of K2[o, m, t]*b1[m]")
            if composed.bias is not None
            else _("none (neither layer has one)"),
        ),
    ]
    why = _(
        "Why: no nonlinearity between them, so layer 2 reads layer 1 at s2*q + d2*t, which "
        "reads X at s1*s2*q + s1*d2*t + d1*a. Correlating twice adds the kernel offsets: "
        "the weight at offset u sums K2[o, m, t]*K1[m, c, a] over m and over every pair with "
        "s1*d2*t + d1*a = u. The kernels convolve."
    )
    report: list[Renderable] = [
        render_key_values(layers, title=_("two convolutions are one")),
        render_line(why),
        render_array(k, ("c_o", "c_i", "k_h", "k_w"), name="K"),
    ]
    if composed.bias is not None:
        report.append(render_array(composed.bias, ("c_o",), name="b"))
    two = c_m * c_i * k1h * k1w + c_o * c_m * k2h * k2w
    report.append(render_key_values(_converse_rows(k, two), title=_("the converse")))
    return report


def _converse_rows(k: npt.NDArray[np.float64], two: int) -> list[tuple[str, str]]:
    kh, kw = k.shape[-2:]
    # the most even split: a_h + b_h - 1 = k_h, a_w + b_w - 1 = k_w
    a_h, a_w = (kh + 1) // 2, (kw + 1) // 2
    b_h, b_w = kh + 1 - a_h, kw + 1 - a_w
    rows = [
        (
            _("numbers"),
            _(
                "a {kh}x{kw} kernel has {one} numbers per slice ({total} in all); "
                "these two layers have {two}."
            ).format(kh=kh, kw=kw, one=kh * kw, total=k.size, two=two),
        ),
        (
            _("the converse"),
            _(
                "with one channel between, a {a_h}x{a_w} and a {b_h}x{b_w} kernel make a "
                "{kh}x{kw} one from {pair} numbers: {verdict}"
            ).format(
                a_h=a_h,
                a_w=a_w,
                b_h=b_h,
                b_w=b_w,
                kh=kh,
                kw=kw,
                pair=a_h * a_w + b_h * b_w,
                verdict=_("fewer than {one}, so most {kh}x{kw} kernels cannot be split").format(
                    one=kh * kw, kh=kh, kw=kw
                )
                if a_h * a_w + b_h * b_w < kh * kw
                else _("no fewer than {one}, yet a split must still exist").format(one=kh * kw),
            ),
        ),
        (
            _("separable"),
            _(
                "a slice splits into a {kh}x1 and a 1x{kw} kernel exactly when its rank is 1; "
                "a slice of rank r needs r channels between them"
            ).format(kh=kh, kw=kw),
        ),
    ]
    ranks = _ranks(k)
    for o, c, s in ranks[:SHOWN_SLICES]:
        if s.rank == 1 and s.column is not None and s.row is not None:
            text = _("rank 1: separable, {column} (k x 1) times {row} (1 x k)").format(
                column=_vector(s.column), row=_vector(s.row)
            )
        elif s.rank == 0:
            text = _("rank 0: all zeros")
        elif s.rank is None:
            text = _("NaN or infinite values: no rank")
        else:
            text = _("rank {rank}: not separable").format(rank=s.rank)
        rows.append((f"K[{o}, {c}]", text))
    if len(ranks) > SHOWN_SLICES:
        separable = sum(1 for _o, _c, s in ranks if s.rank is not None and s.rank <= 1)
        rows.append(
            (
                "...",
                _("{more} more slices; {separable} of all {total} are separable").format(
                    more=len(ranks) - SHOWN_SLICES, separable=separable, total=len(ranks)
                ),
            )
        )
    return rows


def composition_check_payload(check: CompositionCheck) -> dict[str, Any]:
    """The ``check`` object ``compose --check --json`` adds."""
    return {
        "agree_interior": bool(not np.any(check.differ & ~check.border)),
        "differing": int(check.differ.sum()),
        "border": int(check.border.sum()),
        "outputs": int(check.differ.size),
        "max_abs_diff": check.max_abs_diff,
        "padding": list(check.padding),
    }


def check_report(check: CompositionCheck) -> list[Renderable]:
    """Both ways on one input: where they agree and where (the border) they differ."""
    differ, border = check.differ, check.border
    outside = int(np.sum(differ & ~border))
    rows = [
        (
            _("outputs"),
            _("{n} values ({shape}), padding of the one layer p1 + s1*p2 = {p}").format(
                n=differ.size, shape=_shape(differ.shape), p=_pair(check.padding)
            ),
        ),
        (_("max |difference|"), f"{check.max_abs_diff:.3g}"),
        (
            _("border"),
            _("{b} outputs whose layer-2 window reaches layer 2's zero padding").format(
                b=int(border.sum())
            ),
        ),
        (
            _("differ"),
            _("{d} values, all of them on that border; the interior agrees").format(
                d=int(differ.sum())
            )
            if outside == 0 and differ.any()
            else _("none")
            if outside == 0
            else _("{d} values, {o} of them inside").format(d=int(differ.sum()), o=outside),
        ),
    ]
    report: list[Renderable] = [render_key_values(rows, title=_("both ways on the input"))]
    if differ.any():
        plane: npt.NDArray[np.int64] = np.any(
            differ.reshape(-1, *differ.shape[-2:]), axis=0
        ).astype(np.int64)
        report.append(render_array(plane, ("m_h", "m_w"), name=_("differ (1)")))
        report.append(
            render_line(
                _(
                    "Layer 2 pads layer 1's output with zeros; the one layer reads the input "
                    "there instead, and what layer 1 would have computed from it is not zero. "
                    "Zeros padded between two layers are not the first layer's output."
                )
            )
        )
    elif border.any():
        report.append(
            render_line(
                _(
                    "They agree everywhere: where layer 2 reads its padding, layer 1 would "
                    "have read only X's zero padding (and it has no bias), so zero too."
                )
            )
        )
    else:
        report.append(render_line(_("They agree everywhere: no padding between the layers.")))
    return report
