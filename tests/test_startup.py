"""Start-up stays light: a command imports only what it uses (issue 23).

Each test runs the real ``convcli`` entry point in a fresh interpreter and lists the
modules it loaded. Timings are left to ``benchmarks/bench_process.py``; these tests
check the cause of a slow start (an import), which does not depend on the machine.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

_LOADED = """
import json, sys
from convcli.cli import main
sys.argv = ["convcli", *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
sys.__stdout__.flush()
print("\\nMODULES " + json.dumps(sorted(sys.modules)), file=sys.__stderr__)
"""


def _modules_loaded_by(*args: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", _LOADED, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    line = next(row for row in done.stderr.splitlines() if row.startswith("MODULES "))
    return set(json.loads(line.removeprefix("MODULES ")))


# Used by other commands or options only: a .npz, writing a file, a progress bar, pooling,
# transposed convolution, drawing.
NOT_FOR_THE_LESSON = {
    "zipfile",
    "tempfile",
    "rich.progress",
    "convcli.shapes.pooling",
    "convcli.shapes.transposed",
    "convcli.ops.pooling",
    "convcli.ops.transposed",
    "convcli.draw",
    "PIL",
    "matplotlib",
}


def test_run_on_the_lesson_imports_nothing_it_does_not_use() -> None:
    loaded = _modules_loaded_by("run", "samples/lesson_X.json", "samples/lesson_K_multi_out.json")
    assert "numpy" in loaded and "convcli.ops.conv" in loaded  # it did run
    assert not loaded & NOT_FOR_THE_LESSON, sorted(loaded & NOT_FOR_THE_LESSON)


@pytest.mark.parametrize("args", [("--help",), ("run", "--help")])
def test_help_imports_no_numpy_and_no_compute(args: tuple[str, ...]) -> None:
    loaded = _modules_loaded_by(*args)
    compute = {"numpy", "convcli.ops.algorithms", "convcli.ops.conv", "zipfile", "tempfile"}
    assert not loaded & compute, sorted(loaded & compute)


_REGISTERED = """
import importlib, json, sys
for module in sys.argv[1:]:
    importlib.import_module("convcli.cli." + module)
from convcli.cli._app import app
names = [info.name or info.callback.__name__.replace("_", "-") for info in app.registered_commands]
print(json.dumps(names))
"""


def _registered_by(*modules: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", _REGISTERED, *modules],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    names: list[str] = json.loads(done.stdout)
    return names


def test_each_command_is_registered_by_the_module_main_loads_for_it() -> None:
    from convcli.cli import COMMAND_MODULES, COMMANDS

    assert sorted(_registered_by(*COMMANDS)) == sorted(COMMAND_MODULES)
    for module in set(COMMAND_MODULES.values()):
        expected = sorted(name for name, owner in COMMAND_MODULES.items() if owner == module)
        assert sorted(_registered_by(module)) == expected, module


def test_a_command_line_loads_only_its_command_module() -> None:
    loaded = _modules_loaded_by("--lang", "zh", "run", "--help")
    commands = {f"convcli.cli.{name}" for name in ("compose", "draw", "grad", "learn", "net")}
    assert "convcli.cli.run" in loaded
    assert not loaded & commands, sorted(loaded & commands)
    # No command named (the help, a misspelt name): every command is there to list.
    assert {"convcli.cli.draw", "convcli.cli.net"} <= _modules_loaded_by("rnu")
