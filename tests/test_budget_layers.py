"""The memory estimates of transposed convolution and pooling hold: what the computation
allocates (numpy reports to tracemalloc) stays within the estimate, decided before it runs."""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from clitools import invoke, save

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
