"""The memory budget (convcli.ops.budget) and the chunked conv2d behind the progress bar."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import convcli.ops.budget
from convcli import conv2d
from convcli.errors import BudgetError
from convcli.ops.budget import (
    FALLBACK_BUDGET,
    available_memory,
    check_budget,
    default_budget,
    estimate_run,
    format_bytes,
    parse_size,
)
from convcli.ops.chunked import conv2d_chunked


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("4096", 4096),
        ("512M", 512 * 2**20),
        ("512m", 512 * 2**20),
        ("2G", 2 * 2**30),
        ("1.5GiB", 3 * 2**29),
        ("800MB", 800_000_000),
        ("1kB", 1000),
        ("1KiB", 1024),
        ("1T", 2**40),
        (" 2 G ", 2 * 2**30),
    ],
)
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "lots", "-1G", "1Gi", "1iB", "G", "1.5.2G", "0", "0.1"])
def test_parse_size_refuses(text: str) -> None:
    with pytest.raises(ValueError, match=r"size like 512M|at least 1 byte"):
        parse_size(text)


def test_available_memory_reads_memavailable(tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:  16000000 kB\nMemFree: 100 kB\nMemAvailable:  8000000 kB\n")
    assert available_memory(str(meminfo)) == 8_000_000 * 1024


def test_available_memory_falls_back_without_meminfo(tmp_path: Path) -> None:
    found = available_memory(str(tmp_path / "missing"))
    assert found is None or found > 0


def test_default_budget_is_half_or_the_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(convcli.ops.budget, "available_memory", lambda: 8 * 2**30)
    assert default_budget() == 4 * 2**30
    monkeypatch.setattr(convcli.ops.budget, "available_memory", lambda: None)
    assert default_budget() == FALLBACK_BUDGET


def test_estimate_counts_every_part_and_refuses_with_it() -> None:
    f4 = np.dtype(np.float32)
    plain = estimate_run((2, 3, 8, 8), f4, (4, 3, 3, 3), f4, (4,), f4)
    parts = dict(plain.parts)
    assert parts["input"] == 2 * 3 * 64 * 4 and parts["kernel"] == 4 * 27 * 4
    assert parts["bias"] == 16 and parts["output"] == 2 * 4 * 36 * 4
    assert plain.total == sum(parts.values())
    both = dict(estimate_run((2, 3, 8, 8), f4, (4, 3, 3, 3), f4, results=2, as_json=True).parts)
    assert both["output"] == 2 * parts["output"] and both["JSON text"] > 0
    unfolded = dict(estimate_run((3, 8, 8), f4, (4, 3, 3, 3), f4, unfolded=True).parts)
    assert unfolded["unfolded input"] == 27 * 36 * 4
    reflect = estimate_run((3, 8, 8), f4, (4, 3, 3, 3), f4, padding=1, padding_mode="reflect")
    assert dict(reflect.parts)["padded input"] == 3 * 10 * 10 * 4
    check_budget(plain, plain.total)
    # The Python API's words; the command line says --max-memory (tests/test_option_words.py).
    words = r"needs about .* over the max_memory budget of 1 B"
    with pytest.raises(BudgetError, match=words) as err:
        check_budget(plain, 1)
    assert err.value.fields["needed"] == plain.total and err.value.fields["budget"] == 1
    assert err.value.parameters == ("max_memory",)


def test_estimate_reads_the_kernel_rank_as_run_does() -> None:
    f8 = np.dtype(np.float64)
    corr2d = dict(estimate_run((5, 6), f8, (2, 2), f8).parts)
    assert corr2d["output"] == 4 * 5 * 8
    with pytest.raises(ValueError):
        estimate_run((2, 5, 6), f8, (3, 4, 2, 2), f8)  # channels do not fit


def test_format_bytes() -> None:
    assert format_bytes(0) == "0 B"
    assert format_bytes(1023) == "1023 B"
    assert format_bytes(1024) == "1.0 KiB"
    assert format_bytes(65536 * 1022 * 1022 * 4) == "255.0 GiB"


@pytest.mark.parametrize(
    ("x_shape", "w_shape", "options"),
    [
        ((3, 4, 9, 8), (70, 4, 3, 2), {"padding": 1, "stride": (2, 1)}),
        ((2, 6, 7, 7), (9, 2, 3, 3), {"groups": 3, "padding": "same"}),
        ((64, 6, 6), (128, 1, 2, 2), {"groups": 64, "dilation": 2}),
        ((4, 9, 9), (40, 4, 3, 3), {}),
    ],
    ids=["dense-batch", "groups", "depthwise-3d", "unbatched"],
)
@pytest.mark.parametrize("dtype", ["float64", "int16"])
def test_chunked_conv2d_is_conv2d(
    x_shape: tuple[int, ...], w_shape: tuple[int, ...], options: dict[str, Any], dtype: str
) -> None:
    rng = np.random.default_rng(5)
    x = (rng.standard_normal(x_shape) * 9).astype(dtype)
    w = (rng.standard_normal(w_shape) * 9).astype(dtype)
    b = (rng.standard_normal(w_shape[0]) * 9).astype(dtype)
    seen: list[tuple[int, int]] = []
    y = conv2d_chunked(
        x, w, b, progress=lambda done, total: seen.append((done, total)), chunk_macs=64, **options
    )
    expected = conv2d(x, w, b, **options)
    assert y.dtype == expected.dtype and y.shape == expected.shape
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-9)
    total = seen[-1][1]
    assert total > 1 and seen[0] == (0, total) and seen[-1] == (total, total)
    assert [done for done, _ in seen] == list(range(total + 1))


def test_chunked_conv2d_leaves_errors_to_conv2d() -> None:
    x, w = np.ones((2, 5, 5)), np.ones((1, 3, 2, 2))
    with pytest.raises(ValueError, match="kernel expects 3 input channels, input has 2"):
        conv2d_chunked(x, w, None, progress=lambda done, total: None)
    big = np.full((1, 4, 4), 2**40, dtype=np.int64)
    with pytest.raises(ValueError, match="beyond int64"):
        conv2d_chunked(big, big.reshape(1, 1, 4, 4), None, progress=lambda d, t: None)
