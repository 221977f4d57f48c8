"""CLI tests: every command through typer's CliRunner, success and error paths."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from clitools import SAMPLES, assert_usage_error, invoke, json_of, save

from convcli import conv2d, corr2d_multi_in_out
from convcli.ops.lesson import lesson_input, lesson_kernel_multi_in, lesson_kernel_multi_out

# --- run: the lesson -----------------------------------------------------------


@pytest.mark.parametrize("ext", ["json", "npy"])
def test_run_lesson_multi_in_prints_56_72_104_120(ext: str) -> None:
    result = invoke("run", f"{SAMPLES}/lesson_X.{ext}", f"{SAMPLES}/lesson_K_multi_in.{ext}")
    assert result.exit_code == 0, result.output
    for value in ("56", "72", "104", "120"):
        assert f" {value} " in result.stdout
    assert "c_i=2" in result.stdout and "m_h=2" in result.stdout


@pytest.mark.parametrize("mode", ["auto", "multi-out"])
def test_run_lesson_multi_out_json_is_the_lessons_result(mode: str) -> None:
    payload = json_of(
        invoke(
            "run",
            f"{SAMPLES}/lesson_X.json",
            f"{SAMPLES}/lesson_K_multi_out.json",
            "--mode",
            mode,
            "--json",
        )
    )
    assert payload["shape"] == [3, 2, 2]
    assert payload["dtype"] == "float32"
    assert payload["data"] == [
        [[56, 72], [104, 120]],
        [[76, 100], [148, 172]],
        [[96, 128], [192, 224]],
    ]


def test_run_1x1_mode_equals_multi_out() -> None:
    x, k = f"{SAMPLES}/lesson_1x1_X.npy", f"{SAMPLES}/lesson_1x1_K.npy"
    by_matmul = json_of(invoke("run", x, k, "--mode", "1x1", "--json"))
    per_channel = json_of(invoke("run", x, k, "--mode", "multi-out", "--json"))
    assert by_matmul["shape"] == per_channel["shape"] == [2, 3, 3]
    np.testing.assert_allclose(by_matmul["data"], per_channel["data"], atol=1e-6)


def test_run_1x1_mode_refuses_a_2x2_kernel() -> None:
    result = invoke(
        "run", f"{SAMPLES}/lesson_X.npy", f"{SAMPLES}/lesson_K_multi_out.npy", "--mode", "1x1"
    )
    assert_usage_error(result, "1x1 kernel", "2x2")


def test_run_named_mode_refuses_conv_options() -> None:
    result = invoke(
        "run",
        f"{SAMPLES}/lesson_X.npy",
        f"{SAMPLES}/lesson_K_multi_out.npy",
        "--mode",
        "multi-out",
        "--stride",
        "2",
    )
    assert_usage_error(result, "--stride", "--mode auto")


def test_run_bias_adds_one_value_per_output_channel() -> None:
    payload = json_of(
        invoke(
            "run",
            f"{SAMPLES}/lesson_X.json",
            f"{SAMPLES}/lesson_K_multi_out.json",
            "--bias",
            f"{SAMPLES}/lesson_bias.json",
            "--json",
        )
    )
    expected = corr2d_multi_in_out(lesson_input(), lesson_kernel_multi_out()).astype(np.float32)
    expected += np.array([0.5, -1.0, 2.0], dtype=np.float32).reshape(3, 1, 1)
    np.testing.assert_array_equal(np.array(payload["data"], dtype=np.float32), expected)


# --- run: every option against the core -----------------------------------------


@pytest.mark.parametrize(
    ("options", "kwargs"),
    [
        (["--stride", "2"], {"stride": 2}),
        (["--padding", "1,2", "--stride", "2,1"], {"padding": (1, 2), "stride": (2, 1)}),
        (["--padding", "same", "--dilation", "2"], {"padding": "same", "dilation": 2}),
        (["--padding", "valid"], {"padding": "valid"}),
        (["--groups", "2", "-p", "1"], {"groups": 2, "padding": 1}),
    ],
)
def test_run_options_match_conv2d(
    tmp_path: Path, options: list[str], kwargs: dict[str, Any]
) -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 4, 9, 8))
    groups = int(kwargs.get("groups", 1))
    w = rng.standard_normal((6, 4 // groups, 3, 2))
    b = rng.standard_normal(6)
    args = [save(tmp_path / "x.npy", x), save(tmp_path / "w.npy", w)]
    args += ["--bias", save(tmp_path / "b.npy", b), *options, "--json"]
    payload = json_of(invoke("run", *args))
    expected = conv2d(x, w, b, **kwargs)
    assert payload["shape"] == list(expected.shape)
    np.testing.assert_allclose(payload["data"], expected, rtol=1e-12, atol=1e-12)


def test_run_reads_json_from_stdin() -> None:
    text = json.dumps({"data": lesson_input().tolist()})
    payload = json_of(invoke("run", "-", f"{SAMPLES}/lesson_K_multi_in.json", "--json", input=text))
    assert payload["data"] == [[56, 72], [104, 120]]


def test_run_refuses_two_tensors_from_stdin() -> None:
    assert_usage_error(invoke("run", "-", "-", input="[[1]]"), "stdin")


def test_run_big_result_is_summarised_unless_full(tmp_path: Path) -> None:
    x = save(tmp_path / "x.npy", np.ones((8, 40, 40), dtype=np.float32))
    w = save(tmp_path / "w.npy", np.ones((16, 8, 3, 3), dtype=np.float32))
    summary = invoke("run", x, w)
    assert summary.exit_code == 0, summary.output
    assert "…" in summary.stdout
    assert summary.stdout.count("Y[c_o=") == 6  # three channels at each edge
    assert "mean 72" in summary.stdout
    full = invoke("run", x, w, "--full")
    assert set(re.findall(r"Y\[c_o=(\d+)\]", full.stdout)) == {str(c) for c in range(16)}
    assert "columns 0 to" in full.stdout  # 38 columns do not fit 80: blocks of columns
    assert len(full.stdout) > 10 * len(summary.stdout)


# --- run: output files ---------------------------------------------------------


@pytest.mark.parametrize("ext", ["npy", "json"])
def test_run_output_writes_the_result(tmp_path: Path, ext: str) -> None:
    out = tmp_path / f"y.{ext}"
    result = invoke(
        "run", f"{SAMPLES}/lesson_X.npy", f"{SAMPLES}/lesson_K_multi_out.npy", "-o", str(out)
    )
    assert result.exit_code == 0, result.output
    assert f"wrote {out}" in result.stderr
    if ext == "npy":
        data = np.load(out, allow_pickle=False)
    else:
        loaded = json.loads(out.read_text())
        assert loaded["shape"] == [3, 2, 2] and loaded["dtype"] == "float32"
        data = np.array(loaded["data"])
    np.testing.assert_array_equal(
        data, corr2d_multi_in_out(lesson_input(), lesson_kernel_multi_out())
    )


def test_run_output_needs_force_to_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "y.npy"
    out.write_bytes(b"old")
    args = ["run", f"{SAMPLES}/lesson_X.npy", f"{SAMPLES}/lesson_K_multi_in.npy", "-o", str(out)]
    assert_usage_error(invoke(*args), "y.npy", "--force")
    assert out.read_bytes() == b"old"
    assert invoke(*args, "--force").exit_code == 0
    assert np.load(out).tolist() == [[56, 72], [104, 120]]


def test_run_never_overwrites_an_input_even_with_force(tmp_path: Path) -> None:
    x = save(tmp_path / "x.npy", lesson_input())
    k = save(tmp_path / "k.npy", lesson_kernel_multi_in())
    before = Path(x).read_bytes()
    result = invoke("run", x, k, "-o", x, "--force")
    assert_usage_error(result, "x.npy")
    assert Path(x).read_bytes() == before


# --- run: errors ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "words"),
    [
        (["--stride", "sideways"], ["--stride", "sideways"]),
        (["--stride", "1,2,3"], ["--stride", "1,2,3"]),
        (["--stride", "0"], ["--stride", ">= 1"]),
        (["--padding", "-1"], ["--padding", "-1"]),
        (["--dilation", "0"], ["--dilation", ">= 1"]),
        (["--groups", "0"], ["--groups", ">= 1"]),
        (["--groups", "3"], ["groups=3", "does not divide"]),
        (["--padding", "same", "--stride", "2"], ["same", "stride"]),
        (["--mode", "sideways"], ["--mode", "sideways"]),
        (["--stride", "9"], []),
    ],
)
def test_run_bad_options_are_one_line_errors(options: list[str], words: list[str]) -> None:
    result = invoke("run", f"{SAMPLES}/lesson_X.npy", f"{SAMPLES}/lesson_K_multi_out.npy", *options)
    if not words:  # a stride larger than the input is fine: one output per axis
        assert result.exit_code == 0, result.output
        return
    assert_usage_error(result, *words)


def test_run_kernel_larger_than_padded_input(tmp_path: Path) -> None:
    x = save(tmp_path / "x.npy", np.ones((1, 3, 3)))
    w = save(tmp_path / "w.npy", np.ones((1, 1, 5, 5)))
    assert_usage_error(invoke("run", x, w), "larger than the padded input")
    assert invoke("run", x, w, "--padding", "1").exit_code == 0


def test_run_channel_mismatch(tmp_path: Path) -> None:
    x = save(tmp_path / "x.npy", np.ones((2, 3, 3)))
    w = save(tmp_path / "w.npy", np.ones((1, 3, 2, 2)))
    assert_usage_error(invoke("run", x, w), "kernel expects 3 input channels, input has 2")


def test_run_missing_file_names_it() -> None:
    assert_usage_error(invoke("run", "nope.npy", f"{SAMPLES}/lesson_K_multi_in.npy"), "nope.npy")


def test_run_missing_argument_is_one_line() -> None:
    assert_usage_error(invoke("run", f"{SAMPLES}/lesson_X.npy"), "KERNEL")


def test_file_names_are_not_read_as_markup(tmp_path: Path) -> None:
    x = save(tmp_path / "[red]x[bold].npy", lesson_input())
    result = invoke("run", x, f"{SAMPLES}/lesson_K_multi_in.npy")
    assert result.exit_code == 0, result.output
    assert "[red]x[bold].npy" in result.stdout.replace("\n", "").replace(" ", "")


def test_internal_error_is_exit_70_with_traceback_only_under_debug(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import convcli.ops.modes

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(convcli.ops.modes, "run_convolution", broken)
    args = ["run", f"{SAMPLES}/lesson_X.npy", f"{SAMPLES}/lesson_K_multi_in.npy"]
    quiet = invoke(*args)
    assert quiet.exit_code == 70
    assert "report" in quiet.stderr and "Traceback" not in quiet.stderr
    assert len(quiet.stderr.strip().splitlines()) == 1
    loud = invoke("--debug", *args)
    assert loud.exit_code == 70
    assert "Traceback" in loud.stderr and "boom" in loud.stderr


def test_keyboard_interrupt_is_exit_130(monkeypatch: pytest.MonkeyPatch) -> None:
    import convcli.ops.modes

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(convcli.ops.modes, "run_convolution", interrupted)
    result = invoke("run", f"{SAMPLES}/lesson_X.npy", f"{SAMPLES}/lesson_K_multi_in.npy")
    assert result.exit_code == 130
    assert "interrupted" in result.stderr


# --- shapes --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("input_shape", "kernel_shape", "output", "params", "macs"),
    [
        ("2x3x3", "3x2x2x2", [3, 2, 2], 27, 96),
        ("1x28x28", "10x1x5x5", [10, 24, 24], 260, 144000),
    ],
)
def test_shapes_json_examples(
    input_shape: str, kernel_shape: str, output: list[int], params: int, macs: int
) -> None:
    args = ["--input-shape", input_shape, "--kernel-shape", kernel_shape, "--bias", "--json"]
    payload = json_of(invoke("shapes", *args))
    assert payload["output_shape"] == output
    assert payload["params"] == params
    assert payload["macs"] == macs
    assert payload["bias_shape"] == [output[0]]
    assert payload["flops"] == 2 * macs + int(np.prod(output))


def test_shapes_counts_the_batch_and_no_bias() -> None:
    payload = json_of(
        invoke(
            "shapes", "--input-shape", "4x2x3x3", "--kernel-shape", "3x2x2x2", "--no-bias", "--json"
        )
    )
    assert payload["output_shape"] == [4, 3, 2, 2]
    assert payload["params"] == 24 and payload["bias_shape"] is None
    assert payload["macs"] == 4 * 96 and payload["flops"] == 2 * 4 * 96


def test_shapes_explains_the_formula_with_numbers() -> None:
    result = invoke(
        "shapes",
        "--input-shape",
        "3x7x5",
        "--kernel-shape",
        "4x3x3x3",
        "-s",
        "2",
        "-p",
        "1",
        "-d",
        "2",
    )
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    assert "floor((n_h + 2p_h - d_h(k_h-1) - 1)/s_h) + 1" in text
    assert "floor((7 + 2*1 - 2*(3-1) - 1)/2) + 1 = 3" in text
    assert "floor((5 + 2*1 - 2*(3-1) - 1)/2) + 1 = 2" in text
    assert "c_o=4" in text and "k_h=3" in text
    assert "mistake" not in text  # the lesson note's bias slip is the demo's to mention


def test_shapes_defaults_to_the_lesson_and_reads_files() -> None:
    default = json_of(invoke("shapes", "--json"))
    from_files = json_of(
        invoke("shapes", f"{SAMPLES}/lesson_X.npy", f"{SAMPLES}/lesson_K_multi_out.json", "--json")
    )
    assert default == from_files
    assert default["input_shape"] == [2, 3, 3] and default["kernel_shape"] == [3, 2, 2, 2]


def test_shapes_names_the_fully_connected_layer_of_a_1x1_kernel() -> None:
    result = invoke("shapes", "--input-shape", "256x56x56", "--kernel-shape", "64x256x1x1")
    text = " ".join(result.stdout.split())
    assert "fully connected layer over channels" in text
    assert "W (64, 256)" in text and "3136 positions" in text


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--input-shape", "2x3"], ["input must be 3-D"]),
        (["--input-shape", "2xthree"], ["--input-shape", "2xthree"]),
        (["--input-shape", "2x3x3", "--kernel-shape", "3x4x2x2"], ["kernel expects 4", "has 2"]),
        (
            ["--input-shape", "4x3x3", "--kernel-shape", "3x2x2x2", "-g", "2"],
            ["groups=2", "3 output"],
        ),
        (["--input-shape", "1x2x2", "--kernel-shape", "1x1x3x3"], ["larger than the padded"]),
    ],
)
def test_shapes_errors(args: list[str], words: list[str]) -> None:
    assert_usage_error(invoke("shapes", *args), *words)


# --- verify-1x1 ----------------------------------------------------------------


def test_verify_1x1_default_agrees() -> None:
    result = invoke("verify-1x1")
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    assert "(3, 3, 3) -> reshape -> (3, 9)" in text
    assert "(2, 3, 1, 1) -> reshape -> (2, 3)" in text
    assert "AGREE" in text


def test_verify_1x1_json_reports_both_results() -> None:
    payload = json_of(
        invoke("verify-1x1", "--input-shape", "16x5x4", "--out-channels", "3", "--json")
    )
    assert payload["agree"] is True
    assert payload["input_matrix_shape"] == [16, 20]
    assert payload["kernel_matrix_shape"] == [3, 16]
    per_channel = np.array(payload["per_channel"]["data"])
    product = np.array(payload["matrix_product"]["data"])
    assert per_channel.shape == (3, 5, 4)
    assert np.abs(per_channel - product).max() == pytest.approx(payload["max_abs_diff"], abs=1e-12)


def test_verify_1x1_exit_1_when_the_tolerance_is_not_met() -> None:
    args = ["verify-1x1", "--input-shape", "64x8x8", "--out-channels", "8", "--seed", "1"]
    payload = json_of(invoke(*args, "--json"))
    assert payload["max_abs_diff"] > 0  # float32 sums in two orders differ somewhere
    strict = invoke(*args, "--atol", "0", "--json")
    assert strict.exit_code == 1
    assert json.loads(strict.stdout)["agree"] is False


def test_verify_1x1_same_seed_same_tensors() -> None:
    first = json_of(invoke("verify-1x1", "--seed", "5", "--json"))
    second = json_of(invoke("verify-1x1", "--seed", "5", "--json"))
    third = json_of(invoke("verify-1x1", "--seed", "6", "--json"))
    assert first == second
    assert first["per_channel"] != third["per_channel"]


def test_verify_1x1_on_the_lesson_files() -> None:
    payload = json_of(
        invoke(
            "verify-1x1", f"{SAMPLES}/lesson_1x1_X.json", f"{SAMPLES}/lesson_1x1_K.json", "--json"
        )
    )
    assert payload["agree"] is True
    assert payload["matrix_product"]["shape"] == [2, 3, 3]


def test_verify_1x1_refuses_a_non_1x1_kernel() -> None:
    result = invoke("verify-1x1", f"{SAMPLES}/lesson_X.npy", f"{SAMPLES}/lesson_K_multi_out.npy")
    assert_usage_error(result, "(c_o, c_i, 1, 1)")


@pytest.mark.parametrize(
    "args", [["--atol", "-1"], ["--out-channels", "0"], ["--input-shape", "3x3"]]
)
def test_verify_1x1_bad_options(args: list[str]) -> None:
    assert_usage_error(invoke("verify-1x1", *args))


# --- demo, version, help -------------------------------------------------------


def test_demo_replays_the_lesson() -> None:
    result = invoke("demo")
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "Y[0,0] = 19 + 37 = 56" in text
    for row in ("56 │  72", "104 │ 120", "76 │ 100", "148 │ 172", "96 │ 128", "192 │ 224"):
        assert row in text
    assert "AGREE" in text


def test_version() -> None:
    from convcli import __version__

    result = invoke("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"convcli {__version__}"


def test_no_arguments_shows_help() -> None:
    result = invoke()
    assert "run" in result.output and "shapes" in result.output
