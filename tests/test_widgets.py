"""Rendering widgets, drawn at fixed widths through the project's own console factory.

In the style of rich's own tests (tests/test_panel.py): each widget is printed by
``make_console(file=..., width=...)``, the console every command uses, and compared line by
line with what it must look like. A change to a layout shows here as a diff.
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Callable

import numpy as np
import pytest

from convcli.render.widgets import (
    Renderable,
    TensorRow,
    make_console,
    print_sections,
    render_array,
    render_columns,
    render_heat_legend,
    render_key_values,
    render_line,
    render_matrix,
    render_shapes,
    render_stats,
    render_title,
)

LESSON_Y = np.array([[56.0, 72.0], [104.0, 120.0]], dtype=np.float32)

# id -> (console width, the renderable)
CASES: dict[str, tuple[int, Callable[[], Renderable]]] = {
    "shapes-with-files": (
        72,
        lambda: render_shapes(
            [
                TensorRow("input", (2, 3, 3), ("c_i", "n_h", "n_w"), "x.npy", "float32"),
                TensorRow("kernel", (3, 2, 2, 2), ("c_o", "c_i", "k_h", "k_w"), "k.npy", "int64"),
                TensorRow("bias", None, ("c_o",)),
                TensorRow("output", (3, 2, 2), ("c_o", "m_h", "m_w"), "", "float64"),
            ]
        ),
    ),
    "shapes-bare": (
        60,
        lambda: render_shapes(
            [TensorRow("input", (1, 28, 28), ("c_i", "n_h", "n_w"))], title="layer"
        ),
    ),
    "array-2d": (40, lambda: render_array(LESSON_Y, ("m_h", "m_w"))),
    "array-3d-side-by-side": (
        60,
        lambda: render_array(np.arange(8).reshape(2, 2, 2), ("c_o", "m_h", "m_w")),
    ),
    "array-3d-stacked-when-narrow": (
        20,
        lambda: render_array(np.arange(8).reshape(2, 2, 2), ("c_o", "m_h", "m_w")),
    ),
    "array-1d": (40, lambda: render_array(np.array([0.5, -2.81954, 3.0]), ("c_o",), name="b")),
    "array-summarised": (
        60,
        lambda: render_array(np.arange(40 * 40).reshape(40, 40), ("m_h", "m_w")),
    ),
    "array-full": (
        100,
        lambda: render_array(np.arange(3 * 8).reshape(3, 8) * 1.5, ("m_h", "m_w"), full=True),
    ),
    "matrix-marked": (
        40,
        lambda: render_matrix(
            np.array([[0, 1], [2, 3]]),
            "window",
            row_labels=[-1, 0],
            col_labels=[4, 5],
            marked=np.array([[True, False], [False, False]]),
        ),
    ),
    "key-values": (
        50,
        lambda: render_key_values(
            [("m_h", "floor((3 + 2*1 - 1*(2-1) - 1)/1) + 1 = 4"), ("params", "24")],
            title="output size and cost",
        ),
    ),
    "stats-non-finite": (
        60,
        lambda: render_stats(np.array([1.0, np.nan, -np.inf, 3.0]), label="input"),
    ),
    "line-literal-markup": (40, lambda: render_line("wrote [red]y[/].npy")),
    "title": (40, lambda: render_title("1. Multiple input channels")),
    "columns": (
        60,
        lambda: render_columns(render_line("left"), render_array(LESSON_Y, ("m_h", "m_w"))),
    ),
    "heat-legend-plain": (100, lambda: render_heat_legend(np.array([-2.0, 0.0, 4.0]))),
}

EXPECTED: dict[str, list[str]] = {
    "shapes-with-files": [
        "shapes                                                             ",
        "                                                                   ",
        "  tensor     shape   axes                         dtype     from   ",
        " ───────────────────────────────────────────────────────────────── ",
        "  input      2x3x3   c_i=2  n_h=3  n_w=3          float32   x.npy  ",
        "  kernel   3x2x2x2   c_o=3  c_i=2  k_h=2  k_w=2   int64     k.npy  ",
        "  bias           -   none                                          ",
        "  output     3x2x2   c_o=3  m_h=2  m_w=2          float64          ",
        "                                                                   ",
    ],
    "shapes-bare": [
        "layer                                       ",
        "                                            ",
        "  tensor     shape   axes                   ",
        " ────────────────────────────────────────── ",
        "  input    1x28x28   c_i=1  n_h=28  n_w=28  ",
        "                                            ",
    ],
    "array-2d": [
        "Y                ",
        "╭───┬─────┬─────╮",
        "│   │   0 │   1 │",
        "├───┼─────┼─────┤",
        "│ 0 │  56 │  72 │",
        "│ 1 │ 104 │ 120 │",
        "╰───┴─────┴─────╯",
    ],
    "array-3d-side-by-side": [
        "Y[c_o=0]       Y[c_o=1]     ",
        "╭───┬───┬───╮  ╭───┬───┬───╮",
        "│   │ 0 │ 1 │  │   │ 0 │ 1 │",
        "├───┼───┼───┤  ├───┼───┼───┤",
        "│ 0 │ 0 │ 1 │  │ 0 │ 4 │ 5 │",
        "│ 1 │ 2 │ 3 │  │ 1 │ 6 │ 7 │",
        "╰───┴───┴───╯  ╰───┴───┴───╯",
    ],
    "array-3d-stacked-when-narrow": [
        "Y[c_o=0]     ",
        "╭───┬───┬───╮",
        "│   │ 0 │ 1 │",
        "├───┼───┼───┤",
        "│ 0 │ 0 │ 1 │",
        "│ 1 │ 2 │ 3 │",
        "╰───┴───┴───╯",
        "             ",
        "Y[c_o=1]     ",
        "╭───┬───┬───╮",
        "│   │ 0 │ 1 │",
        "├───┼───┼───┤",
        "│ 0 │ 4 │ 5 │",
        "│ 1 │ 6 │ 7 │",
        "╰───┴───┴───╯",
    ],
    "array-1d": [
        "b                                ",
        "╭───┬────────┬─────────┬────────╮",
        "│   │      0 │       1 │      2 │",
        "├───┼────────┼─────────┼────────┤",
        "│ 0 │ 0.5000 │ -2.8195 │ 3.0000 │",
        "╰───┴────────┴─────────┴────────╯",
    ],
    "array-summarised": [
        "Y                                                   ",
        "╭────┬──────┬──────┬──────┬───┬──────┬──────┬──────╮",
        "│    │    0 │    1 │    2 │ … │   37 │   38 │   39 │",
        "├────┼──────┼──────┼──────┼───┼──────┼──────┼──────┤",
        "│  0 │    0 │    1 │    2 │ … │   37 │   38 │   39 │",
        "│  1 │   40 │   41 │   42 │ … │   77 │   78 │   79 │",
        "│  2 │   80 │   81 │   82 │ … │  117 │  118 │  119 │",
        "│  … │    … │    … │    … │ … │    … │    … │    … │",
        "│ 37 │ 1480 │ 1481 │ 1482 │ … │ 1517 │ 1518 │ 1519 │",
        "│ 38 │ 1520 │ 1521 │ 1522 │ … │ 1557 │ 1558 │ 1559 │",
        "│ 39 │ 1560 │ 1561 │ 1562 │ … │ 1597 │ 1598 │ 1599 │",
        "╰────┴──────┴──────┴──────┴───┴──────┴──────┴──────╯",
    ],
    "array-full": [
        "Y                                                                                    ",
        "╭───┬─────────┬─────────┬─────────┬─────────┬─────────┬─────────┬─────────┬─────────╮",
        "│   │       0 │       1 │       2 │       3 │       4 │       5 │       6 │       7 │",
        "├───┼─────────┼─────────┼─────────┼─────────┼─────────┼─────────┼─────────┼─────────┤",
        "│ 0 │  0.0000 │  1.5000 │  3.0000 │  4.5000 │  6.0000 │  7.5000 │  9.0000 │ 10.5000 │",
        "│ 1 │ 12.0000 │ 13.5000 │ 15.0000 │ 16.5000 │ 18.0000 │ 19.5000 │ 21.0000 │ 22.5000 │",
        "│ 2 │ 24.0000 │ 25.5000 │ 27.0000 │ 28.5000 │ 30.0000 │ 31.5000 │ 33.0000 │ 34.5000 │",
        "╰───┴─────────┴─────────┴─────────┴─────────┴─────────┴─────────┴─────────┴─────────╯",
    ],
    "matrix-marked": [
        "window",
        "╭────┬─────┬───╮",
        "│    │   4 │ 5 │",
        "├────┼─────┼───┤",
        "│ -1 │ [0] │ 1 │",
        "│  0 │   2 │ 3 │",
        "╰────┴─────┴───╯",
    ],
    "key-values": [
        "output size and cost                              ",
        "                                                  ",
        "  m_h      floor((3 + 2*1 - 1*(2-1) - 1)/1) + 1   ",
        "           = 4                                    ",
        "  params   24                                     ",
        "                                                  ",
    ],
    "stats-non-finite": [
        "input: 4 float64  min 1  max 3  mean 2  2 non-finite",
    ],
    "line-literal-markup": [
        "wrote [red]y[/].npy",
    ],
    "title": [
        "1. Multiple input channels",
    ],
    "columns": [
        "left  Y                ",
        "      ╭───┬─────┬─────╮",
        "      │   │   0 │   1 │",
        "      ├───┼─────┼─────┤",
        "      │ 0 │  56 │  72 │",
        "      │ 1 │ 104 │ 120 │",
        "      ╰───┴─────┴─────╯",
    ],
    "heat-legend-plain": [
        "heatmap: -2 █████ 0 █████ 4  (diverging: blue below 0, white at 0, red above)",
    ],
}


@pytest.fixture(autouse=True)
def plain_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment rich reads to force colours or a terminal: unset for every case."""
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "NO_COLOR", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)


def render(renderable: Renderable, width: int) -> list[str]:
    """The lines ``renderable`` prints on a ``width``-column console."""
    buffer = io.StringIO()
    make_console(file=buffer, width=width).print(renderable)
    text = buffer.getvalue()
    assert text.endswith("\n")
    return text[:-1].split("\n")


def test_every_case_has_a_snapshot() -> None:
    assert set(CASES) == set(EXPECTED)


@pytest.mark.parametrize("case", sorted(CASES))
def test_widget_snapshot(case: str) -> None:
    width, make = CASES[case]
    lines = render(make(), width)
    assert lines == EXPECTED[case]
    assert all(len(line) <= width for line in lines)


CHINESE_VALUE = (
    "参数量 c_o*c_i = 16*3 = 48（本层：432）；乘加运算次数76,800（本层：442,368）；"  # noqa: RUF001
    "浮点运算次数153,600（本层：884,736）"  # noqa: RUF001
)


def _cells(line: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line)


@pytest.mark.parametrize("width", range(40, 81))
def test_chinese_prose_fits_and_never_cuts_a_number(width: int) -> None:
    """rich folds a Chinese sentence (one long "word") wherever the width falls, inside
    numbers too; the key-value tables and lines wrap it between characters instead."""
    for renderable in (
        render_key_values([("乘加运算次数", CHINESE_VALUE)]),
        render_line(CHINESE_VALUE),
    ):
        lines = render(renderable, width)
        assert all(_cells(line) <= width for line in lines), lines
        text = "".join("".join(line.split()) for line in lines)
        assert text.endswith("".join(CHINESE_VALUE.split())), lines  # every character, in order
        for number in ("c_o*c_i", "76,800", "442,368", "153,600", "884,736"):
            assert any(number in line for line in lines), (number, lines)


FORMULA = (
    "input rows 0..1, cols 0..1: row = i*s_h - top + a*d_h = 0*1 - 0 + a*1, "
    "col = j*s_w - left + b*d_w = 0*1 - 0 + b*1 for the taps a < 2, b < 2"
)


@pytest.mark.parametrize("width", range(24, 90))
def test_a_formula_never_breaks_inside_a_comparison_nor_after_its_sign(width: int) -> None:
    for renderable in (render_line(FORMULA), render_key_values([("reads", FORMULA)])):
        lines = [line.rstrip() for line in render(renderable, width)]
        assert all(len(line) <= width for line in lines), lines
        assert " ".join(" ".join(lines).split()).endswith(FORMULA.replace("reads ", "")), lines
        assert sum(line.count("a < 2") + line.count("b < 2") for line in lines) == 2, lines
        for line in lines:
            assert not line.endswith(("=", "<", "+", "-")), (width, lines)
            assert not line.lstrip().startswith("2"), (width, lines)


def test_sections_are_one_blank_line_apart() -> None:
    buffer = io.StringIO()
    console = make_console(file=buffer, width=40)
    note, table = render_line("a note"), render_key_values([("k", "v")], title="heading")
    print_sections(console, [note, note, table, note, table, table])
    lines = [line.rstrip() for line in buffer.getvalue().split("\n")]
    assert lines[:5] == ["a note", "", "a note", "", "heading"]
    assert "\n\n\n" not in "\n".join(lines)
    assert lines.count("heading") == 3
    for at, line in enumerate(lines):
        if line in ("heading", "a note") and at:
            assert lines[at - 1] == "", lines


SHAPES_FORMULA = "X_cols (c_i/g*k_h*k_w, m_h*m_w) = (2*2*2, 2*2) = (8, 4); Y (3, 4) -> (3, 2, 2)"


@pytest.mark.parametrize("width", range(32, 90))  # from where the widest shape fits
def test_a_shape_is_never_split(width: int) -> None:
    lines = [line.rstrip() for line in render(render_key_values([("Y", SHAPES_FORMULA)]), width)]
    for shape in ("(c_i/g*k_h*k_w, m_h*m_w)", "= (2*2*2, 2*2)", "= (8, 4);", "-> (3, 2, 2)"):
        assert any(shape in line for line in lines), (shape, lines)
