"""From a figure's content (grids of cells, operators, title lines) to a ``Scene``.

A ``Figure`` says what is shown: rows of grids joined by operators (one row per input
channel), a result part on the right, title and footer lines. ``layout`` places it on
a fixed grid of pixels; every frame of an animation is laid out with the same cell
size so that nothing moves between frames.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import overload

from convcli.draw.scene import INK, MUTED, PALETTE, Line, Rect, Scene, Text, text_width

__all__ = ["Cell", "Figure", "Frames", "Grid", "Item", "cell_width", "layout"]

CELL_H = 30
MIN_CELL_W = 30
CELL_FONT = 12
CAPTION_FONT = 12
TITLE_FONT = 15
LINE_FONT = 13
MARGIN = 16
GAP = 14
THICK = {"tap", "tap_pad", "current", "winner"}
DASHED = {"pad", "tap_pad", "inserted", "outside"}
ITALIC = {"pad", "tap_pad", "inserted"}


@dataclass(frozen=True)
class Cell:
    """One cell: its text and its state (a key of ``PALETTE``)."""

    text: str = ""
    state: str = "input"
    bold: bool = False


@dataclass(frozen=True)
class Grid:
    """A grid of cells with a caption above, an optional dashed box and a note below.

    ``box`` is ``(row0, col0, row1, col1)``, ends excluded: the span of a dilated
    window, or the input inside its padding.
    """

    caption: str
    cells: tuple[tuple[Cell, ...], ...]
    box: tuple[int, int, int, int] | None = None
    note: str = ""

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.cells), len(self.cells[0]) if self.cells else 0


Item = Grid | str


@dataclass(frozen=True)
class Figure:
    """One picture's content: title lines, rows on the left, the result on the right."""

    title: tuple[str, ...]
    rows: tuple[tuple[Item, ...], ...]
    result: tuple[Item, ...] = ()
    footer: tuple[str, ...] = ()


class Frames(Sequence[Figure]):
    """The figures of a drawing, each made when it is asked for, one step each.

    An animation has up to ``MAX_FRAMES`` frames of up to ``MAX_CELLS`` cells: made one
    at a time, they are never all held at once (a GIF is written as it is drawn).

    Examples
    --------
    >>> frames = Frames([(0,), (1,)], lambda step: Figure((f"step {step[0]}",), ()))
    >>> len(frames), frames[1].title, [f.title for f in frames[:1]]
    (2, ('step 1',), [('step 0',)])
    """

    def __init__(
        self, steps: Sequence[tuple[int, ...]], make: Callable[[tuple[int, ...]], Figure]
    ) -> None:
        self._steps = steps
        self._make = make

    def __len__(self) -> int:
        return len(self._steps)

    @overload
    def __getitem__(self, index: int) -> Figure: ...
    @overload
    def __getitem__(self, index: slice) -> list[Figure]: ...
    def __getitem__(self, index: int | slice) -> Figure | list[Figure]:
        if isinstance(index, slice):
            return [self._make(step) for step in self._steps[index]]
        return self._make(self._steps[index])


def _grids(figure: Figure) -> Iterable[Grid]:
    for row in (*figure.rows, figure.result):
        for item in row:
            if isinstance(item, Grid):
                yield item


def cell_width(figures: Iterable[Figure]) -> int:
    """One cell width wide enough for every cell text of every figure.

    Examples
    --------
    >>> g = Grid("x", ((Cell("-1234.5"),),))
    >>> cell_width([Figure(("t",), ((g,),))])
    66
    """
    longest = max(
        (len(cell.text) for f in figures for g in _grids(f) for row in g.cells for cell in row),
        default=0,
    )
    return max(MIN_CELL_W, round(text_width("0" * longest, CELL_FONT)) + 16)


def _item_size(item: Item, cw: int) -> tuple[float, float]:
    if isinstance(item, str):
        return text_width(item, LINE_FONT + 3) + 2 * GAP, CELL_H
    rows, cols = item.shape
    width = max(
        cols * cw, text_width(item.caption, CAPTION_FONT), text_width(item.note, CAPTION_FONT)
    )
    return width, 20 + rows * CELL_H + (22 if item.note else 0)


def _draw_grid(items: list[Rect | Line | Text], grid: Grid, x: float, y: float, cw: int) -> None:
    items.append(Text(x, y + 8, grid.caption, CAPTION_FONT, MUTED, anchor="start"))
    top = y + 20
    for r, row in enumerate(grid.cells):
        for c, cell in enumerate(row):
            fill, stroke, colour = PALETTE[cell.state]
            thick = cell.state in THICK
            items.append(
                Rect(
                    x + c * cw,
                    top + r * CELL_H,
                    cw,
                    CELL_H,
                    fill,
                    stroke,
                    width=2.5 if thick else 1.0,
                    dash=cell.state in DASHED,
                )
            )
    for r, row in enumerate(grid.cells):  # text after every fill: thick borders never cover it
        for c, cell in enumerate(row):
            if cell.text:
                colour = PALETTE[cell.state][2]
                items.append(
                    Text(
                        x + (c + 0.5) * cw,
                        top + (r + 0.5) * CELL_H,
                        cell.text,
                        CELL_FONT,
                        colour,
                        bold=cell.bold or cell.state in THICK,
                        italic=cell.state in ITALIC,
                    )
                )
    if grid.box is not None:
        r0, c0, r1, c1 = grid.box
        items.append(
            Rect(
                x + c0 * cw - 3,
                top + r0 * CELL_H - 3,
                (c1 - c0) * cw + 6,
                (r1 - r0) * CELL_H + 6,
                "none",
                INK,
                width=1.5,
                dash=True,
            )
        )
    if grid.note:
        rows = len(grid.cells)
        items.append(
            Text(
                x, top + rows * CELL_H + 13, grid.note, CAPTION_FONT, INK, anchor="start", bold=True
            )
        )


def _place_row(
    items: list[Rect | Line | Text], row: Sequence[Item], x: float, y: float, height: float, cw: int
) -> float:
    for item in row:
        width, h = _item_size(item, cw)
        if isinstance(item, str):
            items.append(Text(x + width / 2, y + 20 + (height - 20) / 2, item, LINE_FONT + 3, INK))
        else:
            _draw_grid(items, item, x, y + (height - h) / 2, cw)
        x += width + (0 if isinstance(item, str) else 6)
    return x


def _row_size(row: Sequence[Item], cw: int) -> tuple[float, float]:
    sizes = [_item_size(item, cw) for item in row]
    width = sum(w for w, _ in sizes) + 6 * sum(isinstance(i, Grid) for i in row)
    return width, max((h for _, h in sizes), default=0)


def layout(figure: Figure, cw: int, *, min_size: tuple[int, int] = (0, 0)) -> Scene:
    """Place ``figure`` with cells ``cw`` pixels wide; the scene is at least ``min_size``.

    Parameters
    ----------
    figure : Figure
    cw : int
        The width of every cell (``cell_width`` of all the frames), in pixels.
    min_size : (int, int)
        The smallest ``(width, height)``: every frame of an animation the same.

    Returns
    -------
    Scene

    Examples
    --------
    >>> grid = Grid("output", ((Cell("56", "current"),),))
    >>> scene = layout(Figure(("conv2d",), ((grid,),)), 30)
    >>> [item.text for item in scene.items if isinstance(item, Text)]
    ['conv2d', 'output', '56']
    """
    items: list[Rect | Line | Text] = []
    y: float = MARGIN + 4
    widest = 0.0
    for number, line in enumerate(figure.title):
        size = TITLE_FONT if number == 0 else LINE_FONT
        items.append(Text(MARGIN, y + size / 2, line, size, INK, anchor="start", bold=number == 0))
        widest = max(widest, MARGIN + text_width(line, size))
        y += size + 8
    y += GAP
    top = y
    left_width = 0.0
    for row in figure.rows:
        width, height = _row_size(row, cw)
        end = _place_row(items, row, MARGIN, y, height, cw)
        left_width = max(left_width, end)
        y += height + GAP
    left_height = y - top
    if figure.result:
        width, height = _row_size(figure.result, cw)
        ry = top + max(0.0, (left_height - GAP - height) / 2)
        end = _place_row(items, figure.result, left_width + GAP, ry, height, cw)
        widest = max(widest, end)
        y = max(y, ry + height + GAP)
    widest = max(widest, left_width)
    for line in figure.footer:
        items.append(Text(MARGIN, y + LINE_FONT / 2, line, LINE_FONT, INK, anchor="start"))
        widest = max(widest, MARGIN + text_width(line, LINE_FONT))
        y += LINE_FONT + 8
    width = max(int(widest + MARGIN + 0.5), min_size[0])
    height = max(int(y + MARGIN - 4 + 0.5), min_size[1])
    return Scene(width, height, items)
