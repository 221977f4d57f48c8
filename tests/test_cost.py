"""shapes --backward and --vary: forward and backward counts, memory, factors.

Checked against PyTorch: FlopCounterMode's totals, the taps that land on the input
(a convolution of ones), the cells dX's sums land in, and what autograd saves
(saved_tensors_hooks, deduplicated by storage).
"""

from __future__ import annotations

from typing import Any

import pytest
from clitools import assert_usage_error, invoke, json_of
from hypothesis import given
from hypothesis import strategies as st

from convcli.shapes.cost import _covered, training_cost, useful_taps, vary_layer
from convcli.shapes.layer import describe_layer

LAYERS: list[tuple[tuple[int, ...], tuple[int, ...], dict[str, Any]]] = [
    ((1, 3, 8, 8), (4, 3, 3, 3), {"padding": 1}),
    ((2, 4, 9, 9), (6, 2, 3, 3), {"groups": 2, "padding": 1, "stride": 2}),
    ((1, 6, 7, 10), (6, 1, 3, 2), {"groups": 6, "padding": (2, 1), "dilation": 2}),
    ((3, 2, 5, 5), (3, 2, 1, 1), {}),
    ((1, 2, 11, 9), (4, 2, 3, 3), {"stride": (3, 2), "padding": 2}),
]


def _torch_case(x_shape: tuple[int, ...], w_shape: tuple[int, ...], kw: dict[str, Any]) -> Any:
    torch = pytest.importorskip("torch")
    x = torch.randn(*x_shape, requires_grad=True)
    w = torch.randn(*w_shape, requires_grad=True)
    b = torch.randn(w_shape[0], requires_grad=True)
    return torch, x, w, b


@pytest.mark.torch
@pytest.mark.parametrize(("x_shape", "w_shape", "kw"), LAYERS)
def test_totals_match_flop_counter_mode(
    x_shape: tuple[int, ...], w_shape: tuple[int, ...], kw: dict[str, Any]
) -> None:
    torch, x, w, b = _torch_case(x_shape, w_shape, kw)
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as forward:
        y = torch.nn.functional.conv2d(x, w, b, **kw)
    with FlopCounterMode(display=False) as backward:
        y.backward(torch.ones_like(y))
    cost = training_cost(describe_layer(x_shape, w_shape, bias=True, **kw))
    assert cost.flop_counter_forward == forward.get_total_flops()
    assert cost.backward.flop_counter == backward.get_total_flops()
    # FlopCounterMode's dW uses c_i, not c_i/g: g times the products dW really needs
    groups = kw.get("groups", 1)
    assert cost.backward.flop_counter_dw == groups * cost.dw_correct_flops


@pytest.mark.torch
@pytest.mark.parametrize(("x_shape", "w_shape", "kw"), LAYERS)
def test_useful_products_and_dx_cells_match_torch(
    x_shape: tuple[int, ...], w_shape: tuple[int, ...], kw: dict[str, Any]
) -> None:
    torch = pytest.importorskip("torch")
    ones_x, ones_w = (
        torch.ones(x_shape, dtype=torch.float64),
        torch.ones(w_shape, dtype=torch.float64),
    )
    layer = describe_layer(x_shape, w_shape, bias=False, **kw)
    cost = training_cost(layer)
    # with ones everywhere, each output sums exactly the taps that land on the input
    useful = torch.nn.functional.conv2d(ones_x, ones_w, **kw).sum().item()
    assert cost.forward.useful_multiplications == useful
    # dX without padding is computed on the padded input: its non-zero cells are the
    # cells a product lands in; additions = products - cells
    top, bottom, left, right = layer.geometry.padding
    padded = (*x_shape[:2], x_shape[2] + top + bottom, x_shape[3] + left + right)
    kw_unpadded = {k: v for k, v in kw.items() if k != "padding"}
    grad_y = torch.ones(layer.output_shape, dtype=torch.float64)
    dx = torch.nn.grad.conv2d_input(padded, ones_w, grad_y, **kw_unpadded)
    cells = int((dx != 0).sum().item())
    assert cost.backward.dx_additions == cost.backward.dx_multiplications - cells


@pytest.mark.torch
@pytest.mark.parametrize(("x_shape", "w_shape", "kw"), LAYERS)
def test_kept_bytes_match_saved_tensors(
    x_shape: tuple[int, ...], w_shape: tuple[int, ...], kw: dict[str, Any]
) -> None:
    torch, x, w, b = _torch_case(x_shape, w_shape, kw)
    saved: dict[int, int] = {}

    def pack(t: Any) -> Any:
        storage = t.untyped_storage()
        saved[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        torch.nn.functional.conv2d(x, w, b, **kw)
    cost = training_cost(describe_layer(x_shape, w_shape, bias=True, **kw))
    assert cost.backward.kept_bytes == sum(saved.values())


def test_additions_are_one_fewer_than_products_per_window() -> None:
    layer = describe_layer((2, 3, 3), (3, 2, 2, 2), bias=False)
    cost = training_cost(layer)
    # 12 outputs, each a window of 2*2*2 = 8 products summed with 7 additions
    assert (cost.forward.multiplications, cost.forward.additions) == (96, 84)
    with_bias = training_cost(describe_layer((2, 3, 3), (3, 2, 2, 2), bias=True))
    assert with_bias.forward.additions == 84 + 12
    assert with_bias.backward.db_additions == 3 * (4 - 1)


@given(
    n=st.integers(1, 12),
    k=st.integers(1, 5),
    s=st.integers(1, 4),
    d=st.integers(1, 3),
    before=st.integers(0, 4),
    m=st.integers(1, 8),
)
def test_tap_counts_equal_brute_force(n: int, k: int, s: int, d: int, before: int, m: int) -> None:
    taps = [(i, t) for i in range(m) for t in range(k)]
    assert useful_taps(n, k, s, d, before, m) == sum(
        1 for i, t in taps if 0 <= i * s - before + t * d < n
    )
    assert _covered(k, s, d, m) == len({i * s + t * d for i, t in taps})


def test_huge_layers_are_counted_at_once() -> None:
    m = 10**9  # padding 1 keeps the size; each axis loses one tap at either border
    layer = describe_layer((1, 3, m, m), (8, 3, 3, 3), bias=True, padding=1)
    cost = training_cost(layer)
    assert cost.forward.useful_multiplications == 8 * 3 * (3 * m - 2) ** 2
    assert cost.backward.dx_additions == cost.forward.multiplications - 3 * (m + 2) ** 2


def test_useful_taps_by_hand() -> None:
    # n=3, k=3, padding 1: outputs 0 and 2 lose one tap each to the padding
    assert useful_taps(3, 3, 1, 1, 1, 3) == 3 * 3 - 2
    assert useful_taps(4, 2, 2, 1, 0, 2) == 4


def test_vary_channels_doubled_is_four_times() -> None:
    layer = describe_layer((64, 32, 32), (64, 64, 3, 3), bias=False, padding=1)
    rows = vary_layer(layer, "c_i+c_o", [64, 128])
    assert rows[1].macs_factor == 4
    assert rows[1].params_factor == 4
    assert rows[1].layer.kernel_shape == (128, 128, 3, 3)


def test_vary_padding_doubled_grows_the_output() -> None:
    layer = describe_layer((3, 32, 32), (8, 3, 3, 3), bias=False, padding=1)
    rows = vary_layer(layer, "p", [1, 2])
    assert rows[1].layer.output_shape == (8, 34, 34)
    assert rows[1].macs_factor == rows[1].outputs_factor == pytest.approx((34 / 32) ** 2)


def test_vary_groups_keeps_c_i() -> None:
    layer = describe_layer((4, 8, 8), (4, 4, 3, 3), bias=False)
    rows = vary_layer(layer, "g", [1, 2, 4])
    assert [row.layer.kernel_shape[1] for row in rows] == [4, 2, 1]
    assert [float(row.macs_factor) for row in rows] == [1.0, 0.5, 0.25]


def test_cli_backward_json() -> None:
    data = json_of(
        invoke(
            "shapes", "--input-shape", "2x4x9x9", "--kernel-shape", "6x2x3x3",
            "-g", "2", "-p", "1", "--bias", "--backward", "--json",
        )
    )  # fmt: skip
    layer = describe_layer((2, 4, 9, 9), (6, 2, 3, 3), bias=True, groups=2, padding=1)
    cost = training_cost(layer)
    assert data["macs"] == layer.macs
    assert data["forward"]["multiplications"] == cost.forward.multiplications
    assert data["forward"]["additions"] == cost.forward.additions
    assert data["forward"]["bytes"] == 4 * (2 * 4 * 81 + 6 * 2 * 9 + 6 + 2 * 6 * 81)
    assert data["backward"]["dw"]["multiplications"] == layer.macs
    assert data["backward"]["flop_counter_dw_flops"] == 2 * data["backward"]["dw_flops"]


def test_cli_backward_text_says_where_flop_counter_is_wrong() -> None:
    result = invoke(
        "shapes", "--input-shape", "4x9x9", "--kernel-shape", "6x2x3x3", "-g", "2", "--backward"
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    assert "kept for backward" in text
    assert "FlopCounterMode counts dW" in text
    plain = invoke("shapes", "--input-shape", "4x9x9", "--kernel-shape", "6x4x3x3", "--backward")
    assert "FlopCounterMode counts dW" not in " ".join(plain.stdout.split())


def test_cli_vary_json() -> None:
    data = json_of(
        invoke(
            "shapes", "--input-shape", "64x32x32", "--kernel-shape", "64x64x3x3",
            "-p", "1", "--vary", "c_i+c_o=64,128", "--json",
        )
    )  # fmt: skip
    assert [row["macs_factor"] for row in data["rows"]] == [1.0, 4.0]
    assert data["rows"][1]["output_shape"] == [128, 32, 32]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--vary", "x=1,2"], ["--vary", "NAME"]),
        (["--vary", "p="], ["--vary"]),
        (["--vary", "k=0,1"], ["--vary", "kernel size"]),
        (["--vary", "g=3"], ["--vary", "groups=3"]),
        (["--vary", "p=a"], ["--vary"]),
        (["--pool", "max", "--kernel-size", "2", "--backward"], ["--backward"]),
    ],
)
def test_cli_refusals(args: list[str], words: list[str]) -> None:
    assert_usage_error(invoke("shapes", *args), *words)
