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
