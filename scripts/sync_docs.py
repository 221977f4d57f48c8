"""Keep the example output of README.md and docs/ true: rerun every ``$ convcli ...`` block.

    python scripts/sync_docs.py                  # rewrite README.md and docs/**/*.md in place
    python scripts/sync_docs.py --check          # exit 1 naming each out-of-date file
    python scripts/sync_docs.py docs/commands/   # only the files (or folders) named

A block is a fenced ``console`` block whose first line is ``$ convcli ...``; everything
after that line is the command's output (stdout, then stderr) at 80 columns, with
``NO_COLOR=1`` and in English unless the command asks for ``--lang zh``. The command may
end in ``| head -n N`` or ``| tail -n N`` (its first or last N lines of stdout, as a shell
pipe shows them, blank lines at either end not counted). Each block runs in-process
(typer's CliRunner) in a fresh temporary folder holding a copy of ``samples/``, so a
block that writes a file (``--output step.svg``, ``demo --write lesson``) writes it there
and never into the checkout.

Every Markdown file under docs/ is synced, docs/incoming/ (pages waiting to be folded in)
and docs/zh/ included. tests/test_docs.py and tests/test_readme.py run the check.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import sys
import tempfile
from pathlib import Path

from typer.testing import CliRunner

from convcli.cli import app

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
BLOCK = re.compile(r"```console\n\$ (convcli [^\n]*)\n(.*?)```", re.DOTALL)
# English unless a block asks for another language with --lang (the machine's locale aside).
ENV = {"COLUMNS": "80", "NO_COLOR": "1", "TERM": "dumb", "CONVCLI_LANG": "en"}
PIPE = re.compile(r"^(head|tail) -n (\d+)$")


def documents() -> list[Path]:
    """README.md and every Markdown page under docs/, in a stable order."""
    return [README, *sorted(DOCS.rglob("*.md"))]


def split_pipe(command: str) -> tuple[str, tuple[str, int] | None]:
    """``convcli ... | head -n 5`` as (``convcli ...``, ("head", 5)); no pipe gives None."""
    # A '|' inside quotes is the spec's own (concat(A | B)): only the last unquoted one pipes.
    words = shlex.split(command, posix=True)
    if "|" not in words:
        return command, None
    head, _, tail = command.rpartition(" | ")
    match = PIPE.match(tail.strip()) if words.count("|") == 1 else None
    if match is None:
        raise ValueError(f"only '| head -n N' or '| tail -n N' may follow a command: {command}")
    return head.strip(), (match.group(1), int(match.group(2)))


def run_in_sandbox(args: list[str]) -> tuple[str, str]:
    """stdout and stderr of ``convcli ARGS`` run in a temporary folder with samples/."""
    here = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="convcli-docs-") as folder:
        shutil.copytree(ROOT / "samples", Path(folder) / "samples")
        os.chdir(folder)
        try:
            result = CliRunner().invoke(app, args, env=ENV)
        finally:
            os.chdir(here)
    return result.stdout, result.stderr


def command_output(command: str) -> str:
    """What ``command`` prints, as a block shows it: trailing spaces removed."""
    convcli, pipe = split_pipe(command)
    stdout, stderr = run_in_sandbox(shlex.split(convcli)[1:])
    lines = [line.rstrip() for line in stdout.strip("\n").splitlines()]
    if pipe is not None:
        kind, count = pipe
        lines = lines[:count] if kind == "head" else lines[-count:]
    lines += [line.rstrip() for line in stderr.splitlines()]
    return "\n".join(lines).strip("\n") + "\n"


def synced(text: str) -> str:
    """Markdown text with every command block's output regenerated."""

    def replace(match: re.Match[str]) -> str:
        command = match.group(1)
        return f"```console\n$ {command}\n{command_output(command)}```"

    return BLOCK.sub(replace, text)


def stale_blocks(text: str) -> list[str]:
    """The commands of ``text``'s blocks whose output is not what the tool prints now."""
    return [command for command, shown in BLOCK.findall(text) if command_output(command) != shown]


def main(argv: list[str], default: list[Path] | None = None) -> int:
    check = "--check" in argv
    named = [
        page
        for arg in argv
        if arg != "--check"
        for page in (
            sorted(Path(arg).resolve().rglob("*.md"))
            if Path(arg).is_dir()
            else [Path(arg).resolve()]
        )
    ]
    paths = named or default or documents()
    stale = []
    for path in paths:
        text = path.read_text(encoding="utf-8")
        fresh = synced(text)
        if fresh == text:
            continue
        if check:
            stale.append(path.relative_to(ROOT).as_posix() if ROOT in path.parents else str(path))
        else:
            path.write_text(fresh, encoding="utf-8", newline="\n")
    if stale:
        print(f"out of date: {', '.join(stale)}: run python scripts/sync_docs.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
