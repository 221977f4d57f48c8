"""``verify --grad``'s second computation of the backward pass, for conv2d and
conv_transpose2d: its im2col gradients against ``torch.autograd`` (output_padding, groups,
dilation, batches, integers) and against the golden vectors recorded from it (no torch).
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from test_properties_layers import Transposed, transposed_convolutions

from convcli.ops.grad_explain import verify_grad, verify_transposed_grad
from convcli.shapes.options import ConvOptions
from convcli.shapes.transposed import TransposedOptions

GOLDEN = Path(__file__).parent / "golden"
CASES: list[dict[str, Any]] = json.loads((GOLDEN / "grad_golden.json").read_text())["cases"]
CONVS = [c for c in CASES if c["op"] in ("conv2d", "conv_transpose2d")]
TOLERANCE = {"float32": 1e-6, "float64": 1e-13}

# (batch, groups, stride, padding, output_padding, dilation, kernel)
TRANSPOSED = [
    case
    for case in itertools.product([0, 2], [1, 2], [1, 2, 3], [0, 2], [0, 1, 2], [1, 2], [1, 3])
    if case[4] < max(case[2], case[5])  # output_padding < stride or dilation
    # a non-empty output of the (4, 3) input and the (k, k + 1) kernel
    and 3 * case[2] - 2 * case[3] + case[5] * (case[6] - 1) + case[4] + 1 > 0
    and 2 * case[2] - 2 * case[3] + case[5] * case[6] + case[4] + 1 > 0
]


@pytest.fixture(scope="module")
def tensors() -> Any:
    with np.load(GOLDEN / "grad_golden.npz") as data:
        return {name: data[name] for name in data.files}


def _same(out: Any, expected: Any, case: dict[str, Any]) -> None:
    assert out.shape == expected.shape
    if case["dtype"].startswith("int"):
        np.testing.assert_array_equal(out, expected)
        return
    tol = TOLERANCE[case["dtype"]]
    np.testing.assert_allclose(out, expected, rtol=10 * tol, atol=tol * case["scale"])


@pytest.mark.parametrize("case", CONVS, ids=[f"{c['id']}-{c['op']}" for c in CONVS])
def test_the_second_computation_matches_recorded_autograd(
    case: dict[str, Any], tensors: dict[str, Any]
) -> None:
    name = case["id"]
    x, w, dy = tensors[f"{name}_x"], tensors[f"{name}_weight"], tensors[f"{name}_dy"]
    bias = tensors.get(f"{name}_bias")
    options: dict[str, Any] = {
        k: tuple(v) if isinstance(v, list) else v for k, v in case["options"].items()
    }
    if case["op"] == "conv2d":
        check = verify_grad(x, w, bias, ConvOptions(**options), dy)
    else:
        check = verify_transposed_grad(x, w, bias, TransposedOptions(**options), dy)
        assert check.transposed
    _same(check.input_check, tensors[f"{name}_gx"], case)
    _same(check.weight_check, tensors[f"{name}_gw"], case)
    if bias is not None:
        assert check.bias_check is not None
        _same(check.bias_check, tensors[f"{name}_gb"], case)
    comparisons = [check.input_comparison, check.weight_comparison, check.bias_comparison]
    assert all(c.agree for c in comparisons if c is not None)


def test_the_golden_cases_cover_the_transposed_options() -> None:
    options = [c["options"] for c in CONVS if c["op"] == "conv_transpose2d"]
    assert any(o.get("groups", 1) > 1 for o in options)
    assert any(o.get("output_padding", 0) not in (0, [0, 0]) for o in options)
    assert any(o.get("dilation", 1) not in (1, [1, 1]) for o in options)


@given(case=transposed_convolutions(dtypes=("float32", "float64", "int16", "complex128")))
def test_transposed_identities_hold_on_any_configuration(case: Transposed) -> None:
    check = verify_transposed_grad(
        case.x, case.weight, case.bias, TransposedOptions(**case.options)
    )
    assert check.input_check.shape == case.x.shape
    assert check.weight_check.shape == case.weight.shape
    comparisons = [check.input_comparison, check.weight_comparison, check.bias_comparison]
    assert all(c.agree for c in comparisons if c is not None), case.options


@pytest.mark.torch
@pytest.mark.parametrize(("batch", "groups", "s", "p", "op", "d", "k"), TRANSPOSED)
def test_transposed_identities_match_autograd(
    batch: int, groups: int, s: int, p: int, op: int, d: int, k: int
) -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(batch + 10 * groups + 100 * s + 1000 * p + 10**4 * op + k)
    c_i = 2 * groups
    x = rng.standard_normal((batch, c_i, 4, 3) if batch else (c_i, 4, 3))
    w = rng.standard_normal((c_i, 3, k, k + 1))
    b = rng.standard_normal(3 * groups)
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    y = torch.nn.functional.conv_transpose2d(
        xt, wt, bt, stride=s, padding=p, output_padding=op, groups=groups, dilation=d
    )
    dy = rng.standard_normal(tuple(y.shape))
    y.backward(torch.tensor(dy))
    options = TransposedOptions(stride=s, padding=p, output_padding=op, groups=groups, dilation=d)
    check = verify_transposed_grad(x, w, b, options, dy)
    assert check.bias_check is not None and check.bias_comparison is not None
    np.testing.assert_allclose(check.input_check, xt.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(check.weight_check, wt.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(check.bias_check, bt.grad.numpy(), rtol=1e-12, atol=1e-12)
    assert check.input_comparison.agree and check.weight_comparison.agree
    assert check.bias_comparison.agree


@pytest.mark.torch
def test_transposed_integers_are_exact_and_dx_is_the_stated_conv2d() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    x = rng.integers(-5, 6, (2, 4, 3, 3))
    w = rng.integers(-5, 6, (4, 1, 3, 2))
    options = TransposedOptions(stride=(2, 3), padding=(1, 0), output_padding=(1, 2), groups=2,
                                dilation=(1, 3))  # fmt: skip
    check = verify_transposed_grad(x, w, None, options)
    assert check.input_check.dtype == np.int64
    xt, wt = torch.tensor(x, dtype=torch.float64, requires_grad=True), torch.tensor(w * 1.0)
    wt.requires_grad_(True)
    y = torch.nn.functional.conv_transpose2d(xt, wt, None, (2, 3), (1, 0), (1, 2), 2, (1, 3))
    y.sum().backward()
    np.testing.assert_array_equal(check.input_check, xt.grad.numpy())
    np.testing.assert_array_equal(check.weight_check, wt.grad.numpy())
    # the identity as the report states it: conv2d of dY with K, the forward's options
    ones = torch.ones_like(y)
    direct = torch.nn.functional.conv2d(ones, wt.detach(), None, (2, 3), (1, 0), (1, 3), 2)
    np.testing.assert_array_equal(check.input_check, direct[..., :3, :3].numpy())
