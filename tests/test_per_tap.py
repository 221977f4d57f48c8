"""The per-tap stride-1 kernel (one GEMM per kernel tap on views of the padded tile, no
im2col copy), switched on for these tests: it is off by default until a quiet machine
decides (convcli/ops/algorithms.py, ``_PER_TAP_CHANNELS``). Exact on integer-valued
float64 operands against torch, and within its memory estimate."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from tracing import peak_allocation

import convcli.ops.algorithms as kernels
from convcli import conv2d
from convcli.ops.algorithms import estimate_memory

torch = pytest.importorskip("torch")


@pytest.fixture(autouse=True)
def per_tap_on(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def forget() -> None:
        kernels.plan_tiles.cache_clear()
        kernels._plan_call.cache_clear()
        kernels._KEPT.entry = None

    forget()
    monkeypatch.setattr(kernels, "_PER_TAP_CHANNELS", 4)
    yield
    monkeypatch.undo()
    forget()


CASES: list[tuple[tuple[int, ...], tuple[int, ...], dict[str, Any], int]] = [
    ((2, 8, 9, 11), (6, 8, 3, 3), {"padding": 1}, 64 << 20),
    ((3, 8, 24, 17), (4, 4, 2, 3), {"padding": (2, 0), "dilation": (1, 2), "groups": 2}, 64 << 20),
    ((1, 6, 30, 20), (5, 6, 3, 2), {"padding": (1, 0)}, 16 << 10),  # many row tiles
    ((4, 5, 16, 16), (3, 5, 1, 3), {}, 12 << 10),  # one sample per tile
]


@pytest.mark.parametrize(("x_shape", "w_shape", "options", "workspace"), CASES)
def test_per_tap_matches_torch_exactly_and_is_chosen(
    x_shape: tuple[int, ...], w_shape: tuple[int, ...], options: dict[str, Any], workspace: int
) -> None:
    rng = np.random.default_rng(sum(x_shape))
    x = rng.integers(-4, 5, x_shape).astype(np.float64)
    w = rng.integers(-4, 5, w_shape).astype(np.float64)
    b = rng.integers(-4, 5, w_shape[:1]).astype(np.float64)
    prob = kernels._problem(
        x_shape, w_shape, 1, options.get("padding", 0), options.get("dilation", 1),
        options.get("groups", 1),
    )  # fmt: skip
    assert kernels.plan_tiles(prob, 8, workspace).per_tap
    expected = torch.nn.functional.conv2d(
        torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b), **options
    ).numpy()
    got = conv2d(x, w, b, **options, workspace_bytes=workspace)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize(("x_shape", "w_shape", "options", "workspace"), CASES)
def test_per_tap_first_call_stays_within_its_estimate(
    x_shape: tuple[int, ...], w_shape: tuple[int, ...], options: dict[str, Any], workspace: int
) -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal(x_shape, dtype=np.float32)
    w = rng.standard_normal(w_shape, dtype=np.float32)
    b = rng.standard_normal(w_shape[:1], dtype=np.float32)
    e = estimate_memory(
        x_shape, w_shape, bias_dtype=np.float32, workspace_bytes=workspace, **options
    )
    out = np.empty(e.output_shape, e.output_dtype)
    conv2d(x, w, b, **options, out=out, workspace_bytes=workspace)
    kernels._KEPT.entry = None
    _, peak = peak_allocation(
        lambda: conv2d(x, w, b, **options, out=out, workspace_bytes=workspace)
    )
    assert peak <= e.workspace_bytes + 2 * (w.nbytes + b.nbytes) + 128 * 1024
