"""What a picture is made of: rectangles, lines and text at pixel positions.

Pure Python, no drawing library: a ``Scene`` is built once and written by a backend
(``svg.py`` as text, ``raster.py`` with Pillow). The palette is Paul Tol's
colour-blind-safe "light" and "high-contrast" schemes, chosen so that every state
also differs in lightness (and in line style), which keeps the pictures readable
when printed in grey.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

__all__ = ["PALETTE", "SCALE", "Line", "Rect", "Scene", "Text", "text_width"]

# state -> (fill, stroke, text colour); lightness falls from "pending" to "current".
PALETTE: dict[str, tuple[str, str, str]] = {
    "input": ("#E1ECF7", "#6B8FB3", "#000000"),  # pale blue
    "pad": ("#FFFFFF", "#6B8FB3", "#555555"),  # white, dashed border, grey values
    "inserted": ("#FFFFFF", "#9E9E9E", "#666666"),  # zeros between values (transposed)
    "outside": ("#F4F4F4", "#BBBBBB", "#888888"),  # ceil-mode overhang, cropped cells
    "faded": ("#EEEEEE", "#C8C8C8", "#999999"),  # channels a kernel does not see
    "tap": ("#77AADD", "#004488", "#000000"),  # under the kernel: mid blue, thick border
    "tap_pad": ("#77AADD", "#004488", "#333333"),  # under the kernel, in the padding: dashed
    "kernel": ("#EEDD88", "#997700", "#000000"),  # light yellow
    "product": ("#FFF5CC", "#997700", "#000000"),
    "winner": ("#AA4499", "#552255", "#FFFFFF"),  # max pooling's chosen value: dark purple
    "done": ("#CCEEDD", "#44AA88", "#000000"),  # computed output: pale mint
    "current": ("#44BB99", "#004433", "#000000"),  # being computed: mid green
    "pending": ("#FFFFFF", "#BBBBBB", "#000000"),
}
INK = "#000000"
MUTED = "#444444"
# Pixels per scene unit in a PNG and in every GIF frame (crisp on screens and in slides).
SCALE = 2.0
FONT_FAMILY = "DejaVu Sans, Verdana, Arial, sans-serif"


@dataclass(frozen=True)
class Rect:
    """A filled, outlined rectangle; ``dash`` draws its outline dashed."""

    x: float
    y: float
    w: float
    h: float
    fill: str
    stroke: str
    width: float = 1.0
    dash: bool = False


@dataclass(frozen=True)
class Line:
    x1: float
    y1: float
    x2: float
    y2: float
    stroke: str
    width: float = 1.0
    dash: bool = False


@dataclass(frozen=True)
class Text:
    """Text at ``(x, y)``: ``anchor`` "middle" centres it there, "start" starts it there."""

    x: float
    y: float
    text: str
    size: float
    colour: str = INK
    anchor: str = "middle"
    bold: bool = False
    italic: bool = False


@dataclass
class Scene:
    """One picture: its size and its items in drawing order."""

    width: int
    height: int
    items: list[Rect | Line | Text] = field(default_factory=list)
    background: str = "#FFFFFF"


def text_width(text: str, size: float) -> float:
    """A width estimate for laying out text in a sans-serif font.

    About 0.6 em per character, and a whole em for a wide one (Unicode's East Asian
    Width W or F: Chinese characters and full-width punctuation, U+FF0C's comma and the
    like), which CJK fonts draw square.

    Examples
    --------
    >>> text_width("56", 10)
    12.0
    >>> text_width("输出[0,0]", 10)
    50.0
    """
    wide = sum(1 for character in text if unicodedata.east_asian_width(character) in "WF")
    if not wide:
        return 0.6 * size * len(text)
    return 0.6 * size * (len(text) - wide) + size * wide
