"""CLI tests of the teaching features: --padding-mode, --flip, explain, verify, --heatmap,
and what shapes adds (receptive field, separable cost)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from clitools import SAMPLES, assert_usage_error, invoke, json_of, save

from convcli import conv2d

X_JSON, K_IN, K_OUT = (
    f"{SAMPLES}/lesson_X.json",
    f"{SAMPLES}/lesson_K_multi_in.json",
    f"{SAMPLES}/lesson_K_multi_out.json",
)


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
    from convcli.shapes.geometry import output_size, resolve_geometry

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
    # the lesson: 2x3x3 input, 3x2x2x2 kernel, with a bias
    payload = json_of(invoke("shapes", "--bias", "--json"))
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
    args = ["--input-shape", "2x7x7", "--kernel-shape", "1x2x3x3", "-d", "2", "--bias"]
    result = invoke("shapes", *args)
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


# --- explain ---------------------------------------------------------------------


def test_explain_lesson_output_0_0_is_19_plus_37() -> None:
    result = invoke("explain", X_JSON, K_IN, "--at", "0,0")
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    assert "c_i=0: 0*0 + 1*1 + 3*2 + 4*3 = 19" in text
    assert "c_i=1: 1*1 + 2*2 + 4*3 + 5*4 = 37" in text
    assert "total 19 + 37 = 56" in text
    assert "Y[0, 0] = 56, as convcli run prints it" in text


def test_explain_json_has_every_number() -> None:
    payload = json_of(invoke("explain", X_JSON, K_IN, "--at", "0,0", "--json"))
    assert payload["value"] == 56 and payload["total"] == 56 and payload["bias"] is None
    assert [c["sum"] for c in payload["channels"]] == [19, 37]
    first = payload["channels"][0]
    assert first["window"]["data"] == [[0, 1], [3, 4]]
    assert first["kernel"]["data"] == [[0, 1], [2, 3]]
    assert first["products"]["data"] == [[0, 1], [6, 12]]
    assert first["padding_mask"] == [[False, False], [False, False]]
    assert payload["output_axes"] == ["m_h", "m_w"] and payload["output_shape"] == [2, 2]


@pytest.mark.parametrize(
    "options",
    [
        [],
        ["-p", "1"],
        ["-p", "1", "--padding-mode", "reflect", "--flip"],
        ["-p", "2", "-s", "2", "--padding-mode", "circular"],
        ["-p", "same", "-d", "2", "--padding-mode", "replicate"],
    ],
)
def test_explain_value_is_what_run_prints_everywhere(options: list[str]) -> None:
    bias = ["--bias", f"{SAMPLES}/lesson_bias.json"]
    run = json_of(invoke("run", X_JSON, K_OUT, *bias, *options, "--json"))
    y = np.array(run["data"])
    for position in np.ndindex(*y.shape):
        at = ",".join(map(str, position))
        payload = json_of(invoke("explain", X_JSON, K_OUT, *bias, *options, "--at", at, "--json"))
        assert payload["value"] == y[position], at
        assert payload["total"] + payload["bias"] == payload["value"]


def test_explain_batched_grouped_dilated(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    x = rng.integers(-5, 6, (2, 4, 6, 6))
    w = rng.integers(-5, 6, (4, 2, 2, 2))
    args = [save(tmp_path / "x.npy", x), save(tmp_path / "w.npy", w), "-g", "2", "-d", "2"]
    payload = json_of(invoke("explain", *args, "--at", "1,3,2,0", "--json"))
    assert [c["c_i"] for c in payload["channels"]] == [2, 3]
    assert payload["group"] == 1
    assert payload["input_rows"] == [2, 4] and payload["input_cols"] == [0, 2]
    expected = conv2d(x, w, groups=2, dilation=2)[1, 3, 2, 0]
    assert payload["value"] == expected
    text = invoke("explain", *args, "--at", "1,3,2,0").stdout
    assert "X[n=1, c_i=2] window" in text and "K[c_o=3, c_i/g=0]" in text
    assert "group 1 of 2" in text


def test_explain_marks_padding_cells() -> None:
    result = invoke("explain", X_JSON, K_IN, "--at", "0,0", "-p", "1")
    assert result.exit_code == 0, result.output
    assert "0*" in result.stdout
    assert "3 of 4 taps per channel read zeros" in result.stdout


def test_explain_many_channels_are_summarised_unless_full(tmp_path: Path) -> None:
    x = save(tmp_path / "x.npy", np.ones((10, 3, 3), dtype=int))
    w = save(tmp_path / "w.npy", np.ones((10, 2, 2), dtype=int))
    short = invoke("explain", x, w, "--at", "1,1")
    assert short.exit_code == 0, short.output
    assert "… 4 more channels" in short.stdout and "c_i=9:" in short.stdout
    assert "c_i=5:" not in short.stdout
    assert "c_i=5:" in invoke("explain", x, w, "--at", "1,1", "--full").stdout


@pytest.mark.parametrize(
    ("kernel", "at", "words"),
    [
        (K_OUT, "3,0,0", ["--at", "c_o=3", "0..2"]),
        (K_OUT, "0,0", ["--at", "3 indices o,i,j"]),
        (K_IN, "0,2", ["--at", "m_w=2"]),
        (K_IN, "0,-1", ["--at", ">= 0"]),
        (K_IN, "a,b", ["--at", "whole numbers"]),
        (K_IN, "1", ["--at", "2 to 4 indices"]),
    ],
)
def test_explain_bad_positions(kernel: str, at: str, words: list[str]) -> None:
    assert_usage_error(invoke("explain", X_JSON, kernel, "--at", at), *words)


def test_explain_other_errors() -> None:
    assert_usage_error(
        invoke("explain", X_JSON, K_IN, "--at", "0,0", "-p", "3", "--padding-mode", "reflect"),
        "reflect padding 3 must be < input height 3",
    )
    assert_usage_error(invoke("explain", X_JSON, "nope.json", "--at", "0,0"), "nope.json")


# --- verify (im2col) -------------------------------------------------------------


def test_verify_lesson_agrees_and_shows_the_matrices() -> None:
    result = invoke("verify", X_JSON, K_OUT)
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    assert "(2*2*2, 2*2) = (8, 4)" in text
    assert "W (c_o/g, c_i/g*k_h*k_w) = (3, 8)" in text
    assert "(3, 8) @ (8, 4) = (3, 4) -> (3, 2, 2)" in text
    assert "AGREE" in text and "X_cols" in text and "Y directly" in text


def test_verify_json(tmp_path: Path) -> None:
    payload = json_of(invoke("verify", X_JSON, K_IN, "--json"))
    assert payload["agree"] is True and payload["max_abs_diff"] == 0
    assert payload["column_matrix_shape"] == [8, 4] and payload["weight_matrix_shape"] == [1, 8]
    assert payload["columns"]["shape"] == [1, 1, 8, 4]
    assert payload["matrix_product"]["data"] == [[56, 72], [104, 120]]
    assert payload["direct"] == payload["matrix_product"]


@pytest.mark.parametrize(
    "options",
    [
        ["-g", "2", "-p", "1", "--padding-mode", "circular", "--flip"],
        ["-s", "2", "-d", "2", "-p", "2", "--padding-mode", "reflect"],
        ["-p", "same", "--padding-mode", "replicate"],
    ],
)
def test_verify_options_agree(tmp_path: Path, options: list[str]) -> None:
    rng = np.random.default_rng(6)
    x = save(tmp_path / "x.npy", rng.standard_normal((2, 4, 7, 6)))
    w = save(tmp_path / "w.npy", rng.standard_normal((6, 2 if "-g" in options else 4, 3, 2)))
    b = save(tmp_path / "b.npy", rng.standard_normal(6))
    payload = json_of(invoke("verify", x, w, "--bias", b, *options, "--json"))
    assert payload["agree"] is True
    assert payload["batch"] == 2
    if "-g" in options:
        assert payload["groups"] == 2 and payload["column_matrix_shape"][0] == 2 * 3 * 2


def test_verify_exit_1_when_the_tolerance_is_not_met(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    x = save(tmp_path / "x.npy", rng.standard_normal((64, 8, 8), dtype=np.float32))
    w = save(tmp_path / "w.npy", rng.standard_normal((8, 64, 3, 3), dtype=np.float32))
    assert invoke("verify", x, w).exit_code == 0
    strict = invoke("verify", x, w, "--atol", "0", "--json")
    assert strict.exit_code == 1
    assert json.loads(strict.stdout)["agree"] is False
    text = invoke("verify", x, w, "--atol", "0")
    assert text.exit_code == 1 and "DISAGREE" in text.stdout


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--atol", "-1"], ["--atol"]),
        (["--rtol", "nan"], ["--rtol"]),
        (["-p", "3", "--padding-mode", "reflect"], ["reflect padding 3"]),
        (["-g", "2"], ["groups=2"]),
        (["--padding-mode", "mirror"], ["--padding-mode"]),
    ],
)
def test_verify_errors(args: list[str], words: list[str]) -> None:
    assert_usage_error(invoke("verify", X_JSON, K_OUT, *args), *words)


def test_verify_and_explain_json_with_non_finite_inputs(tmp_path: Path) -> None:
    x = np.arange(18.0).reshape(2, 3, 3)
    x[0, 0, 0] = np.nan
    args = [save(tmp_path / "x.npy", x), save(tmp_path / "w.npy", np.ones((2, 2, 2)))]
    verified = json_of(invoke("verify", *args, "--json"))
    assert verified["agree"] is True and verified["direct"]["data"][0][0] == "NaN"
    explained = json_of(invoke("explain", *args, "--at", "0,0", "--json"))
    assert explained["value"] == "NaN" and explained["channels"][0]["sum"] == "NaN"
    assert json_of(invoke("explain", *args, "--at", "1,1", "--json"))["value"] == 84.0
