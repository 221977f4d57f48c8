"""The stride-phase (polyphase) im2col for strided layers, switched on for these tests: it
is off by default (convcli/ops/algorithms.py, ``_PHASED``; as fast as the strided gather
on one thread, benchmarks/README.md). Exact on integer-valued float64 operands against
torch, and within its memory estimate."""

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
def phased_on(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def forget() -> None:
        kernels.plan_tiles.cache_clear()
        kernels._plan_call.cache_clear()
        kernels._KEPT.entry = None

    forget()
    monkeypatch.setattr(kernels, "_PHASED", True)
    yield
    monkeypatch.undo()
    forget()


CASES: list[tuple[tuple[int, ...], tuple[int, ...], dict[str, Any], int]] = [
    # the benchmark's grouped strided layer, smaller
    ((1, 8, 20, 22), (8, 4, 3, 5), {"stride": 2, "padding": (1, 2), "groups": 2}, 64 << 20),
    # strides differ per axis, dilation not a multiple of the stride, odd sizes
    (
        (2, 8, 33, 37),
        (12, 8, 3, 3),
        {"stride": (2, 3), "padding": (1, 0), "dilation": (1, 2)},
        64 << 20,
    ),
    # padding wider than a stride: whole phase rows and columns of zeros
    ((1, 6, 31, 32), (8, 6, 4, 4), {"stride": 3, "padding": (4, 5)}, 64 << 20),
    # many row tiles (small workspace), samples one per tile
    ((3, 5, 30, 23), (5, 5, 3, 2), {"stride": 2, "padding": 1}, 24 << 10),
    # stride 1 on one axis, and input columns no tap reads
    ((2, 8, 24, 41), (8, 8, 2, 3), {"stride": (1, 4)}, 64 << 20),
]


@pytest.mark.parametrize(("x_shape", "w_shape", "options", "workspace"), CASES)
def test_phased_matches_torch_exactly_and_is_chosen(
    x_shape: tuple[int, ...], w_shape: tuple[int, ...], options: dict[str, Any], workspace: int
) -> None:
    rng = np.random.default_rng(sum(x_shape))
    x = rng.integers(-4, 5, x_shape).astype(np.float64)
    w = rng.integers(-4, 5, w_shape).astype(np.float64)
    b = rng.integers(-4, 5, w_shape[:1]).astype(np.float64)
    prob = kernels._problem(
        x_shape, w_shape, options.get("stride", 1),
        options.get("padding", 0), options.get("dilation", 1), options.get("groups", 1),
    )  # fmt: skip
    assert kernels.plan_tiles(prob, 8, workspace).phased
    expected = torch.nn.functional.conv2d(
        torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b), **options
    ).numpy()
    for _ in range(2):  # the second call reuses the kept buffers of the first
        got = conv2d(x, w, b, **options, workspace_bytes=workspace)
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize(("x_shape", "w_shape", "options", "workspace"), CASES)
def test_phased_first_call_stays_within_its_estimate(
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


def test_a_nan_in_the_input_reaches_only_its_outputs() -> None:
    # Phase cells past the padded input feed cropped columns only; a NaN stays where
    # torch puts it.
    x = np.ones((1, 8, 25, 25))
    x[0, 1, 12, 12] = np.nan
    w = np.ones((8, 8, 3, 3))
    got = conv2d(x, w, stride=2, padding=1)
    expected = torch.nn.functional.conv2d(
        torch.from_numpy(x), torch.from_numpy(w), stride=2, padding=1
    ).numpy()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_array_equal(got[~np.isnan(got)], expected[~np.isnan(expected)])
