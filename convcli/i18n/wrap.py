"""Text measured in terminal cells: two for a wide (CJK) character, one for others.

Wrapping that may break between Chinese characters (which have no spaces between
words) but never inside a run of other characters (a number, an axis symbol, a flag),
and keeps closing punctuation off the start of a line. Stdlib only: the command line's
help and the rendered reports both use it.
"""

from __future__ import annotations

import functools
import re
import unicodedata

__all__ = ["cells", "has_wide", "is_wide", "join_lines", "longest_word", "wrap_cells"]

_WIDE = ("W", "F")
# Chinese punctuation that must not start a line, and that must not end one (the fullwidth
# forms are the point: RUF001 would have them ASCII).
_CLOSING = "，。、；：！？）」』》】”’,.;:!?)"  # noqa: RUF001
_OPENING = "（「『《【“‘"  # noqa: RUF001
# Fullwidth punctuation carries its own spacing: no space is added beside it.
_FULLWIDTH_PUNCT = "\uff08\uff09\uff0c\u3002\u3001\uff1b\uff1a\uff01\uff1f"
_CJK = "\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef"
# Signs that bind both sides (kept with both operands) and signs that bind what follows.
_COMPARISONS = "<=|>=|!=|==|<|>|\u2264|\u2265"
_RELATIONS = _COMPARISONS + "|=|->|\u2192|\u2248|\\+|-"


@functools.cache
def _tokens(wide: bool = True) -> re.Pattern[str]:
    """Spaces, one CJK character, one run of other characters, or a bracketed note holding
    Chinese (never split); punctuation kept on the side it belongs to.

    Compiled on first use, in two forms: ``wide`` for text with wide characters, and a
    narrow one for text without, where the CJK classes can never match and are left out
    (the same tokens; compiling the wide form's negated CJK classes costs about 15 ms,
    which every English report would pay at start-up).
    """
    cjk = f"[{_CJK}]" if wide else ""
    run = rf"[^\s{_CJK}]+" if wide else r"\S+"
    # A shape or tuple of numbers and symbols, (3, 2, 2) or (c_i/g*k_h*k_w, m_h*m_w), is one
    # word; a comparison (a < 2) too; a relation (= 432, -> (3, 2, 2)) goes with what follows
    # it: a formula never ends a line on its sign nor splits a comparison or a shape.
    item = r"[^\s(),]*[\d_*/][^\s(),]*"
    shape = rf"\({item}(?:, {item})+\)"
    operand = rf"(?:{shape}|{run})"
    comparison = rf"{run} (?:{_COMPARISONS}) {operand}"
    relation = rf"(?:{_RELATIONS}) {operand}"
    words = [comparison, relation, shape, run]
    if wide:
        bracket = rf"\[[^\s\[\]]*{cjk}[^\s\[\]]*\]"  # help's [default: 1] in Chinese: one word
        title = "\u300a[^\u300b\\s]{1,16}\u300b"  # a book's title: one word
        words = [bracket, comparison, relation, shape, cjk, run]
        head = rf"\s+|[{_OPENING}]*?{title}[{_CLOSING}]*|"
    else:
        head = r"\s+|"
    return re.compile(rf"{head}[{_OPENING}]*(?:{'|'.join(words)})[{_CLOSING}]*")


def cells(text: str) -> int:
    """Terminal cells ``text`` takes: two for a wide (CJK) character, one otherwise.

    >>> cells("卷积核 K")
    8
    """
    return sum(2 if is_wide(ch) else 1 for ch in text)


def is_wide(ch: str) -> bool:
    """Whether ``ch`` takes two terminal cells (East Asian wide or fullwidth)."""
    return unicodedata.east_asian_width(ch) in _WIDE


def _tight(before: str, after: str) -> bool:
    """No space between two characters: both CJK, or one fullwidth punctuation."""
    both = is_wide(before) and is_wide(after)
    return both or before in _FULLWIDTH_PUNCT or after in _FULLWIDTH_PUNCT


def join_lines(lines: list[str]) -> str:
    """Lines of one paragraph as one: a space between words, none between CJK characters
    nor beside fullwidth punctuation."""
    text = ""
    for line in (line.strip() for line in lines):
        if text and line and not _tight(text[-1], line[0]):
            text += " "
        text += line
    return text


def wrap_cells(text: str, width: int, initial_indent: str = "", subsequent_indent: str = "") -> str:
    """Wrap ``text`` to ``width`` terminal cells; CJK text may break between characters.

    >>> print(wrap_cells("输入通道 c_i 与输出通道 c_o", 12))
    输入通道 c_i
    与输出通道
    c_o
    """
    lines: list[str] = []
    line, used, space = initial_indent, cells(initial_indent), False
    fresh = True
    room = width - cells(subsequent_indent)
    for token in _bracketed(_tokens(has_wide(text)).findall(text), room):
        if token.isspace():
            space = not fresh
            continue
        gap = " " if space else ""
        size = cells(gap) + cells(token)
        if not fresh and used + size > width:
            lines.append(line)
            line, used, gap = subsequent_indent, cells(subsequent_indent), ""
            size = cells(token)
        line += gap + token
        used += size
        fresh, space = False, False
    lines.append(line)
    return "\n".join(lines)


# A word of prose (not a symbol such as n_h, 2p_h or k_h-1): its brackets may wrap.
_PROSE_WORD = re.compile(r"[A-Za-z]{2,}[,.;:!?]?")


def _bracketed(tokens: list[str], room: int) -> list[str]:
    """``tokens`` with each bracketed formula made one word, so a formula breaks only
    between its top-level terms: ``floor((n_h + 2p_h - d_h(k_h-1) - 1)/s_h) + 1`` breaks
    before ``+ 1`` and nowhere inside. Brackets holding prose (words, Chinese) or wider
    than ``room`` cells are left to wrap as words.

    >>> _bracketed(["a", " ", "= floor((n", " ", "+ 1)/2)", " ", "+ 1"], 80)
    ['a', ' ', '= floor((n + 1)/2)', ' ', '+ 1']
    """
    merged: list[str] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        depth = _depth(token)
        end = index
        while depth > 0 and end + 1 < len(tokens):
            end += 1
            depth += _depth(tokens[end])
        group = tokens[index : end + 1]
        words = [word for word in group[1:] if not word.isspace()]
        formula = (
            end > index
            and depth == 0
            and not any(_PROSE_WORD.fullmatch(word.lstrip("=+-<>")) for word in words)
            and not has_wide("".join(group))
        )
        joined = "".join(" " if word.isspace() else word for word in group)
        if formula and cells(joined) <= room:
            merged.append(joined)
            index = end + 1
        else:
            merged.append(token)
            index += 1
    return merged


def longest_word(text: str) -> int:
    """Cells of the widest piece ``wrap_cells`` never breaks, a bracketed formula whole.

    >>> longest_word("m = floor((n + 2p - 1)/s) + 1")
    23
    """
    tokens = _bracketed(_tokens(has_wide(text)).findall(text), 10**9)
    return max((cells(token) for token in tokens if not token.isspace()), default=0)


def _depth(token: str) -> int:
    return token.count("(") + token.count("[") - token.count(")") - token.count("]")


def has_wide(text: str) -> bool:
    """Whether any character of ``text`` is wide.

    >>> has_wide("kernel"), has_wide("卷积核")
    (False, True)
    """
    return any(is_wide(ch) for ch in text)
