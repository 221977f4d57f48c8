"""Helpers of the CLI tests: invoke a command in-process and check its contract."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from typer.testing import CliRunner, Result

from convcli.cli import app

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
runner = CliRunner()
# What must never reach a user: Python's and numpy's own words for a crash.
INTERNAL_WORDS = (
    "Traceback",
    "MemoryError",
    "OverflowError",
    "RecursionError",
    "IndexError",
    "TypeError",
    "KeyError",
    "UnicodeDecodeError",
    "numpy.core",
    "numpy._core",
)


def invoke(
    *args: str, input: str | bytes | None = None, env: dict[str, str] | None = None
) -> Result:
    """``convcli ARGS`` through typer's CliRunner (stdout and stderr kept apart)."""
    return runner.invoke(app, list(args), input=input, env=env)


def json_of(result: Result) -> Any:
    """The JSON object a successful ``--json`` command printed."""
    assert result.exit_code == 0, (result.output, result.exception)
    return json.loads(result.stdout)


def assert_usage_error(result: Result, *words: str) -> str:
    """Exit 2, one ``convcli: `` line on stderr holding ``words``, nothing on stdout.

    No traceback and none of Python's or numpy's words for a crash; returns the line.
    """
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith("convcli: "), line
    for word in INTERNAL_WORDS:
        assert word not in result.output, result.output
    for word in words:
        assert word in line, (word, line)
    assert result.stdout == ""
    return line


def save(path: Path, array: npt.NDArray[Any]) -> str:
    """``array`` as a .npy file at ``path``; its path as a command-line argument."""
    np.save(path, array, allow_pickle=False)
    return str(path)


def lesson_files(folder: Path) -> tuple[str, str]:
    """A (2, 3, 3) input and a (1, 2, 2, 2) kernel saved as .npy in ``folder``: their paths."""
    x = save(folder / "x.npy", np.arange(18.0).reshape(2, 3, 3))
    return x, save(folder / "k.npy", np.ones((1, 2, 2, 2)))


def files_in(folder: Path) -> list[str]:
    """The names in ``folder``, hidden ones (temporary files) included, sorted."""
    return sorted(p.name for p in folder.iterdir())


def array_of(payload: dict[str, Any]) -> npt.NDArray[Any]:
    """The array of a ``tensor_to_json`` payload (complex and non-finite included)."""

    def leaf(value: Any) -> Any:
        if isinstance(value, list):
            return [leaf(item) for item in value]
        if isinstance(value, dict):
            return complex(leaf(value["real"]), leaf(value["imag"]))
        if isinstance(value, str):
            return {"NaN": np.nan, "Infinity": np.inf, "-Infinity": -np.inf}[value]
        return value

    return np.array(leaf(payload["data"]), dtype=payload["dtype"]).reshape(payload["shape"])
