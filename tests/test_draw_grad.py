"""``draw --grad --transposed`` and ``draw --grad --pool KIND``: the cells and windows each
picture names, against the forward pass's own geometry and torch.autograd."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from clitools import SAMPLES, assert_usage_error, invoke, save

from convcli.draw.grad import grad_figures
from convcli.draw.grad_pool import pool_grad_figures
from convcli.draw.layout import Figure, Grid
from convcli.ops.grad import pool2d_backward, transposed_grads
from convcli.shapes.pooling import PoolOptions
from convcli.shapes.transposed import TransposedOptions, options_geometry

X = str(SAMPLES / "lesson_X.json")
X3 = str(SAMPLES / "lesson_1x1_X.json")  # (3, 3, 3)
K_OUT = str(SAMPLES / "lesson_K_multi_out.json")  # (3, 2, 2, 2): c_i 3 when transposed

POOLS = [
    PoolOptions("max", 2, 1),
    PoolOptions("max", 3, 2, padding=1, dilation=1, ceil_mode=True),
    PoolOptions("max", 2, 1, dilation=2),
    PoolOptions("avg", 2, 1, padding=1),
    PoolOptions("avg", 3, 2, padding=1, ceil_mode=True, count_include_pad=False),
    PoolOptions("avg", 2, 2, divisor_override=3),
    PoolOptions("adaptive-max", output_size=(3, 2)),
    PoolOptions("adaptive-avg", output_size=(2, 3)),
]


def _grids(figure: Figure) -> list[Grid]:
    return [item for row in figure.rows for item in row if isinstance(item, Grid)]


def _total(figure: Figure) -> str:
    return figure.footer[0].rsplit(" = ", 1)[1]


def _torch_pool(x: Any, options: PoolOptions) -> tuple[Any, Any]:
    """torch's input gradient of the sum of the outputs, and max pooling's indices."""
    torch = pytest.importorskip("torch")
    functional = torch.nn.functional
    xt = torch.tensor(x, requires_grad=True)
    indices = None
    if options.kind == "max":
        y, indices = functional.max_pool2d(
            xt, options.kernel_size, options.stride, options.padding, options.dilation,
            ceil_mode=options.ceil_mode, return_indices=True,
        )  # fmt: skip
    elif options.kind == "avg":
        y = functional.avg_pool2d(
            xt, options.kernel_size, options.stride, options.padding, options.ceil_mode,
            options.count_include_pad, options.divisor_override,
        )  # fmt: skip
    elif options.kind == "adaptive-max":
        y, indices = functional.adaptive_max_pool2d(xt, options.output_size, return_indices=True)
    else:
        y = functional.adaptive_avg_pool2d(xt, options.output_size)
    y.sum().backward()
    return xt.grad.numpy(), None if indices is None else indices.numpy()


@pytest.mark.torch
@pytest.mark.parametrize("options", POOLS, ids=[str(o) for o in POOLS])
def test_pool_pictures_route_what_autograd_routes(options: PoolOptions) -> None:
    rng = np.random.default_rng(5)
    x = rng.integers(0, 4, (2, 5, 6)).astype(np.float64)  # ties
    x[1, 2, 3] = np.nan
    expected, indices = _torch_pool(x, options)
    for cell in itertools.product(range(2), range(5), range(6)):
        figure = pool_grad_figures(x, options, cell)[0]
        assert float(_total(figure)) == pytest.approx(expected[cell], rel=5e-3), cell
        shares = [g for g in _grids(figure) if g.caption in ("share",)]
        if indices is not None:  # one row per window over the cell, a share of 1 per win
            wins = int(np.sum(indices[cell[0]] == cell[1] * 6 + cell[2]))
            assert sum(g.cells[0][0].text == "1" for g in shares) == wins, cell


@pytest.mark.parametrize("options", POOLS, ids=[str(o) for o in POOLS])
def test_pool_pictures_sum_to_the_gradient(options: PoolOptions) -> None:
    x = np.arange(30, dtype=np.float64).reshape(1, 5, 6) % 7
    gradient = pool2d_backward(x, options)
    for i, j in itertools.product(range(5), range(6)):
        figure = pool_grad_figures(x, options, (0, i, j))[0]
        terms = figure.footer[0].split(" = ")[1]
        total = 0.0 if terms == "0" else sum(float(t) for t in terms.split(" + "))
        assert total == pytest.approx(gradient[0, i, j], rel=5e-3, abs=1e-9)
        windows = [g for g in _grids(figure) if g.caption.startswith("window")]
        assert all(
            any(c.state in ("current", "winner") for r in g.cells for c in r) for g in windows
        )


@pytest.mark.parametrize(
    "options",
    [
        TransposedOptions(stride=2, padding=1, output_padding=1),
        TransposedOptions(stride=(1, 2), dilation=2),
        TransposedOptions(stride=3, padding=(1, 0), output_padding=(2, 1), dilation=(1, 2)),
    ],
)
def test_transposed_pictures_name_every_read_of_dy(options: TransposedOptions) -> None:
    rng = np.random.default_rng(3)
    x, w = rng.integers(-3, 4, (3, 3, 4)), rng.integers(-3, 4, (3, 2, 2, 3))
    grads = transposed_grads(x, w, None, options)
    geometry = options_geometry(x.shape, w.shape, options)
    m_h, m_w = geometry.out_size
    (s_h, s_w), (p_h, p_w), (d_h, d_w) = geometry.stride, geometry.padding, geometry.dilation
    for c, i, j in itertools.product(range(3), range(3), range(4)):
        figure = grad_figures(x, w, None, options, (c, i, j))[0]
        assert _total(figure) == str(grads.grad_input[c, i, j])
        reads = sum(
            0 <= i * s_h - p_h + u * d_h < m_h and 0 <= j * s_w - p_w + v * d_w < m_w
            for u, v in itertools.product(range(2), range(3))
        )
        dy = [g for g in _grids(figure) if g.caption.startswith("dY channel")]
        assert len(dy) == 2  # the output channels of the group
        assert all(sum(c.state == "tap" for r in g.cells for c in r) == reads for g in dy)


def test_cli_draws_transposed_and_pooling_gradients(tmp_path: Path) -> None:
    target = tmp_path / "t.svg"
    args = ("draw", X3, K_OUT, "--grad", "--transposed", "-s", "2", "-p", "1")
    result = invoke(*args, "--output-padding", "1", "--at", "0,1,1", "-o", str(target))
    assert result.exit_code == 0, result.output
    svg = target.read_text()
    assert "backward pass of the transposed convolution" in svg
    assert "ordinary convolution (correlation) conv2d of dY with K" in svg
    pictures = {
        "max.svg": ["--pool", "max", "-k", "2", "-s", "1"],
        "avg.svg": ["--pool", "avg", "-k", "2", "-p", "1", "--no-count-include-pad"],
        "amax.svg": ["--pool", "adaptive-max", "--output-size", "2"],
        "aavg.gif": ["--pool", "adaptive-avg", "--output-size", "2,1"],
    }
    for name, extra in pictures.items():
        result = invoke("draw", X, "--grad", *extra, "-o", str(tmp_path / name))
        assert result.exit_code == 0, result.output
    assert "(18 frames)" in result.stderr  # one per input cell of (2, 3, 3)
    svg = (tmp_path / "max.svg").read_text()
    assert "window (0,0)" in svg and "to its window&#x27;s winner only" in svg.replace(
        "'", "&#x27;"
    )


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--grad", "--pool", "max", "-k", "2", "--kernel-shape", "2x2"], ["--kernel-shape"]),
        (["--pool", "avg", "-k", "2", "--divisor-override", "2"], ["--grad"]),
        (["--grad", "--pool", "adaptive-max", "-k", "2"], ["--kernel-size"]),
        (["--grad", "--pool", "mean", "-k", "2"], ["--pool"]),
        (["--grad", "--pool", "max", "-k", "2", "--at", "0,5,0"], ["--at", "outside"]),
        (["--grad", "--pool", "max", "-k", "2", "--at", "0,1"], ["--at", "3 indices"]),
    ],
)
def test_pool_gradient_refusals(tmp_path: Path, args: list[str], words: list[str]) -> None:
    assert_usage_error(invoke("draw", X, *args, "-o", str(tmp_path / "p.svg")), *words)


def test_transposed_gradient_refusals(tmp_path: Path) -> None:
    out = str(tmp_path / "p.svg")
    base = ("draw", X3, K_OUT, "--grad", "--transposed")
    assert_usage_error(invoke(*base, "--scatter", "-o", out), "--scatter")
    assert_usage_error(invoke(*base, "--padding-mode", "reflect", "-o", out), "--padding-mode")
    assert_usage_error(
        invoke(*base, "-s", "2", "--output-padding", "2", "-o", out), "--output-padding"
    )
    wrong = save(tmp_path / "w.npy", np.ones((2, 2, 2, 2)))
    assert_usage_error(invoke("draw", X3, wrong, "--grad", "--transposed", "-o", out))
