"""A ``Scene`` as pixels with Pillow: PNG stills and animated GIFs.

Pillow is imported here only, by the commands that write .png or .gif; it comes with
``pip install 'convcli[draw]'``. Text uses DejaVu Sans (the font matplotlib ships, so
it is there with the extra; a system copy is used too), else Pillow's own font; wide
characters (Chinese) are drawn with the CJK font the package ships (``cjk.py``), in runs
on DejaVu's baseline.
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from convcli.draw.cjk import cjk_font_path, font_runs
from convcli.draw.deps import require
from convcli.draw.scene import SCALE, Line, Rect, Scene, Text

if TYPE_CHECKING:
    from PIL import Image, ImageFont

__all__ = ["render_scene", "write_gif", "write_png"]

FRAME_MS = 700
_FONT_FILES = {
    (False, False): "DejaVuSans.ttf",
    (True, False): "DejaVuSans-Bold.ttf",
    (False, True): "DejaVuSans-Oblique.ttf",
    (True, True): "DejaVuSans-BoldOblique.ttf",
}


def _font_dirs() -> list[Path]:
    dirs = []
    spec = importlib.util.find_spec("matplotlib")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            dirs.append(Path(location) / "mpl-data" / "fonts" / "ttf")
    dirs.append(Path("/usr/share/fonts/truetype/dejavu"))
    return dirs


@functools.lru_cache(maxsize=4)
def _font_path(bold: bool, italic: bool) -> Path | None:
    name = _FONT_FILES[(bold, italic)]
    for folder in _font_dirs():
        path = folder / name
        if path.is_file():
            return path
    return None


@functools.lru_cache(maxsize=64)
def _font(size: int, bold: bool, italic: bool) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    from PIL import ImageFont

    path = _font_path(bold, italic)
    if path is not None:
        return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size)


@functools.lru_cache(maxsize=64)
def _cjk_font(size: int, bold: bool) -> ImageFont.FreeTypeFont | None:
    """The shipped CJK font (no italic: CJK has none), or None if it is not installed."""
    from PIL import ImageFont

    path = cjk_font_path(bold)
    return ImageFont.truetype(str(path), size) if path.is_file() else None


@functools.lru_cache(maxsize=4)
def _characters_of(path: Path | None) -> frozenset[int] | None:
    """The code points a font file maps (read with fontTools, which matplotlib brings);
    None when that cannot be known (then only wide characters change font)."""
    try:
        from fontTools.ttLib import TTFont
    except ImportError:  # Pillow without matplotlib
        return None
    if path is None:
        return frozenset()
    with TTFont(path, lazy=True) as font:
        return frozenset(font["cmap"].getBestCmap())


def _dashed(draw: Any, x1: float, y1: float, x2: float, y2: float, colour: str, w: int) -> None:
    length = max(abs(x2 - x1), abs(y2 - y1))
    step, on = 7.0, 4.0
    t = 0.0
    while t < length:
        a, b = t / length, min(t + on, length) / length
        draw.line(
            [(x1 + (x2 - x1) * a, y1 + (y2 - y1) * a), (x1 + (x2 - x1) * b, y1 + (y2 - y1) * b)],
            fill=colour,
            width=w,
        )
        t += step


def _outline(draw: Any, box: tuple[float, float, float, float], item: Rect, w: int) -> None:
    x0, y0, x1, y1 = box
    if item.fill != "none":
        draw.rectangle(box, fill=item.fill)
    for a, b, c, d in ((x0, y0, x1, y0), (x1, y0, x1, y1), (x1, y1, x0, y1), (x0, y1, x0, y0)):
        _dashed(draw, a, b, c, d, item.stroke, w)


@functools.lru_cache(maxsize=256)
def _tile(width: int, height: int, fill: str, stroke: str, line: int, dash: bool) -> Image.Image:
    """One cell drawn once: the frames of an animation paste the same few cells many times."""
    from PIL import Image, ImageDraw

    tile = Image.new("RGB", (width + 1, height + 1), fill)
    draw = ImageDraw.Draw(tile)
    if dash:
        edges = ((0, 0, width, 0), (width, 0, width, height), (width, height, 0, height))
        for a, b, c, d in (*edges, (0, height, 0, 0)):
            _dashed(draw, a, b, c, d, stroke, line)
    else:
        draw.rectangle([0, 0, width, height], fill=fill, outline=stroke, width=line)
    return tile


@functools.lru_cache(maxsize=4096)
def _text_mask(text: str, size: int, bold: bool, italic: bool, anchor: str) -> tuple[Any, int, int]:
    """The text's coverage as an "L" image and its offset from the anchor point.

    ``anchor`` is Pillow's: horizontal l/m/r, vertical (for one font) any of its letters.
    """
    from PIL import Image, ImageDraw

    font = _font(size, bold, italic)
    runs = _runs(text, bold, italic)
    cjk = _cjk_font(size, bold)
    if cjk is None or all(not is_cjk for is_cjk, _ in runs):
        # One font: Pillow places it (the English pictures, byte for byte as always).
        left, top, right, bottom = ImageDraw.Draw(Image.new("L", (1, 1))).textbbox(
            (0, 0), text, font=font, anchor=anchor
        )
        left, top = int(left) - 1, int(top) - 1
        mask = Image.new("L", (int(right) - left + 2, int(bottom) - top + 2), 0)
        ImageDraw.Draw(mask).text((-left, -top), text, fill=255, font=font, anchor=anchor)
        return mask, left, top
    return _mixed_mask(runs, font, cjk, anchor)


def _runs(text: str, bold: bool, italic: bool) -> list[tuple[bool, str]]:
    if text.isascii():
        return [(False, text)]
    latin = _characters_of(_font_path(bold, italic))
    return font_runs(text, lambda char: latin is None or ord(char) in latin)


def _mixed_mask(
    runs: list[tuple[bool, str]], latin: Any, cjk: Any, anchor: str
) -> tuple[Any, int, int]:
    """Runs of two fonts side by side on the Latin font's baseline, placed as ``anchor`` says.

    The Latin font fixes the baseline (its vertical anchor, e.g. "m": midway between its
    ascender and descender), so mixed lines sit where English lines sit; each run
    advances by its own width.
    """
    from PIL import Image, ImageDraw

    probe = ImageDraw.Draw(Image.new("L", (1, 1)))
    # How far the baseline lies below the anchor point, in the Latin font's metrics.
    below = (
        probe.textbbox((0, 0), "x", font=latin, anchor="l" + anchor[1])[1]
        - probe.textbbox((0, 0), "x", font=latin, anchor="ls")[1]
    )
    advances = [(cjk if is_cjk else latin).getlength(run) for is_cjk, run in runs]
    x = {"l": 0.0, "m": -sum(advances) / 2, "r": -sum(advances)}[anchor[0]]
    placed = []
    for (is_cjk, run), advance in zip(runs, advances, strict=True):
        placed.append(((x, below), run, cjk if is_cjk else latin))
        x += advance
    boxes = [probe.textbbox(at, run, font=font, anchor="ls") for at, run, font in placed]
    left = int(min(box[0] for box in boxes)) - 1
    top = int(min(box[1] for box in boxes)) - 1
    right = int(max(box[2] for box in boxes))
    bottom = int(max(box[3] for box in boxes))
    mask = Image.new("L", (right - left + 2, bottom - top + 2), 0)
    draw = ImageDraw.Draw(mask)
    for (x0, y0), run, font in placed:
        draw.text((x0 - left, y0 - top), run, fill=255, font=font, anchor="ls")
    return mask, left, top


def render_scene(scene: Scene, *, scale: float = 1.0) -> Image.Image:
    """The scene drawn on an RGB image, ``scale`` pixels per scene unit."""
    require("PIL", "Pillow")
    from PIL import Image, ImageDraw

    size = (round(scene.width * scale), round(scene.height * scale))
    image = Image.new("RGB", size, scene.background)
    draw = ImageDraw.Draw(image)
    for item in scene.items:
        if isinstance(item, Rect):
            x0, y0 = round(item.x * scale), round(item.y * scale)
            x1, y1 = round((item.x + item.w) * scale), round((item.y + item.h) * scale)
            if item.fill == "none":
                _outline(draw, (x0, y0, x1, y1), item, max(1, round(item.width * scale)))
            else:
                line = max(1, round(item.width * scale))
                tile = _tile(x1 - x0, y1 - y0, item.fill, item.stroke, line, item.dash)
                image.paste(tile, (x0, y0))
        elif isinstance(item, Line):
            w = max(1, round(item.width * scale))
            points = (item.x1 * scale, item.y1 * scale, item.x2 * scale, item.y2 * scale)
            if item.dash:
                _dashed(draw, *points, item.stroke, w)
            else:
                draw.line([points[:2], points[2:]], fill=item.stroke, width=w)
        elif isinstance(item, Text):
            anchor = "mm" if item.anchor == "middle" else "lm"
            mask, left, top = _text_mask(
                item.text, max(1, round(item.size * scale)), item.bold, item.italic, anchor
            )
            image.paste(
                item.colour, (round(item.x * scale) + left, round(item.y * scale) + top), mask
            )
    return image


def write_png(scene: Scene, path: str | Path) -> None:
    """Write the scene as a PNG at twice its size (crisp on screens and in slides)."""
    render_scene(scene, scale=SCALE).save(path, format="PNG", optimize=False)


def write_gif(scenes: Sequence[Scene], path: str | Path, *, frame_ms: int = FRAME_MS) -> None:
    """Write the scenes as an animated GIF at the PNG's resolution, looping forever.

    Streamed: each frame is drawn, reduced to the shared palette, written and dropped
    (``scenes`` may make its scenes on demand), so a GIF of hundreds of frames holds about
    four frames at once, never all of them (Pillow's own writer keeps every frame until
    the end). A frame is stored as the box in which it differs from the one before, and
    a frame like the one before lengthens that one's time, as Pillow writes them.
    """
    require("PIL", "Pillow")
    from PIL import GifImagePlugin, Image, ImageChops

    palette = _palette(scenes)
    opening = render_scene(scenes[0], scale=SCALE).quantize(
        palette=palette, dither=Image.Dither.NONE
    )
    header, _ = GifImagePlugin.getheader(opening, info={"loop": 0, "duration": frame_ms})
    with open(path, "wb") as stream:
        stream.writelines(header)
        previous, pending = opening, (opening, (0, 0), frame_ms)
        del opening
        for index in range(1, len(scenes)):
            frame = render_scene(scenes[index], scale=SCALE).quantize(
                palette=palette, dither=Image.Dither.NONE
            )
            box = ImageChops.subtract_modulo(frame, previous).getbbox(alpha_only=False)
            if box is None:  # the same picture: the one before stays longer
                pending = (pending[0], pending[1], pending[2] + frame_ms)
                continue
            _write_frame(stream, *pending)
            pending = (frame.crop(box), (box[0], box[1]), frame_ms)
            previous = frame
        _write_frame(stream, *pending)
        stream.write(b";")


def _palette(scenes: Sequence[Scene]) -> Image.Image:
    """One palette for every frame, from the first and the last side by side (between
    them every cell state appears; quantizing each frame on its own costs 100 ms a frame).

    Made from the two drawn at half the resolution: the same fills, lines and text
    colours, and Pillow's octree needs about 8 bytes a pixel of what it quantizes, so the
    palette costs about half a frame instead of four. Returned as a 1x1 image.
    """
    from PIL import Image

    first = render_scene(scenes[0], scale=SCALE / 2)
    both = Image.new("RGB", (first.width, 2 * first.height), scenes[0].background)
    both.paste(first, (0, 0))
    del first
    both.paste(render_scene(scenes[-1], scale=SCALE / 2), (0, both.height // 2))
    quantized = both.quantize(
        colors=128, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE
    )
    palette = Image.new("P", (1, 1))
    palette.putpalette(quantized.getpalette() or [])
    return palette


def _write_frame(stream: Any, image: Image.Image, offset: tuple[int, int], ms: int) -> None:
    """One frame's local header (its time, "do not dispose") and its compressed pixels."""
    from PIL import GifImagePlugin

    stream.writelines(GifImagePlugin.getdata(image, offset, duration=ms, disposal=1))
