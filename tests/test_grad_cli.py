"""``convcli grad``, ``grad --at``, ``pool --grad`` and ``verify --grad`` through the CLI:
the numbers against the API (itself checked against torch.autograd in test_grad.py), the
files, the JSON contract, and the refusals."""

from __future__ import annotations

import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from clitools import SAMPLES, array_of, assert_usage_error, files_in, invoke, json_of, save

from convcli.ops.budget import estimate_grad
from convcli.ops.grad import conv2d_backward, conv_grads, pool2d_backward, transposed_grads
from convcli.shapes.options import ConvOptions
from convcli.shapes.pooling import PoolOptions
from convcli.shapes.transposed import TransposedOptions

X = str(SAMPLES / "lesson_X.json")
K_IN = str(SAMPLES / "lesson_K_multi_in.json")
K_OUT = str(SAMPLES / "lesson_K_multi_out.json")
BIAS = str(SAMPLES / "lesson_bias.json")


def _lesson() -> tuple[Any, Any, Any]:
    return (
        np.load(SAMPLES / "lesson_X.npy"),
        np.load(SAMPLES / "lesson_K_multi_out.npy"),
        np.load(SAMPLES / "lesson_bias.npy"),
    )


def test_json_has_the_three_gradients_of_the_sum() -> None:
    payload = json_of(invoke("grad", X, K_OUT, "--bias", BIAS, "-p", "1", "--json"))
    assert sorted(payload) == ["grad_bias", "grad_input", "grad_weight"]
    x, k, b = _lesson()
    expected = conv2d_backward(x, k, None, b, padding=1)
    np.testing.assert_array_equal(array_of(payload["grad_input"]), expected.grad_input)
    np.testing.assert_array_equal(array_of(payload["grad_weight"]), expected.grad_weight)
    assert expected.grad_bias is not None
    np.testing.assert_array_equal(array_of(payload["grad_bias"]), expected.grad_bias)
    # the sum's gradient: every output of channel o adds 1 to db[o]
    assert payload["grad_bias"]["data"] == [16.0, 16.0, 16.0]


def test_without_bias_grad_bias_is_null() -> None:
    assert json_of(invoke("grad", X, K_IN, "--json"))["grad_bias"] is None


def test_report_says_the_loss_and_shows_each_gradient() -> None:
    result = invoke("grad", X, K_OUT, "--bias", BIAS)
    assert result.exit_code == 0, result.output
    assert "loss L = sum of the outputs, so dY = dL/dY = 1 everywhere" in result.stdout
    for title in ("dX[c_i=0]", "dW[c_o=2, c_i=1]", "db", "conv_transpose2d(dY, K)"):
        assert title in result.stdout


def test_grad_output_file_is_used(tmp_path: Path) -> None:
    x, k, b = _lesson()
    dy = np.arange(12.0).reshape(3, 2, 2).astype(np.float32)
    dy_file = save(tmp_path / "dy.npy", dy)
    result = invoke("grad", X, K_OUT, "--bias", BIAS, "--grad-output", dy_file, "--json")
    payload = json_of(result)
    expected = conv2d_backward(x, k, dy, b)
    np.testing.assert_array_equal(array_of(payload["grad_weight"]), expected.grad_weight)
    report = invoke("grad", X, K_OUT, "--grad-output", dy_file)
    assert "dY = dL/dY read from" in report.stdout


def test_output_npz_holds_the_gradients(tmp_path: Path) -> None:
    target = tmp_path / "grads.npz"
    result = invoke("grad", X, K_OUT, "--bias", BIAS, "-s", "2", "-p", "1", "-o", str(target))
    assert result.exit_code == 0, result.output
    x, k, b = _lesson()
    expected = conv2d_backward(x, k, None, b, stride=2, padding=1)
    with np.load(target) as data:
        assert sorted(data.files) == ["grad_bias", "grad_input", "grad_weight"]
        np.testing.assert_array_equal(data["grad_input"], expected.grad_input)
        np.testing.assert_array_equal(data["grad_weight"], expected.grad_weight)
    assert "dX: 2x3x3 float32" in result.stdout  # --output prints the statistics only
    assert "dX[c_i=0]" not in result.stdout


def test_output_must_be_npz_and_nothing_is_written_on_refusal(tmp_path: Path) -> None:
    assert_usage_error(invoke("grad", X, K_OUT, "-o", str(tmp_path / "g.npy")), ".npz")
    dy = save(tmp_path / "dy.npy", np.ones((2, 2)))
    line = assert_usage_error(
        invoke("grad", X, K_OUT, "--grad-output", dy, "-o", str(tmp_path / "g.npz")),
        "--grad-output",
        "(3, 2, 2)",
    )
    assert "grad_output" in line
    assert files_in(tmp_path) == ["dy.npy"]


def test_transposed_gradients(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    x = rng.integers(-3, 4, (2, 3, 3)).astype(np.float64)
    w = rng.integers(-3, 4, (2, 3, 3, 3)).astype(np.float64)
    files = save(tmp_path / "x.npy", x), save(tmp_path / "w.npy", w)
    result = invoke("grad", *files, "--transposed", "-s", "2", "-p", "1", "--json")
    options = TransposedOptions(stride=2, padding=1)
    expected = transposed_grads(x, w, None, options)
    payload = json_of(result)
    np.testing.assert_array_equal(array_of(payload["grad_input"]), expected.grad_input)
    np.testing.assert_array_equal(array_of(payload["grad_weight"]), expected.grad_weight)
    assert_usage_error(invoke("grad", *files, "--transposed", "--flip"), "--flip")


def test_padding_modes_and_flip_reach_the_computation() -> None:
    payload = json_of(
        invoke("grad", X, K_OUT, "-p", "1", "--padding-mode", "circular", "--flip", "--json")
    )
    x, k, _b = _lesson()
    options = ConvOptions(padding=1, padding_mode="circular", flip=True)
    expected = conv_grads(x, k, None, options)
    np.testing.assert_array_equal(array_of(payload["grad_input"]), expected.grad_input)
    np.testing.assert_array_equal(array_of(payload["grad_weight"]), expected.grad_weight)


def test_at_input_lists_the_outputs_and_taps() -> None:
    result = invoke("grad", X, K_IN, "--at", "input:0,1,1")
    assert result.exit_code == 0, result.output
    # the lesson's kernel channel 0 is [[0, 1], [2, 3]]: the centre is read by all four taps
    assert "dX[0,1,1] = sum dY * K = 3 + 2 + 1 + 0 = 6" in result.stdout
    assert "transposed convolution of dY with K" in result.stdout


def test_at_weight_sums_input_times_dy() -> None:
    payload = json_of(invoke("grad", X, K_IN, "--at", "weight:1,0,1", "--json"))
    # channel 1 of the lesson's input is 1..9: tap (0, 1) visits 2, 3, 5, 6
    assert [term["input"] for term in payload["terms"]] == [2.0, 3.0, 5.0, 6.0]
    assert payload["sum"] == payload["value"] == 16.0


def test_at_refusals() -> None:
    assert_usage_error(invoke("grad", X, K_IN, "--at", "bias:0"), "--at", "input:")
    assert_usage_error(invoke("grad", X, K_IN, "--at", "input:5,0,0"), "--at", "outside")
    assert_usage_error(invoke("grad", X, K_IN, "--at", "weight:0,0"), "--at", "3 indices")


def test_verify_grad_agrees_and_says_so() -> None:
    result = invoke("verify", X, K_OUT, "--bias", BIAS, "-p", "1", "-s", "2", "--grad")
    assert result.exit_code == 0, result.output
    words = " ".join(result.stdout.split())
    assert "AGREE: dX is the transposed convolution of dY with K" in words
    assert "AGREE: db is the sum of dY" in words
    payload = json_of(invoke("verify", X, K_OUT, "--grad", "--json"))
    assert payload["agree"] is True and payload["grad_bias"] is None
    assert payload["transposed"] is False


def test_verify_grad_transposed_agrees_and_says_so(tmp_path: Path) -> None:
    x = str(SAMPLES / "lesson_1x1_X.json")  # (3, 3, 3): c_i 3, as the kernel's first axis
    args = ("verify", x, K_OUT, "--grad", "--transposed", "-s", "2", "-p", "1")
    result = invoke(*args, "--output-padding", "1")
    assert result.exit_code == 0, result.output
    words = " ".join(result.stdout.split())
    assert "transposed convolution, computed twice" in words
    assert "AGREE: dX is the ordinary convolution (correlation) conv2d of dY with K" in words
    assert "AGREE: dW is the correlation of dY with X" in words
    bias = save(tmp_path / "b.npy", np.array([1.0, -2.0]))
    dy = save(tmp_path / "dy.npy", np.arange(2 * 5 * 5, dtype=np.float32).reshape(2, 5, 5))
    payload = json_of(invoke(*args, "--output-size", "5,5", "--bias", bias, "--grad-output", dy,
                             "--json"))  # fmt: skip
    assert payload["transposed"] is True and payload["agree"] is True
    assert payload["grad_bias"]["agree"] is True
    assert_usage_error(invoke(*args, "--flip"), "--transposed", "--flip")
    assert_usage_error(invoke(*args, "--output-padding", "2"), "--output-padding")
    wrong = save(tmp_path / "wrong.npy", np.ones((2, 5, 5), dtype=np.float32))
    assert_usage_error(invoke(*args, "--grad-output", wrong), "--grad-output", "(2, 4, 4)")


@pytest.mark.parametrize(
    ("args", "options"),
    [
        (["--kind", "max", "-k", "2", "-s", "1"], PoolOptions("max", 2, 1)),
        (["--kind", "avg", "-k", "2", "-p", "1"], PoolOptions("avg", 2, padding=1)),
        (
            ["--kind", "adaptive-max", "--output-size", "2"],
            PoolOptions("adaptive-max", output_size=2),
        ),
        (
            ["--kind", "adaptive-avg", "--output-size", "2"],
            PoolOptions("adaptive-avg", output_size=2),
        ),
    ],
)
def test_pool_grad(args: list[str], options: PoolOptions) -> None:
    if options.kind.startswith("adaptive"):
        options = PoolOptions(options.kind, output_size=2)
    payload = json_of(invoke("pool", X, *args, "--grad", "--json"))
    assert list(payload) == ["grad_input"]
    expected = pool2d_backward(np.load(SAMPLES / "lesson_X.npy"), options)
    np.testing.assert_array_equal(array_of(payload["grad_input"]), expected)


def test_pool_grad_refusals(tmp_path: Path) -> None:
    assert_usage_error(invoke("pool", X, "-k", "2", "--grad-output", X), "--grad")
    assert_usage_error(invoke("pool", X, "-k", "2", "--grad", "--indices"), "--grad")
    dy = save(tmp_path / "dy.npy", np.ones((2, 3, 3)))
    assert_usage_error(invoke("pool", X, "-k", "2", "--grad", "--grad-output", dy), "(2, 1, 1)")


@pytest.mark.parametrize(
    ("x_shape", "w_shape", "dtype", "options"),
    [
        ((1, 16, 20, 20), (32, 16, 3, 3), "float32", ConvOptions(padding=1)),
        ((2, 8, 15, 13), (8, 1, 3, 3), "float64", ConvOptions(stride=2, padding=1, groups=8)),
        ((8, 9, 9), (4, 8, 2, 2), "int16", ConvOptions(padding=1, padding_mode="reflect")),
        ((2, 4, 9, 9), (4, 3, 3, 3), "float32", TransposedOptions(stride=2, padding=1)),
        # large enough for the padded-width dW and col2im dX (convcli.ops.grad_weight)
        ((1, 3, 48, 40), (16, 3, 5, 5), "float32", ConvOptions(padding=2)),
        ((2, 8, 30, 30), (8, 1, 3, 3), "float32", ConvOptions(padding=1, groups=8)),
        ((1, 8, 24, 24), (8, 4, 4, 4), "float32", TransposedOptions(stride=2, padding=1)),
    ],
)
def test_grad_stays_within_its_estimate(
    x_shape: tuple[int, ...], w_shape: tuple[int, ...], dtype: str, options: Any
) -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(-3, 4, x_shape).astype(dtype)
    w = rng.integers(-3, 4, w_shape).astype(dtype)
    estimate = dict(estimate_grad(x.shape, x.dtype, w.shape, w.dtype, None, None, options).parts)
    tracemalloc.start()
    try:
        if isinstance(options, TransposedOptions):
            transposed_grads(x, w, None, options)
        else:
            conv_grads(x, w, None, options)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    held = estimate["output gradient"] + estimate["gradients"] + estimate["workspace"]
    assert peak <= held + 64 * 1024


def test_draw_grad_pictures_one_input_cell(tmp_path: Path) -> None:
    target = tmp_path / "g.svg"
    result = invoke("draw", X, K_OUT, "--grad", "--at", "1,1,1", "-p", "1", "-o", str(target))
    assert result.exit_code == 0, result.output
    svg = target.read_text()
    # padding 1 and 2x2 kernels: every cell is read by all four taps of each output
    # channel, so dX[1,1,1] is the sum of the kernels' channel 1: 10 + 14 + 18
    assert "dX[1,1,1] = 4 + 3 + 2 + 1 + 5 + 4 + 3 + 2 + 6 + 5 + 4 + 3 = 42" in svg
    for caption in ("dY channel 0", "dY channel 2", "kernel[2,1]", "dX channel 1"):
        assert caption in svg
    assert_usage_error(invoke("draw", "--grad", "--input-shape", "3x3", "-o", str(target)))
    # a (3, 2, 2, 2) kernel read as transposed wants 3 input channels: lesson_X has 2
    assert_usage_error(
        invoke("draw", X, K_OUT, "--grad", "--transposed", "-o", str(tmp_path / "p.svg")),
        "channels",
    )


def test_grad_is_refused_over_the_memory_budget_before_anything_is_written(
    tmp_path: Path,
) -> None:
    x = save(tmp_path / "x.npy", np.zeros((1, 16, 64, 64), dtype=np.float32))
    w = save(tmp_path / "w.npy", np.zeros((16, 16, 3, 3), dtype=np.float32))
    result = invoke("grad", x, w, "--max-memory", "600K", "-o", str(tmp_path / "g.npz"))
    assert_usage_error(result, "--max-memory", "gradients")
    assert files_in(tmp_path) == ["w.npy", "x.npy"]


@pytest.mark.parametrize(
    ("shape", "dtype", "options"),
    [
        ((1, 32, 56, 56), "float32", PoolOptions("max", 3, 2, 1)),
        ((2, 8, 33, 31), "float64", PoolOptions("avg", (3, 2), None, (1, 1), ceil_mode=True)),
        ((2, 8, 33, 31), "int16", PoolOptions("adaptive-avg", output_size=(5, 7))),
        ((2, 8, 30, 30), "float32", PoolOptions("adaptive-max", output_size=4)),
    ],
)
def test_pool_grad_stays_within_its_estimate(
    shape: tuple[int, ...], dtype: str, options: PoolOptions
) -> None:
    from convcli.ops.budget import estimate_pool_grad

    x = np.random.default_rng(0).integers(-3, 4, shape).astype(dtype)
    parts = dict(estimate_pool_grad(x.shape, x.dtype, options).parts)
    tracemalloc.start()
    try:
        pool2d_backward(x, options)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    held = parts["output gradient"] + parts["gradient"] + parts["workspace"] + parts["output"]
    assert peak <= held + parts["indices"] + 64 * 1024
