"""Writing figures to a file: the extension picks the kind of picture.

``.svg`` (vector, no library needed) and ``.png`` are stills; ``.gif`` is an animation
with one frame per figure. Files are written atomically, as tensor outputs are.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import overload

from convcli.draw.layout import Figure, cell_width, layout
from convcli.draw.scene import SCALE, Scene
from convcli.draw.svg import scene_to_svg
from convcli.i18n import N_
from convcli.ops.budget import RunEstimate
from convcli.tensorio.files import PathArg, replacing_output

__all__ = [
    "PICTURE_SUFFIXES",
    "is_animation",
    "picture_estimate",
    "scenes_of",
    "write_figures",
]

PICTURE_SUFFIXES = (".svg", ".png", ".gif")
# A scene item (a rectangle or a text and its strings) and, in an SVG, its text.
BYTES_PER_ITEM = 600
# DejaVu and the CJK font loaded, the cached cell tiles and text masks (raster.py).
DRAWING_BYTES = 32 * 1024**2
# An SVG's text as it is built and written, beside its items (measured: 0.4 MB for the
# smallest drawing, 2.2 MB for one of 3,000 cells).
SVG_BYTES = 2 * 1024**2
# Measured peaks (process RSS) over a frame's pixels: 4 bytes an RGB pixel and 1 a palette
# pixel, with room for Pillow's buffers.
GIF_BYTES_PER_PIXEL = 12
PNG_BYTES_PER_PIXEL = 6


def is_animation(path: PathArg) -> bool:
    """Whether ``path`` names an animation (``.gif``).

    Examples
    --------
    >>> is_animation("conv.GIF"), is_animation("step.svg")
    (True, False)
    """
    return os.path.splitext(os.fspath(path))[1].lower() == ".gif"


class _Scenes(Sequence[Scene]):
    """Figures laid out when asked for, all with one cell width on one canvas size."""

    def __init__(self, figures: Sequence[Figure], cw: int, size: tuple[int, int]) -> None:
        self._figures, self._cw, self._size = figures, cw, size

    def __len__(self) -> int:
        return len(self._figures)

    @overload
    def __getitem__(self, index: int) -> Scene: ...
    @overload
    def __getitem__(self, index: slice) -> list[Scene]: ...
    def __getitem__(self, index: int | slice) -> Scene | list[Scene]:
        if isinstance(index, slice):
            return [self[i] for i in range(len(self))[index]]
        return layout(self._figures[index], self._cw, min_size=self._size)


def scenes_of(figures: Sequence[Figure]) -> Sequence[Scene]:
    """Lay out every figure with one cell width and one canvas size: nothing moves.

    The scenes are made when asked for (``figures`` may make its figures on demand too):
    two passes over the figures find the cell width and the canvas, holding one at a time.
    """
    cw = cell_width(figures)
    width = height = 0
    for figure in figures:  # everything is placed from the top left: a larger canvas is enough
        scene = layout(figure, cw)
        width, height = max(width, scene.width), max(height, scene.height)
    return _Scenes(figures, cw, (width, height))


def picture_estimate(scenes: Sequence[Scene], suffix: str) -> RunEstimate:
    """The bytes drawing ``scenes`` as ``suffix`` (.svg, .png, .gif) holds at its peak.

    Pillow holds an RGB pixel in 4 bytes, a palette pixel in 1, at ``SCALE`` pixels per
    unit. A PNG holds its image and the encoder's rows (``PNG_BYTES_PER_PIXEL``); a GIF
    the frame being drawn, its palette copy, the frame before, their difference and the
    changed box, the one waiting to be written and its compressed bytes
    (``GIF_BYTES_PER_PIXEL``; the palette, made from two half-size frames, costs less).
    The scene's items are Python objects (``BYTES_PER_ITEM`` each, a figure's and its
    scene's); the fonts and the drawing caches are ``DRAWING_BYTES``, an SVG's text
    ``SVG_BYTES``.

    Examples
    --------
    >>> from convcli.draw.scene import Rect
    >>> scene = Scene(500, 400, [Rect(0, 0, 30, 30, "#FFFFFF", "#000000")] * 1000)
    >>> dict(picture_estimate([scene] * 9, ".gif").parts)["frames"] // 2**20
    9
    """
    first = scenes[0]
    pixels = round(first.width * SCALE) * round(first.height * SCALE)
    items = len(first.items)
    frames = pixels * {".gif": GIF_BYTES_PER_PIXEL, ".png": PNG_BYTES_PER_PIXEL}.get(suffix, 0)
    if suffix == ".svg":
        return RunEstimate(
            ((N_("figure objects"), BYTES_PER_ITEM * items * 2), (N_("SVG text"), SVG_BYTES))
        )
    return RunEstimate(
        (
            (N_("frames"), frames),
            (N_("figure objects"), BYTES_PER_ITEM * items * 2),
            (N_("fonts and caches"), DRAWING_BYTES),
        )
    )


def write_figures(
    path: PathArg,
    figures: Sequence[Figure],
    *,
    force: bool = False,
    inputs: Sequence[PathArg] = (),
    title: str = "",
    budget: int | None = None,
) -> None:
    """Write ``figures`` to ``path``: the first as a still (.svg, .png), all as a .gif.

    Checked and written as tensor outputs are (``replacing_output``): an existing file
    needs ``force``, an input is never overwritten, an error leaves no file behind.
    With ``budget`` (bytes), ``picture_estimate`` is checked first (``BudgetError``).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from convcli.draw.layout import Cell, Grid
    >>> folder = tempfile.TemporaryDirectory()
    >>> target = pathlib.Path(folder.name) / "a.svg"
    >>> write_figures(target, [Figure(("conv2d",), ((Grid("output", ((Cell("56"),),)),),))])
    >>> ">56</text>" in target.read_text()
    True
    >>> folder.cleanup()
    """
    target = os.fspath(path)
    suffix = os.path.splitext(target)[1].lower()
    if suffix in (".png", ".gif"):
        from convcli.draw.deps import require

        require("PIL", "Pillow")  # before the output is checked or any temporary file made
    scenes = scenes_of(figures if suffix == ".gif" else figures[:1])
    if budget is not None:  # every pixel counted before the first is drawn
        from convcli.ops.budget import check_budget

        check_budget(picture_estimate(scenes, suffix), budget)
    with replacing_output(
        target, suffixes=PICTURE_SUFFIXES, force=force, inputs=inputs
    ) as temporary:
        if suffix == ".svg":
            text = scene_to_svg(scenes[0], title=title)
            with open(temporary, "w", encoding="utf-8", newline="\n") as stream:
                stream.write(text)
        elif suffix == ".png":
            from convcli.draw.raster import write_png

            write_png(scenes[0], temporary)
        else:
            from convcli.draw.raster import write_gif

            write_gif(scenes, temporary)
