"""The README's pictures are what convcli draw writes today (SVG text compared byte for byte)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_figures", ROOT / "scripts/make_figures.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_figures_are_fresh() -> None:
    script = load_script()
    for name, command in script.FIGURES.items():
        committed = (ROOT / name).read_text(encoding="utf-8")
        assert script.figure_text(command) == committed, (
            f"{name} is stale: run python scripts/make_figures.py"
        )


def test_the_readme_shows_every_figure_and_its_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    script = load_script()
    shown = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", readme)
    for name, command in script.FIGURES.items():
        assert name in shown
        assert command in readme
