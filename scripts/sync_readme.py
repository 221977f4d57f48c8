"""Keep README's example output true: rerun every ``$ convcli ...`` block and paste its output.

    python scripts/sync_readme.py          # rewrite README.md in place
    python scripts/sync_readme.py --check  # exit 1 if README.md is out of date

A block is a fenced ``console`` block whose first line is ``$ convcli ...``; everything
after that line is the command's output (stdout, then stderr) at 80 columns.
tests/test_readme.py runs the check, so README's numbers always come from the tool.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
from pathlib import Path

from typer.testing import CliRunner

from convcli.cli import app

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
BLOCK = re.compile(r"```console\n\$ (convcli [^\n]*)\n(.*?)```", re.DOTALL)
# English unless a block asks for another language with --lang (the machine's locale aside).
ENV = {"COLUMNS": "80", "NO_COLOR": "1", "TERM": "dumb", "CONVCLI_LANG": "en"}


def command_output(command: str) -> str:
    """What ``command`` prints, run in the repository root, trailing spaces removed."""
    args = shlex.split(command)[1:]
    here = os.getcwd()
    os.chdir(ROOT)
    try:
        result = CliRunner().invoke(app, args, env=ENV)
    finally:
        os.chdir(here)
    text = result.stdout + result.stderr
    lines = [line.rstrip() for line in text.splitlines()]
    return "\n".join(lines).strip("\n") + "\n"


def synced(text: str) -> str:
    """README text with every command block's output regenerated."""

    def replace(match: re.Match[str]) -> str:
        command = match.group(1)
        return f"```console\n$ {command}\n{command_output(command)}```"

    return BLOCK.sub(replace, text)


def main(argv: list[str]) -> int:
    text = README.read_text(encoding="utf-8")
    fresh = synced(text)
    if "--check" in argv:
        if fresh != text:
            print("README.md is out of date: run python scripts/sync_readme.py", file=sys.stderr)
            return 1
        return 0
    README.write_text(fresh, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
