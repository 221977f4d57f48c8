"""Command-line manners: help, usage, pipes, completion, sample files, progress."""

from __future__ import annotations

import filecmp
import itertools
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from clitools import SAMPLES, assert_usage_error, invoke, runner

from convcli.cli import app
from convcli.cli._app import fit_lines
from convcli.tensorio.samples import sample_names

RUN_LESSON = ["run", f"{SAMPLES}/lesson_X.json", f"{SAMPLES}/lesson_K_multi_out.json"]


def test_bare_convcli_prints_the_help() -> None:
    bare, helped = invoke(), invoke("--help")
    assert bare.exit_code == 0, bare.output
    assert bare.stderr == ""
    assert bare.stdout == helped.stdout
    assert bare.stdout.startswith("Usage: convcli [OPTIONS] COMMAND")


def help_at(width: int, *args: str) -> str:
    """``convcli ARGS --help`` as a terminal ``width`` columns wide shows it."""
    result = runner.invoke(app, [*args, "--help"], terminal_width=width)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_the_command_list_keeps_every_summary_whole() -> None:
    text = help_at(60)
    commands = " ".join(text.split("Commands:")[1].split())
    assert "..." not in commands
    assert "demo Replay the lesson: multi-in, multi-out with K, K+1, K+2, and the 1x1 check." in (
        commands
    )


@pytest.mark.parametrize("command", ["run", "explain", "verify", "shapes", "verify-1x1"])
def test_usage_shows_arguments_without_braces(command: str) -> None:
    usage = invoke(command, "--help").stdout.splitlines()[0]
    assert "{" not in usage and "}" not in usage
    assert "INPUT" in usage


@pytest.mark.parametrize("width", [60, 80])
@pytest.mark.parametrize("command", ["run", "demo", "shapes", "explain", "verify", "verify-1x1"])
def test_help_fits_the_width_without_breaking_words(width: int, command: str) -> None:
    text = help_at(width, command)
    for line in text.splitlines():
        assert len(line) <= width, line
    assert "[req\n" not in text and "uired]" not in text.replace("[required]", "")
    # an example too long for the width continues as the shell reads it
    examples = text.split("Example")[1].split("\n\n")[0]
    joined = examples.replace(" \\\n", " ")
    assert all(" ".join(line.split()).startswith("convcli ") for line in joined.splitlines()[1:])


def test_fit_lines_wraps_prose_at_spaces() -> None:
    text = "  Also: the receptive field ((k-1)d+1 per axis) and the depthwise-separable"
    assert fit_lines(text, 40).splitlines() == [
        "  Also: the receptive field ((k-1)d+1",
        "  per axis) and the depthwise-separable",
    ]


def test_a_closed_pipe_ends_convcli_quietly() -> None:
    """``convcli run ... | head -3``: exit 0 or SIGPIPE, as Unix tools end, nothing on stderr."""
    env = {**os.environ, "COLUMNS": "80"}
    big = [*RUN_LESSON, "--full"]
    process = subprocess.Popen(
        [sys.executable, "-c", "from convcli.cli import main; main()", *big],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        bufsize=0,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.read(10)
    process.stdout.close()  # the reader goes away, as head does
    err = process.stderr.read()
    process.stderr.close()
    code = process.wait(timeout=60)
    assert code in (0, -signal.SIGPIPE), err
    assert err == b""


def test_shell_completion_is_offered() -> None:
    helped = invoke("--help").stdout
    assert "--install-completion" in helped and "--show-completion" in helped
    script = invoke("--show-completion", "bash")
    assert script.exit_code == 0
    assert "_CONVCLI_COMPLETE" in script.stdout


def test_completion_completes_commands_and_options() -> None:
    env = {**os.environ, "_CONVCLI_COMPLETE": "complete_bash", "COMP_CWORD": "2"}
    env["COMP_WORDS"] = "convcli run --pad"
    script = shutil.which("convcli", path=os.path.dirname(sys.executable))
    assert script is not None, "the convcli script is installed beside python"
    done = subprocess.run(
        [script],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout.split() == ["--padding", "--padding-mode"]


def test_demo_writes_the_sample_files(tmp_path: Path) -> None:
    result = invoke("demo", "--write", str(tmp_path / "samples"))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert f"wrote {len(sample_names())} sample files" in result.stderr
    for name in sample_names():
        assert filecmp.cmp(tmp_path / "samples" / name, SAMPLES / name, shallow=False), name
    again = invoke("demo", "--write", str(tmp_path / "samples"))
    assert_usage_error(again, "lesson_X.json exists", "--force")
    forced = invoke("demo", "--write", str(tmp_path / "samples"), "--force")
    assert forced.exit_code == 0, forced.output


def test_demo_force_needs_write() -> None:
    assert_usage_error(invoke("demo", "--force"), "--force", "--write")


def test_piped_output_has_no_trailing_spaces() -> None:
    for args in (RUN_LESSON, ["demo"], ["shapes"], ["verify-1x1"]):
        text = invoke(*args).stdout
        assert text.strip()
        assert not [line for line in text.splitlines() if line.endswith(" ")], args


def test_help_lists_the_commands_in_the_lessons_order() -> None:
    from convcli.cli._app import COMMAND_ORDER

    result = invoke("--help")
    assert result.exit_code == 0
    lines = result.stdout.split("Commands:", 1)[1].splitlines()
    # A command's line starts two spaces in; its summary's continuation lines start further.
    shown = [line.split()[0] for line in lines if line.startswith("  ") and line[2] != " "]
    assert shown == list(COMMAND_ORDER)


SECTIONED = [
    ["shapes", "--input-shape", "3x32x32", "--kernel-shape", "16x3x3x3", "--padding", "1"],
    ["explain", f"{SAMPLES}/lesson_X.json", f"{SAMPLES}/lesson_K_multi_out.json", "--at", "0,0,0"],
    ["demo"],
    RUN_LESSON,
]
# Section headings of those outputs (English; the Chinese is looked up in the catalogue).
HEADINGS = ["depthwise-separable alternative", "sum", "comparison", "output size and cost"]


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("args", SECTIONED, ids=lambda args: args[0])
def test_sections_are_one_blank_line_apart(args: list[str], lang: str) -> None:
    """A section never starts on the line under the previous one: one blank line between
    them (after a grid's bottom edge too), never two."""
    from convcli.i18n import _, current_language, set_language

    was = current_language()
    set_language(lang)
    try:
        headings = {_(heading) for heading in HEADINGS}
    finally:
        set_language(was)
    for width in (60, 80, 200):
        result = invoke(*args, "--lang", lang, env={"COLUMNS": str(width)})
        assert result.exit_code == 0, result.output
        lines = [line.rstrip() for line in result.stdout.splitlines()]
        assert "\n\n\n" not in "\n".join(lines)
        for at, line in enumerate(lines[1:], 1):
            if line in headings or lines[at - 1].startswith("╰"):
                before_after = lines[at - 1] if line in headings else line
                assert before_after == "", (width, lines[at - 2 : at + 2])


def _commands() -> list[list[str]]:
    import typer.main

    from convcli.cli import app as the_app

    group = typer.main.get_command(the_app)
    names: list[str] = sorted(group.commands)  # type: ignore[attr-defined]
    return [[], *([name] for name in names)]


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("width", [60, 80, 100, 200])
def test_every_help_reflows_to_the_width(width: int, lang: str) -> None:
    """Every command's help, in both languages: each line fits the width; a paragraph of
    the description wraps where the next word would not fit (no ragged fixed breaks);
    a line after a shell continuation (``\\``) is still part of the command."""
    from convcli.i18n.wrap import cells, wrap_cells

    for command in _commands():
        result = runner.invoke(app, [*command, "--help", "--lang", lang], terminal_width=width)
        assert result.exit_code == 0, result.output
        lines = result.stdout.splitlines()
        for line in lines:
            assert cells(line) <= width, (command, width, line)
        for before, after in itertools.pairwise(lines):
            if before.endswith(" \\"):
                assert len(after) - len(after.lstrip()) == 8, (command, before, after)
        headings = [i for i, line in enumerate(lines) if i and line[:1] not in ("", " ")]
        description = lines[: headings[0]]  # up to "Options:", in either language
        for before, after in itertools.pairwise(description):
            indent = len(before) - len(before.lstrip())
            if indent != 2 or not after.strip() or len(after) - len(after.lstrip()) != 2:
                continue
            if before.rstrip().endswith(":"):
                continue
            first = wrap_cells(after.strip(), 1).splitlines()[0]
            assert cells(before) + 1 + cells(first) > width, (command, width, before, after)
