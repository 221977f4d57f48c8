"""convcli's transposed convolution and pooling against PyTorch's recorded answers.

Needs no torch: the vectors live in ``tests/golden/layers_golden.*``. Regenerate them
with ``python scripts/make_golden_layers.py`` (torch==2.13.0 installed).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import convcli

GOLDEN = Path(__file__).parent / "golden"
INDEX: dict[str, Any] = json.loads((GOLDEN / "layers_golden.json").read_text())
CASES: list[dict[str, Any]] = INDEX["cases"]
TOLERANCE = {"float32": 1e-5, "float64": 1e-12}


@pytest.fixture(scope="module")
def tensors() -> Any:
    with np.load(GOLDEN / "layers_golden.npz") as data:
        return {name: data[name] for name in data.files}


def _args(options: dict[str, Any]) -> dict[str, Any]:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in options.items()}


@pytest.mark.parametrize("case", CASES, ids=[f"{c['id']}-{c['op']}" for c in CASES])
def test_matches_pytorch(case: dict[str, Any], tensors: dict[str, Any]) -> None:
    x = tensors[f"{case['id']}_x"]
    expected = tensors[f"{case['id']}_out"]
    function = getattr(convcli, case["op"])
    if case["op"] == "conv_transpose2d":
        bias = tensors.get(f"{case['id']}_bias")
        out = function(x, tensors[f"{case['id']}_weight"], bias, **_args(case["options"]))
    else:
        out = function(x, **_args(case["options"]))
    assert out.shape == expected.shape
    dtype = case["dtype"]
    if case["op"].endswith("max_pool2d") or dtype.startswith("int"):
        # A maximum is exact; integer transposed convolutions are exact in int64.
        assert out.dtype == (np.int64 if dtype.startswith("int") else x.dtype)
        np.testing.assert_array_equal(out, expected)
        return
    assert out.dtype == expected.dtype
    # NaN and infinities (recorded inputs hold some) must come out exactly as torch's.
    finite = np.isfinite(expected)
    np.testing.assert_array_equal(out[~finite], expected[~finite])
    atol = TOLERANCE[dtype] * max(case["scale"], 1.0)
    np.testing.assert_allclose(out[finite], expected[finite], rtol=TOLERANCE[dtype], atol=atol)


MAX_CASES = [c for c in CASES if c["op"].endswith("max_pool2d")]


@pytest.mark.parametrize("case", MAX_CASES, ids=[f"{c['id']}-{c['op']}" for c in MAX_CASES])
def test_indices_match_pytorch(case: dict[str, Any], tensors: dict[str, Any]) -> None:
    """``return_indices=True``: the values and the int64 indices PyTorch recorded (NaN,
    infinities and int64 ties included)."""
    x = tensors[f"{case['id']}_x"]
    values, indices = getattr(convcli, case["op"])(x, **_args(case["options"]), return_indices=True)
    np.testing.assert_array_equal(values, tensors[f"{case['id']}_out"])
    assert indices.dtype == np.int64
    np.testing.assert_array_equal(indices, tensors[f"{case['id']}_indices"])


def test_the_recorded_cases_cover_the_edges() -> None:
    seen: Counter[str] = Counter()
    for case in CASES:
        options = case["options"]
        seen[case["op"]] += 1
        seen[f"{case['op']} {case['dtype']}"] += 1
        if options.get("ceil_mode"):
            seen["ceil mode"] += 1
        if options.get("count_include_pad") is False:
            seen["padding not counted"] += 1
        if options.get("divisor_override") is not None:
            seen["divisor override"] += 1
        if options.get("output_padding") not in (None, 0, [0, 0]):
            seen["output padding"] += 1
        if options.get("groups", 1) > 1:
            seen["groups"] += 1
        if options.get("dilation", 1) not in (1, [1, 1]):
            seen["dilation"] += 1
        if isinstance(options.get("kernel_size"), list):
            seen["rectangular window"] += 1
    for category in (
        "ceil mode",
        "padding not counted",
        "divisor override",
        "output padding",
        "groups",
        "dilation",
        "rectangular window",
        "conv_transpose2d int64",
        "max_pool2d int64",
        "adaptive_avg_pool2d",
        "adaptive_max_pool2d",
    ):
        assert seen[category] >= 5, f"only {seen[category]} recorded cases of {category}"


SIGNED_ZERO_CASES = [c for c in CASES if c.get("signed_zeros")]


@pytest.mark.parametrize(
    "case", SIGNED_ZERO_CASES, ids=[f"{c['id']}-{c['op']}" for c in SIGNED_ZERO_CASES]
)
def test_item56_signed_zeros_replay_pytorchs_signs(
    case: dict[str, Any], tensors: dict[str, Any]
) -> None:
    """Max pooling over -0, 0, NaN, -1, 1 and -inf: values, zeros' signs and indices as
    PyTorch recorded them, with and without ``return_indices``."""
    x = tensors[f"{case['id']}_x"]
    expected = tensors[f"{case['id']}_out"]
    function = getattr(convcli, case["op"])
    plain = function(x, **_args(case["options"]))
    values, indices = function(x, **_args(case["options"]), return_indices=True)
    nan = np.isnan(expected)
    for out in (plain, values):
        np.testing.assert_array_equal(np.isnan(out), nan)
        np.testing.assert_array_equal(out[~nan], expected[~nan])
        np.testing.assert_array_equal(np.signbit(out[~nan]), np.signbit(expected[~nan]))
    np.testing.assert_array_equal(indices, tensors[f"{case['id']}_indices"])


def test_item56_the_signed_zero_cases_have_zero_maxima_of_both_signs() -> None:
    with np.load(GOLDEN / "layers_golden.npz") as data:
        outs = [data[f"{c['id']}_out"] for c in SIGNED_ZERO_CASES]
    zeros = np.concatenate([out[out == 0].ravel() for out in outs])
    assert np.signbit(zeros).sum() >= 5 and (~np.signbit(zeros)).sum() >= 5
