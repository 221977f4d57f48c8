"""``convcli.conv2d`` against PyTorch's answers, recorded by ``scripts/make_golden.py``.

Needs no torch: the vectors live in ``tests/golden``. Regenerate them with
``python scripts/make_golden.py`` (torch==2.13.0 installed).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from convcli import conv2d

GOLDEN = Path(__file__).parent / "golden"
INDEX: dict[str, Any] = json.loads((GOLDEN / "conv2d_golden.json").read_text())
CASES: list[dict[str, Any]] = INDEX["cases"]

# (rtol, atol per unit of scale); scale is the largest sum of |x||w| + |bias| of the case.
TOLERANCE = {"float32": (1e-5, 1e-5), "float64": (1e-12, 1e-12)}
INTEGER_DTYPES = ("bool", "int8", "uint8", "int16", "int32", "int64")

# Each category must keep at least this many cases if the file is regenerated.
MINIMUM_PER_CATEGORY = 8
CATEGORIES = (
    "batched",
    "unbatched",
    "bias",
    "no bias",
    "stride 1",
    "stride > 1",
    "stride pair",
    "padding default",
    "padding int",
    "padding pair",
    "padding same",
    "padding same, extra bottom/right",
    "padding valid",
    "dilation 1",
    "dilation > 1",
    "dilation pair",
    "groups 1",
    "grouped",
    "depthwise",
    "kernel just fits",
    "even kernel",
    "large",
    "large, pointwise",
    "large, depthwise",
    *(f"dtype {name}" for name in ("float32", "float64", *INTEGER_DTYPES)),
)


# Beyond this many multiply-adds conv2d runs its tiled kernels, not its one-shot path.
LARGE_MACS = 2**15


def _multiply_adds(case: dict[str, Any]) -> int:
    _c_o, c_per_group, k_h, k_w = case["weight_shape"]
    return int(np.prod(case["out_shape"]) * c_per_group * k_h * k_w)


@pytest.fixture(scope="module")
def golden() -> dict[str, npt.NDArray[Any]]:
    with np.load(GOLDEN / "conv2d_golden.npz") as data:
        return {name: data[name] for name in data.files}


def options(case: dict[str, Any]) -> dict[str, Any]:
    """The case's conv2d keyword arguments (JSON lists back to pairs)."""
    return {
        name: tuple(case[name]) if isinstance(case[name], list) else case[name]
        for name in ("stride", "padding", "dilation", "groups")
    }


def _pair(value: int | list[int]) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (value[0], value[1])


def categories(case: dict[str, Any]) -> set[str]:
    """The option categories one case exercises, derived from its options and shapes."""
    stride, dilation = _pair(case["stride"]), _pair(case["dilation"])
    padding, groups = case["padding"], case["groups"]
    c_i, k = case["x_shape"][-3], case["weight_shape"][-2:]
    spans = [dilation[a] * (k[a] - 1) for a in (0, 1)]
    found = {
        "batched" if case["batched"] else "unbatched",
        "bias" if case["bias"] else "no bias",
        "stride 1" if stride == (1, 1) else "stride > 1",
        "dilation 1" if dilation == (1, 1) else "dilation > 1",
        f"dtype {case['dtype']}",
    }
    if isinstance(case["stride"], list) and stride[0] != stride[1]:
        found.add("stride pair")
    if isinstance(case["dilation"], list) and dilation[0] != dilation[1]:
        found.add("dilation pair")
    if padding == 0:
        found.add("padding default")
    elif isinstance(padding, int):
        found.add("padding int")
    elif isinstance(padding, list):
        found.add("padding pair")
    else:
        found.add(f"padding {padding}")
    if padding == "same" and any(span % 2 for span in spans):
        found.add("padding same, extra bottom/right")
    if groups == 1:
        found.add("groups 1")
    else:
        found.add("depthwise" if groups == c_i else "grouped")
    if any(size % 2 == 0 for size in k):
        found.add("even kernel")
    if _multiply_adds(case) > LARGE_MACS:
        found.add("large")
        if k == [1, 1] and groups == 1:
            found.add("large, pointwise")
        if groups == c_i > 1:
            found.add("large, depthwise")
    total = [2 * p for p in _pair(padding)] if not isinstance(padding, str) else None
    if padding == "valid" or total is not None:
        pads = total or [0, 0]
        size = case["x_shape"][-2:]
        if any(size[a] + pads[a] == spans[a] + 1 for a in (0, 1)):
            found.add("kernel just fits")
    return found


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_conv2d_matches_pytorch(case: dict[str, Any], golden: dict[str, npt.NDArray[Any]]) -> None:
    x, weight = golden[f"{case['id']}_x"], golden[f"{case['id']}_weight"]
    bias = golden.get(f"{case['id']}_bias")
    expected = golden[f"{case['id']}_out"]

    out: npt.NDArray[Any] = conv2d(x, weight, bias, **options(case))

    assert out.dtype == expected.dtype
    assert out.shape == expected.shape
    if case["dtype"] in INTEGER_DTYPES:
        np.testing.assert_array_equal(out, expected)
    else:
        rtol, atol = TOLERANCE[case["dtype"]]
        np.testing.assert_allclose(out, expected, rtol=rtol, atol=atol * case["scale"])


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_golden_case_is_consistent(
    case: dict[str, Any], golden: dict[str, npt.NDArray[Any]]
) -> None:
    """The index describes the arrays, and the recorded dtype is the contract's."""
    x, weight = golden[f"{case['id']}_x"], golden[f"{case['id']}_weight"]
    assert str(x.dtype) == str(weight.dtype) == case["dtype"]
    assert list(x.shape) == case["x_shape"]
    assert list(weight.shape) == case["weight_shape"]
    assert x.ndim == (4 if case["batched"] else 3)
    assert (f"{case['id']}_bias" in golden) == case["bias"]
    expected = golden[f"{case['id']}_out"]
    assert list(expected.shape) == case["out_shape"]
    contract = np.int64 if case["dtype"] in INTEGER_DTYPES else np.dtype(case["dtype"])
    assert expected.dtype == contract


def test_golden_file_has_no_stray_arrays(golden: dict[str, npt.NDArray[Any]]) -> None:
    ids = [case["id"] for case in CASES]
    assert len(set(ids)) == len(ids)
    named = {f"{case['id']}_{part}" for case in CASES for part in ("x", "weight", "out")}
    named |= {f"{case['id']}_bias" for case in CASES if case["bias"]}
    assert set(golden) == named


def test_golden_file_covers_every_category() -> None:
    counts = Counter(category for case in CASES for category in categories(case))
    assert len(CASES) >= 150
    thin = {name: counts[name] for name in CATEGORIES if counts[name] < MINIMUM_PER_CATEGORY}
    assert not thin, f"categories with fewer than {MINIMUM_PER_CATEGORY} golden cases: {thin}"
