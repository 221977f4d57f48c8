"""The kernels behind conv2d: every algorithm and tiling path against a plain im2col.

The reference below is the textbook computation (pad, gather every window, one matrix
product per group) written independently of ``convcli.ops.algorithms``; where PyTorch is
importable the same cases are also checked against ``torch.nn.functional.conv2d``.
Each case asserts which algorithm ``choose_algorithm`` picks, so every path is hit.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from tracing import peak_allocation

from convcli import conv2d
from convcli.ops.algorithms import (
    DEFAULT_WORKSPACE_BYTES,
    choose_algorithm,
    estimate_memory,
    plan_tiles,
)
from convcli.ops.algorithms import _problem as problem
from convcli.ops.algorithms import _stride_one as stride_one

Array = npt.NDArray[Any]


def reference_conv2d(
    x: Array,
    w: Array,
    bias: Array | None = None,
    stride: tuple[int, int] = (1, 1),
    padding: tuple[int, int, int, int] = (0, 0, 0, 0),
    dilation: tuple[int, int] = (1, 1),
    groups: int = 1,
) -> Array:
    """Straightforward im2col in float64 (complex128 for complex): loops over taps."""
    dtype = np.complex128 if np.iscomplexobj(x) or np.iscomplexobj(w) else np.float64
    x4 = x.astype(dtype)
    top, bottom, left, right = padding
    xp = np.pad(x4, ((0, 0), (0, 0), (top, bottom), (left, right)))
    n, c_i, hp, wp = xp.shape
    c_o, cpg, k_h, k_w = w.shape
    (s_h, s_w), (d_h, d_w) = stride, dilation
    m_h = (hp - d_h * (k_h - 1) - 1) // s_h + 1
    m_w = (wp - d_w * (k_w - 1) - 1) // s_w + 1
    cols = np.empty((n, c_i, k_h, k_w, m_h, m_w), dtype)
    for a in range(k_h):
        for b in range(k_w):
            r0, c0 = a * d_h, b * d_w
            cols[:, :, a, b] = xp[
                :, :, r0 : r0 + s_h * (m_h - 1) + 1 : s_h, c0 : c0 + s_w * (m_w - 1) + 1 : s_w
            ]
    og = c_o // groups
    y = np.empty((n, c_o, m_h * m_w), dtype)
    for g in range(groups):
        cg = cols[:, g * cpg : (g + 1) * cpg].reshape(n, cpg * k_h * k_w, m_h * m_w)
        wg = w[g * og : (g + 1) * og].reshape(og, -1).astype(dtype)
        y[:, g * og : (g + 1) * og] = wg @ cg
    if bias is not None:
        y += np.asarray(bias, dtype).reshape(1, c_o, 1)
    return y.reshape(n, c_o, m_h, m_w)


def torch_conv2d(x: Array, w: Array, bias: Array | None, **options: Any) -> Array | None:
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        return None
    tb = None if bias is None else torch.from_numpy(bias)
    with warnings.catch_warnings():
        # PyTorch notes that an even kernel with padding="same" copies the input.
        warnings.simplefilter("ignore", UserWarning)
        result: Array = F.conv2d(torch.from_numpy(x), torch.from_numpy(w), tb, **options).numpy()
    return result


# name, input shape, weight shape, options, expected algorithm, workspace bytes
CASES: list[tuple[str, tuple[int, ...], tuple[int, ...], dict[str, Any], str, int]] = [
    ("tiny lesson", (1, 2, 3, 3), (3, 2, 2, 2), {}, "tiny", DEFAULT_WORKSPACE_BYTES),
    (
        "tiny grouped strided",
        (2, 4, 5, 7),
        (6, 2, 2, 3),
        {"stride": 2, "groups": 2},
        "tiny",
        DEFAULT_WORKSPACE_BYTES,
    ),
    ("1x1 one GEMM", (2, 16, 33, 35), (8, 16, 1, 1), {}, "gemm_1x1", DEFAULT_WORKSPACE_BYTES),
    ("1x1 pixel tiles when casting", (2, 16, 9, 70), (8, 16, 1, 1), {}, "gemm_1x1", 2_000),
    (
        "1x1 dilation ignored",
        (1, 24, 40, 41),
        (5, 24, 1, 1),
        {"dilation": 3},
        "gemm_1x1",
        DEFAULT_WORKSPACE_BYTES,
    ),
    (
        "1x1 strided -> im2col",
        (1, 24, 41, 43),
        (8, 24, 1, 1),
        {"stride": 2},
        "im2col_gemm",
        DEFAULT_WORKSPACE_BYTES,
    ),
    (
        "1x1 padded -> im2col",
        (1, 24, 31, 29),
        (8, 24, 1, 1),
        {"padding": 1},
        "im2col_gemm",
        DEFAULT_WORKSPACE_BYTES,
    ),
    (
        "dense 3x3 one tile",
        (1, 16, 29, 31),
        (12, 16, 3, 3),
        {"padding": 1},
        "im2col_gemm",
        DEFAULT_WORKSPACE_BYTES,
    ),
    (
        "dense odd row tiles",
        (1, 8, 37, 23),
        (7, 8, 3, 5),
        {"padding": (1, 2)},
        "im2col_gemm",
        60_000,
    ),
    (
        "dense one-row tiles",
        (1, 8, 19, 21),
        (5, 8, 3, 3),
        {"padding": "same"},
        "im2col_gemm",
        12_000,
    ),
    ("dense column tiles", (1, 8, 13, 50), (4, 8, 3, 3), {"padding": 1}, "im2col_gemm", 4_000),
    (
        "column tiles across samples, padded both sides",
        (2, 16, 12, 3),
        (12, 4, 4, 3),
        {"padding": "same", "dilation": 2, "groups": 4},
        "im2col_gemm",
        1_024,
    ),
    (
        "batch folded",
        (9, 6, 11, 13),
        (10, 6, 3, 3),
        {"padding": 1},
        "im2col_gemm",
        DEFAULT_WORKSPACE_BYTES,
    ),
    (
        "batch folded, odd groups of samples",
        (7, 6, 12, 10),
        (4, 6, 2, 2),
        {},
        "im2col_gemm",
        60_000,
    ),
    (
        "same, even kernel",
        (2, 5, 17, 16),
        (6, 5, 4, 2),
        {"padding": "same", "dilation": (1, 3)},
        "im2col_gemm",
        30_000,
    ),
    (
        "strided dilated padded",
        (2, 8, 33, 29),
        (9, 8, 3, 3),
        {"stride": 2, "padding": 2, "dilation": 2},
        "im2col_gemm",
        DEFAULT_WORKSPACE_BYTES,
    ),
    (
        "strided dilated, small tiles",
        (1, 8, 33, 29),
        (9, 8, 3, 2),
        {"stride": (3, 2), "padding": (2, 1), "dilation": (1, 2)},
        "im2col_gemm",
        9_000,
    ),
    (
        "stride-one reduction, odd offsets",
        (2, 6, 37, 31),
        (5, 6, 3, 2),
        {"stride": 2, "padding": 3, "dilation": (4, 2)},
        "im2col_gemm",
        DEFAULT_WORKSPACE_BYTES,
    ),
    (
        "stride-one reduction, stride 3, small tiles",
        (2, 5, 70, 65),
        (4, 5, 2, 3),
        {"stride": 3, "padding": (1, 2), "dilation": 3},
        "im2col_gemm",
        6_000,
    ),
    (
        "grouped GEMM",
        (2, 12, 21, 22),
        (9, 4, 3, 3),
        {"padding": 1, "groups": 3},
        "im2col_gemm",
        50_000,
    ),
    (
        "depthwise",
        (1, 32, 30, 31),
        (32, 1, 3, 3),
        {"padding": 1, "groups": 32},
        "depthwise_direct",
        DEFAULT_WORKSPACE_BYTES,
    ),
    (
        "depthwise batch",
        (2, 64, 48, 45),
        (64, 1, 3, 3),
        {"padding": 1, "groups": 64},
        "depthwise_direct",
        DEFAULT_WORKSPACE_BYTES,
    ),
    (
        "depthwise row tiles",
        (2, 6, 41, 37),
        (6, 1, 5, 3),
        {"padding": (2, 1), "groups": 6},
        "depthwise_direct",
        8_000,
    ),
    (
        "depthwise column tiles",
        (1, 3, 20, 90),
        (3, 1, 3, 3),
        {"padding": 1, "groups": 3},
        "depthwise_direct",
        1_000,
    ),
    (
        "depthwise multiplier",
        (1, 5, 26, 27),
        (15, 1, 3, 3),
        {"padding": 1, "groups": 5},
        "depthwise_direct",
        30_000,
    ),
    (
        "depthwise strided dilated",
        (2, 6, 33, 35),
        (6, 1, 3, 3),
        {"stride": 2, "padding": 3, "dilation": 3, "groups": 6},
        "depthwise_direct",
        20_000,
    ),
]


def _operands(
    x_shape: tuple[int, ...], w_shape: tuple[int, ...], seed: int = 0
) -> tuple[Array, Array, Array]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = rng.standard_normal(w_shape).astype(np.float32)
    b = rng.standard_normal(w_shape[0]).astype(np.float32)
    return x, w, b


def _resolved(x_shape: tuple[int, ...], w_shape: tuple[int, ...], options: dict[str, Any]) -> Any:
    return problem(
        x_shape,
        w_shape,
        options.get("stride", 1),
        options.get("padding", 0),
        options.get("dilation", 1),
        options.get("groups", 1),
    )


def _reference(x: Array, w: Array, b: Array | None, options: dict[str, Any]) -> Array:
    geom = _resolved(x.shape, w.shape, options).geom
    return reference_conv2d(
        x, w, b, geom.stride, geom.padding, geom.dilation, options.get("groups", 1)
    )


@pytest.mark.parametrize(
    ("name", "x_shape", "w_shape", "options", "algorithm", "workspace"),
    CASES,
    ids=[case[0] for case in CASES],
)
def test_every_path_matches_reference(
    name: str,
    x_shape: tuple[int, ...],
    w_shape: tuple[int, ...],
    options: dict[str, Any],
    algorithm: str,
    workspace: int,
) -> None:
    assert choose_algorithm(x_shape, w_shape, **options) == algorithm
    x, w, b = _operands(x_shape, w_shape)
    for bias in (None, b):
        y = conv2d(x, w, bias, **options, workspace_bytes=workspace)
        assert y.dtype == np.float32
        np.testing.assert_allclose(y, _reference(x, w, bias, options), rtol=1e-4, atol=1e-4)


@pytest.mark.torch
@pytest.mark.parametrize(
    ("name", "x_shape", "w_shape", "options", "algorithm", "workspace"),
    CASES,
    ids=[case[0] for case in CASES],
)
def test_every_path_matches_torch(
    name: str,
    x_shape: tuple[int, ...],
    w_shape: tuple[int, ...],
    options: dict[str, Any],
    algorithm: str,
    workspace: int,
) -> None:
    pytest.importorskip("torch")
    x, w, b = _operands(x_shape, w_shape, seed=1)
    expected = torch_conv2d(x, w, b, **options)
    assert expected is not None
    y = conv2d(x, w, b, **options, workspace_bytes=workspace)
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    ("case_name", "reduced"),
    [
        ("strided dilated padded", True),
        ("stride-one reduction, odd offsets", True),
        ("stride-one reduction, stride 3, small tiles", True),
        ("1x1 strided -> im2col", True),
        ("depthwise strided dilated", False),
        ("strided dilated, small tiles", False),
        ("dense 3x3 one tile", False),
    ],
)
def test_strided_taps_on_the_stride_grid_run_at_stride_one(case_name: str, reduced: bool) -> None:
    _, x_shape, w_shape, options, _, _ = next(c for c in CASES if c[0] == case_name)
    prob = _resolved(x_shape, w_shape, options)
    result = stride_one(prob)
    assert (result is not None) == reduced
    if result is not None:
        assert result[0].geom.stride == (1, 1)
        assert result[0].geom.out_size == prob.geom.out_size


def test_tiling_paths_really_tile() -> None:
    """The small budgets above do cut the work as the case names say."""

    def plan(case_name: str) -> Any:
        _, x_shape, w_shape, options, _, workspace = next(c for c in CASES if c[0] == case_name)
        return plan_tiles(_resolved(x_shape, w_shape, options), 4, workspace)

    assert 1 < plan("dense odd row tiles").rows < 37
    assert plan("dense one-row tiles").rows == 1
    assert plan("dense column tiles").cols < 50
    assert plan("dense column tiles").flat is False
    assert plan("dense 3x3 one tile").flat is True
    assert plan("batch folded").samples == 9
    assert 1 < plan("batch folded, odd groups of samples").samples < 7
    assert plan("depthwise row tiles").rows < 41
    assert plan("depthwise column tiles").cols < 90
    assert plan("1x1 pixel tiles when casting").cols < 70


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.complex64])
@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_dtypes_per_path(dtype: Any, case: Any) -> None:
    _, x_shape, w_shape, options, _, workspace = case
    x, w, b = (a.astype(dtype) for a in _operands(x_shape, w_shape, seed=2))
    if np.dtype(dtype).kind == "c":
        x = x + 1j * x[..., ::-1]
    y = conv2d(x, w, b, **options, workspace_bytes=workspace)
    assert y.dtype == dtype
    tol = 2e-2 if dtype == np.float16 else 1e-4
    np.testing.assert_allclose(y, _reference(x, w, b, options), rtol=tol, atol=tol)


@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_integers_are_exact_per_path(case: Any) -> None:
    _, x_shape, w_shape, options, _, workspace = case
    rng = np.random.default_rng(3)
    x = rng.integers(-50, 50, x_shape, dtype=np.int16)
    w = rng.integers(-50, 50, w_shape, dtype=np.int8)
    y = conv2d(x, w, **options, workspace_bytes=workspace)
    assert y.dtype == np.int64
    expected = _reference(x, w, None, options)
    np.testing.assert_array_equal(y, expected.astype(np.int64))


@pytest.mark.parametrize("case", CASES[::3], ids=[case[0] for case in CASES[::3]])
def test_large_integers_use_exact_int64(case: Any) -> None:
    """Past 2**53 the partial sums leave float64's exact range: int64 arithmetic."""
    _, x_shape, w_shape, options, _, workspace = case
    rng = np.random.default_rng(4)
    x = rng.integers(-(2**40), 2**40, x_shape, dtype=np.int64)
    w = rng.integers(-(2**12), 2**12, w_shape, dtype=np.int64)
    y = conv2d(x, w, **options, workspace_bytes=workspace)
    geom = _resolved(x_shape, w_shape, options).geom
    top, bottom, left, right = geom.padding
    xp = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    (s_h, s_w), (d_h, d_w) = geom.stride, geom.dilation
    groups = options.get("groups", 1)
    og, cpg = w_shape[0] // groups, w_shape[1]
    m_h, m_w = geom.out_size
    expected = np.zeros(y.shape, dtype=np.int64)
    for o in range(w_shape[0]):
        g = o // og
        for c in range(cpg):
            for a in range(w_shape[2]):
                for b in range(w_shape[3]):
                    plane = xp[
                        :,
                        g * cpg + c,
                        a * d_h : a * d_h + s_h * (m_h - 1) + 1 : s_h,
                        b * d_w : b * d_w + s_w * (m_w - 1) + 1 : s_w,
                    ]
                    expected[:, o] += plane * w[o, c, a, b]
    np.testing.assert_array_equal(y, expected)


def test_unbatched_input_and_non_contiguous_views() -> None:
    x, w, b = _operands((4, 64, 30, 30), (16, 8, 3, 3))
    view = x[::2, :, ::-1, 1:]  # strided, reversed, offset
    y = conv2d(view, w, b, padding=1, groups=8, workspace_bytes=30_000)
    np.testing.assert_allclose(
        y, _reference(view, w, b, {"padding": 1, "groups": 8}), rtol=1e-4, atol=1e-4
    )
    single = conv2d(view[1], w, b, padding=1, groups=8)
    np.testing.assert_allclose(single, y[1], rtol=1e-5, atol=1e-5)


def test_out_receives_the_result_in_a_memmap(tmp_path: Path) -> None:
    x, w, b = _operands((2, 8, 40, 40), (6, 8, 3, 3))
    estimate = estimate_memory(x.shape, w.shape, input_dtype=x.dtype, bias_dtype=b.dtype, padding=1)
    path = tmp_path / "y.dat"
    out = np.memmap(path, dtype=estimate.output_dtype, mode="w+", shape=estimate.output_shape)
    result = conv2d(x, w, b, padding=1, out=out, workspace_bytes=20_000)
    assert result is out
    out.flush()
    on_disk = np.fromfile(path, dtype=np.float32).reshape(estimate.output_shape)
    np.testing.assert_allclose(on_disk, _reference(x, w, b, {"padding": 1}), rtol=1e-4, atol=1e-4)


def test_out_for_unbatched_input() -> None:
    x, w, _ = _operands((3, 9, 9), (4, 3, 2, 2))
    out = np.empty((4, 8, 8), np.float32)
    assert conv2d(x, w, out=out) is out
    np.testing.assert_allclose(out, conv2d(x, w), rtol=1e-6)


@pytest.mark.parametrize(
    ("out", "message"),
    [
        (np.empty((1, 4, 8, 8), np.float32), "out must have shape"),
        (np.empty((4, 8, 8), np.float64), "out must have dtype"),
        (np.empty((4, 8, 16), np.float32)[:, :, ::2], "C-contiguous"),
        ([[0.0]], "numpy array"),
    ],
)
def test_out_is_checked(out: Any, message: str) -> None:
    x, w, _ = _operands((3, 9, 9), (4, 3, 2, 2))
    with pytest.raises(ValueError, match=message):
        conv2d(x, w, out=out)


def test_out_must_not_overlap_the_input() -> None:
    buffer = np.zeros((2, 4, 8, 8), np.float32)
    with pytest.raises(ValueError, match="overlap"):
        conv2d(buffer, np.ones((4, 4, 1, 1), np.float32), out=buffer)


def test_estimate_memory_for_the_cli_target() -> None:
    """(1,64,1024,1024) float32, 3x3, padding 1: input + output + a bounded workspace."""
    e = estimate_memory((1, 64, 1024, 1024), (64, 64, 3, 3), padding=1)
    assert e.output_shape == (1, 64, 1024, 1024)
    assert e.output_dtype == np.float32
    assert e.input_bytes == e.output_bytes == 256 * 2**20
    assert 0 < e.workspace_bytes <= DEFAULT_WORKSPACE_BYTES
    assert e.total_bytes == e.input_bytes + e.output_bytes + e.workspace_bytes
    unbatched = estimate_memory((3, 10, 10), (2, 3, 3, 3), input_dtype=np.int8)
    assert unbatched.output_shape == (2, 8, 8)
    assert unbatched.output_dtype == np.int64
    half = estimate_memory((3, 10, 10), (2, 3, 3, 3), input_dtype=np.float16)
    assert half.output_dtype == np.float16


@pytest.mark.parametrize("budget", [2**16, 2**20, DEFAULT_WORKSPACE_BYTES])
@pytest.mark.parametrize(
    ("x_shape", "w_shape", "options"),
    [
        ((1, 64, 1 << 12, 1 << 12), (64, 64, 3, 3), {"padding": 1}),
        ((1, 3, 1 << 14, 1 << 14), (16, 3, 5, 5), {"padding": 2}),
        ((4, 512, 1 << 11, 1 << 11), (512, 1, 3, 3), {"padding": 1, "groups": 512}),
        ((1, 1024, 1 << 11, 1 << 11), (256, 1024, 1, 1), {}),
        ((1, 8, 64, 1 << 16), (8, 8, 3, 3), {"stride": 2}),
    ],
)
def test_workspace_is_bounded_whatever_the_input(
    budget: int, x_shape: tuple[int, ...], w_shape: tuple[int, ...], options: dict[str, Any]
) -> None:
    e = estimate_memory(x_shape, w_shape, workspace_bytes=budget, **options)
    assert e.workspace_bytes <= budget


@pytest.mark.parametrize(
    "case", [c for c in CASES if c[4] != "tiny"], ids=[c[0] for c in CASES if c[4] != "tiny"]
)
def test_allocations_stay_within_the_estimate(case: Any) -> None:
    """numpy reports its allocations to tracemalloc: the peak is the planned workspace."""
    _, x_shape, w_shape, options, _, workspace = case
    x, w, b = _operands(x_shape, w_shape)
    e = estimate_memory(
        x_shape, w_shape, bias_dtype=np.float32, workspace_bytes=workspace, **options
    )
    out = np.empty(e.output_shape, e.output_dtype)
    conv2d(x, w, b, **options, out=out, workspace_bytes=workspace)  # warm up
    _, peak = peak_allocation(
        lambda: conv2d(x, w, b, **options, out=out, workspace_bytes=workspace)
    )
    # Small fixed extras: the weight and bias (tiled per plane for depthwise), and
    # numpy's iterator buffers for strided operands (8192 elements each).
    assert peak <= e.workspace_bytes + 2 * (w.nbytes + b.nbytes) + 128 * 1024


def test_choose_algorithm_examples() -> None:
    assert choose_algorithm((2, 3, 3), (3, 2, 2, 2)) == "tiny"
    assert choose_algorithm((1, 256, 56, 56), (64, 256, 1, 1)) == "gemm_1x1"
    assert choose_algorithm((1, 256, 56, 56), (64, 128, 1, 1), groups=2) == "im2col_gemm"
    assert choose_algorithm((8, 32, 64, 64), (32, 32, 3, 3), padding=1) == "im2col_gemm"
    assert (
        choose_algorithm((1, 128, 56, 56), (256, 1, 3, 3), padding=1, groups=128)
        == "depthwise_direct"
    )
    with pytest.raises(ValueError, match="does not fit"):
        choose_algorithm((1, 6, 9, 9), (4, 4, 3, 3), groups=2)


def test_non_finite_values_do_not_warn() -> None:
    """inf and nan propagate as in PyTorch, without numpy warnings from spare columns."""
    x, w, _ = _operands((1, 32, 30, 31), (32, 1, 3, 3))
    x[0, 3, 4, 5] = np.inf
    x[0, 7, 0, 0] = np.nan
    y = conv2d(x, w, padding=1, groups=32)
    assert np.isnan(y[0, 7, 0, 0])
    assert np.isfinite(y[0, 10]).all()


@pytest.mark.parametrize(
    "case_name",
    ["dense odd row tiles", "dense column tiles", "batch folded", "depthwise row tiles"],
)
def test_kept_buffers_give_fresh_results(case_name: str) -> None:
    """A repeated plan reuses its buffers: nothing from the last call leaks into the next."""
    _, x_shape, w_shape, options, _, workspace = next(c for c in CASES if c[0] == case_name)
    x1, w, b = _operands(x_shape, w_shape, seed=5)
    conv2d(1e6 * x1, w, b, **options, workspace_bytes=workspace)  # leaves large values behind
    x2, _, _ = _operands(x_shape, w_shape, seed=6)
    y = conv2d(x2, w, b, **options, workspace_bytes=workspace)
    np.testing.assert_allclose(y, _reference(x2, w, b, options), rtol=1e-4, atol=1e-4)


def test_kept_buffers_are_per_thread() -> None:
    from concurrent.futures import ThreadPoolExecutor

    _, x_shape, w_shape, options, _, workspace = next(c for c in CASES if c[0] == "grouped GEMM")
    w = _operands(x_shape, w_shape)[1]
    inputs = [_operands(x_shape, w_shape, seed=10 + k)[0] for k in range(8)]

    def run(x: Array) -> Array:
        return conv2d(x, w, **options, workspace_bytes=workspace)

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(run, inputs * 3))
    for x, y in zip(inputs * 3, results, strict=True):
        np.testing.assert_allclose(y, _reference(x, w, None, options), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    "case", [c for c in CASES if c[4] != "tiny"], ids=[c[0] for c in CASES if c[4] != "tiny"]
)
def test_first_call_allocations_stay_within_the_estimate(case: Any) -> None:
    """With no kept buffers (another plan ran last), the call allocates its workspace."""
    import convcli.ops.algorithms as kernels

    _, x_shape, w_shape, options, _, workspace = case
    x, w, b = _operands(x_shape, w_shape)
    e = estimate_memory(
        x_shape, w_shape, bias_dtype=np.float32, workspace_bytes=workspace, **options
    )
    out = np.empty(e.output_shape, e.output_dtype)
    conv2d(x, w, b, **options, out=out, workspace_bytes=workspace)  # imports, first-call set-up
    kernels._KEPT.entry = None
    _, peak = peak_allocation(
        lambda: conv2d(x, w, b, **options, out=out, workspace_bytes=workspace)
    )
    assert peak <= e.workspace_bytes + 2 * (w.nbytes + b.nbytes) + 128 * 1024
