"""Issue 19 defect 12: a formula breaks only between its top-level terms, never inside a
bracket, at every width where the bracket fits on a line."""

from __future__ import annotations

import pytest
from clitools import invoke
from hypothesis import given
from hypothesis import strategies as st

from convcli.i18n.wrap import longest_word, wrap_cells


def _balanced(line: str) -> bool:
    depth = 0
    for char in line:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            return False
    return depth == 0


def _formula_lines(text: str, keys: tuple[str, ...]) -> list[str]:
    """The lines of the values under ``keys`` in a key-value section (either layout)."""
    lines, taking = [], False
    for line in text.splitlines():
        words = line.split()
        if words and words[0] in keys:
            taking = True
            rest = line.strip()[len(words[0]) :].strip()
            if rest:
                lines.append(rest)
            continue
        if taking and line.startswith("    ") and words:
            lines.append(line.strip())
        else:
            taking = False
    return lines


CASES = {
    "conv": (
        ["shapes", "--input-shape", "64x56x56", "--kernel-shape", "128x64x3x3", "-s", "2"],
        ("m_h", "m_w"),
    ),
    "conv uneven padding": (
        ["shapes", "--input-shape", "3x10x10", "--kernel-shape", "4x3x4x4", "-p", "same"],
        ("m_h", "m_w"),
    ),
    "transposed": (
        [
            "shapes",
            "--transposed",
            "--input-shape",
            "256x16x16",
            "--kernel-shape",
            "256x128x4x4",
            "-s",
            "2",
            "-p",
            "1",
        ],
        ("m_h", "m_w"),
    ),
    "pool": (
        [
            "shapes",
            "--pool",
            "max",
            "--input-shape",
            "64x112x112",
            "--kernel-size",
            "3",
            "-s",
            "2",
            "-p",
            "1",
            "--ceil-mode",
        ],
        ("m_h", "m_w"),
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_size_formulas_never_break_inside_a_bracket(name: str, lang: str) -> None:
    args, keys = CASES[name]
    for width in range(52, 201, 7):
        result = invoke("--lang", lang, *args, env={"COLUMNS": str(width), "NO_COLOR": "1"})
        assert result.exit_code == 0, result.output
        lines = _formula_lines(result.stdout, keys)
        assert len(lines) >= 2 * len(keys), (width, result.stdout)
        for line in lines:
            assert _balanced(line), (width, line)
        joined = " ".join(lines)
        assert "((n_h + " in joined or "(n_h-1)*s_h" in joined, joined


TERM = st.builds(
    lambda name, inner: f"{name}({inner})",
    st.sampled_from(["floor", "ceil", ""]),
    st.lists(
        st.sampled_from(["n_h", "2p_h", "d_h(k_h-1)", "1", "s_h"]), min_size=1, max_size=4
    ).map(lambda parts: " + ".join(parts)),
)


@given(st.lists(TERM, min_size=1, max_size=5), st.integers(10, 80))
def test_wrap_breaks_between_terms_where_each_term_fits(terms: list[str], width: int) -> None:
    formula = "m_h = " + " + ".join(terms)
    wrapped = wrap_cells(formula, width).split("\n")
    assert " ".join(wrapped) == formula
    if longest_word(formula) <= width:
        for line in wrapped:
            assert _balanced(line), (width, line)
            assert len(line) <= width


def test_prose_in_brackets_still_wraps() -> None:
    text = "MACs (every input value times every tap; bias excluded) = 1,024"
    assert longest_word(text) < 20
    assert all(len(line) <= 20 for line in wrap_cells(text, 20).split("\n"))
