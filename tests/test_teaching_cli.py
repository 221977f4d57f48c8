"""CLI tests of the teaching features: --padding-mode, --flip, explain, verify, --heatmap,
and what shapes adds (receptive field, separable cost)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from typer.testing import CliRunner, Result

from convcli import conv2d
from convcli.cli import app

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
X_JSON, K_IN, K_OUT = (
    f"{SAMPLES}/lesson_X.json",
    f"{SAMPLES}/lesson_K_multi_in.json",
    f"{SAMPLES}/lesson_K_multi_out.json",
)
runner = CliRunner()


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return runner.invoke(app, list(args), env=env)


def json_of(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def assert_usage_error(result: Result, *words: str) -> None:
    """Exit 2, one line on stderr that says what is wrong, no traceback, nothing on stdout."""
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    for word in words:
        assert word in lines[0], lines[0]
    assert result.stdout == ""


def save(path: Path, array: npt.NDArray[Any]) -> str:
    np.save(path, array, allow_pickle=False)
    return str(path)


# --- run --padding-mode / --flip ------------------------------------------------


@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("flip", [False, True])
def test_run_padding_mode_and_flip_match_conv2d(tmp_path: Path, mode: str, flip: bool) -> None:
    rng = np.random.default_rng(8)
    x = rng.integers(-5, 6, (2, 4, 5, 6))
    w = rng.integers(-5, 6, (4, 2, 3, 2))
    args = [save(tmp_path / "x.npy", x), save(tmp_path / "w.npy", w), "-p", "1,2", "-g", "2"]
    args += ["--padding-mode", mode, "--json"] + (["--flip"] if flip else [])
    payload = json_of(invoke("run", *args))
    expected = conv2d(x, w, padding=(1, 2), groups=2, padding_mode=mode, flip=flip)
    assert payload["data"] == expected.tolist()


def test_run_reflect_on_the_lesson_names_the_method() -> None:
    result = invoke("run", X_JSON, K_IN, "-p", "1", "--padding-mode", "reflect", "--flip")
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    assert "reflect padding" in text and "kernel flipped 180 degrees" in text


def test_run_reflect_padding_too_large() -> None:
    result = invoke("run", X_JSON, K_IN, "-p", "3", "--padding-mode", "reflect")
    assert_usage_error(result, "reflect padding 3 must be < input height 3")


def test_run_unknown_padding_mode() -> None:
    assert_usage_error(invoke("run", X_JSON, K_IN, "--padding-mode", "mirror"), "--padding-mode")


@pytest.mark.parametrize("flag", [["--flip"], ["--padding-mode", "circular"]])
def test_run_named_modes_refuse_flip_and_padding_mode(flag: list[str]) -> None:
    result = invoke("run", X_JSON, K_OUT, "--mode", "multi-out", *flag)
    assert_usage_error(result, flag[0], "--mode auto")


# --- shapes: conv_arithmetic, receptive field, separable cost --------------------

# Direct-convolution examples of Dumoulin & Visin, "A guide to convolution arithmetic
# for deep learning" (2016), relationships 1-6 and the dilated convolution (section 5.1).
CONV_ARITHMETIC = [
    # (i, k, s, p, d, o)
    (4, 3, 1, 0, 1, 2),  # relationship 1: no zero padding, unit strides
    (5, 4, 1, 2, 1, 6),  # relationship 2: zero padding, unit strides
    (5, 3, 1, 1, 1, 5),  # relationship 3: half (same) padding
    (5, 3, 1, 2, 1, 7),  # relationship 4: full padding
    (5, 3, 2, 0, 1, 2),  # relationship 5: no zero padding, non-unit strides
    (5, 3, 2, 1, 1, 3),  # relationship 6: zero padding, non-unit strides
    (6, 3, 2, 1, 1, 3),  # relationship 6, the even input of figure 2.7
    (7, 3, 1, 0, 2, 3),  # dilated convolution, relationship 15
]


@pytest.mark.parametrize(("i", "k", "s", "p", "d", "o"), CONV_ARITHMETIC)
def test_conv_arithmetic_examples_in_geometry(
    i: int, k: int, s: int, p: int, d: int, o: int
) -> None:
    from convcli.geometry import output_size, resolve_geometry

    assert output_size(i, k, stride=s, padding=p, dilation=d) == o
    geometry = resolve_geometry((i, i), (k, k), stride=s, padding=p, dilation=d)
    assert geometry.out_size == (o, o)
    assert geometry.effective_kernel == (k + (k - 1) * (d - 1),) * 2


@pytest.mark.parametrize(("i", "k", "s", "p", "d", "o"), CONV_ARITHMETIC)
def test_conv_arithmetic_examples_through_shapes(
    i: int, k: int, s: int, p: int, d: int, o: int
) -> None:
    args = ["--input-shape", f"1x{i}x{i}", "--kernel-shape", f"1x1x{k}x{k}"]
    payload = json_of(invoke("shapes", *args, "-s", str(s), "-p", str(p), "-d", str(d), "--json"))
    assert payload["output_shape"] == [1, o, o]
    assert payload["receptive_field"] == [(k - 1) * d + 1] * 2


def test_conv_arithmetic_relationship_6_against_a_real_convolution() -> None:
    y = conv2d(np.ones((1, 5, 5)), np.ones((1, 1, 3, 3)), stride=2, padding=1)
    assert y.shape == (1, 3, 3)
    assert y[0].tolist() == [[4, 6, 4], [6, 9, 6], [4, 6, 4]]


@pytest.mark.parametrize(
    ("input_shape", "kernel_shape", "c_o", "k"),
    [("2x3x3", "3x2x2x2", 3, 4), ("3x32x32", "64x3x3x3", 64, 9), ("8x4x9x9", "16x4x5x3", 16, 15)],
)
def test_shapes_separable_ratio_is_one_over_c_o_plus_one_over_kernel_area(
    input_shape: str, kernel_shape: str, c_o: int, k: int
) -> None:
    payload = json_of(
        invoke("shapes", "--input-shape", input_shape, "--kernel-shape", kernel_shape, "--json")
    )
    separable = payload["separable"]
    assert separable["ratio"] == pytest.approx(1 / c_o + 1 / k, rel=1e-15)
    assert separable["macs"] == pytest.approx(payload["macs"] * (1 / c_o + 1 / k))
    assert separable["depthwise"]["macs"] + separable["pointwise"]["macs"] == separable["macs"]


def test_shapes_separable_lesson_numbers() -> None:
    payload = json_of(invoke("shapes", "--json"))  # the lesson: 2x3x3 input, 3x2x2x2 kernel
    assert payload["receptive_field"] == [2, 2]
    separable = payload["separable"]
    # depthwise 2*2*2 = 8, pointwise 2*3 = 6, biases 2 + 3 = 5
    assert separable["params"] == 19 and payload["params"] == 27
    # depthwise 2*(2*2)*(2*2) = 32, pointwise 3*(2*2)*2 = 24
    assert separable["depthwise"] == {"params": 8, "macs": 32}
    assert separable["pointwise"] == {"params": 6, "macs": 24}
    assert separable["macs"] == 56 and separable["ratio"] == pytest.approx(7 / 12)
    assert payload["padding_mode"] == "zeros"
    for key in ("macs", "flops", "separable"):
        assert key in payload["conventions"]
    no_bias = json_of(invoke("shapes", "--no-bias", "--json"))
    assert no_bias["separable"]["params"] == 14 and no_bias["separable"]["bias_params"] == 0


def test_shapes_text_shows_receptive_field_and_separable_ratio() -> None:
    result = invoke("shapes", "--input-shape", "1x7x7", "--kernel-shape", "1x1x3x3", "-d", "2")
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    assert "(3-1)*2+1, (3-1)*2+1 = 5x5" in text
    assert "depthwise-separable alternative" in text
    assert "1/c_o + 1/(k_h*k_w) = 1/1 + 1/9 = 10/9" in text
    assert "1 bias add per output value" in text and "bias excluded" in text


def test_shapes_padding_mode_reflect() -> None:
    args = ["--input-shape", "3x5x5", "--kernel-shape", "8x3x3x3", "-p", "2"]
    payload = json_of(invoke("shapes", *args, "--padding-mode", "reflect", "--json"))
    assert payload["padding_mode"] == "reflect" and payload["output_shape"] == [8, 7, 7]
    too_much = invoke("shapes", *args[:-1], "5", "--padding-mode", "reflect")
    assert_usage_error(too_much, "reflect padding 5 must be < input height 5")
    assert_usage_error(invoke("shapes", "--padding-mode", "mirror"), "--padding-mode")
