"""The layers, checked by a tool: imports go one way, cli > render > tensorio > ops > shapes.

``lint-imports`` reads the ``layers`` contract in pyproject.toml ([tool.importlinter]); run
here too, a violation fails the README's test command and not only CI. Skipped when
import-linter (a test extra) is not installed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_imports_follow_the_layers(capsys: pytest.CaptureFixture[str]) -> None:
    cli = pytest.importorskip("importlinter.cli")
    status = cli.lint_imports(
        config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True
    )
    report = capsys.readouterr().out
    assert status == 0, report
    assert "0 broken" in report, report


PACKAGE = ROOT / "convcli"


def test_every_layer_folder_is_a_package() -> None:
    """Without __init__.py a folder is left out of a plain install and of the layer check."""
    folders = {path.parent for path in PACKAGE.rglob("*.py") if "__pycache__" not in path.parts}
    assert (
        sorted(str(f.relative_to(ROOT)) for f in folders if not (f / "__init__.py").exists()) == []
    )


# The third-party libraries each folder is for: banned everywhere else (ruff's TID251).
ALLOWED = {
    "render": {"rich"},
    "draw": {"rich", "matplotlib", "PIL"},
    "cli": {"typer"},
}


def test_each_folder_lifts_only_its_own_libraries_bans() -> None:
    tomllib = pytest.importorskip("tomllib")
    root = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    banned = root["tool"]["ruff"]["lint"]["flake8-tidy-imports"]["banned-api"]
    assert set().union(*ALLOWED.values()) <= set(banned)
    configs = {path.parent.name: path for path in PACKAGE.glob("*/ruff.toml")}
    assert set(configs) == set(ALLOWED)
    for folder, path in configs.items():
        config = tomllib.loads(path.read_text(encoding="utf-8"))
        assert config["extend"] == "../../pyproject.toml", path
        # A folder's table replaces the project's: it must repeat every other ban, word for word.
        own = config["lint"]["flake8-tidy-imports"]["banned-api"]
        assert own == {name: rule for name, rule in banned.items() if name not in ALLOWED[folder]}
