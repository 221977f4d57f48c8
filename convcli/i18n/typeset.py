# ruff: noqa: RUF001, RUF002  (this module is about fullwidth punctuation)
"""Punctuation by language: English as it is written, Chinese with fullwidth punctuation.

The rule convcli's Chinese follows (the catalogue's own, checked by tests/test_i18n.py):
beside Chinese text, colons, commas, semicolons and parentheses are fullwidth (``：``,
``，``, ``；``, ``（）``) and have no spaces around them; ASCII punctuation stays where
it belongs to a formula, a shape, code or a value: ``(c_i, h, w)``, ``H,W``,
``x[0,1]``, ``'same'``.

Messages are built from pieces (an option's name, a translated sentence, the files an
error comes from), joined the English way. These helpers join them so that each language
gets its own punctuation; English output is never changed by them (it has no fullwidth
punctuation, and ``punctuate`` does nothing in English). Stdlib only.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

from convcli.i18n import _, current_language

__all__ = ["beside", "clauses", "punctuate", "spacing"]

# Fullwidth punctuation: it carries its own spacing, so no space goes next to it.
_OPEN = "（"
_PUNCT = "（）：；，。、！？"
_HAN = "\u4e00-\u9fff"
_FULLWIDTH = {":": "：", ";": "；", ",": "，"}
# The patterns, by name; compiled on first use (``_re``): only a language other than
# English needs them, and compiling them all costs about 15 ms at start-up.
_SOURCES = {
    "quoted": r"'[^'\n]*'",
    # An ASCII colon, semicolon or comma after a Chinese character or fullwidth
    # punctuation, or before a Chinese character: spaces around it go with it.
    "after": rf"(?<=[{_HAN}{_PUNCT}]) *([:;,]) *",
    "before": rf" *([:;,]) +(?=[{_HAN}])",
    # A list of values (option values, names) standing between Chinese words: 、 between.
    "list": (
        rf"(?<=[{_HAN}{_PUNCT}] )[A-Za-z0-9_.-]+(?:, [A-Za-z0-9_.-]+)+(?= ?[{_HAN}{_PUNCT}]|$)"
        rf"|(?<=[{_HAN}{_PUNCT}])[A-Za-z0-9_.-]+(?:, [A-Za-z0-9_.-]+)+(?= ?[{_HAN}{_PUNCT}]|$)"
    ),
    "space_before": rf" +(?=[{_PUNCT}])",
    "space_after": rf"(?<=[{_PUNCT.replace('）', '')}]) +",
    "han": rf"[{_HAN}]",
}


@functools.cache
def _re(name: str) -> re.Pattern[str]:
    """The pattern ``name`` of ``_SOURCES``, compiled once."""
    return re.compile(_SOURCES[name])


def spacing(left: str, right: str, space: str = " ") -> str:
    """The space between ``left`` and ``right``: none beside fullwidth punctuation.

    >>> spacing("96", "(weights only)"), spacing("96", "（只计权重）")
    (' ', '')
    """
    if (left and left[-1] in _PUNCT) or (right and right[0] in _PUNCT):
        return ""
    return space


def beside(left: str, right: str, space: str = " ") -> str:
    """``left`` and ``right`` with ``space`` between them, none beside fullwidth punctuation.

    >>> beside("corr2d", "(through conv2d)"), beside("corr2d", "（通过 conv2d）")
    ('corr2d (through conv2d)', 'corr2d（通过 conv2d）')
    """
    return left + spacing(left, right, space) + right


def clauses(parts: Iterable[str]) -> str:
    """Parts of one sentence, joined by the language's comma.

    >>> clauses(["conv2d", "reflect padding"])
    'conv2d, reflect padding'
    """
    # TRANSLATORS: the comma between the clauses of one sentence.
    return _(", ").join(parts)


def punctuate(text: str) -> str:
    """``text`` with the selected language's punctuation around the pieces it was built from.

    Nothing changes in English. In Chinese: an ASCII colon, comma or semicolon beside Chinese
    text becomes fullwidth; parentheses holding Chinese text become fullwidth; spaces next
    to fullwidth punctuation go. Quoted values (``'...'``: what the user typed) and
    punctuation between other characters (formulas, shapes, code) are kept.

    >>> from convcli.i18n import set_language
    >>> punctuate("--stride: must be >= 1")
    '--stride: must be >= 1'
    >>> _ = set_language("zh")
    >>> print(punctuate("--stride: 必须 >= 1，得到的是 'a: b'"))
    --stride：必须 >= 1，得到的是 'a: b'
    >>> print(punctuate("groups=2 不能整除 3 个输出通道 (输入 x.json, 卷积核 k.json)"))
    groups=2 不能整除 3 个输出通道（输入 x.json，卷积核 k.json）
    >>> print(punctuate("缺少参数 'KERNEL'。 （参见 'convcli run --help'）"))
    缺少参数 'KERNEL'。（参见 'convcli run --help'）
    >>> print(punctuate("卷积核张量文件。  [必需]"))
    卷积核张量文件。[必需]
    >>> print(punctuate("--padding-mode: 应为 zeros, reflect 之一（可能的选项: --bias, --groups）"))
    --padding-mode：应为 zeros、reflect 之一（可能的选项：--bias、--groups）
    >>> print(punctuate("(c_i, h, w), f(x): y"))
    (c_i, h, w), f(x): y
    >>> _ = set_language("en")
    """
    if current_language() == "en":
        return text
    pieces = []
    start = 0
    for quoted in _re("quoted").finditer(text):
        pieces.append(_punctuate_plain(text[start : quoted.start()]))
        pieces.append(quoted.group())
        start = quoted.end()
    pieces.append(_punctuate_plain(text[start:]))
    return _re("space_before").sub("", "".join(pieces))


def _punctuate_plain(text: str) -> str:
    text = _parentheses(text)
    text = _re("after").sub(lambda m: _FULLWIDTH[m.group(1)], text)
    text = _re("before").sub(lambda m: _FULLWIDTH[m.group(1)], text)
    text = _re("list").sub(lambda m: m.group().replace(", ", "、"), text)
    text = _re("space_before").sub("", text)
    return _re("space_after").sub("", text)


def _parentheses(text: str) -> str:
    """ASCII parentheses whose own text (outside nested ones) holds Chinese: fullwidth."""
    chars = list(text)
    opened: list[tuple[int, bool]] = []  # (index of "(", whether its own text is Chinese)
    for i, ch in enumerate(chars):
        if ch == "(":
            opened.append((i, False))
        elif ch == ")" and opened:
            start, chinese = opened.pop()
            if chinese:
                chars[start], chars[i] = _OPEN, "）"
        elif opened and _re("han").match(ch):
            opened[-1] = (opened[-1][0], True)
    return "".join(chars)
