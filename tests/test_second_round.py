"""Issue 19, "First use, second round": the heatmap's whole cells, explain's padding mark
and default position, command suggestions in one language, the drawing extra's install
command, and the small slips (dilation that is not there, singular counts)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from clitools import SAMPLES, assert_usage_error, invoke, save
from rich.console import Console
from rich.segment import Segment
from test_i18n import english_words, zh

from convcli.draw.deps import EXTRA_HINT, install_hint
from convcli.render.widgets import heat_scale, matrix_table
from convcli.shapes.netspec import LAYER_NAMES

X = str(SAMPLES / "lesson_X.json")
K_IN = str(SAMPLES / "lesson_K_multi_in.json")
K_OUT = str(SAMPLES / "lesson_K_multi_out.json")
BIAS = str(SAMPLES / "lesson_bias.json")
PLAIN = {"COLUMNS": "80", "NO_COLOR": "1", "TERM": "dumb"}


def _text(renderable: object, width: int) -> str:
    console = Console(width=width, no_color=True, file=io.StringIO(), record=True)
    console.print(renderable)
    return console.export_text()


# --- 3. the heatmap colours whole cells -------------------------------------------------


def _body_rows(matrix: np.ndarray, width: int = 80) -> list[list[Segment]]:
    console = Console(width=width, color_system="truecolor", force_terminal=True)
    table = matrix_table(matrix, "Y", scale=heat_scale(matrix))
    lines = list(Segment.split_lines(console.render(table)))
    # title, top border, header, rule, the rows, bottom border
    return lines[4 : 4 + matrix.shape[0]]


def _cells(line: list[Segment]) -> list[list[Segment]]:
    """The segments between the table's bars, one list per cell (the row label's first)."""
    cells: list[list[Segment]] = []
    for segment in line:
        if segment.text == "│":
            cells.append([])
        elif cells:
            cells[-1].append(segment)
    return [cell for cell in cells if cell]


@pytest.mark.parametrize(
    "matrix",
    [np.arange(-6, 6).reshape(3, 4), np.array([[0.5, 12.25], [100.0, -3.0]]), np.eye(2) * 7],
)
def test_heatmap_colours_every_character_of_every_cell(matrix: np.ndarray) -> None:
    for line in _body_rows(matrix):
        label, *values = _cells(line)
        assert len(values) == matrix.shape[1]
        for cell in values:
            backgrounds = {
                segment.style.bgcolor.triplet if segment.style and segment.style.bgcolor else None
                for segment in cell
            }
            # One colour from bar to bar: the padding either side of the digits too.
            assert len(backgrounds) == 1 and None not in backgrounds, cell
            assert "".join(segment.text for segment in cell).startswith(" ")
        assert all(segment.style is None or segment.style.bgcolor is None for segment in label)


def test_heatmap_cells_differ_by_value_and_plain_text_is_unchanged() -> None:
    matrix = np.arange(-6, 6).reshape(3, 4)
    first = _cells(_body_rows(matrix)[0])[1:]
    colours = {cell[0].style.bgcolor.triplet for cell in first}  # type: ignore[union-attr]
    assert len(colours) > 1
    plain = _text(matrix_table(matrix, "Y", scale=heat_scale(matrix)), 80)
    assert plain == _text(matrix_table(matrix, "Y"), 80)
    assert "│ 0 │ -6 │ -5 │ -4 │ -3 │" in plain


def test_run_heatmap_escapes_colour_the_padding() -> None:
    env = {"FORCE_COLOR": "1", "NO_COLOR": "", "COLUMNS": "80"}
    result = invoke("run", X, K_OUT, "--heatmap", env=env)
    assert result.exit_code == 0
    coloured = [line for line in result.stdout.splitlines() if "\x1b[30;" in line]
    assert coloured
    for line in coloured:
        # No plain space between a bar and a coloured number (the gaps of issue 19).
        assert "│ \x1b[3" not in line and "│ \x1b[9" not in line, line
        assert "\x1b[0m │" not in line, line


# --- 9. explain marks padding with brackets, and says so --------------------------------


def test_explain_marks_padding_in_brackets_with_a_legend() -> None:
    result = invoke(
        "explain", X, K_OUT, "--at", "2,0,0", "-p", "1", "--padding-mode", "reflect", env=PLAIN
    )
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "*" not in "".join(line for line in out.splitlines() if "│" in line)
    assert "│ -1 │ [4] │ [3] │" in out  # row -1 reflects row 1: X[0] is 0..8, rows of 3
    assert "│ 0 │ [8] │ [9] │" in out  # products 4*2 and 3*3, marked as padding
    assert "4*2 + 3*3 + 1*4 + 0*5 = 21" in out
    assert "[v] is padding: 3 of 4 taps per channel read reflect copies of input cells" in out


def test_pool_explain_marks_padding_the_same_way() -> None:
    result = invoke("pool", X, "--kernel-size", "2", "-p", "1", "--at", "0,0,0", env=PLAIN)
    assert result.exit_code == 0, result.output
    assert "[v] is padding: 3 taps, counted as -inf (never wins)" in result.stdout
    assert "*" not in "".join(line for line in result.stdout.splitlines() if "│" in line)


# --- 10. explain without --at explains the first value ----------------------------------


@pytest.mark.parametrize(
    ("kernel", "extra", "position"),
    [(K_IN, [], "0,0"), (K_OUT, [], "0,0,0"), (K_OUT, ["--bias", BIAS, "-p", "1"], "0,0,0")],
)
def test_explain_defaults_to_the_first_output_value(
    kernel: str, extra: list[str], position: str
) -> None:
    default = invoke("explain", X, kernel, *extra, env=PLAIN)
    given = invoke("explain", X, kernel, *extra, "--at", position, env=PLAIN)
    assert default.exit_code == 0 and given.exit_code == 0, default.output
    assert default.stdout == given.stdout
    assert default.stderr == (
        f"convcli: note: no --at: explaining the first output value, at {position}\n"
    )
    assert given.stderr == ""


def test_explain_default_with_json_keeps_stdout_json() -> None:
    result = invoke("explain", X, K_OUT, "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["position"] == [0, 0, 0]
    assert "no --at" in result.stderr


def test_explain_transposed_defaults_too(tmp_path: Path) -> None:
    x = save(tmp_path / "x.npy", np.arange(8.0).reshape(2, 2, 2))
    w = save(tmp_path / "w.npy", np.ones((2, 3, 2, 2)))
    default = invoke("explain", x, w, "--transposed", env=PLAIN)
    given = invoke("explain", x, w, "--transposed", "--at", "0,0,0", env=PLAIN)
    assert default.exit_code == 0, default.output
    assert default.stdout == given.stdout
    assert "at 0,0,0" in default.stderr


# --- 10. slips ----------------------------------------------------------------------------


def test_swapped_arguments_do_not_mention_dilation_when_there_is_none(tmp_path: Path) -> None:
    x = save(tmp_path / "x.npy", np.ones((1, 3, 3)))
    k = save(tmp_path / "k.npy", np.ones((1, 1, 5, 5)))
    line = assert_usage_error(invoke("run", x, k), "did you swap INPUT and KERNEL?")
    assert "dilated" not in line and "kernel height 5 is larger" in line
    dilated = assert_usage_error(invoke("run", k, x, "--dilation", "3"))
    assert "(dilated to 7)" in dilated


def test_pool_window_without_dilation_does_not_mention_it() -> None:
    line = assert_usage_error(
        invoke("shapes", "--pool", "max", "--input-shape", "1x2x2", "--kernel-size", "3")
    )
    assert "dilated" not in line
    dilated = assert_usage_error(
        invoke(
            "shapes",
            "--pool",
            "max",
            "--input-shape",
            "1x4x4",
            "--kernel-size",
            "2",
            "--dilation",
            "4",
        )
    )
    assert "dilated to 5" in dilated


def test_one_column_block_is_singular() -> None:
    text = _text(matrix_table(np.arange(2 * 3).reshape(2, 3) * 1000, "Y"), 14)
    flat = " ".join(text.split())
    assert "Y, column 0 of 3" in flat and "Y, column 2 of 3" in flat
    assert "columns" not in flat


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["net", "Conv2d(1, 8, kernel_size=3)", "--input-shape", "1x3x9x9"],
            "states 1 input channel, 3 arrive",
        ),
        (
            ["net", "Conv2d(3, 8, kernel_size=3)", "--input-shape", "1x1x9x9"],
            "states 3 input channels, 1 arrives",
        ),
        (["net", "BatchNorm2d(1)", "--input-shape", "1x3x9x9"], "states 1 feature, 3 arrive"),
        (["run", X, K_OUT, "--groups", "2"], "does not divide the 3 output channels"),
    ],
)
def test_counts_agree_with_their_nouns(args: list[str], expected: str) -> None:
    assert_usage_error(invoke(*args, env=PLAIN), expected)


def test_one_input_channel_is_singular(tmp_path: Path) -> None:
    x = save(tmp_path / "x.npy", np.ones((1, 5, 5)))
    k = save(tmp_path / "k.npy", np.ones((2, 1, 3, 3)))
    line = assert_usage_error(invoke("run", x, k, "--groups", "2"))
    assert "the 1 input channel" in line and "channels" not in line.split("output")[0]


# --- 4. no English left in Chinese usage errors --------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["runn"],
        ["explan", X, K_IN],
        ["sha"],
        ["--versio"],
        ["run", X, K_IN, "--strid", "2"],
        ["run", X, K_IN, "--he"],
        ["run"],
        ["explain", X],
        ["run", X, K_IN, "--stride"],
        ["run", X, K_IN, "7"],
        ["run", X, K_IN, "--json=1"],
        ["net", "conv(8, k=3, groups=2)", "--input-shape", "1x3x9x9"],
        ["net", "Conv2d(1, 8, kernel_size=3)", "--input-shape", "1x3x9x9"],
        ["net", "conv(8,, k=3)", "--input-shape", "1x3x9x9"],
        ["net", "conv(8 k=3)", "--input-shape", "1x3x9x9"],
        ["net", "conv(8, k=3]", "--input-shape", "1x3x9x9"],
        ["net", "conv(8, k=3) >", "--input-shape", "1x3x9x9"],
        ["net", "foo(3)", "--input-shape", "1x3x9x9"],
        ["net", "conv(x)", "--input-shape", "1x3x9x9"],
        ["net", "conv(8, k=-1)", "--input-shape", "1x3x9x9"],
        ["net", "conv(8, k=3, padding_mode='mirror')", "--input-shape", "1x3x9x9"],
    ],
)
def test_usage_errors_speak_one_language(args: list[str]) -> None:
    code, out, err = zh(*args)
    assert code == 2 and out == "" and len(err.splitlines()) == 1, err
    assert "错误" in err
    assert english_words(err) - set(LAYER_NAMES) == set(), err  # layer names are code
    assert "。." not in err


def test_command_suggestion_in_chinese_and_english() -> None:
    _code, _out, err = zh("runn")
    assert "没有命令 'runn'。" in err and "'run'" in err and "Did you mean" not in err
    english = invoke("runn", env=PLAIN)
    assert "No such command 'runn'. Did you mean 'run'?" in english.stderr


# --- 5. the drawing extra's install command -------------------------------------------------


def test_install_hint_from_a_checkout(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "convcli"\n', encoding="utf-8")
    assert install_hint(tmp_path, cwd=tmp_path) == "pip install -e '.[draw]'"
    assert install_hint(tmp_path, cwd=tmp_path.parent) == f"pip install -e '{tmp_path}[draw]'"


def test_install_hint_from_an_installed_copy(tmp_path: Path) -> None:
    site = tmp_path / "site-packages"  # no pyproject: an installed copy
    local = json.dumps({"url": (tmp_path / "src").as_uri(), "dir_info": {}})
    assert install_hint(site, direct_url=local, cwd=tmp_path) == (
        f"pip install '{tmp_path / 'src'}[draw]'"
    )
    index = json.dumps({"url": "https://example.invalid/convcli.whl", "archive_info": {}})
    assert install_hint(site, direct_url=index) == EXTRA_HINT
    assert install_hint(site, direct_url="") == EXTRA_HINT
    assert install_hint(site, direct_url="{not json") == EXTRA_HINT
    other = tmp_path / "other"
    other.mkdir()
    (other / "pyproject.toml").write_text('[project]\nname = "else"\n', encoding="utf-8")
    assert install_hint(other, direct_url="") == EXTRA_HINT


def test_one_stamp_is_one_product(tmp_path: Path) -> None:
    x = save(tmp_path / "x.npy", np.ones((1, 2, 2)))
    w = save(tmp_path / "w.npy", np.ones((1, 1, 2, 2)))
    result = invoke("explain", x, w, "--transposed", "-s", "3", "--at", "0,0,0", env=PLAIN)
    assert result.exit_code == 0, result.output
    assert "total     1 product = 1" in result.stdout
    several = invoke("explain", x, w, "--transposed", "--at", "0,1,1", env=PLAIN)
    assert "4 products = 4" in several.stdout
