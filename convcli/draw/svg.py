"""A ``Scene`` as SVG text: no library, byte-for-byte deterministic.

Numbers are written with at most two decimals and the items in drawing order, so the
same drawing is the same bytes on every machine (the README's figures are checked
that way).

A viewer draws SVG text with the reader's fonts. When the picture has wide (Chinese)
characters, the font list goes on after the Latin fonts with the CJK fonts that common
systems carry (``cjk.SVG_CJK_FAMILIES``); the font itself is not embedded (the
README's "Chinese in pictures" gives the numbers). English pictures are unchanged.
"""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from convcli.draw.cjk import SVG_CJK_FAMILIES, has_wide
from convcli.draw.scene import FONT_FAMILY, Line, Rect, Scene, Text

__all__ = ["font_family", "scene_to_svg"]


def _n(value: float) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _item(item: Rect | Line | Text) -> str:
    if isinstance(item, Rect):
        dash = ' stroke-dasharray="4 3"' if item.dash else ""
        return (
            f'<rect x="{_n(item.x)}" y="{_n(item.y)}" width="{_n(item.w)}" '
            f'height="{_n(item.h)}" fill="{item.fill}" stroke="{item.stroke}" '
            f'stroke-width="{_n(item.width)}"{dash}/>'
        )
    if isinstance(item, Line):
        dash = ' stroke-dasharray="4 3"' if item.dash else ""
        return (
            f'<line x1="{_n(item.x1)}" y1="{_n(item.y1)}" x2="{_n(item.x2)}" '
            f'y2="{_n(item.y2)}" stroke="{item.stroke}" stroke-width="{_n(item.width)}"{dash}/>'
        )
    style = (' font-weight="bold"' if item.bold else "") + (
        ' font-style="italic"' if item.italic else ""
    )
    anchor = "middle" if item.anchor == "middle" else "start"
    baseline = ' dominant-baseline="central"' if item.anchor == "middle" else ""
    return (
        f'<text x="{_n(item.x)}" y="{_n(item.y)}" font-size="{_n(item.size)}" '
        f'fill="{item.colour}" text-anchor="{anchor}"{baseline}{style}>{escape(item.text)}</text>'
    )


def font_family(scene: Scene) -> str:
    """The CSS font list for the scene's text: CJK fonts join only when a text needs them.

    Examples
    --------
    >>> font_family(Scene(40, 20, [Text(20, 10, "56", 12)])) == FONT_FAMILY
    True
    >>> font_family(Scene(40, 20, [Text(20, 10, "输出", 12)]))  # doctest: +NORMALIZE_WHITESPACE
    'DejaVu Sans, Verdana, Arial, convcli CJK, Noto Sans CJK SC, Source Han Sans SC,
     PingFang SC, Microsoft YaHei, WenQuanYi Micro Hei, sans-serif'
    """
    if not any(isinstance(item, Text) and has_wide(item.text) for item in scene.items):
        return FONT_FAMILY
    latin = [name for name in FONT_FAMILY.split(", ") if name != "sans-serif"]
    return ", ".join([*latin, *SVG_CJK_FAMILIES, "sans-serif"])


def scene_to_svg(scene: Scene, *, title: str = "") -> str:
    """The scene as a standalone SVG document.

    Examples
    --------
    >>> from convcli.draw.scene import Text
    >>> svg = scene_to_svg(Scene(40, 20, [Text(20, 10, "56", 12)]))
    >>> svg.splitlines()[0]
    '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20" viewBox="0 0 40 20">'
    >>> '>56</text>' in svg
    True
    """
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{scene.width}" '
        f'height="{scene.height}" viewBox="0 0 {scene.width} {scene.height}">'
    )
    lines = [head]
    if title:
        lines.append(f"<title>{escape(title)}</title>")
    lines.append(f'<rect width="100%" height="100%" fill="{scene.background}"/>')
    lines.append(f"<g font-family={quoteattr(font_family(scene))}>")
    lines.extend(_item(item) for item in scene.items)
    lines.append("</g>")
    lines.append("</svg>")
    return "\n".join(lines) + "\n"
