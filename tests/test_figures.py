"""The docs' pictures are what convcli draw writes today (SVG text compared byte for byte)."""

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


def test_every_figure_is_shown_with_its_command() -> None:
    """Each figure is on the README or a docs page, with the command that draws it beside it."""
    script = load_script()
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    shown: dict[str, str] = {}
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for picture in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text):
            made = (page.parent / picture).resolve().relative_to(ROOT).as_posix()
            shown.setdefault(made, "")
            shown[made] += text
    for name, command in script.FIGURES.items():
        assert name in shown, f"{name} is shown on no page"
        assert command in shown[name], f"{name}'s command is not on a page that shows it"
