"""Values never disappear: every table kind at 40, 60, 80 and 200 columns, nothing cut."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from clitools import SAMPLES, invoke, json_of, save
from rich.cells import cell_len

WIDTHS = [40, 60, 80, 200]
NUMBER = re.compile(r"^-?\d+(\.\d+)?(e[-+]\d+)?\*?$")


def rows_of(text: str) -> list[list[str]]:
    """The cells of every table body row (row labels dropped); side-by-side tables apart.

    Each table's columns are read off its top border (``╭───┬──...╮``).
    """
    cells: list[list[str]] = []
    spans: list[tuple[int, int]] = []
    in_body = False
    for line in text.splitlines():
        if "╭" in line:
            starts = [m.start() for m in re.finditer("╭", line)]
            ends = [m.start() for m in re.finditer("╮", line)]
            spans = [(line.index("┬", a), b) for a, b in zip(starts, ends, strict=True)]
            in_body = False
        elif "├" in line:
            in_body = True
        elif "╰" in line:
            in_body = False
        elif in_body:
            for label_end, end in spans:
                if end < len(line):
                    cells.append([c.strip() for c in line[label_end + 1 : end].split("│")])
    return cells


def assert_nothing_cut(text: str, width: int) -> None:
    for line in text.splitlines():
        assert cell_len(line) <= width, line
        # rich marks a cut cell with an ellipsis glued to what is left of it
        assert not re.search(r"[\w.=)\]]…|…[\w(\[]", line), line
    for row in rows_of(text):
        for cell in row:
            assert cell == "…" or NUMBER.match(cell), f"{cell!r} in {row}"


def run_at(width: int, *args: str) -> str:
    result = invoke(*args, env={"COLUMNS": str(width), "NO_COLOR": "1"})
    assert result.exit_code in (0, 1), result.output
    assert_nothing_cut(result.stdout, width)
    return result.stdout


def numbers(text: str) -> list[float]:
    return sorted(float(c.rstrip("*")) for row in rows_of(text) for c in row if c != "…")


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("widths")
    rng = np.random.default_rng(10)
    return {
        "x30": save(folder / "x30.npy", rng.standard_normal((1, 30, 30)).astype(np.float32)),
        "k3": save(folder / "k3.npy", rng.standard_normal((1, 1, 3, 3)).astype(np.float32)),
        "x12": save(folder / "x12.npy", 1000 * rng.standard_normal((1, 12, 12))),
        "x3c": save(folder / "x3c.npy", rng.standard_normal((3, 9, 9)).astype(np.float32)),
        "k5": save(folder / "k5.npy", rng.standard_normal((2, 3, 5, 5)).astype(np.float32)),
        "tiny": save(folder / "tiny.npy", np.array([[[1e-9, -1e-9], [0.5, -0.25]]])),
    }


@pytest.mark.parametrize("width", WIDTHS)
def test_every_value_of_a_wide_result_is_printed_whole(files: dict[str, str], width: int) -> None:
    """A (28, 28) result: 784 values under the summary threshold, all printed, all whole."""
    text = run_at(width, "run", files["x30"], files["k3"])
    result = np.asarray(json_of(invoke("run", files["x30"], files["k3"], "--json"))["data"])
    assert numbers(text) == sorted(np.round(result.ravel(), 4).tolist())
    if width < 200:
        assert "columns 0 to" in text  # and it says it wrapped


@pytest.mark.parametrize("width", WIDTHS)
def test_full_prints_every_value_of_a_summarised_result(files: dict[str, str], width: int) -> None:
    x = files["x3c"]
    text = run_at(width, "run", x, files["k5"], "-p", "2", "--full", "--heatmap")
    result = np.asarray(json_of(invoke("run", x, files["k5"], "-p", "2", "--json"))["data"])
    assert numbers(text) == sorted(np.round(result.ravel(), 4).tolist())


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize(
    "args",
    [
        ["verify", "{x12}", "{k3}"],
        ["verify", "{x3c}", "{k5}", "-p", "1", "--full"],
        ["explain", "{x3c}", "{k5}", "--at", "1,2,2", "-p", "2"],
        ["shapes", "--input-shape", "4x64x512x512", "--kernel-shape", "128x64x3x3", "-p", "1"],
        ["run", "{x3c}", "{k5}"],
        ["run", "{tiny}", "{tiny}", "--mode", "multi-in"],
        ["verify-1x1", "--input-shape", "3x4x30"],
        ["demo"],
    ],
    ids=lambda a: " ".join(a[:2]) if isinstance(a, list) else str(a),
)
def test_no_table_is_cut(files: dict[str, str], width: int, args: list[str]) -> None:
    run_at(width, *[arg.format(**files) for arg in args])


def test_verify_prints_its_unfolded_matrix_whole(files: dict[str, str]) -> None:
    """verify's 9x100 X_cols: 900 values, under the threshold, every one printed."""
    text = run_at(80, "verify", files["x12"], files["k3"])
    x_cols = text.split("\nX_cols", 1)[1].split("\nW")[0]
    assert len(numbers(x_cols)) == 900


def test_a_shapes_table_that_does_not_fit_lists_the_tensors(tmp_path: Path) -> None:
    text = run_at(40, "run", f"{SAMPLES}/lesson_X.json", f"{SAMPLES}/lesson_K_multi_out.json")
    assert "kernel 3x2x2x2 float32" in text
    assert "c_o=3  c_i=2  k_h=2  k_w=2" in text


def test_rounded_tiny_values_print_without_a_sign(files: dict[str, str]) -> None:
    text = run_at(80, "run", files["tiny"], files["tiny"], "--mode", "multi-in")
    assert "-0.0000" not in text


def test_a_summarised_matrix_gives_up_edge_columns_before_it_wraps(tmp_path: Path) -> None:
    """Summarised by width as by count: fewer edge columns, then blocks only if needed."""
    rng = np.random.default_rng(3)
    x = save(tmp_path / "x.npy", rng.standard_normal((2, 8, 20, 20)).astype(np.float32))
    w = save(tmp_path / "w.npy", rng.standard_normal((8, 8, 3, 3)).astype(np.float32))
    wide, narrow = run_at(120, "run", x, w, "-p", "1"), run_at(60, "run", x, w, "-p", "1")
    assert "columns" not in wide + narrow  # no blocks: fewer edge columns instead
    first = next(line for line in wide.splitlines() if "│ …" in line and "0 │" in line)
    assert [c.strip() for c in first.split("│")[2:9]] == ["0", "1", "2", "…", "17", "18", "19"]
    header = next(line for line in narrow.splitlines() if "│ …" in line and "0 │" in line)
    assert [c.strip() for c in header.split("│")[2:-1]] == ["0", "1", "…", "18", "19"]
