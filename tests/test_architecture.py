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
