"""convcli draw: frames, sizes, the numbers in the pictures, every geometry option, refusals."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pytest
from clitools import SAMPLES, assert_usage_error, invoke, save
from PIL import Image

from convcli.draw.common import MAX_FRAMES, value_text
from convcli.draw.conv import ConvProblem, conv_figures
from convcli.draw.deps import install_hint
from convcli.draw.layout import Figure, Grid
from convcli.draw.pool import PoolProblem, pool_figures
from convcli.draw.scene import PALETTE
from convcli.draw.transposed import TransposedProblem, transposed_figures
from convcli.ops.modes import run_convolution
from convcli.ops.pooling import avg_pool2d, max_pool2d
from convcli.ops.transposed import conv_transpose2d
from convcli.shapes.geometry import resolve_geometry
from convcli.shapes.options import ConvOptions

LESSON_X = str(SAMPLES / "lesson_X.json")
LESSON_K = str(SAMPLES / "lesson_K_multi_in.json")
C5 = ("--input-shape", "5x5", "--kernel-shape", "3x3")
C3 = ("--input-shape", "3x3", "--kernel-shape", "2x2")
T2 = ("--transposed", "--input-shape", "2x2", "--kernel-shape", "3x3")


def drawn(tmp_path: Path, name: str, *args: str) -> Path:
    target = tmp_path / name
    result = invoke("draw", *args, "--output", str(target))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert f"wrote {target}" in result.stderr
    return target


def svg_text(path: Path) -> str:
    """The text content of an SVG: every <text> element, in order."""
    return "\n".join(re.findall(r"<text [^>]*>([^<]*)</text>", path.read_text(encoding="utf-8")))


def svg_size(path: Path) -> tuple[int, int]:
    match = re.search(r'<svg [^>]*width="(\d+)" height="(\d+)"', path.read_text(encoding="utf-8"))
    assert match is not None
    return int(match.group(1)), int(match.group(2))


def frames_of(path: Path) -> list[tuple[int, int]]:
    with Image.open(path) as image:
        sizes = []
        for index in range(getattr(image, "n_frames", 1)):
            image.seek(index)
            sizes.append(image.size)
        return sizes


# --- the four commands ------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "frames"),
    [
        ((*C5, "--stride", "2", "--padding", "1"), 9),
        (("--transposed", "--input-shape", "2x2", "--kernel-shape", "3x3", "--stride", "2"), 25),
        (("--pool", "max", "--input-shape", "4x4", "--kernel-size", "2"), 4),
        (("--transposed", "--scatter", "--input-shape", "2x3", "--kernel-shape", "3x3"), 6),
        (("--input-shape", "2x4x4", "--kernel-shape", "3x2x3x3"), 3 * 2 * 2),
    ],
)
def test_an_animation_has_one_frame_per_step_all_the_same_size(
    tmp_path: Path, args: tuple[str, ...], frames: int
) -> None:
    sizes = frames_of(drawn(tmp_path, "a.gif", *args))
    assert len(sizes) == frames
    assert len(set(sizes)) == 1


def test_the_lessons_step_shows_every_number_of_56_is_19_plus_37(tmp_path: Path) -> None:
    text = svg_text(drawn(tmp_path, "step.svg", LESSON_X, LESSON_K, "--at", "0,0"))
    assert "sum = 19" in text and "sum = 37" in text
    assert "output[0,0] = 19 + 37 = 56" in text
    # The window's values, the kernel and the products of channel 0: 0*0 + 1*1 + 3*2 + 4*3.
    for value in ("0", "1", "3", "4", "2", "6", "12"):
        assert value in text.split("\n")
    assert "floor((3 + 2*0 - 1*(2-1) - 1)/1) + 1 = 2" in text


def test_a_png_is_the_svg_drawn_at_twice_its_size(tmp_path: Path) -> None:
    args = (*C5, "-s", "2", "-p", "1", "--at", "1,1")
    width, height = svg_size(drawn(tmp_path, "a.svg", *args))
    with Image.open(drawn(tmp_path, "a.png", *args)) as image:
        assert image.format == "PNG"
        assert image.size == (2 * width, 2 * height)


def test_a_still_without_at_is_the_first_step_with_the_whole_output(tmp_path: Path) -> None:
    text = svg_text(drawn(tmp_path, "a.svg", LESSON_X, LESSON_K))
    assert "output[0,0] = 19 + 37 = 56" in text
    for value in ("56", "72", "104", "120"):
        assert value in text.split("\n")


def test_at_on_a_gif_is_a_single_frame(tmp_path: Path) -> None:
    path = drawn(tmp_path, "a.gif", "--input-shape", "5x5", "--kernel-shape", "3x3", "--at", "2,2")
    assert len(frames_of(path)) == 1


# --- titles: the configuration and the formula's numbers ----------------------------------


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (
            (*C5, "-s", "2", "-p", "1"),
            ["stride 2, padding 1", "floor((5 + 2*1 - 1*(3-1) - 1)/2) + 1 = 3", "output 3x3"],
        ),
        (
            ("--input-shape", "7x7", "--kernel-shape", "3x3", "-d", "2"),
            ["dilation 2", "floor((7 + 2*0 - 2*(3-1) - 1)/1) + 1 = 3"],
        ),
        (
            ("--input-shape", "5x5", "--kernel-shape", "4x4", "-p", "same"),
            ["padding same = 1,2 (top,bottom) 1,2 (left,right)", "p_h0 + p_h1", "= 5"],
        ),
        (
            ("--transposed", "--input-shape", "2x2", "--kernel-shape", "3x3", "-s", "2"),
            ["(2-1)*2 - 2*0 + 1*(3-1) + 0 + 1 = 5", "1 zero between the input values"],
        ),
        (
            (
                "--transposed", "--input-shape", "3x3", "--kernel-shape", "3x3", "-s", "2",
                "-p", "1", "--output-padding", "1",
            ),
            ["output_padding 1", "(3-1)*2 - 2*1 + 1*(3-1) + 1 + 1 = 6", "output 6x6"],
        ),
        (
            ("--pool", "max", "--input-shape", "4x4", "-k", "2"),
            ["max_pool2d", "floor((4 + 2*0 - 1*(2-1) - 1)/2) + 1 = 2", "the window's"],
        ),
        (
            ("--pool", "avg", "--input-shape", "5x5", "-k", "2", "-p", "1", "--ceil-mode"),
            ["ceil((5 + 2*1 - 1*(2-1) - 1)/2) + 1 = 4, less 1 = 3", "dropped", "ceil_mode on"],
        ),
    ],
)  # fmt: skip
def test_titles_state_the_configuration_and_the_formula(
    tmp_path: Path, args: tuple[str, ...], words: list[str]
) -> None:
    text = svg_text(drawn(tmp_path, "a.svg", *args))
    for word in words:
        assert word in text


# --- the figures' numbers against the computations ----------------------------------------


def grids(figure: Figure) -> list[Grid]:
    return [item for row in (*figure.rows, figure.result) for item in row if isinstance(item, Grid)]


def texts(grid: Grid) -> list[list[str]]:
    return [[cell.text for cell in row] for row in grid.cells]


def states(grid: Grid) -> list[list[str]]:
    return [[cell.state for cell in row] for row in grid.cells]


RNG = np.random.default_rng(13)
NUMPY_MODES: dict[str, Literal["constant", "reflect", "edge", "wrap"]] = {
    "zeros": "constant",
    "reflect": "reflect",
    "replicate": "edge",
    "circular": "wrap",
}


@pytest.mark.parametrize(
    "options",
    [
        ConvOptions(),
        ConvOptions(stride=2, padding=1),
        ConvOptions(padding=(1, 2), dilation=2),
        ConvOptions(padding=1, padding_mode="reflect", flip=True),
        ConvOptions(padding=2, padding_mode="circular"),
        ConvOptions(padding=1, padding_mode="replicate", groups=2),
        ConvOptions(padding="same"),
    ],
)
def test_conv_figures_show_the_values_run_computes(options: ConvOptions) -> None:
    x = RNG.integers(-5, 6, size=(2, 4, 5))
    w = RNG.integers(-3, 4, size=(4, 2 // options.groups, 3, 3))
    b = RNG.integers(-3, 4, size=(4,))
    output = run_convolution(x, w, b, mode="auto", options=options).output
    figures = conv_figures(ConvProblem(x.shape, w.shape, options, x, w, b), animate=True)
    assert len(figures) == output.size
    final = grids(figures[-1])[-1]
    assert texts(final) == [[value_text(v) for v in row] for row in output[-1]]
    padded = np.pad(
        x,
        [(0, 0), *_pads(x.shape, options)],
        mode=NUMPY_MODES[options.padding_mode],
    )
    first_input = grids(figures[0])[0]
    assert texts(first_input) == [[value_text(v) for v in row] for row in padded[0]]
    for figure, index in zip(figures, np.ndindex(output.shape), strict=True):
        footer = figure.footer[0]
        assert footer.endswith(f"= {value_text(output[index])}"), footer
        partials = re.findall(r"sum = (-?\d+)", " ".join(g.note for g in grids(figure)))
        assert sum(int(p) for p in partials) + int(b[index[0]]) == int(output[index])


def _pads(shape: tuple[int, ...], options: ConvOptions) -> list[tuple[int, int]]:
    g = resolve_geometry(
        (shape[-2], shape[-1]),
        (3, 3),
        stride=options.stride,
        padding=options.padding,
        dilation=options.dilation,
    )
    top, bottom, left, right = g.padding
    return [(top, bottom), (left, right)]


def test_groups_fade_the_channels_a_kernel_does_not_see() -> None:
    figure = conv_figures(ConvProblem((4, 5, 5), (4, 2, 3, 3), ConvOptions(groups=2)), (3, 0, 0))[0]
    inputs = [row[0] for row in figure.rows if isinstance(row[0], Grid)]
    assert len(inputs) == 4
    assert {s for row in states(inputs[0]) for s in row} == {"faded"}
    assert {s for row in states(inputs[1]) for s in row} == {"faded"}
    assert "tap" in {s for row in states(inputs[2]) for s in row}
    assert "not seen by output channel 3 (group 1)" in inputs[0].caption


def test_dilated_taps_are_drawn_apart() -> None:
    figure = conv_figures(ConvProblem((7, 7), (3, 3), ConvOptions(dilation=2)), (0, 1))[0]
    grid = grids(figure)[0]
    taps = {(r, c) for r, row in enumerate(states(grid)) for c, s in enumerate(row) if s == "tap"}
    assert taps == {(r, c) for r in (0, 2, 4) for c in (1, 3, 5)}
    assert grid.box == (0, 1, 5, 6)


def test_flip_shows_the_kernel_rotated() -> None:
    x, k = np.arange(9).reshape(3, 3), np.array([[1, 2], [3, 4]])
    figure = conv_figures(ConvProblem(x.shape, k.shape, ConvOptions(flip=True), x, k), (0, 0))[0]
    kernel = grids(figure)[1]
    assert kernel.caption == "kernel flipped"
    assert texts(kernel) == [["4", "3"], ["2", "1"]]
    shapes_only = conv_figures(ConvProblem((3, 3), (2, 2), ConvOptions(flip=True)), (0, 0))[0]
    assert texts(grids(shapes_only)[1]) == [["1,1", "1,0"], ["0,1", "0,0"]]


@pytest.mark.parametrize(
    "settings",
    [
        {"stride": 2},
        {"stride": 2, "padding": 1, "output_padding": 1},
        {"stride": (1, 2), "padding": (0, 1), "dilation": 2},
        {"stride": 3, "padding": 2},  # padding > d(k-1): the zero-inserted input is cropped
        {"stride": 2, "groups": 2},
    ],
)
def test_transposed_direct_view_sums_to_conv_transpose2d(settings: dict[str, Any]) -> None:
    groups = settings.get("groups", 1)
    x = RNG.integers(-4, 5, size=(2, 3, 3))
    w = RNG.integers(-3, 4, size=(2, 4 // groups, 3, 3))
    problem = TransposedProblem(x.shape, w.shape, x=x, weight=w, **settings)
    expected = conv_transpose2d(x, w, **settings)
    figures = transposed_figures(problem, animate=True)
    assert len(figures) == expected.size
    for figure, index in zip(figures, np.ndindex(expected.shape), strict=True):
        partials = [
            int(p) for p in re.findall(r"sum = (-?\d+)", " ".join(g.note for g in grids(figure)))
        ]
        assert sum(partials) == expected[index]
        assert figure.footer[0].endswith(f"= {expected[index]}")


def test_transposed_scatter_view_accumulates_to_the_output() -> None:
    x = RNG.integers(-4, 5, size=(1, 2, 3))
    w = RNG.integers(-3, 4, size=(1, 1, 3, 3))
    settings: dict[str, Any] = {"stride": 2, "padding": 1, "output_padding": 1}
    expected = conv_transpose2d(x, w, **settings)[0]
    figures = transposed_figures(
        TransposedProblem(x.shape, w.shape, x=x, weight=w, **settings), animate=True, scatter=True
    )
    assert len(figures) == x.size
    canvas = grids(figures[-1])[-1]
    cells = texts(canvas)
    p = 1
    cropped = [row[p : p + expected.shape[1]] for row in cells[p : p + expected.shape[0]]]
    assert cropped == [[value_text(v) for v in row] for row in expected]
    first = states(grids(figures[0])[-1])
    stamped = {
        (r, c)
        for r, row in enumerate(first)
        for c, s in enumerate(row)
        if s in ("current", "tap_pad")
    }
    assert stamped == {(r, c) for r in range(3) for c in range(3)}


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize(
    "settings",
    [
        {"kernel_size": 2},
        {"kernel_size": 3, "stride": 2, "ceil_mode": True},
        {"kernel_size": 2, "padding": 1, "ceil_mode": True},
        {"kernel_size": 3, "stride": 1, "padding": 1},
    ],
)
def test_pool_figures_show_the_pooled_values(kind: str, settings: dict[str, Any]) -> None:
    x = RNG.integers(-9, 10, size=(2, 4, 5))
    args = (settings["kernel_size"], settings.get("stride"), settings.get("padding", 0))
    if kind == "max":
        expected = max_pool2d(x, *args, ceil_mode=settings.get("ceil_mode", False))
    else:
        expected = avg_pool2d(x, *args, ceil_mode=settings.get("ceil_mode", False))
    figures = pool_figures(PoolProblem(kind, x.shape, x=x, **settings), animate=True)
    assert len(figures) == expected.size
    for figure, index in zip(figures, np.ndindex(expected.shape), strict=True):
        assert figure.footer[0].split(" = ")[-1] == value_text(expected[index])
        if kind == "max":
            grid = grids(figure)[0]
            winners = [c.text for row in grid.cells for c in row if c.state == "winner"]
            assert winners == [value_text(expected[index])]


def test_pool_padding_shows_what_pytorch_pads_with() -> None:
    for kind, fill in (("max", "-inf"), ("avg", "0")):
        figure = pool_figures(PoolProblem(kind, (3, 3), 2, padding=1), (1, 1))[0]
        assert texts(grids(figure)[0])[0] == [fill] * 5


# --- refusals ------------------------------------------------------------------------------


def test_a_big_animation_is_refused_with_a_hint_and_nothing_written(tmp_path: Path) -> None:
    target = tmp_path / "big.gif"
    result = invoke("draw", "--input-shape", "64x64", "--kernel-shape", "3x3", "-o", str(target))
    assert_usage_error(result, f"more than {MAX_FRAMES}", "--at")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_a_picture_of_too_many_cells_is_refused_even_with_at(tmp_path: Path) -> None:
    target = tmp_path / "big.svg"
    args = ("--input-shape", "100x100", "--kernel-shape", "3x3", "--at", "0,0", "-o", str(target))
    assert_usage_error(invoke("draw", *args), "cells", "smaller")
    assert not target.exists()


@pytest.mark.parametrize("name", ["a.jpg", "a", "a.svg.txt", "a.PDF"])
def test_an_unknown_extension_is_refused(tmp_path: Path, name: str) -> None:
    args = ("--input-shape", "3x3", "--kernel-shape", "2x2", "-o", str(tmp_path / name))
    assert_usage_error(invoke("draw", *args), "unsupported output type", ".svg")
    assert list(tmp_path.iterdir()) == []


def test_an_existing_picture_is_kept_without_force(tmp_path: Path) -> None:
    target = tmp_path / "a.svg"
    target.write_text("old")
    args = ("--input-shape", "3x3", "--kernel-shape", "2x2", "-o", str(target))
    assert_usage_error(invoke("draw", *args), "already exists", "--force")
    assert target.read_text() == "old"
    assert invoke("draw", *args, "--force").exit_code == 0
    assert target.read_text().startswith("<svg")


def test_a_picture_never_overwrites_an_input(tmp_path: Path) -> None:
    x = save(tmp_path / "x.svg.npy", np.ones((3, 3)))
    assert_usage_error(invoke("draw", x, x, "-o", x, "--force"), "unsupported output type")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ((*C5, "--at", "3,0"), ["--at", "out of range"]),
        ((*C5, "--at", "1,1,1"), ["--at", "2 indices"]),
        ((LESSON_X, "--input-shape", "3x3"), ["either"]),
        ((LESSON_X,), ["both INPUT and KERNEL"]),
        (("--input-shape", "5x5"), ["--kernel-shape"]),
        (("--input-shape", "2x2", "--kernel-shape", "3x3"), ["larger than the padded input"]),
        ((*C5, "-p", "sideways"), ["--padding"]),
        ((*C3, "-p", "3", "--padding-mode", "reflect"), ["reflect"]),
        ((*C5, "--scatter"), ["--scatter", "--transposed"]),
        ((*C5, "--ceil-mode"), ["--ceil-mode", "--pool"]),
        (("--pool", "max", "--input-shape", "4x4", "-k", "2", "--flip"), ["--flip"]),
        (("--pool", "avg", "--input-shape", "4x4", "-k", "2", "-d", "2"), ["--dilation"]),
        (("--pool", "sum", "--input-shape", "4x4", "-k", "2"), ["--pool", "max or avg"]),
        (("--pool", "max", "--input-shape", "4x4"), ["--kernel-size"]),
        (("--pool", "max", "--input-shape", "4x4", "-k", "2", "-p", "2"), ["half the window"]),
        (("--pool", "max", "--transposed", "--input-shape", "4x4", "-k", "2"), ["choose one"]),
        (
            (*T2, "--output-padding", "1"),
            ["output padding must be smaller"],
        ),
        (("--transposed", "--input-shape", "2x2", "--kernel-shape", "3x3", "--flip"), ["--flip"]),
        (("--input-shape", "3x3", "--kernel-shape", "2x2", "--bias", LESSON_X), ["--bias"]),
    ],
)  # fmt: skip
def test_bad_drawings_are_one_line_refusals(
    tmp_path: Path, args: tuple[str, ...], words: list[str]
) -> None:
    target = tmp_path / "a.svg"
    assert_usage_error(invoke("draw", *args, "-o", str(target)), *words)
    assert not target.exists()


def test_output_is_required() -> None:
    assert_usage_error(invoke("draw", "--input-shape", "3x3", "--kernel-shape", "2x2"), "--output")


# --- the optional libraries ----------------------------------------------------------------


def test_png_without_pillow_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "PIL", None)  # import PIL now raises ImportError
    target = tmp_path / "a.png"
    result = invoke("draw", "--input-shape", "3x3", "--kernel-shape", "2x2", "-o", str(target))
    assert_usage_error(result, "Pillow", install_hint())
    assert list(tmp_path.iterdir()) == []
    # SVG needs no library.
    assert (
        invoke(
            "draw", "--input-shape", "3x3", "--kernel-shape", "2x2", "-o", str(tmp_path / "a.svg")
        ).exit_code
        == 0
    )


def test_start_up_and_svg_drawings_import_no_drawing_library(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from convcli.cli import app\n"
        "assert CliRunner().invoke(app, ['--help']).exit_code == 0\n"
        "r = CliRunner().invoke(app, ['draw', '--input-shape', '3x3', '--kernel-shape', '2x2', "
        f"'-o', {str(tmp_path / 'a.svg')!r}])\n"
        "assert r.exit_code == 0, r.output\n"
        "print(sorted(m for m in ('PIL', 'matplotlib') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_a_big_drawing_is_refused_from_the_header_before_any_data_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import convcli.tensorio.files

    x = save(tmp_path / "x.npy", np.zeros((1, 64, 64)))
    w = save(tmp_path / "w.npy", np.ones((1, 1, 3, 3)))

    def no_loading(*args: object, **kwargs: object) -> Any:
        raise AssertionError("tensor data read before the drawing was checked")

    for name in ("read_npy", "read_npz", "parse_json_tensor"):
        monkeypatch.setattr(convcli.tensorio.files, name, no_loading)
    result = invoke("draw", x, w, "-o", str(tmp_path / "a.gif"))
    assert_usage_error(result, "more than 400")
    assert not (tmp_path / "a.gif").exists()


def test_the_input_can_come_from_stdin(tmp_path: Path) -> None:
    target = tmp_path / "a.svg"
    text = Path(LESSON_X).read_text(encoding="utf-8")
    result = invoke("draw", "-", LESSON_K, "--at", "0,0", "-o", str(target), input=text)
    assert result.exit_code == 0, result.output
    assert "output[0,0] = 19 + 37 = 56" in svg_text(target)


def test_a_batched_input_draws_the_batch_items_own_values(tmp_path: Path) -> None:
    x = RNG.integers(0, 5, size=(2, 2, 3, 3))
    w = RNG.integers(-2, 3, size=(2, 2, 2, 2))
    target = drawn(
        tmp_path,
        "a.svg",
        save(tmp_path / "x.npy", x),
        save(tmp_path / "w.npy", w),
        "--at",
        "1,1,0,1",
    )
    text = svg_text(target)
    value = run_convolution(x, w, None, mode="auto", options=ConvOptions()).output[1, 1, 0, 1]
    assert "output[1,1,0,1] = " in text and text.count(f"= {value_text(value)}") >= 1
    assert "input[1] channel 0" in text


def test_the_draw_layer_imports_neither_cli_nor_render() -> None:
    folder = Path(__file__).resolve().parent.parent / "convcli" / "draw"
    banned = ("convcli.cli", "convcli.render", "typer", "rich")
    for module in folder.glob("*.py"):
        tree = ast.parse(module.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert not any(name == b or name.startswith(b + ".") for b in banned), (
                    f"{module.name} imports {name}"
                )


def luminance(colour: str) -> float:
    """WCAG's relative luminance of ``#RRGGBB``: what is left of a colour printed in grey."""
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


@pytest.mark.parametrize(
    ("marked", "plain"),
    [
        ("tap", "input"),
        ("tap", "pad"),
        ("current", "done"),
        ("current", "pending"),
        ("winner", "tap"),
        ("winner", "input"),
    ],
)
def test_marked_cells_stand_out_in_grey(marked: str, plain: str) -> None:
    assert abs(luminance(PALETTE[marked][0]) - luminance(PALETTE[plain][0])) >= 0.2


@pytest.mark.parametrize("state", sorted(PALETTE))
def test_cell_text_is_readable_on_its_fill(state: str) -> None:
    fill, _stroke, text = PALETTE[state]
    light, dark = sorted((luminance(fill), luminance(text)), reverse=True)
    ratio = (light + 0.05) / (dark + 0.05)
    # WCAG AA for text; the muted states (not seen, outside the input) are meant to recede.
    assert ratio >= (2.0 if state in ("faded", "outside") else 4.5), f"{state}: {ratio:.2f}"
