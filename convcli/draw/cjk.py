"""Chinese in pictures: the CJK font convcli ships and which characters it draws.

DejaVu Sans, the pictures' font, has no CJK glyphs, and many machines have no CJK font.
So the package carries ``fonts/convcli-cjk-{regular,bold}.otf``: the characters of the
translations cut out of Noto Sans CJK SC (SIL Open Font License 1.1, ``fonts/OFL.txt``;
``scripts/make_cjk_font.py`` builds them). Text is split into runs: wide characters (and
characters DejaVu lacks) are drawn with the CJK font, everything else with DejaVu, so
English pictures are exactly what they were. Pure Python: no drawing library.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from pathlib import Path

__all__ = [
    "CJK_FAMILY",
    "SVG_CJK_FAMILIES",
    "cjk_font_path",
    "font_runs",
    "has_wide",
    "is_wide",
]

FONT_DIR = Path(__file__).parent / "fonts"
CJK_FAMILY = "convcli CJK"
# SVG viewers draw with the reader's fonts: the shipped family first (for those who
# install it), then the CJK fonts that the common systems carry (Linux, macOS, Windows).
SVG_CJK_FAMILIES = (
    CJK_FAMILY,
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "PingFang SC",
    "Microsoft YaHei",
    "WenQuanYi Micro Hei",
)


def cjk_font_path(bold: bool) -> Path:
    """The shipped CJK font file of the weight asked for."""
    return FONT_DIR / ("convcli-cjk-bold.otf" if bold else "convcli-cjk-regular.otf")


def is_wide(char: str) -> bool:
    """Whether ``char`` takes two columns (East Asian Wide or Fullwidth): CJK's own.

    Examples
    --------
    >>> is_wide("卷"), is_wide(chr(0xFF0C)), is_wide("a"), is_wide(chr(0xD7))  # comma, times
    (True, True, False, False)
    """
    return unicodedata.east_asian_width(char) in ("W", "F")


def has_wide(text: str) -> bool:
    """Whether any character of ``text`` is wide (ASCII text answers at once).

    >>> has_wide("output 2x2"), has_wide("输出 2x2")
    (False, True)
    """
    return not text.isascii() and any(map(is_wide, text))


def font_runs(text: str, latin_has: Callable[[str], bool]) -> list[tuple[bool, str]]:
    """``text`` cut where the font changes: ``(cjk, run)`` pairs in reading order.

    A character goes to the CJK font when it is wide, or when it is not ASCII and the
    Latin font lacks it (``latin_has`` answers that).

    Examples
    --------
    >>> font_runs("卷积核 3x3 步幅 2", lambda c: True)
    [(True, '卷积核'), (False, ' 3x3 '), (True, '步幅'), (False, ' 2')]
    >>> font_runs("a→b", lambda c: c != "→")
    [(False, 'a'), (True, '→'), (False, 'b')]
    """
    runs: list[tuple[bool, str]] = []
    for char in text:
        cjk = is_wide(char) or (not char.isascii() and not latin_has(char))
        if runs and runs[-1][0] == cjk:
            runs[-1] = (cjk, runs[-1][1] + char)
        else:
            runs.append((cjk, char))
    return runs
