"""The error contract: refusals exit 2 by their type, anything else is a bug, exit 70.

A ``ConvcliError`` (any subclass) is a deliberate refusal: one line, exit 2. Any other
exception, a plain ``ValueError`` included, is a bug in convcli: one line asking for a
report, exit 70, the traceback only with ``--debug``; and, like every failure, nothing
written and no temporary file left. The faults are injected where real bugs would sit: in
the computation and in the output writers.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from clitools import assert_usage_error, files_in, invoke, lesson_files
from typer.testing import Result

import convcli
import convcli.errors
import convcli.ops.modes
import convcli.tensorio.files

FAULT = "injected fault"


def inject(
    monkeypatch: pytest.MonkeyPatch,
    module: ModuleType,
    name: str,
    error: type[Exception] = ValueError,
) -> None:
    """Make ``module.name`` raise ``error(FAULT)`` whenever it is called."""

    def broken(*args: object, **kwargs: object) -> None:
        raise error(FAULT)

    monkeypatch.setattr(module, name, broken)


def assert_internal_error(result: Result, *, debug: bool, error: str = "ValueError") -> None:
    """Exit 70, nothing on stdout, the report line last; a traceback only with --debug."""
    assert result.exit_code == 70, result.output
    assert result.stdout == ""
    lines = result.stderr.rstrip().splitlines()
    assert lines[-1].startswith(f"convcli: internal error ({error}: {FAULT})"), lines[-1]
    assert "please report it" in lines[-1] and "--debug" in lines[-1]
    if debug:
        assert "Traceback (most recent call last)" in result.stderr
        assert f"{error}: {FAULT}" in lines[-2]
    else:
        assert len(lines) == 1 and "Traceback" not in result.stderr


@pytest.mark.parametrize("debug", [False, True], ids=["quiet", "debug"])
@pytest.mark.parametrize("output", [None, "y.npy", "y.json"])
def test_a_value_error_in_compute_is_exit_70_nothing_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, output: str | None, debug: bool
) -> None:
    # -o y.npy streams into a memory-mapped temporary file while conv2d runs: it must go.
    inject(monkeypatch, convcli.ops.modes, "conv2d")
    out = tmp_path / "out"
    out.mkdir()
    written = [] if output is None else ["-o", str(out / output)]
    flags = ["--debug"] if debug else []
    result = invoke(*flags, "run", *lesson_files(tmp_path), *written)
    assert_internal_error(result, debug=debug)
    assert files_in(out) == []


# Output writers: the JSON encoder, numpy's .npy writer, and the last step before the
# temporary file is renamed into place (the temporary file then exists and must go).
WRITER_FAULTS = {
    "json-encoder": ("y.json", convcli.tensorio.files, "tensor_to_json", []),
    "npy-writer": ("y.npy", np.lib.format, "write_array", ["--mode", "multi-out"]),
    "json-before-rename": ("y.json", convcli.tensorio.files, "_fsync", []),
    "npy-stream-before-rename": ("y.npy", convcli.tensorio.files, "_fsync", []),
}


@pytest.mark.parametrize("debug", [False, True], ids=["quiet", "debug"])
@pytest.mark.parametrize("fault", sorted(WRITER_FAULTS))
def test_a_value_error_in_output_writing_is_exit_70_nothing_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fault: str, debug: bool
) -> None:
    name, module, function, options = WRITER_FAULTS[fault]
    files = lesson_files(tmp_path)  # before the fault: np.save writes with write_array too
    inject(monkeypatch, module, function)
    out = tmp_path / "out"
    out.mkdir()
    flags = ["--debug"] if debug else []
    result = invoke(*flags, "run", *files, *options, "-o", str(out / name))
    assert_internal_error(result, debug=debug)
    assert files_in(out) == []


def test_a_value_error_writing_json_to_stdout_is_exit_70(monkeypatch: pytest.MonkeyPatch) -> None:
    """The issue's own example: json.dumps breaking under ``shapes --json``."""
    inject(monkeypatch, json, "dumps")
    result = invoke("shapes", "--input-shape", "3x8x8", "--kernel-shape", "4x3x3x3", "--json")
    assert_internal_error(result, debug=False)


@pytest.mark.parametrize(
    "error", [ValueError, ArithmeticError, RuntimeError, TypeError, IndexError, OSError]
)
def test_any_other_exception_is_a_bug(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: type[Exception]
) -> None:
    inject(monkeypatch, convcli.ops.modes, "conv2d", error)
    assert_internal_error(invoke("run", *lesson_files(tmp_path)), debug=False, error=error.__name__)


@pytest.mark.parametrize(
    "name", [n for n in convcli.errors.__all__ if n.endswith("Error") and n != "FileProblem"]
)
def test_every_domain_error_is_a_refusal_by_its_type(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """Routed by type, whatever the message says: exit 2 (74 for the environment's
    failures, ``EnvironmentFailureError``), one line, nothing written."""
    error = getattr(convcli, name)
    assert issubclass(error, convcli.ConvcliError) and issubclass(error, ValueError)
    inject(monkeypatch, convcli.ops.modes, "conv2d", error)
    out = tmp_path / "out"
    out.mkdir()
    result = invoke("run", *lesson_files(tmp_path), "-o", str(out / "y.npy"))
    expected = 74 if error is convcli.EnvironmentFailureError else 2
    assert error.exit_code == expected
    if expected == 2:
        assert_usage_error(result, f"error: {FAULT}")
    else:
        assert result.exit_code == 74 and result.stdout == ""
        assert (
            result.stderr.startswith(f"convcli: error: {FAULT}") and result.stderr.count("\n") == 1
        )
    assert files_in(out) == []
