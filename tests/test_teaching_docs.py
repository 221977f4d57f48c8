"""docs/teaching.md stays true: its example output is the tool's output."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "teaching.md").read_text(encoding="utf-8")


def load_sync() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sync_readme", ROOT / "scripts/sync_readme.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SYNC = load_sync()
BLOCKS = SYNC.BLOCK.findall(DOC)


@pytest.mark.parametrize(("command", "shown"), BLOCKS, ids=[c for c, _ in BLOCKS])
def test_teaching_doc_blocks_are_what_the_tool_prints(command: str, shown: str) -> None:
    assert SYNC.command_output(command) == shown, f"docs/teaching.md block `{command}` is stale"


@pytest.mark.parametrize(
    "needle",
    [
        "convcli explain",
        "convcli verify ",
        "--heatmap",
        "--padding-mode",
        "--flip",
        "receptive_field",
        "separable",
    ],
)
def test_teaching_doc_covers_every_feature(needle: str) -> None:
    assert any(needle in command for command, _ in BLOCKS) or needle in DOC
