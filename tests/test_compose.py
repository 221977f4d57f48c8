"""compose: two convolutions with nothing between them are one (exercise 1)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from clitools import assert_usage_error, invoke, json_of

from convcli.ops.compose import check_composition, compose_kernels, separability

CASES: list[dict[str, Any]] = [
    {},
    {"stride1": 2},
    {"stride1": (2, 1), "stride2": 2},
    {"dilation1": 2},
    {"dilation2": (2, 3), "stride1": (1, 2)},
    {"dilation1": (1, 2), "dilation2": 2, "stride1": 2},
]


@pytest.mark.torch
@pytest.mark.parametrize("options", CASES)
@pytest.mark.parametrize("with_bias", [False, True])
def test_one_layer_computes_what_two_nn_conv2d_compute(
    options: dict[str, Any], with_bias: bool
) -> None:
    torch = pytest.importorskip("torch")
    torch.manual_seed(len(options) + with_bias)
    s1, s2 = options.get("stride1", 1), options.get("stride2", 1)
    d1, d2 = options.get("dilation1", 1), options.get("dilation2", 1)
    first = torch.nn.Conv2d(2, 3, (3, 2), stride=s1, dilation=d1, bias=with_bias).double()
    second = torch.nn.Conv2d(3, 4, (2, 3), stride=s2, dilation=d2, bias=with_bias).double()
    x = torch.randn(2, 2, 29, 31, dtype=torch.float64)
    with torch.no_grad():
        expected = second(first(x)).numpy()
    biases = (
        {"bias1": first.bias.detach().numpy(), "bias2": second.bias.detach().numpy()}
        if with_bias
        else {}
    )
    composed = compose_kernels(
        first.weight.detach().numpy(), second.weight.detach().numpy(), **options, **biases
    )
    one = torch.nn.functional.conv2d(
        x,
        torch.from_numpy(composed.kernel),
        None if composed.bias is None else torch.from_numpy(composed.bias),
        stride=composed.stride,
        dilation=composed.dilation,
    ).numpy()
    h, w = min(one.shape[-2], expected.shape[-2]), min(one.shape[-1], expected.shape[-1])
    assert h >= expected.shape[-2] - 1 and w >= expected.shape[-1] - 1
    np.testing.assert_allclose(one[..., :h, :w], expected[..., :h, :w], rtol=1e-10, atol=1e-10)


def test_size_is_k1_plus_s1_times_k2_minus_1() -> None:
    k1, k2 = np.ones((1, 1, 3, 2)), np.ones((1, 1, 4, 5))
    assert compose_kernels(k1, k2).kernel.shape == (1, 1, 3 + 4 - 1, 2 + 5 - 1)
    assert compose_kernels(k1, k2, stride1=(2, 3)).kernel.shape == (1, 1, 3 + 2 * 3, 2 + 3 * 4)


def test_kernels_convolve() -> None:
    # one channel, stride 1: the composed kernel is the full 2-D convolution of the two
    rng = np.random.default_rng(0)
    a, b = rng.integers(-3, 4, (3, 2)), rng.integers(-3, 4, (2, 4))
    full = np.zeros((4, 5))
    for i in range(2):
        for j in range(4):
            full[i : i + 3, j : j + 2] += b[i, j] * a
    composed = compose_kernels(a[None, None], b[None, None]).kernel[0, 0]
    np.testing.assert_array_equal(composed, full)


def test_separability_factors_rebuild_rank_one_kernels() -> None:
    rng = np.random.default_rng(1)
    column, row = rng.integers(-4, 5, 3), rng.integers(1, 5, 4)
    s = separability(np.outer(column, row))
    assert s.rank == 1
    assert s.column is not None and s.row is not None
    np.testing.assert_allclose(np.outer(s.column, s.row), np.outer(column, row))
    two = np.outer(column, row) + np.outer([1, 0, 0], [0, 1, 0, 0])
    assert separability(two).rank == 2
    assert separability(np.zeros((2, 2))).rank == 0


@pytest.mark.torch
def test_check_agrees_inside_and_differs_only_on_the_border() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 9, 10))
    k1, k2 = rng.normal(size=(3, 2, 3, 3)), rng.normal(size=(2, 3, 2, 2))
    b1 = rng.normal(size=3)
    check = check_composition(x, k1, k2, bias1=b1, padding1=1, padding2=(1, 2))
    y = torch.nn.functional.conv2d(
        torch.nn.functional.conv2d(torch.from_numpy(x)[None], torch.from_numpy(k1),
                                   torch.from_numpy(b1), padding=1),
        torch.from_numpy(k2), padding=(1, 2),
    ).numpy()  # fmt: skip
    np.testing.assert_allclose(check.two_layers, y[..., : check.two_layers.shape[-2], :])
    assert check.differ.any()
    assert not np.any(check.differ & ~check.border)
    interior = ~check.border
    np.testing.assert_allclose(check.two_layers[interior], check.one_layer[interior])
    no_padding = check_composition(x, k1, k2, bias1=b1)
    assert not no_padding.differ.any() and not no_padding.border.any()


def _save(folder: Path, name: str, array: Any) -> str:
    path = folder / name
    np.save(path, np.asarray(array, dtype=np.float64))
    return str(path)


def test_cli_writes_the_kernel_and_answers_the_converse(tmp_path: Path) -> None:
    k1 = _save(tmp_path, "k1.npy", [[[[1.0], [2.0], [1.0]]]])
    k2 = _save(tmp_path, "k2.npy", [[[[1.0, 0.0, -1.0]]]])
    out = tmp_path / "k.npy"
    result = invoke("compose", k1, k2, "-o", str(out))
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(np.load(out)[0, 0], np.outer([1, 2, 1], [1, 0, -1]))
    text = " ".join(result.stdout.split())
    assert "rank 1: separable, [1, 2, 1] (k x 1) times [1, 0, -1] (1 x k)" in text
    data = json_of(invoke("compose", k1, k2, "--json"))
    assert data["kernel_shape"] == [1, 1, 3, 3]
    assert data["slices"][0]["rank"] == 1
    assert data["params"] == {"two_layers": 6, "one_layer": 9}


def test_cli_check_json(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    k1 = _save(tmp_path, "k1.npy", rng.normal(size=(2, 1, 2, 2)))
    k2 = _save(tmp_path, "k2.npy", rng.normal(size=(1, 2, 2, 2)))
    b1 = _save(tmp_path, "b1.npy", [1.0, -1.0])
    x = _save(tmp_path, "x.npy", rng.normal(size=(1, 6, 6)))
    data = json_of(
        invoke("compose", k1, k2, "--bias1", b1, "--check", x, "--padding2", "1", "--json")
    )
    assert data["check"]["agree_interior"] is True
    assert 0 < data["check"]["differing"] <= data["check"]["border"]
    plain = json_of(invoke("compose", k1, k2, "--check", x, "--json"))
    assert plain["check"]["differing"] == 0


@pytest.mark.parametrize(
    ("shapes", "extra", "words"),
    [
        (((2, 1, 2, 2), (1, 3, 2, 2)), [], ["reads 3 channels", "makes 2"]),
        (((2, 1, 2, 2), (1, 2, 2)), [], ["4-D"]),
        (((2, 1, 2, 2), (1, 2, 2, 2)), ["--padding1", "1"], ["--check"]),
        (((2, 1, 2, 2), (1, 2, 2, 2)), ["--stride1", "0"], ["--stride1"]),
    ],
)
def test_cli_refusals(
    tmp_path: Path, shapes: tuple[tuple[int, ...], ...], extra: list[str], words: list[str]
) -> None:
    k1 = _save(tmp_path, "k1.npy", np.ones(shapes[0]))
    k2 = _save(tmp_path, "k2.npy", np.ones(shapes[1]))
    assert_usage_error(invoke("compose", k1, k2, *extra), *words)


def test_cli_bias_shape_refused_and_nothing_written(tmp_path: Path) -> None:
    k1 = _save(tmp_path, "k1.npy", np.ones((2, 1, 2, 2)))
    k2 = _save(tmp_path, "k2.npy", np.ones((1, 2, 2, 2)))
    b1 = _save(tmp_path, "b1.npy", np.ones(3))
    out = tmp_path / "k.npy"
    assert_usage_error(invoke("compose", k1, k2, "--bias1", b1, "-o", str(out)), "--bias1")
    assert not out.exists()


def test_non_finite_slices_have_no_rank_and_complex_is_refused(tmp_path: Path) -> None:
    assert separability([[np.nan, 1.0], [1.0, 1.0]]).rank is None
    k1 = _save(tmp_path, "k1.npy", [[[[np.inf, 1.0]]]])
    k2 = _save(tmp_path, "k2.npy", [[[[1.0]]]])
    result = invoke("compose", k1, k2)
    assert result.exit_code == 0, result.output
    assert "no rank" in result.stdout
    complex_kernel = tmp_path / "kc.npy"
    np.save(complex_kernel, np.array([[[[1 + 2j]]]]))
    assert_usage_error(invoke("compose", str(complex_kernel), k2), "complex")
    x = tmp_path / "x.npy"
    np.save(x, np.array([[[1.0, np.nan, np.inf, 2.0]]]))
    data = json_of(invoke("compose", k2, k2, "--check", str(x), "--json"))
    assert data["check"]["differing"] == 0


def test_memory_budget_refuses_before_reading(tmp_path: Path) -> None:
    k1 = _save(tmp_path, "k1.npy", np.ones((64, 64, 3, 3)))
    k2 = _save(tmp_path, "k2.npy", np.ones((64, 64, 3, 3)))
    out = tmp_path / "k.npy"
    line = assert_usage_error(invoke("compose", k1, k2, "-o", str(out), "--max-memory", "100k"))
    assert "--max-memory" in line
    assert not out.exists()
    assert invoke("compose", k1, k2, "--max-memory", "10M", "--json").exit_code == 0


def test_cli_two_dimensional_kernels_are_one_channel(tmp_path: Path) -> None:
    k1 = _save(tmp_path, "k1.npy", [[1.0, 2.0], [3.0, 4.0]])
    k2 = _save(tmp_path, "k2.npy", [[1.0, -1.0]])
    data = json_of(invoke("compose", k1, k2, "--json"))
    assert data["kernel_shape"] == [1, 1, 2, 3]
    assert data["kernel"]["data"][0][0] == [[1.0, 1.0, -2.0], [3.0, 1.0, -4.0]]
