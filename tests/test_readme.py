"""README stays true: its example output is the tool's output, and every command is in it.

The README is the entrance; tests/test_docs.py checks the manual in docs/ (and the README's
length, links, and the Python names and package paths it shows).
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from convcli.cli import app

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def load_sync() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sync_readme", ROOT / "scripts/sync_readme.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def command_names() -> list[str]:
    group = get_command(app)
    return sorted(group.commands)  # type: ignore[attr-defined]


def test_readme_output_blocks_are_what_the_tool_prints() -> None:
    sync = load_sync()
    blocks = sync.BLOCK.findall(README)
    assert len(blocks) >= 5
    for command, shown in blocks:
        assert sync.command_output(command) == shown, f"README block for `{command}` is stale"


def test_readme_top_has_the_two_fresh_machine_commands() -> None:
    shell_blocks = re.findall(r"```sh\n(.*?)```", README, re.DOTALL)
    assert "pip install . && convcli run samples/" in shell_blocks[0]
    assert "pip install -e '.[test]' && pytest" in shell_blocks[1]
    sample = shell_blocks[0].split("convcli run ")[1].split()
    for name in sample:
        assert (ROOT / name).is_file(), name


def mentions(text: str, name: str) -> bool:
    """Whether ``text`` shows ``convcli NAME`` whole (``verify`` is not in ``verify-1x1``)."""
    return re.search(rf"\bconvcli {re.escape(name)}(?![\w-])", text) is not None


def test_mentions_matches_whole_command_names_only() -> None:
    assert mentions("run `convcli verify x.npy w.npy`", "verify")
    assert mentions("convcli verify\n", "verify") and mentions("(convcli verify)", "verify")
    assert not mentions("convcli verify-1x1", "verify")
    assert not mentions("convcli verifying", "verify")
    assert not mentions("myconvcli verify", "verify")


@pytest.mark.parametrize("name", command_names())
def test_every_command_is_in_the_readme(name: str) -> None:
    assert mentions(README, name)


@pytest.mark.parametrize("name", command_names())
def test_every_command_has_help_with_an_example(name: str) -> None:
    result = CliRunner().invoke(app, [name, "--help"])
    assert result.exit_code == 0
    assert "Example" in result.stdout
    assert mentions(result.stdout, name)


def test_ci_runs_the_readmes_test_command() -> None:
    ci = (ROOT / ".ci/run").read_text(encoding="utf-8")
    assert "pip install --quiet -e '.[test]'" in ci
    assert re.search(r"^\s*pytest$", ci, re.MULTILINE)
    # twice: with torch, and in a fresh venv without it, as the README's command runs
    with_torch, without = ci.split("without torch", 1)
    assert "torch==2.13.0" in with_torch and "readme_tests" in with_torch
    assert "torch==" not in without and "readme_tests" in without
