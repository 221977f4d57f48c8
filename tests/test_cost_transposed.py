"""shapes --transposed --backward: a transposed convolution's forward and backward cost.

Checked against PyTorch (FlopCounterMode's totals and its grouped dW overcount, the
products that land in the output as a transposed convolution of ones, what autograd
saves) and against a brute-force count of the useful products.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from clitools import assert_usage_error, invoke, json_of
from hypothesis import given
from hypothesis import strategies as st

from convcli.shapes.cost import _reached, transposed_training_cost, useful_taps
from convcli.shapes.transposed import TransposedGeometry, resolve_transposed_geometry

# (input, weight (c_i, c_o/g, k_h, k_w), options)
LAYERS: list[tuple[tuple[int, ...], tuple[int, ...], dict[str, Any]]] = [
    ((1, 3, 4, 4), (3, 2, 3, 3), {}),
    ((2, 4, 5, 6), (4, 3, 3, 2), {"stride": 2, "padding": 1, "groups": 2}),
    ((1, 2, 3, 5), (2, 2, 4, 4), {"stride": 2, "padding": 1, "output_padding": 1}),
    ((1, 6, 4, 3), (6, 1, 3, 2), {"groups": 6, "padding": (2, 1), "dilation": 2}),
    ((3, 2, 4, 4), (2, 5, 1, 1), {"stride": 3}),
    ((1, 2, 5, 4), (2, 2, 3, 3), {"stride": (3, 2), "padding": 2, "dilation": (1, 2)}),
]


def _geometry(x_shape: tuple[int, ...], w_shape: tuple[int, ...], kw: dict[str, Any]) -> Any:
    return resolve_transposed_geometry(
        (x_shape[-2], x_shape[-1]),
        (w_shape[2], w_shape[3]),
        stride=kw.get("stride", 1),
        padding=kw.get("padding", 0),
        output_padding=kw.get("output_padding", 0),
        dilation=kw.get("dilation", 1),
    )


def _cost(
    x_shape: tuple[int, ...], w_shape: tuple[int, ...], kw: dict[str, Any], *, bias: bool = True
) -> Any:
    return transposed_training_cost(
        x_shape, w_shape, _geometry(x_shape, w_shape, kw), bias=bias, groups=kw.get("groups", 1)
    )


def _brute_force(
    x_shape: tuple[int, ...], w_shape: tuple[int, ...], g: TransposedGeometry, groups: int
) -> tuple[int, int]:
    """The products that land in the output, and the output values they land in,
    enumerated one input value and tap at a time."""
    n, c_i, h, w = x_shape
    _c_i, c_og, k_h, k_w = w_shape
    m_h, m_w = g.out_size
    useful = 0
    cells: set[tuple[int, ...]] = set()
    for b, ci, i, j, o, th, tw in itertools.product(
        range(n), range(c_i), range(h), range(w), range(c_og), range(k_h), range(k_w)
    ):
        r = i * g.stride[0] + th * g.dilation[0] - g.padding[0]
        c = j * g.stride[1] + tw * g.dilation[1] - g.padding[1]
        if 0 <= r < m_h and 0 <= c < m_w:
            useful += 1
            cells.add((b, ci // (c_i // groups) * c_og + o, r, c))
    return useful, len(cells)


@pytest.mark.parametrize(("x_shape", "w_shape", "kw"), LAYERS)
def test_useful_products_equal_brute_force(
    x_shape: tuple[int, ...], w_shape: tuple[int, ...], kw: dict[str, Any]
) -> None:
    cost = _cost(x_shape, w_shape, kw, bias=False)
    useful, reached = _brute_force(
        x_shape, w_shape, _geometry(x_shape, w_shape, kw), kw.get("groups", 1)
    )
    assert cost.forward.useful_multiplications == useful
    assert cost.reached == reached
    assert cost.useful_additions == useful - reached


@pytest.mark.torch
@pytest.mark.parametrize(("x_shape", "w_shape", "kw"), LAYERS)
def test_totals_match_flop_counter_mode(
    x_shape: tuple[int, ...], w_shape: tuple[int, ...], kw: dict[str, Any]
) -> None:
    torch = pytest.importorskip("torch")
    from torch.utils.flop_counter import FlopCounterMode

    x = torch.randn(*x_shape, requires_grad=True)
    w = torch.randn(*w_shape, requires_grad=True)
    b = torch.randn(w_shape[1] * kw.get("groups", 1), requires_grad=True)
    with FlopCounterMode(display=False) as forward:
        y = torch.nn.functional.conv_transpose2d(x, w, b, **kw)
    with FlopCounterMode(display=False) as backward:
        y.backward(torch.ones_like(y))
    cost = _cost(x_shape, w_shape, kw)
    assert cost.output_shape == tuple(y.shape)
    assert cost.flop_counter_forward == forward.get_total_flops()
    assert cost.backward.flop_counter == backward.get_total_flops()
    # its dW formula uses all c_o output channels where each weight sees c_o/g
    assert cost.backward.flop_counter_dw == kw.get("groups", 1) * cost.dw_correct_flops


@pytest.mark.torch
@pytest.mark.parametrize(("x_shape", "w_shape", "kw"), LAYERS)
def test_useful_products_and_reached_outputs_match_torch(
    x_shape: tuple[int, ...], w_shape: tuple[int, ...], kw: dict[str, Any]
) -> None:
    torch = pytest.importorskip("torch")
    ones_x = torch.ones(x_shape, dtype=torch.float64)
    ones_w = torch.ones(w_shape, dtype=torch.float64)
    # with ones everywhere, each output value counts the products that land on it
    y = torch.nn.functional.conv_transpose2d(ones_x, ones_w, **kw)
    cost = _cost(x_shape, w_shape, kw, bias=False)
    assert cost.forward.useful_multiplications == y.sum().item()
    assert cost.reached == int((y != 0).sum().item())
    # dX = conv2d(dY, K): each input value sums (c_o/g)*k_h*k_w products, padding too
    conv_kw = {k: v for k, v in kw.items() if k != "output_padding"}
    dx = torch.nn.functional.conv2d(torch.ones_like(y), ones_w, **conv_kw)
    assert tuple(dx.shape) == x_shape
    window = w_shape[1] * w_shape[2] * w_shape[3]
    assert cost.backward.dx_additions == dx.numel() * (window - 1)


@pytest.mark.torch
@pytest.mark.parametrize(("x_shape", "w_shape", "kw"), LAYERS)
def test_kept_bytes_match_saved_tensors(
    x_shape: tuple[int, ...], w_shape: tuple[int, ...], kw: dict[str, Any]
) -> None:
    torch = pytest.importorskip("torch")
    x = torch.randn(*x_shape, requires_grad=True)
    w = torch.randn(*w_shape, requires_grad=True)
    b = torch.randn(w_shape[1] * kw.get("groups", 1), requires_grad=True)
    saved: dict[int, int] = {}

    def pack(t: Any) -> Any:
        storage = t.untyped_storage()
        saved[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        y = torch.nn.functional.conv_transpose2d(x, w, b, **kw)
    cost = _cost(x_shape, w_shape, kw)
    assert cost.backward.kept_bytes == sum(saved.values())
    grads = (x.numel() + w.numel() + b.numel() + y.numel()) * 4
    assert cost.backward.gradient_bytes == grads


@given(
    n=st.integers(1, 8),
    k=st.integers(1, 5),
    s=st.integers(1, 4),
    d=st.integers(1, 3),
    before=st.integers(0, 4),
    m=st.integers(1, 12),
)
def test_reached_positions_equal_brute_force(
    n: int, k: int, s: int, d: int, before: int, m: int
) -> None:
    landed = [i * s + t * d - before for i in range(n) for t in range(k)]
    inside = [o for o in landed if 0 <= o < m]
    assert useful_taps(m, k, s, d, before, n) == len(inside)
    assert _reached(m, k, s, d, before, n) == len(set(inside))


def test_huge_layers_are_counted_at_once() -> None:
    h = 10**9  # stride 2, kernel 4, padding 1: each axis loses two taps, one each side
    g = resolve_transposed_geometry((h, h), 4, stride=2, padding=1)
    cost = transposed_training_cost((1, 1, h, h), (1, 1, 4, 4), g, bias=False)
    assert cost.forward.useful_multiplications == (4 * h - 2) ** 2
    assert cost.reached == (2 * h) ** 2


def test_cli_transposed_backward_json() -> None:
    args = ["--input-shape", "2x4x5x6", "--kernel-shape", "4x3x3x2", "-s", "2", "-p", "1"]
    data = json_of(invoke("shapes", "--transposed", *args, "-g", "2", "--backward", "--json"))
    cost = _cost((2, 4, 5, 6), (4, 3, 3, 2), {"stride": 2, "padding": 1, "groups": 2})
    assert data["operation"] == "conv_transpose2d"
    assert data["forward"]["multiplications"] == data["macs"] == 2 * 4 * 5 * 6 * 3 * 3 * 2
    assert data["forward"]["useful_multiplications"] == cost.forward.useful_multiplications
    assert data["forward"]["bytes"] == 4 * (2 * 4 * 30 + 4 * 3 * 6 + 6 + 2 * 6 * 9 * 10)
    assert data["backward"]["flop_counter_dw_flops"] == 2 * data["backward"]["dw_flops"]
    assert set(data["backward"]) >= {"multiplications", "additions", "bytes"}
    plain = json_of(invoke("shapes", "--transposed", *args, "-g", "2", "--json"))
    assert "forward" not in plain and "backward" not in plain


def test_cli_transposed_backward_text() -> None:
    args = ["--input-shape", "4x5x6", "--kernel-shape", "4x3x3x2", "-s", "2", "-p", "1"]
    grouped = invoke("shapes", "--transposed", *args, "-g", "2", "--backward")
    assert grouped.exit_code == 0, grouped.output
    text = " ".join(grouped.stdout.split())
    assert "kept for backward" in text and "conv2d(dY, K)" in text
    assert "FlopCounterMode counts dW" in text
    plain = invoke("shapes", "--transposed", *args, "--backward")
    assert "FlopCounterMode counts dW" not in " ".join(plain.stdout.split())
    zh = invoke("--lang", "zh", "shapes", "--transposed", *args, "--backward")
    assert zh.exit_code == 0, zh.output
    assert "有用的乘积落在" in zh.stdout and "反向传播" in zh.stdout


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--transposed", "--vary", "p=1,2"], ["--vary", "--transposed"]),
        (["--pool", "max", "--kernel-size", "2", "--backward"], ["--backward"]),
    ],
)
def test_cli_refusals(args: list[str], words: list[str]) -> None:
    assert_usage_error(invoke("shapes", *args), *words)
