"""What ``verify-1x1`` adds about Y1 and Y2: how many elements differ, by how many ULPs, why.

Nothing here prints.
"""

from __future__ import annotations

from typing import Any

from convcli.i18n import _
from convcli.ops.ulp import OrderEffect, UlpGap
from convcli.render.widgets import Renderable, render_key_values, render_line

__all__ = ["order_payload", "order_report"]


def _gap_payload(gap: UlpGap) -> dict[str, Any]:
    return {
        "dtype": gap.dtype,
        "differing": gap.differing,
        "total": gap.total,
        "max_ulps": gap.max_ulps,
        "median_ulps": gap.median_ulps,
        "max_abs_diff": gap.max_abs_diff,
    }


def order_payload(effect: OrderEffect) -> dict[str, Any]:
    """The ``ulp`` object ``verify-1x1 --json`` adds."""
    return {
        "given": _gap_payload(effect.given),
        "float64": _gap_payload(effect.float64),
        "integers": _gap_payload(effect.integers),
    }


def _gap_text(gap: UlpGap) -> str:
    if not gap.differing:
        return _("all {total} elements equal").format(total=gap.total)
    if gap.dtype.startswith("float"):
        return _(
            "{n} of {total} elements differ, by {median:g} ULP typically (median), "
            "{most:g} at most; max |difference| {diff:.3g}"
        ).format(
            n=gap.differing,
            total=gap.total,
            median=gap.median_ulps,
            most=gap.max_ulps,
            diff=gap.max_abs_diff,
        )
    return _("{n} of {total} elements differ, by {diff:g} at most").format(
        n=gap.differing, total=gap.total, diff=gap.max_abs_diff
    )


def order_report(effect: OrderEffect) -> list[Renderable]:
    """Y1 against Y2 in the given dtype, in float64 and in integers, and why they differ."""
    rows = [
        (effect.given.dtype, _gap_text(effect.given)),
        ("float64", _gap_text(effect.float64)),
        (_("integers"), _gap_text(effect.integers)),
    ]
    return [
        render_key_values(rows, title=_("are Y1 and Y2 exactly the same?")),
        render_line(
            _(
                "Why: both add the same c_i products for each output value, in another order "
                "(one channel after another, or the matrix product's blocked dot products). "
                "A float sum rounds after every addition, so the order shows in the last "
                "bits: a ULP is the spacing of floats at the value. In float64 the spacing "
                "is 2**29 times finer and the differences shrink; integer sums are exact in "
                "any order, so they vanish. Near zero, where the products cancel, one "
                "rounding of a large term is many ULPs of the small result."
            )
        ),
    ]
