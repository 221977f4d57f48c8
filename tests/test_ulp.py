"""verify-1x1: Y1 and Y2 in units in the last place, in float64 and in integers."""

from __future__ import annotations

import numpy as np
import pytest
from clitools import invoke, json_of

from convcli.ops.ulp import order_effect, ulp_gap


def test_ulp_gap_counts_representable_steps() -> None:
    one = np.float32(1.0)
    steps = [one]
    for _ in range(5):
        steps.append(np.nextafter(steps[-1], np.float32(2)))
    gap = ulp_gap(np.array([one, one], np.float32), np.array([one, steps[5]], np.float32))
    assert (gap.differing, gap.max_ulps) == (1, 5.0)
    assert ulp_gap(np.array([1.0]), np.array([1.0])).differing == 0


@pytest.mark.parametrize("seed", [0, 7])
def test_float32_differs_float64_shrinks_integers_vanish(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((64, 9, 9), dtype=np.float32)
    k = rng.standard_normal((16, 64, 1, 1), dtype=np.float32)
    effect = order_effect(x, k)
    assert effect.given.differing > 0  # 64 terms added in two orders round differently
    assert effect.float64.max_abs_diff < effect.given.max_abs_diff / 1e6
    assert effect.integers.differing == 0


def test_cli_json_has_the_ulp_object() -> None:
    data = json_of(invoke("verify-1x1", "--input-shape", "32x6x6", "--out-channels", "4", "--json"))
    ulp = data["ulp"]
    assert ulp["given"]["dtype"] == "float32"
    assert ulp["given"]["total"] == 4 * 36
    assert ulp["integers"]["differing"] == 0
    per_channel = np.array(data["per_channel"]["data"], dtype=np.float32)
    product = np.array(data["matrix_product"]["data"], dtype=np.float32)
    assert ulp["given"]["differing"] == int(np.count_nonzero(per_channel != product))
