"""Writing figures to a file: the extension picks the kind of picture.

``.svg`` (vector, no library needed) and ``.png`` are stills; ``.gif`` is an animation
with one frame per figure. Files are written atomically, as tensor outputs are.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from convcli.draw.layout import Figure, cell_width, layout
from convcli.draw.scene import Scene
from convcli.draw.svg import scene_to_svg
from convcli.tensorio.files import PathArg, replacing_output

__all__ = ["PICTURE_SUFFIXES", "is_animation", "scenes_of", "write_figures"]

PICTURE_SUFFIXES = (".svg", ".png", ".gif")


def is_animation(path: PathArg) -> bool:
    """Whether ``path`` names an animation (``.gif``).

    Examples
    --------
    >>> is_animation("conv.GIF"), is_animation("step.svg")
    (True, False)
    """
    return os.path.splitext(os.fspath(path))[1].lower() == ".gif"


def scenes_of(figures: Sequence[Figure]) -> list[Scene]:
    """Lay out every figure with one cell width and one canvas size: nothing moves."""
    cw = cell_width(figures)
    scenes = [layout(figure, cw) for figure in figures]
    width, height = max(s.width for s in scenes), max(s.height for s in scenes)
    for scene in scenes:  # everything is placed from the top left: a larger canvas is enough
        scene.width, scene.height = width, height
    return scenes


def write_figures(
    path: PathArg,
    figures: Sequence[Figure],
    *,
    force: bool = False,
    inputs: Sequence[PathArg] = (),
    title: str = "",
) -> None:
    """Write ``figures`` to ``path``: the first as a still (.svg, .png), all as a .gif.

    Checked and written as tensor outputs are (``replacing_output``): an existing file
    needs ``force``, an input is never overwritten, an error leaves no file behind.

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
    with replacing_output(
        target, suffixes=PICTURE_SUFFIXES, force=force, inputs=inputs
    ) as temporary:
        if suffix == ".svg":
            text = scene_to_svg(scenes_of(figures[:1])[0], title=title)
            with open(temporary, "w", encoding="utf-8", newline="\n") as stream:
                stream.write(text)
        elif suffix == ".png":
            from convcli.draw.raster import write_png

            write_png(scenes_of(figures[:1])[0], temporary)
        else:
            from convcli.draw.raster import write_gif

            write_gif(scenes_of(figures), temporary)
