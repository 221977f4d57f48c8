"""Say less when less is asked; show the geometry run used."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from clitools import SAMPLES, invoke, save

X, K = f"{SAMPLES}/lesson_X.json", f"{SAMPLES}/lesson_K_multi_out.json"


def test_stats_prints_the_shapes_and_the_statistics_not_the_values() -> None:
    result = invoke("run", X, K, "--stats")
    assert result.exit_code == 0, result.output
    assert "shapes" in result.stdout and "result: 3x2x2 float32  min 56  max 224" in result.stdout
    assert "╭" not in result.stdout and "Y[c_o=" not in result.stdout


def test_output_implies_stats_unless_show(tmp_path: Path) -> None:
    quiet = invoke("run", X, K, "-o", str(tmp_path / "y.npy"))
    assert quiet.exit_code == 0, quiet.output
    assert "╭" not in quiet.stdout and "result: 3x2x2" in quiet.stdout
    shown = invoke("run", X, K, "-o", str(tmp_path / "z.npy"), "--show")
    assert "╭" in shown.stdout and "Y[c_o=2]" in shown.stdout
    assert np.array_equal(np.load(tmp_path / "y.npy"), np.load(tmp_path / "z.npy"))


def test_a_big_result_with_stats_is_a_few_lines(tmp_path: Path) -> None:
    x = save(tmp_path / "x.npy", np.ones((4, 8, 64, 64), dtype=np.float32))
    w = save(tmp_path / "w.npy", np.ones((8, 8, 3, 3), dtype=np.float32))
    text = invoke("run", x, w, "--stats").stdout
    assert "╭" not in text and "result: 4x8x62x62 float32" in text
    assert len(text.splitlines()) < 25


def test_a_7x7_slice_is_not_summarised(tmp_path: Path) -> None:
    """Over the count threshold, but hiding one row and one column saves nothing."""
    x = save(tmp_path / "x.npy", np.ones((4, 64, 9, 9), dtype=np.float32))
    w = save(tmp_path / "w.npy", np.ones((1, 64, 3, 3), dtype=np.float32))
    text = invoke("run", x, w).stdout
    assert "│ 6 │" in text  # every row of the 7x7 slices


@pytest.mark.parametrize(
    ("args", "padding"),
    [
        (["-p", "same"], "padding top 0, bottom 1, left 0, right 1 (zeros)\nstride 1x1"),
        (["-p", "1", "-s", "2"], "padding top 1, bottom 1, left 1, right 1 (zeros)\nstride 2x2"),
    ],
)
def test_run_shows_the_geometry_it_used(tmp_path: Path, args: list[str], padding: str) -> None:
    k = save(tmp_path / "k.npy", np.ones((3, 2, 2, 2), dtype=np.float32))
    result = invoke("run", X, k, *args)
    assert result.exit_code == 0, result.output
    assert padding in result.stdout
    assert "dilation 1x1, groups 1" in result.stdout


def test_shapes_names_the_padding_convention() -> None:
    text = invoke("shapes").stdout
    assert "p_h is the padding on each side" in text and "2p_h here" in text


@pytest.mark.parametrize(
    ("shapes", "reason"),
    [
        (["--kernel-shape", "16x8x1x1", "--input-shape", "8x9x9"], "a 1x1 kernel"),
        (["--kernel-shape", "16x1x3x3", "--input-shape", "1x9x9"], "one input channel"),
        (["--kernel-shape", "8x1x3x3", "--input-shape", "8x9x9", "-g", "8"], "already depthwise"),
    ],
)
def test_shapes_shows_the_separable_alternative_only_where_it_is_one(
    shapes: list[str], reason: str
) -> None:
    text = invoke("shapes", *shapes).stdout
    assert "depthwise-separable alternative: not shown:" in text and reason in text
    assert "MACs ratio" not in text
    assert "MACs ratio" in invoke("shapes").stdout


def test_the_bias_note_is_the_demos_only() -> None:
    assert "mistake" not in invoke("shapes").stdout
    assert "mistake" in invoke("demo").stdout


def test_shapes_counts_the_bias_as_nn_conv2d_and_run_computes_what_it_is_given() -> None:
    """Issue 19 defect 7: shapes follows nn.Conv2d's bias=True (--no-bias drops it) and says
    which it counted; run still computes with the tensors it is given."""
    shapes = json.loads(invoke("shapes", X, K, "--json").stdout)
    assert shapes["bias"] is True and shapes["bias_shape"] == [3] and shapes["bias_params"] == 3
    assert "nn.Conv2d's default bias=True" in " ".join(invoke("shapes", X, K).stdout.split())
    run = invoke("run", X, K)
    assert "bias           -   none" in run.stdout
    without = json.loads(invoke("shapes", X, K, "--no-bias", "--json").stdout)
    assert without["bias"] is False and without["bias_params"] == 0
    assert "not counted (--no-bias)" in invoke("shapes", X, K, "--no-bias").stdout
