"""convcli's backward pass against ``torch.autograd``'s recorded gradients.

Needs no torch: the vectors live in ``tests/golden/grad_golden.*``. Regenerate them with
``python scripts/make_golden_grad.py`` (torch==2.13.0 installed).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from convcli.ops.grad import conv2d_backward, conv_transpose2d_backward, pool2d_backward
from convcli.shapes.pooling import PoolOptions

GOLDEN = Path(__file__).parent / "golden"
INDEX: dict[str, Any] = json.loads((GOLDEN / "grad_golden.json").read_text())
CASES: list[dict[str, Any]] = INDEX["cases"]
TOLERANCE = {"float32": 1e-6, "float64": 1e-13}
POOL_KINDS = {
    "max_pool2d": "max",
    "avg_pool2d": "avg",
    "adaptive_max_pool2d": "adaptive-max",
    "adaptive_avg_pool2d": "adaptive-avg",
}


@pytest.fixture(scope="module")
def tensors() -> Any:
    with np.load(GOLDEN / "grad_golden.npz") as data:
        return {name: data[name] for name in data.files}


def _args(options: dict[str, Any]) -> dict[str, Any]:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in options.items()}


def _same(out: np.ndarray[Any, Any], expected: np.ndarray[Any, Any], case: dict[str, Any]) -> None:
    assert out.shape == expected.shape
    if case["dtype"].startswith("int"):
        assert out.dtype == np.int64
        np.testing.assert_array_equal(out, expected)
        return
    assert out.dtype == expected.dtype
    atol = TOLERANCE[case["dtype"]] * case["scale"]
    np.testing.assert_allclose(out, expected, rtol=TOLERANCE[case["dtype"]] * 10, atol=atol)


@pytest.mark.parametrize("case", CASES, ids=[f"{c['id']}-{c['op']}" for c in CASES])
def test_matches_autograd(case: dict[str, Any], tensors: dict[str, Any]) -> None:
    name = case["id"]
    x, dy = tensors[f"{name}_x"], tensors[f"{name}_dy"]
    options = _args(case["options"])
    if case["op"] in POOL_KINDS:
        pool_options = PoolOptions(POOL_KINDS[case["op"]], **options)
        _same(pool2d_backward(x, pool_options, dy), tensors[f"{name}_gx"], case)
        return
    backward = conv2d_backward if case["op"] == "conv2d" else conv_transpose2d_backward
    bias = tensors.get(f"{name}_bias")
    grads = backward(x, tensors[f"{name}_weight"], dy, bias, **options)
    _same(grads.grad_input, tensors[f"{name}_gx"], case)
    _same(grads.grad_weight, tensors[f"{name}_gw"], case)
    if bias is None:
        assert grads.grad_bias is None
    else:
        assert grads.grad_bias is not None
        _same(grads.grad_bias, tensors[f"{name}_gb"], case)


def test_the_cases_cover_the_options() -> None:
    ops = Counter(c["op"] for c in CASES)
    assert set(ops) == {"conv2d", "conv_transpose2d", *POOL_KINDS}
    convs = [c["options"] for c in CASES if c["op"] == "conv2d"]
    assert {o["padding_mode"] for o in convs} == {"zeros", "reflect", "replicate", "circular"}
    assert any(o["flip"] for o in convs) and any(o["padding"] == "same" for o in convs)
    assert {o["groups"] for o in convs} >= {1, 2, 3}
    # inf/NaN in the kernel, the input and dY, for both convolutions: the NaN masks and
    # infs must match autograd's (assert_allclose compares them exactly)
    places = {(c["op"], c["nonfinite"]) for c in CASES if "nonfinite" in c}
    assert places == {
        (op, p) for op in ("conv2d", "conv_transpose2d") for p in ("weight", "x", "dy")
    }
    assert {c["dtype"] for c in CASES if c["op"] == "conv2d"} == {"float32", "float64", "int64"}
