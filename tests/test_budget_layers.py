"""The memory estimates of transposed convolution and pooling hold: what the computation
allocates (numpy reports to tracemalloc) stays within the estimate, decided before it runs."""

from __future__ import annotations

import json
import re
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from clitools import assert_usage_error, invoke, save

from convcli import conv_transpose2d
from convcli.ops.budget import estimate_pool_run, estimate_transposed_run
from convcli.ops.pooling import pool
from convcli.shapes.pooling import PoolOptions
from convcli.shapes.transposed import TransposedOptions

SLACK = 64 * 1024  # small Python objects around the arrays


def _peak(compute: Callable[[], Any]) -> int:
    tracemalloc.start()
    try:
        compute()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak


@pytest.mark.parametrize(
    ("x_shape", "w_shape", "dtype", "options", "bias"),
    [
        ((1, 64, 16, 16), (64, 32, 4, 4), "float32", TransposedOptions(2, 1), False),
        ((4, 16, 12, 10), (16, 8, 3, 3), "float64", TransposedOptions(3, 1, 2, 2, 2), True),
        ((2, 8, 9, 9), (8, 4, 2, 2), "int16", TransposedOptions((2, 1), 0, (1, 0)), True),
        ((3, 6, 7), (3, 5, 5, 5), "float16", TransposedOptions(1, 2), True),
    ],
)
def test_conv_transpose2d_stays_within_its_estimate(
    x_shape: tuple[int, ...],
    w_shape: tuple[int, ...],
    dtype: str,
    options: TransposedOptions,
    bias: bool,
) -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(-3, 4, x_shape).astype(dtype)
    w = rng.integers(-3, 4, w_shape).astype(dtype)
    c_o = w_shape[1] * int(options.groups)
    b = rng.integers(-3, 4, (c_o,)).astype(dtype) if bias else None
    estimate = estimate_transposed_run(
        x.shape, x.dtype, w.shape, w.dtype, None if b is None else b.shape,
        None if b is None else b.dtype, options,
    )  # fmt: skip
    parts = dict(estimate.parts)
    peak = _peak(
        lambda: conv_transpose2d(
            x,
            w,
            b,
            stride=options.stride,
            padding=options.padding,
            output_padding=options.output_padding,
            groups=options.groups,
            dilation=options.dilation,
        )
    )
    assert peak <= parts["output"] + parts["workspace"] + SLACK


@pytest.mark.parametrize(
    ("shape", "dtype", "options"),
    [
        ((1, 64, 112, 112), "float32", PoolOptions("max", 3, 2, 1)),
        ((2, 8, 33, 31), "float16", PoolOptions("avg", (3, 2), None, (1, 1), ceil_mode=True)),
        ((2, 8, 33, 31), "int8", PoolOptions("avg", 2, 1, 1, count_include_pad=False)),
        ((4, 16, 7, 9), "float64", PoolOptions("adaptive-avg", output_size=(3, 4))),
        ((4, 16, 7, 9), "int32", PoolOptions("adaptive-max", output_size=1)),
        ((3, 20, 20), "uint8", PoolOptions("max", 2, 1, 1, dilation=3, ceil_mode=True)),
    ],
)
def test_pooling_stays_within_its_estimate(
    shape: tuple[int, ...], dtype: str, options: PoolOptions
) -> None:
    x = np.random.default_rng(0).integers(0, 100, shape).astype(dtype)
    parts = dict(estimate_pool_run(x.shape, x.dtype, options).parts)
    peak = _peak(lambda: pool(x, options))
    assert peak <= parts["output"] + parts["workspace"] + SLACK


# --- whole commands: the estimate made before loading covers the measured peak -------------

COMMANDS = {
    "run --transposed": ["run", "X", "W", "--transposed", "-s", "2", "-p", "1"],
    "run --transposed --bias --json": ["run", "X", "W", "--transposed", "-s", "2", "--bias",
                                       "B", "--json"],
    "run --transposed -o y.json": ["run", "X", "W", "--transposed", "-o", "OUT/y.json", "--force"],
    "run --transposed groups": ["run", "X", "W", "--transposed", "-s", "3", "-g", "4", "-d", "2"],
    "run --transposed int8 --json": ["run", "X8", "W8", "--transposed", "-s", "2", "--json"],
    "run --transposed complex --json": ["run", "XC", "WC", "--transposed", "-s", "2", "--json"],
    "run --transposed JSON input": ["run", "XJ", "W", "--transposed", "-s", "2", "--json"],
    "verify --transposed": ["verify", "X", "W", "--transposed", "-s", "2", "-p", "1"],
    "verify --transposed --json": ["verify", "X", "W", "--transposed", "-s", "2", "--json"],
    "verify --transposed int8": ["verify", "X8", "W8", "--transposed", "-s", "2", "--json"],
    "verify --transposed complex": ["verify", "XC", "WC", "--transposed", "--output-padding",
                                    "0"],
    "explain --transposed --json": ["explain", "X", "W", "--transposed", "-s", "2", "--at",
                                    "0,3,5,5", "--json"],
    "explain --transposed --full": ["explain", "X", "W", "--transposed", "--at", "0,3,5,5",
                                    "--full"],
    "pool": ["pool", "P", "-k", "3", "-s", "2", "-p", "1"],
    "pool --json": ["pool", "P", "--kind", "avg", "-k", "1", "--json"],
    "pool adaptive": ["pool", "P", "--kind", "adaptive-max", "--output-size", "7"],
    "pool complex --json": ["pool", "XC", "--kind", "avg", "-k", "2", "--json"],
    "pool --at": ["pool", "P", "-k", "3", "--at", "0,0,3,3", "--json"],
}  # fmt: skip


@pytest.fixture(scope="module")
def command_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("layers")
    rng = np.random.default_rng(11)
    arrays: dict[str, np.ndarray[Any, Any]] = {
        "X": rng.standard_normal((1, 32, 32, 32)).astype(np.float32),
        "W": rng.standard_normal((32, 16, 4, 4)).astype(np.float32),
        "B": rng.standard_normal((16,)).astype(np.float32),
        "X8": rng.integers(-5, 5, (2, 16, 24, 24)).astype(np.int8),
        "W8": rng.integers(-5, 5, (16, 4, 3, 3)).astype(np.int8),
        "XC": rng.standard_normal((1, 8, 24, 24)) + 1j,
        "WC": rng.standard_normal((8, 4, 3, 3)) + 0j,
        "P": rng.standard_normal((2, 16, 96, 96)).astype(np.float32),
    }
    files = {name: save(folder / f"{name}.npy", array) for name, array in arrays.items()}
    json_input = folder / "XJ.json"
    json_input.write_text(json.dumps(arrays["X"][0, :, :16, :16].tolist()), encoding="utf-8")
    files["XJ"] = str(json_input)
    files["OUT"] = str(folder)
    return files


@pytest.mark.parametrize("case", COMMANDS)
def test_each_layer_command_stays_within_the_estimate_it_checks_first(
    monkeypatch: pytest.MonkeyPatch, command_files: dict[str, str], case: str
) -> None:
    """The peak of the whole command (loading, computing, the report or the JSON text)
    against the largest estimate it checked before loading (the inputs' own budget
    included: a JSON input's parsing)."""
    import convcli.ops.budget

    estimates: list[int] = []
    for name in ("check_budget", "check_inputs_budget"):
        real = getattr(convcli.ops.budget, name)

        def record(parts: Any, budget: int, real: Any = real) -> None:
            total = parts.total if hasattr(parts, "total") else sum(size for _, size in parts)
            estimates.append(total)
            real(parts, budget)

        monkeypatch.setattr(convcli.ops.budget, name, record)
    args = [
        arg.replace("OUT", command_files["OUT"]) if arg.startswith("OUT/") else arg
        for arg in (command_files.get(arg, arg) for arg in COMMANDS[case])
    ]
    assert invoke(*args).exit_code == 0  # imports and caches warmed up, outside the measure
    estimates.clear()
    tracemalloc.start()
    try:
        result = invoke(*args, "--max-memory", "4G")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.exit_code == 0, result.output
    assert any(estimates), "no estimate was made"
    assert peak <= max(estimates), (case, peak, max(estimates))


# --- progress: the same result, reported block by block -------------------------------------


def test_conv_transpose2d_reports_progress_per_block_and_gives_the_same_result() -> None:
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 8, 20, 20))
    w = rng.standard_normal((8, 3, 3, 3))
    b = rng.standard_normal((6,))
    seen: list[tuple[int, int]] = []
    # A small workspace: a block of a few rows, many blocks.
    arguments: dict[str, Any] = {"stride": 2, "padding": 1, "groups": 2, "workspace_bytes": 4096}

    def report(done: int, total: int) -> None:
        seen.append((done, total))

    with_progress = conv_transpose2d(x, w, b, **arguments, progress=report)
    assert np.array_equal(with_progress, conv_transpose2d(x, w, b, **arguments))
    totals = {total for _, total in seen}
    assert len(totals) == 1 and seen[0] == (0, *totals) and seen[-1] == (*totals, *totals)
    assert [done for done, _ in seen] == list(range(len(seen))) and len(seen) > 3


@pytest.mark.parametrize(
    ("shape", "dtype", "options"),
    [
        ((2, 7, 9, 8), "float32", PoolOptions("max", 3, 2, 1, dilation=2, ceil_mode=True)),
        ((11, 6, 5), "int16", PoolOptions("avg", 2, 1, 1, count_include_pad=False)),
        ((3, 4, 6, 6), "complex128", PoolOptions("avg", 2, divisor_override=3)),
        ((2, 5, 7, 7), "float64", PoolOptions("adaptive-avg", output_size=(3, None))),
        ((5, 8, 8), "uint8", PoolOptions("adaptive-max", output_size=1)),
    ],
)
def test_pooling_in_blocks_is_pooling(
    shape: tuple[int, ...], dtype: str, options: PoolOptions
) -> None:
    from convcli.ops.pooling import pool_in_blocks

    x = np.random.default_rng(3).integers(0, 50, shape).astype(dtype)
    seen: list[tuple[int, int]] = []
    blocks = pool_in_blocks(x, options, lambda d, t: seen.append((d, t)), block_values=60)
    whole = pool(x, options)
    assert blocks.dtype == whole.dtype and blocks.shape == whole.shape
    assert np.array_equal(blocks, whole, equal_nan=True)
    assert seen[-1][0] == seen[-1][1] > 1


def test_pooling_in_blocks_refuses_as_the_whole_input_does() -> None:
    from convcli.errors import NumericError
    from convcli.ops.pooling import pool_in_blocks

    x = np.zeros((6, 4, 4), dtype=np.int64)
    x[5, 0, 0] = 2**62  # only the last block overflows
    options = PoolOptions("avg", 2)
    with pytest.raises(NumericError) as whole:
        pool(x, options)
    with pytest.raises(NumericError) as blocks:
        pool_in_blocks(x, options, lambda done, total: None, block_values=16)
    assert str(blocks.value) == str(whole.value)


# --- item 61: every command and output kind, near the budget --------------------------------

OUTPUT_KINDS = {
    "run table": ["run", "X", "K"],
    "run --full": ["run", "XS", "KS", "--full"],
    "run --heatmap": ["run", "X", "K", "--heatmap"],
    "run --json": ["run", "X", "K", "--json"],
    "run -o y.npy": ["run", "X", "K", "-o", "OUT/y.npy", "--force"],
    "run -o y.json": ["run", "X", "K", "-o", "OUT/y.json", "--force"],
    "run --plot png": ["run", "X", "K", "--plot", "OUT/y.png", "--force"],
    "run --plot svg": ["run", "XS", "KS", "--plot", "OUT/y.svg", "--force"],
    "run --plot large": ["run", "XL", "K1", "--plot", "OUT/l.png", "--force"],
    "run --transposed --plot": ["run", "XT", "W", "--transposed", "--plot", "OUT/t.png",
                                "--force"],
    "verify --json": ["verify", "X", "K", "--json"],
    "explain --full": ["explain", "X", "K", "--at", "0,1,2,3", "--full"],
    "pool --full": ["pool", "XS", "-k", "2", "--full"],
    "pool --indices": ["pool", "P", "-k", "3", "--indices"],
    "pool --indices --json": ["pool", "P", "-k", "2", "--indices", "--json"],
    "pool adaptive --indices": ["pool", "P", "--kind", "adaptive-max", "--output-size", "5",
                                "--indices", "--json"],
    "pool -o y.npy": ["pool", "P", "-k", "2", "-o", "OUT/p.npy", "--force"],
    "pool --plot": ["pool", "P", "-k", "2", "--plot", "OUT/p.png", "--force"],
    "draw .svg": ["draw", "XS", "KS", "-o", "OUT/d.svg", "--force"],
    "draw .png": ["draw", "XS", "KS", "-o", "OUT/d.png", "--force"],
    "draw .gif": ["draw", "--input-shape", "2x5x5", "--kernel-shape", "2x2x3x3", "-o",
                  "OUT/d.gif", "--force"],
    "draw --pool .gif": ["draw", "--pool", "max", "XP", "-k", "2", "-o", "OUT/q.gif", "--force"],
    "draw --transposed .png": ["draw", "--transposed", "--input-shape", "3x3", "--kernel-shape",
                               "3x3", "-s", "2", "-o", "OUT/t.png", "--force"],
}  # fmt: skip


@pytest.fixture(scope="module")
def kind_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("kinds")
    rng = np.random.default_rng(61)
    arrays: dict[str, np.ndarray[Any, Any]] = {
        "X": rng.standard_normal((1, 8, 48, 48)).astype(np.float32),
        "K": rng.standard_normal((4, 8, 3, 3)).astype(np.float32),
        "XS": rng.integers(-5, 5, (2, 6, 6)).astype(np.float64),
        "KS": rng.integers(-2, 3, (2, 2, 2, 2)).astype(np.float64),
        "XL": rng.standard_normal((1, 1200, 1000)).astype(np.float32),
        "K1": np.ones((1, 1, 1, 1), np.float32),
        "XT": rng.standard_normal((1, 8, 20, 20)).astype(np.float32),
        "W": rng.standard_normal((8, 4, 3, 3)).astype(np.float32),
        "P": rng.standard_normal((2, 8, 64, 64)).astype(np.float32),
        "XP": rng.integers(0, 9, (1, 6, 6)).astype(np.int64),
    }
    files = {name: save(folder / f"{name}.npy", array) for name, array in arrays.items()}
    files["OUT"] = str(folder)
    return files


@pytest.mark.parametrize("case", OUTPUT_KINDS)
def test_item61_every_output_kind_stays_within_the_estimate_near_the_budget(
    monkeypatch: pytest.MonkeyPatch, kind_files: dict[str, str], case: str
) -> None:
    """Each thing a command makes (a table, JSON, a file of each type, a plot, a picture,
    indices), run with ``--max-memory`` set to the largest estimate it checks first: it
    fits, and its peak (tracemalloc: Python's and numpy's allocations) is within that
    estimate. One byte less is refused before anything is written."""
    import convcli.ops.budget

    estimates: list[int] = []
    for name in ("check_budget", "check_inputs_budget"):
        real = getattr(convcli.ops.budget, name)

        def record(parts: Any, budget: int, real: Any = real) -> None:
            total = parts.total if hasattr(parts, "total") else sum(size for _, size in parts)
            estimates.append(total)
            real(parts, budget)

        monkeypatch.setattr(convcli.ops.budget, name, record)
    args = [
        kind_files["OUT"] + arg[3:] if arg.startswith("OUT/") else kind_files.get(arg, arg)
        for arg in OUTPUT_KINDS[case]
    ]
    warm = invoke(*args)  # imports, fonts and caches warmed up, outside the measure
    assert warm.exit_code == 0, warm.output
    assert estimates, "no estimate was made"
    budget = max(estimates)
    estimates.clear()
    tracemalloc.start()
    try:
        result = invoke(*args, "--max-memory", str(budget))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.exit_code == 0, result.output
    assert peak <= budget, (case, peak, budget)
    written = [kind_files["OUT"] + arg[3:] for arg in OUTPUT_KINDS[case] if arg.startswith("OUT/")]
    for path in written:
        Path(path).unlink()
    refused = invoke(*args, "--max-memory", str(budget - 1))
    assert refused.exit_code == 2, refused.output
    assert "budget" in refused.stderr
    assert not any(Path(path).exists() for path in written)


# --- item 54: pictures inside the estimate: streamed GIFs, downsampled plots ---------------

CHILD = """
import json, resource, sys, tracemalloc
import numpy as np
import PIL.GifImagePlugin, PIL.ImageChops, PIL.ImageDraw, PIL.ImageFont, PIL.PngImagePlugin

def rss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

if sys.argv[1] == "gif":
    from convcli.draw.conv import ConvProblem, conv_figures
    from convcli.draw.output import picture_estimate, scenes_of, write_figures
    from convcli.draw.raster import render_scene
    from convcli.shapes.options import ConvOptions

    figures = conv_figures(ConvProblem((8, 8), (1, 1), ConvOptions()), animate=True)
    scenes = scenes_of(figures)
    estimate = picture_estimate(scenes, ".gif").total
    pixels = round(scenes[0].width * 2) * round(scenes[0].height * 2)
    render_scene(scenes[0]).quantize(colors=8)  # fonts and Pillow's code loaded
    write = lambda: write_figures(sys.argv[2], figures)
    frames = len(figures)
else:
    import matplotlib.backends.backend_agg, matplotlib.figure
    from convcli.draw.plot import plot_estimate, plot_result

    array = np.random.default_rng(0).standard_normal((6000, 4000), dtype=np.float32)
    estimate = sum(size for _, size in plot_estimate(array.shape))
    plot_result(np.ones((2, 2)), ("m_h", "m_w"), sys.argv[2] + ".warm.png")
    pixels, frames = array.size, 1
    write = lambda: plot_result(array, ("m_h", "m_w"), sys.argv[2])
before = rss()
tracemalloc.start()
write()
traced = tracemalloc.get_traced_memory()[1]
tracemalloc.stop()
print(json.dumps({"grown": rss() - before, "traced": traced, "estimate": estimate,
                  "pixels": pixels, "frames": frames}))
"""


def _child_peak(kind: str, target: Path) -> dict[str, int]:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", CHILD, kind, str(target)],
        capture_output=True,
        text=True,
        check=True,
    )
    measured: dict[str, int] = json.loads(done.stdout.splitlines()[-1])
    return measured


def test_item54_a_gif_is_streamed_within_its_estimate(tmp_path: Path) -> None:
    """A 64-frame GIF: the process's peak RSS grows by less than its estimate, and by far
    less than its frames would take even in the palette (one byte a pixel), all held."""
    from PIL import Image

    target = tmp_path / "a.gif"
    m = _child_peak("gif", target)
    assert m["frames"] == 64
    assert m["grown"] <= m["estimate"], m
    assert m["traced"] <= m["estimate"], m
    assert m["grown"] < m["frames"] * m["pixels"] / 4, m
    with Image.open(target) as gif:
        assert getattr(gif, "n_frames", 1) == 64 and gif.info["loop"] == 0


def test_item54_a_large_plot_is_downsampled_within_its_estimate(tmp_path: Path) -> None:
    """A 6000x4000 map: RSS and traced peaks within ``plot_estimate``, and far below one
    float64 copy of the result (what matplotlib's image pipeline made several of)."""
    m = _child_peak("plot", tmp_path / "p.png")
    assert m["grown"] <= m["estimate"], m
    assert m["traced"] <= m["estimate"], m
    assert m["traced"] < m["pixels"] * 8, m


def test_item54_gif_frames_have_the_pngs_resolution(tmp_path: Path) -> None:
    from PIL import Image

    args = ["draw", "--input-shape", "5x5", "--kernel-shape", "3x3", "-s", "2", "-p", "1"]
    assert invoke(*args, "-o", str(tmp_path / "a.gif")).exit_code == 0
    assert invoke(*args, "--at", "2,2", "-o", str(tmp_path / "a.png")).exit_code == 0
    assert invoke(*args, "--at", "2,2", "-o", str(tmp_path / "a.svg")).exit_code == 0
    with Image.open(tmp_path / "a.gif") as gif, Image.open(tmp_path / "a.png") as png:
        assert gif.size == png.size
        assert getattr(gif, "n_frames", 1) == 9
        gif.seek(8)  # the last frame draws what the still of the last step draws
        frame = np.asarray(gif.convert("RGB"), dtype=np.int16)
        still = np.asarray(png.convert("RGB"), dtype=np.int16)
    # The palette has 128 colours: the same picture, up to a small colour error.
    assert np.mean(np.abs(frame - still)) < 2.0
    svg_width = re.search(r'width="(\d+)"', (tmp_path / "a.svg").read_text())
    assert svg_width is not None and png.size[0] == 2 * int(svg_width.group(1))


def test_item54_a_picture_over_the_budget_is_refused_before_any_pixel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import convcli.draw.raster

    def drawn(*args: object, **kwargs: object) -> None:
        raise AssertionError("a pixel was drawn")

    monkeypatch.setattr(convcli.draw.raster, "render_scene", drawn)
    for name in ("a.gif", "a.png"):
        result = invoke(
            "draw", "--input-shape", "6x20x20", "--kernel-shape", "1x6x1x1", "-o",
            str(tmp_path / name), "--max-memory", "100M",
        )  # fmt: skip
        assert result.exit_code == 2, result.output
        assert "frames" in result.stderr and "--max-memory" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_item54_plot_is_in_the_estimate_checked_before_loading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A budget that the run fits and the run with its plot does not: refused before any
    tensor is read, naming the plot's parts; nothing written."""
    import convcli.ops.budget
    import convcli.tensorio.files

    x = save(tmp_path / "x.npy", np.zeros((1, 64, 64, 64), np.float32))
    k = save(tmp_path / "k.npy", np.ones((64, 1, 1, 1), np.float32))
    estimates: list[Any] = []
    real = convcli.ops.budget.check_budget

    def record(estimate: Any, budget: int) -> None:
        estimates.append(estimate)
        real(estimate, budget)

    monkeypatch.setattr(convcli.ops.budget, "check_budget", record)
    assert invoke("run", x, k, "-g", "64", "--stats").exit_code == 0
    without = estimates[-1].total

    def loaded(*args: object, **kwargs: object) -> None:
        raise AssertionError("a tensor was loaded")

    monkeypatch.setattr(convcli.tensorio.files, "load_tensor", loaded)
    for command in (["run", x, k, "-g", "64"], ["pool", x, "-k", "1"]):
        plot = tmp_path / "p.png"
        result = invoke(*command, "--plot", str(plot), "--max-memory", str(without + 1024))
        assert result.exit_code == 2, result.output
        assert "plot canvas" in result.stderr and "plot figure" in result.stderr
        assert not plot.exists()


def test_item54_plot_writes_values_in_small_maps_and_says_when_it_downsamples(
    tmp_path: Path,
) -> None:
    from convcli.draw.plot import block_means, plot_result

    small = tmp_path / "small.svg"
    plot_result(np.array([[56.0, 72.0], [104.0, 120.0]]), ("m_h", "m_w"), small)
    text = small.read_text(encoding="utf-8")
    for value in ("56", "72", "104", "120"):
        assert f"<!-- {value} -->" in text
    large = tmp_path / "large.svg"
    y = np.arange(1000 * 900, dtype=np.float64).reshape(1000, 900)
    plot_result(y, ("m_h", "m_w"), large)
    text = large.read_text(encoding="utf-8")
    # The title's lines are wrapped to the figure: its words, in order.
    comments = " ".join(re.findall(r"<!-- (.*?) -->", text))
    assert "downsampled: each pixel is the mean of a 3x3 block of values" in comments
    assert "<!-- 56 -->" not in text
    # A block's mean is the mean of its values (the last blocks are the smaller ones).
    means = block_means(y, 3)
    assert means.shape == (334, 300)
    assert means[0, 0] == y[:3, :3].mean() and means[-1, -1] == y[999:, 897:].mean()


# --- item 61 for net: every output of a spec, a preset or a join-heavy spec ---------------

NET_SPECS = {
    # 1,000 layers (repeat's n stops at 1,000; nested repeats multiply, up to 100,000).
    "large spec": ["repeat(2, repeat(250, conv(8, k=1) > relu))", "--input-shape", "1x8x16x16"],
    "preset": ["--preset", "densenet"],
    "joins": [
        "repeat(60, add(conv(8, k=3, p=1) > bn | identity) > "
        "concat(conv(4, k=1) | conv(4, k=1) > residual(conv(4, k=1)) > mul(identity | sigmoid)))",
        "--input-shape", "1x8x16x16",
    ],
}  # fmt: skip
NET_OUTPUTS = {
    "table": [],
    "--json": ["--json"],
    "--emit torch": ["--emit", "torch"],
    "--at": ["--at", "0,0"],
    "--training": ["--training", "--optimizer", "adam"],
    "--depth": ["--depth", "2"],
    "--training --json": ["--training", "--json"],
}


def _net_estimate(monkeypatch: pytest.MonkeyPatch, args: list[str]) -> int:
    """The estimate ``net ARGS`` checks first, recorded where it is checked."""
    import convcli.ops.budget

    estimates: list[int] = []
    real = convcli.ops.budget.check_budget

    def record(estimate: Any, budget: int) -> None:
        estimates.append(estimate.total)
        real(estimate, budget)

    monkeypatch.setattr(convcli.ops.budget, "check_budget", record)
    warm = invoke("net", *args)  # imports and caches warmed up, outside the measure
    assert warm.exit_code == 0, warm.output
    monkeypatch.setattr(convcli.ops.budget, "check_budget", real)
    assert len(estimates) == 1, estimates
    return estimates[0]


@pytest.mark.parametrize("output", NET_OUTPUTS)
@pytest.mark.parametrize("spec", NET_SPECS)
def test_item61_net_every_output_stays_within_the_estimate_near_the_budget(
    monkeypatch: pytest.MonkeyPatch, spec: str, output: str
) -> None:
    """``net`` at ``--max-memory`` equal to its estimate (made from the parsed spec, before
    the walk) fits, and its peak (tracemalloc) is within it; one byte less is refused in
    one line, with nothing printed."""
    from tracing import peak_allocation

    args = [*NET_SPECS[spec], *NET_OUTPUTS[output]]
    budget = _net_estimate(monkeypatch, args)
    result, peak = peak_allocation(lambda: invoke("net", *args, "--max-memory", str(budget)))
    assert result.exit_code == 0, result.output
    assert result.stdout
    assert peak <= budget, (spec, output, peak, budget)
    print(f"net {spec} {output}: peak {peak:,} estimate {budget:,} ratio {peak / budget:.2f}")
    refused = invoke("net", *args, "--max-memory", str(budget - 1))
    line = assert_usage_error(refused, "--max-memory", "budget")
    assert refused.stdout == ""
    assert f"{budget - 1:,}" not in line  # sizes for people, not the byte count
    assert "MiB" in line


def test_item61_net_estimate_grows_with_the_layers_a_spec_stands_for() -> None:
    """Repeats are expanded and the layers inside blocks counted: 10x the layers is about
    10x the per-layer part; a JSON and a script need less than the table."""
    from convcli.ops.budget import NET_BASE_BYTES, estimate_net
    from convcli.shapes.netspec import count_layers, parse_spec

    small = count_layers(parse_spec("repeat(10, add(conv(8, k=1) | identity))"))
    large = count_layers(parse_spec("repeat(10, repeat(10, add(conv(8, k=1) | identity)))"))
    assert (small, large) == (20, 200)  # each add and its conv; identity is no layer
    per_small = estimate_net(small).total - NET_BASE_BYTES
    per_large = estimate_net(large).total - NET_BASE_BYTES
    assert per_large == 10 * per_small
    for flags in ({"as_json": True}, {"emit": True}):
        assert estimate_net(large, **flags).total < estimate_net(large).total
    assert estimate_net(large, training=True).total > estimate_net(large).total


def test_item61_net_presets_and_ordinary_specs_fit_the_smallest_default_budget() -> None:
    """Without --max-memory the default budget (half the available memory, or 2 GiB when
    unknown) applies: every preset, in every output, needs far less than 2 GiB."""
    from convcli.ops.budget import FALLBACK_BUDGET, estimate_net
    from convcli.shapes.netspec import count_layers, parse_spec
    from convcli.shapes.presets import PRESETS

    for name, preset in PRESETS.items():
        layers = count_layers(parse_spec(preset.spec))
        for flags in ({}, {"as_json": True}, {"emit": True}, {"training": True}):
            needed = estimate_net(layers, **flags).total
            assert needed < FALLBACK_BUDGET // 16, (name, flags, needed)
    result = invoke("net", "--preset", "resnet18", "--training", "--json")
    assert result.exit_code == 0, result.output


def test_item61_net_refusal_in_chinese_names_every_part() -> None:
    result = invoke(
        "net", "repeat(10, conv(8, k=1) > relu)", "--input-shape", "1x8x8x8",
        "--training", "--max-memory", "1M", "--lang", "zh",
    )  # fmt: skip
    line = assert_usage_error(result, "--max-memory")
    for word in ("各层", "报告", "训练", "预算"):
        assert word in line, line
    emitted = invoke(
        "net", "repeat(10, conv(8, k=1))", "--input-shape", "1x8x8x8", "--emit", "torch",
        "--max-memory", "1M", "--lang", "zh",
    )  # fmt: skip
    assert "脚本" in assert_usage_error(emitted, "--max-memory")
    assert emitted.stdout == ""


def test_item61_net_budgets_pasted_print_model_text_too(tmp_path: Path) -> None:
    printed = "Sequential(\n" + "".join(
        f"  ({i}): Conv2d(8, 8, kernel_size=(1, 1), stride=(1, 1))\n" for i in range(300)
    ) + ")\n"  # fmt: skip
    path = tmp_path / "model.txt"
    path.write_text(printed, encoding="utf-8")
    refused = invoke("net", f"@{path}", "--input-shape", "1x8x4x4", "--max-memory", "4M")
    assert_usage_error(refused, "--max-memory", "budget")
    assert refused.stdout == ""
    fitted = invoke("net", f"@{path}", "--input-shape", "1x8x4x4", "--max-memory", "64M")
    assert fitted.exit_code == 0, fitted.output
    assert "Conv2d" in fitted.stdout or "conv" in fitted.stdout
