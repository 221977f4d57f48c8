"""run --heatmap: cells coloured by value, a legend, plain text when colour is off."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from rich.console import Console
from typer.testing import CliRunner

from convcli.cli import app
from convcli.render.widgets import HeatScale, heat_scale, render_array, render_heat_legend

SGR = re.compile(r"\x1b\[([0-9;]*)m")
X = "samples/lesson_X.json"
K_OUT = "samples/lesson_K_multi_out.json"
SIGNED = np.array([[-3.0, 0.0], [1.5, 6.0]])


def colour_codes(text: str) -> list[str]:
    """The SGR sequences that set a colour (foreground or background)."""
    found = []
    for params in SGR.findall(text):
        for code in params.split(";"):
            if code and (30 <= int(code) <= 49 or 90 <= int(code) <= 107):
                found.append(params)
                break
    return found


def plain(text: str) -> str:
    return SGR.sub("", text)


def rendered(console: Console, array: npt.NDArray[Any]) -> str:
    console.print(render_array(array, ("m_h", "m_w"), heatmap=True))
    console.print(render_heat_legend(array))
    file = console.file
    assert isinstance(file, io.StringIO)
    return file.getvalue()


def test_scale_is_diverging_for_signed_data_and_sequential_otherwise() -> None:
    signed = heat_scale(SIGNED)
    assert signed == HeatScale(low=-3.0, high=6.0, diverging=True)
    assert signed.rgb(0.0) == (247, 247, 247)
    blue, red = signed.rgb(-3.0), signed.rgb(6.0)
    assert blue[2] > blue[0] and red[0] > red[2]
    assert signed.rgb(6.0) == (178, 24, 43) and signed.position(-6.0) == 0.0
    positive = heat_scale(np.array([[56, 72], [104, 120]]))
    assert positive is not None and not positive.diverging
    assert positive.rgb(56) == (255, 255, 204) and positive.rgb(120) == (189, 0, 38)
    assert heat_scale(np.array([1 + 1j])) is None
    assert heat_scale(np.array([np.nan])) is None
    assert heat_scale(np.array([2.0, 2.0])) == HeatScale(2.0, 2.0, diverging=False)


def test_truecolor_terminal_gets_colours_and_the_numbers() -> None:
    console = Console(file=io.StringIO(), force_terminal=True, color_system="truecolor", width=80)
    text = rendered(console, SIGNED)
    assert "48;2;" in text  # 24-bit backgrounds
    assert colour_codes(text)
    visible = plain(text)
    for number in ("-3", "1.5", "6", "0"):
        assert number in visible
    assert "diverging" in visible and "█" in visible


def test_not_a_terminal_is_plain_text_with_the_numbers() -> None:
    text = rendered(Console(file=io.StringIO(), width=80), SIGNED)
    assert "\x1b" not in text
    for number in ("-3", "1.5", "6"):
        assert number in text


def test_no_color_drops_every_colour(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    console = Console(file=io.StringIO(), force_terminal=True, color_system="truecolor", width=80)
    text = rendered(console, SIGNED)
    assert colour_codes(text) == []
    assert "1.5" in plain(text)


def test_run_heatmap_through_the_cli() -> None:
    runner = CliRunner()
    args = ["run", X, K_OUT, "-p", "1", "--heatmap"]
    piped = runner.invoke(app, args)
    assert piped.exit_code == 0, piped.output
    assert "\x1b" not in piped.stdout
    assert "224" in piped.stdout and "heatmap: 4" in piped.stdout and "sequential" in piped.stdout
    coloured = runner.invoke(app, args, env={"FORCE_COLOR": "1", "NO_COLOR": ""})
    assert coloured.exit_code == 0, coloured.output
    assert colour_codes(coloured.stdout)
    assert "224" in plain(coloured.stdout)
    no_color = runner.invoke(app, args, env={"FORCE_COLOR": "1", "NO_COLOR": "1"})
    assert colour_codes(no_color.stdout) == []
    assert "224" in plain(no_color.stdout)


def test_run_heatmap_leaves_json_alone() -> None:
    runner = CliRunner()
    with_heatmap = runner.invoke(app, ["run", X, K_OUT, "--heatmap", "--json"])
    without = runner.invoke(app, ["run", X, K_OUT, "--json"])
    assert with_heatmap.exit_code == 0 and with_heatmap.stdout == without.stdout


def test_run_heatmap_of_signed_results_is_diverging(tmp_path: Path) -> None:
    runner = CliRunner()
    text = runner.invoke(app, ["run", X, K_OUT, "--flip", "--heatmap"]).stdout
    assert "sequential" in text
    np.save(tmp_path / "k.npy", -np.ones((1, 2, 2, 2), dtype=np.float32) + 0.3)
    signed = runner.invoke(app, ["run", X, str(tmp_path / "k.npy"), "--heatmap"])
    assert signed.exit_code == 0, signed.output
    assert "diverging" in signed.stdout
