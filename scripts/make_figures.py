"""Regenerate the docs' pictures: each is ``convcli draw`` on the shipped samples.

    python scripts/make_figures.py          # rewrite docs/figures/*.svg
    python scripts/make_figures.py --check  # exit 1 if a committed figure is stale

SVG text is deterministic (no library writes it), so the check compares bytes;
tests/test_figures.py runs it.
"""

from __future__ import annotations

import os
import shlex
import sys
import tempfile
from pathlib import Path

from typer.testing import CliRunner

from convcli.cli import app

ROOT = Path(__file__).resolve().parent.parent
FIGURES = {
    "docs/figures/lesson_step.svg": (
        "convcli draw samples/lesson_X.json samples/lesson_K_multi_in.json --at 0,0"
    ),
    "docs/figures/stride_padding.svg": (
        "convcli draw --input-shape 5x5 --kernel-shape 3x3 --stride 2 --padding 1 --at 1,2"
    ),
    "docs/figures/lesson_step_zh.svg": (
        "convcli --lang zh draw samples/lesson_X.json samples/lesson_K_multi_in.json --at 0,0"
    ),
    "docs/figures/pool_max.svg": (
        "convcli draw --pool max samples/lesson_X.json --kernel-size 2 --stride 1 --at 0,1,1"
    ),
    "docs/figures/transposed_step.svg": (
        "convcli draw --transposed --input-shape 2x2 --kernel-shape 3x3 --stride 2 --at 1,1"
    ),
    "docs/figures/grad_input_cell.svg": (
        "convcli draw samples/lesson_X.json samples/lesson_K_multi_out.json --grad --at 1,1,1 -p 1"
    ),
    "docs/figures/grad_transposed_cell.svg": (
        "convcli draw samples/lesson_1x1_X.json samples/lesson_K_multi_out.json --grad "
        "--transposed -s 2 -p 1 --output-padding 1 --at 0,1,1"
    ),
    "docs/figures/grad_pool_max.svg": (
        "convcli draw samples/lesson_X.json --grad --pool max -k 2 -s 1 --at 0,1,1"
    ),
}


def figure_text(command: str) -> str:
    """The SVG text ``command --output FILE.svg`` writes, run in the repository root."""
    here = os.getcwd()
    with tempfile.TemporaryDirectory() as folder:
        target = os.path.join(folder, "figure.svg")
        os.chdir(ROOT)
        try:
            result = CliRunner().invoke(app, [*shlex.split(command)[1:], "--output", target])
        finally:
            os.chdir(here)
        if result.exit_code != 0:
            raise RuntimeError(f"{command} failed: {result.stderr}")
        return Path(target).read_text(encoding="utf-8")


def main(argv: list[str]) -> int:
    stale = []
    for name, command in FIGURES.items():
        text = figure_text(command)
        path = ROOT / name
        if "--check" in argv:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="\n")
    if stale:
        print(f"stale: {', '.join(stale)}: run python scripts/make_figures.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
