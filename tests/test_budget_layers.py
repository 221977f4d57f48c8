"""The memory estimates of transposed convolution and pooling hold: what the computation
allocates (numpy reports to tracemalloc) stays within the estimate, decided before it runs."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

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
