"""The command line of transposed convolution and pooling: run --transposed, pool, shapes
--transposed/--pool, explain --transposed, pool --at, verify --transposed; success and
refusal paths (one line, exit 2, nothing written)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from clitools import SAMPLES, array_of, assert_usage_error, files_in, invoke, json_of, save
from reference_layers import (
    avg_pool2d_reference,
    conv_transpose2d_reference,
    max_pool2d_reference,
)

from convcli import conv_transpose2d

X_LESSON = str(SAMPLES / "lesson_X.json")


@pytest.fixture
def operands(tmp_path: Path) -> dict[str, str]:
    rng = np.random.default_rng(7)
    return {
        "x": save(tmp_path / "x.npy", rng.integers(-4, 5, (2, 3, 4)).astype(np.int64)),
        "w": save(tmp_path / "w.npy", rng.integers(-3, 4, (2, 3, 3, 2)).astype(np.int64)),
        "b": save(tmp_path / "b.npy", np.array([10, -10, 5], dtype=np.int64)),
        "wf": save(tmp_path / "wf.npy", rng.standard_normal((2, 3, 3, 2))),
        "xf": save(tmp_path / "xf.npy", rng.standard_normal((1, 2, 3, 4))),
    }


def _load(path: str) -> Any:
    return np.load(path)


def test_run_transposed_json_is_the_definition(operands: dict[str, str]) -> None:
    result = invoke(
        "run", operands["x"], operands["w"], "--bias", operands["b"], "--transposed",
        "--stride", "2,1", "--padding", "1,0", "--output-padding", "1,0", "--json",
    )  # fmt: skip
    out = array_of(json_of(result))
    expected = conv_transpose2d_reference(
        _load(operands["x"]), _load(operands["w"]), _load(operands["b"]),
        stride=(2, 1), padding=(1, 0), output_padding=(1, 0),
    )  # fmt: skip
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out, expected)


def test_run_transposed_output_size_picks_output_padding(
    operands: dict[str, str], tmp_path: Path
) -> None:
    target = tmp_path / "y.npy"
    result = invoke(
        "run", operands["xf"], operands["wf"], "--transposed", "--stride", "2",
        "--output-size", "8,8", "--output", str(target),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "wrote" in result.stderr
    written = np.load(target)
    assert written.shape == (1, 3, 8, 8)
    expected = conv_transpose2d(_load(operands["xf"]), _load(operands["wf"]), stride=2,
                                output_padding=(1, 0))  # fmt: skip
    np.testing.assert_array_equal(written, expected)
    assert "output_padding 1,0" in result.stdout


def test_run_transposed_report_names_the_axes(operands: dict[str, str]) -> None:
    result = invoke("run", operands["x"], operands["w"], "--transposed", "--groups", "1")
    assert result.exit_code == 0, result.output
    assert "c_i=2  c_o=3  k_h=3  k_w=2" in result.stdout
    assert "conv_transpose2d" in result.stdout


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--stride", "2", "--output-padding", "2"], ["--output-padding", "smaller than"]),
        (["--stride", "2", "--output-size", "20,20"], ["--output-size", "valid sizes range"]),
        (["--output-padding", "1", "--output-size", "5,5"], ["not both"]),
        (["--padding", "same"], ["--padding", "same"]),
        (["--padding", "9"], ["output length"]),
        (["--groups", "3"], ["groups=3"]),
        (["--flip"], ["--flip"]),
        (["--padding-mode", "reflect"], ["--padding-mode"]),
        (["--mode", "1x1"], ["--mode"]),
        (["--max-memory", "100"], ["--max-memory"]),
    ],
)
def test_run_transposed_refusals(
    operands: dict[str, str], tmp_path: Path, extra: list[str], words: list[str]
) -> None:
    before = files_in(tmp_path)
    out = str(tmp_path / "never.npy")
    result = invoke("run", operands["x"], operands["w"], "--transposed", "-o", out, *extra)
    assert_usage_error(result, *words)
    assert files_in(tmp_path) == before


def test_output_padding_needs_transposed(operands: dict[str, str]) -> None:
    assert_usage_error(
        invoke("run", operands["x"], operands["w"], "--output-padding", "1"), "--transposed"
    )


def test_transposed_channel_mismatch_names_the_files(tmp_path: Path) -> None:
    x = save(tmp_path / "x.npy", np.ones((3, 2, 2)))
    w = save(tmp_path / "w.npy", np.ones((2, 1, 2, 2)))
    assert_usage_error(invoke("run", x, w, "--transposed"), "expects 2 input channels", "x.npy")


@pytest.mark.parametrize(
    ("args", "reference"),
    [
        (["--kind", "max", "-k", "2", "-s", "1"], lambda x: max_pool2d_reference(x, 2, 1)),
        (
            ["--kind", "max", "-k", "3", "-s", "2", "-p", "1", "--ceil-mode", "-d", "1"],
            lambda x: max_pool2d_reference(x, 3, 2, 1, ceil_mode=True),
        ),
        (
            ["--kind", "avg", "-k", "2", "-p", "1", "--ceil-mode", "--no-count-include-pad"],
            lambda x: avg_pool2d_reference(x, 2, None, 1, True, False),
        ),
        (
            ["--kind", "avg", "-k", "2,3", "--divisor-override", "5"],
            lambda x: avg_pool2d_reference(x, (2, 3), divisor_override=5),
        ),
        (
            ["--kind", "avg", "-k", "2", "--divisor-override", "-3"],
            lambda x: avg_pool2d_reference(x, (2, 2), divisor_override=-3),
        ),
    ],
)
def test_pool_json_is_the_definition(args: list[str], reference: Any) -> None:
    out = array_of(json_of(invoke("pool", X_LESSON, *args, "--json")))
    x = np.array(json.loads(Path(X_LESSON).read_text())["data"], dtype=np.float32)
    np.testing.assert_allclose(out, reference(x), rtol=1e-6)


def test_pool_adaptive_and_report(tmp_path: Path) -> None:
    x = save(tmp_path / "x.npy", np.arange(2 * 5 * 7, dtype=np.int16).reshape(2, 5, 7))
    out = array_of(json_of(invoke("pool", x, "--kind", "adaptive-max", "--output-size", "2,3",
                                  "--json")))  # fmt: skip
    assert out.dtype == np.int16 and out.shape == (2, 2, 3)
    report = invoke("pool", x, "--kind", "adaptive-avg", "--output-size", "1")
    assert report.exit_code == 0, report.output
    assert "adaptive_avg_pool2d" in report.stdout
    assert "c=2  m_h=1  m_w=1" in report.stdout


def test_pool_propagates_nan(tmp_path: Path) -> None:
    values = np.arange(16, dtype=np.float64).reshape(1, 4, 4)
    values[0, 0, 1] = np.nan
    x = save(tmp_path / "x.npy", values)
    out = array_of(json_of(invoke("pool", x, "--kind", "max", "-k", "2", "--json")))
    assert np.isnan(out[0, 0, 0]) and out[0, 1, 1] == 15


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--kind", "max"], ["--kernel-size"]),
        (["--kind", "median", "-k", "2"], ["--kind"]),
        (["--kind", "max", "-k", "2", "-p", "2"], ["--padding", "half the window"]),
        (["--kind", "max", "-k", "9"], ["does not fit"]),
        (["--kind", "avg", "-k", "2", "--divisor-override", "0"], ["--divisor-override", "zero"]),
        # The one ASCII number parser: non-ASCII digits, signs and decimals are refused.
        (["--kind", "avg", "-k", "2", "--divisor-override", "\u0663"], ["--divisor-override"]),
        (["--kind", "avg", "-k", "2", "--divisor-override", "+3"], ["--divisor-override"]),
        (["--kind", "avg", "-k", "2", "--divisor-override", "3.0"], ["--divisor-override"]),
        (["--kind", "avg", "-k", "2", "-d", "2"], ["--dilation"]),
        (["--kind", "max", "-k", "2", "--no-count-include-pad"], ["--count-include-pad"]),
        (["--kind", "adaptive-avg", "-k", "2"], ["--kernel-size"]),
        (["--kind", "adaptive-avg", "--output-size", "0"], ["--output-size"]),
        (["--kind", "max", "-k", "0"], ["--kernel-size"]),
        (["--kind", "max", "-k", "2", "--max-memory", "10"], ["--max-memory"]),
    ],
)
def test_pool_refusals(tmp_path: Path, args: list[str], words: list[str]) -> None:
    before = files_in(tmp_path)
    assert_usage_error(invoke("pool", X_LESSON, *args, "-o", str(tmp_path / "y.npy")), *words)
    assert files_in(tmp_path) == before


def test_pool_at_refusals() -> None:
    assert_usage_error(invoke("pool", X_LESSON, "-k", "2", "--at", "0,9,9"), "--at", "outside")
    assert_usage_error(invoke("pool", X_LESSON, "-k", "2", "--at", "0,0"), "--at", "3 indices")
    assert_usage_error(invoke("pool", X_LESSON, "-k", "2", "--at", "0,0,0", "-o", "y.npy"), "--at")


def test_pool_refuses_complex_max(tmp_path: Path) -> None:
    x = save(tmp_path / "x.npy", np.ones((1, 2, 2), dtype=np.complex128))
    assert_usage_error(invoke("pool", x, "--kind", "max", "-k", "2"), "complex")


def test_pool_at_explains_the_window() -> None:
    payload = json_of(invoke("pool", X_LESSON, "--kind", "avg", "-k", "2", "-p", "1",
                             "--at", "1,0,1", "--json"))  # fmt: skip
    assert payload["rows"] == [-1, 0] and payload["cols"] == [1, 2]
    assert payload["divisor"] == 4 and payload["padding_counted"] is True
    # Channel 1 of the lesson input holds 1..9: the window's input cells are 2 and 3.
    assert payload["sum"] == 5.0 and payload["value"] == 1.25
    text = invoke("pool", X_LESSON, "--kind", "max", "-k", "3", "-s", "2", "-p", "1",
                  "--at", "0,1,1")  # fmt: skip
    assert text.exit_code == 0, text.output
    assert "winner" in text.stdout and "input (2, 2)" in text.stdout


def test_shapes_transposed_json() -> None:
    payload = json_of(invoke(
        "shapes", "--transposed", "--input-shape", "256x16x16", "--kernel-shape",
        "256x128x4x4", "-s", "2", "-p", "1", "--bias", "--json",
    ))  # fmt: skip
    assert payload["output_shape"] == [128, 32, 32]
    assert payload["macs"] == 256 * 16 * 16 * 128 * 4 * 4
    assert payload["params"] == 256 * 128 * 16 + 128
    plain = json_of(invoke("shapes", "--json"))
    assert set(plain) <= set(payload)  # shapes --json's keys, and more


def test_shapes_transposed_output_size() -> None:
    result = invoke("shapes", "--transposed", "--input-shape", "3x5x5", "--kernel-shape",
                    "3x2x3x3", "-s", "2", "--output-size", "12,11", "--json")  # fmt: skip
    payload = json_of(result)
    assert payload["output_padding"] == [1, 0] and payload["output_shape"] == [2, 12, 11]
    refused = invoke("shapes", "--transposed", "--input-shape", "3x5x5", "--kernel-shape",
                     "3x2x3x3", "-s", "2", "--output-size", "13,11")  # fmt: skip
    assert_usage_error(refused, "--output-size", "valid sizes range from (11, 11) to (12, 12)")


def test_shapes_pool_says_when_ceil_mode_drops_a_window() -> None:
    result = invoke("shapes", "--pool", "avg", "--input-shape", "1x5x5", "--kernel-size", "2",
                    "--padding", "1", "--ceil-mode")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "drops it = 3" in result.stdout
    payload = json_of(invoke("shapes", "--pool", "max", "--input-shape", "64x112x112",
                             "--kernel-size", "3", "-s", "2", "-p", "1", "--json"))  # fmt: skip
    assert payload["output_shape"] == [64, 56, 56] and payload["params"] == 0
    assert payload["comparisons"] == 64 * 56 * 56 * 8
    assert payload["ceil_mode_dropped_window"] == [False, False]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--pool", "max"], ["--kernel-size"]),
        (["--pool", "max", "--kernel-size", "2", "--transposed"], ["not both"]),
        (["--pool", "min", "--kernel-size", "2"], ["--pool"]),
        (["--kernel-size", "2"], ["--pool"]),
        (["--transposed", "--ceil-mode"], ["--pool"]),
        (["--transposed", "--padding-mode", "reflect"], ["--padding-mode"]),
    ],
)
def test_shapes_layer_refusals(args: list[str], words: list[str]) -> None:
    assert_usage_error(invoke("shapes", *args), *words)


def test_explain_transposed_sums_to_the_run_value(operands: dict[str, str]) -> None:
    options = ["--transposed", "--stride", "2", "--padding", "1", "--bias", operands["b"]]
    payload = json_of(invoke("explain", operands["x"], operands["w"], *options,
                             "--at", "1,3,2", "--json"))  # fmt: skip
    run = array_of(json_of(invoke("run", operands["x"], operands["w"], *options, "--json")))
    assert payload["value"] == run[1, 3, 2]
    products = [stamp["input_value"] * stamp["weight"] for stamp in payload["stamps"]]
    assert sum(products) + payload["bias"] == payload["value"]
    for stamp in payload["stamps"]:
        a, b = stamp["input"][1:]
        u, v = stamp["tap"]
        assert (a * 2 - 1 + u, b * 2 - 1 + v) == (3, 2)
    windows = payload["direct"]["windows"]
    direct = sum(np.sum(np.array(w["window"]) * np.array(w["flipped_kernel"])) for w in windows)
    assert direct + payload["bias"] == payload["value"]


def test_explain_transposed_position_outside(operands: dict[str, str]) -> None:
    result = invoke("explain", operands["x"], operands["w"], "--transposed", "--at", "0,99,0")
    assert_usage_error(result, "--at", "outside")


def test_verify_transposed_agrees(operands: dict[str, str]) -> None:
    options = ["-s", "2,3", "-p", "1", "--output-padding", "1,2", "--json"]
    payload = json_of(invoke("verify", operands["xf"], operands["wf"], "--transposed", *options))
    assert payload["agree"] and payload["adjoint"]["agree"]
    np.testing.assert_allclose(array_of(payload["direct"]), array_of(payload["zero_inserted"]))
    assert payload["zero_inserted_input_shape"] == [1, 2, 3 + 2 + 1 + 2, 7 + 1 + 1 + 3]
    text = invoke("verify", operands["x"], operands["w"], "--transposed", "-d", "2")
    assert text.exit_code == 0, text.output
    assert "AGREE: conv_transpose2d is the adjoint" in text.stdout


def test_verify_transposed_refuses_a_negative_tolerance(operands: dict[str, str]) -> None:
    result = invoke("verify", operands["xf"], operands["wf"], "--transposed", "--atol", "-1")
    assert_usage_error(result, "--atol")


def test_verify_transposed_disagreement_exits_1(
    operands: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import convcli.ops.transposed as transposed

    real = transposed.conv_transpose2d

    def broken(*args: Any, **kwargs: Any) -> Any:
        return real(*args, **kwargs) + 1.0

    monkeypatch.setattr(transposed, "conv_transpose2d", broken)
    result = invoke("verify", operands["xf"], operands["wf"], "--transposed")
    assert result.exit_code == 1, result.output
    assert "DISAGREE" in result.stdout


@pytest.mark.parametrize(
    ("kind", "shape", "size"),
    [
        ("adaptive-avg", (3, 7, 9), (2, 3)),
        ("adaptive-max", (2, 3, 5, 5), (3, 3)),
        ("adaptive-avg", (1, 4, 3), (6, 2)),
    ],
)
def test_shapes_pool_adaptive_windows_follow_the_rule(
    kind: str, shape: tuple[int, ...], size: tuple[int, int]
) -> None:
    from reference_layers import _adaptive_bounds

    args = ["shapes", "--pool", kind, "--input-shape", "x".join(map(str, shape))]
    payload = json_of(invoke(*args, "--output-size", f"{size[0]},{size[1]}", "--json"))
    assert payload["output_shape"] == [*shape[:-2], *size]
    assert payload["operation"] == kind.replace("-", "_") + "_pool2d"
    windows = [
        [list(_adaptive_bounds(i, n, m)) for i in range(m)]
        for n, m in zip(shape[-2:], size, strict=True)
    ]
    assert [payload["windows"]["h"], payload["windows"]["w"]] == windows
    # Every window's cells - 1, every output of every plane; the same count `net` gives.
    lengths = [[end - start for start, end in axis] for axis in windows]
    per_plane = sum(a * b - 1 for a in lengths[0] for b in lengths[1])
    planes = int(np.prod(shape[:-2]))
    word = "comparisons" if kind == "adaptive-max" else "additions"
    assert payload["flops"] == payload[word] == planes * per_plane
    net_kind = kind.replace("-", "").replace("avg", "avgpool").replace("max", "maxpool")
    batch = shape if len(shape) == 4 else (1, *shape)
    net = json_of(invoke("net", f"{net_kind}(({size[0]},{size[1]}))",
                         "--input-shape", "x".join(map(str, batch)), "--json"))  # fmt: skip
    assert net["total"]["flops"] == payload["flops"]
    # shapes --pool --json's keys, every one of them.
    pooled = json_of(invoke("shapes", "--pool", "max", "--input-shape", "1x4x4",
                            "--kernel-size", "2", "--json"))  # fmt: skip
    assert set(pooled) - {"comparisons"} <= set(payload)


def test_shapes_pool_adaptive_report_lists_the_windows() -> None:
    result = invoke("shapes", "--pool", "adaptive-avg", "--input-shape", "3x5x5",
                    "--output-size", "3")  # fmt: skip
    assert result.exit_code == 0, result.output
    for words in (
        "floor(i*5/3)",
        "[1, 4), 3 cells",
        "[3, 5), 2 cells",
        "lengths: 2, 3",
        "additions",
    ):
        assert words in result.stdout, words


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--pool", "adaptive-max", "--input-shape", "1x4x4"], ["--output-size"]),
        (["--pool", "adaptive-avg", "--output-size", "2", "--kernel-size", "2"], ["--kernel-size"]),
        (["--pool", "adaptive-avg", "--output-size", "2", "-s", "2"], ["--stride"]),
        (["--pool", "adaptive-avg", "--output-size", "2", "--ceil-mode"], ["--ceil-mode"]),
        (["--pool", "adaptive-avg", "--output-size", "0"], ["--output-size"]),
        (["--pool", "max", "--kernel-size", "2", "--output-size", "2"], ["--output-size"]),
        (["--pool", "adaptive-avg", "--output-size", "2", "--transposed"], ["not both"]),
    ],
)
def test_shapes_pool_adaptive_refusals(args: list[str], words: list[str]) -> None:
    assert_usage_error(invoke("shapes", *args), *words)


@pytest.mark.torch
@pytest.mark.parametrize(
    ("shape", "size"), [((2, 7, 9), (2, 3)), ((1, 5, 3), (3, 7)), ((1, 1, 6, 4), (4, 1))]
)
def test_shapes_pool_adaptive_matches_pytorch(
    shape: tuple[int, ...], size: tuple[int, int]
) -> None:
    """The output shape, and each window's first and last cell: the argmax of an increasing
    (last cell) and a decreasing (first cell) input, as PyTorch's return_indices says."""
    torch = pytest.importorskip("torch")
    payload = json_of(invoke("shapes", "--pool", "adaptive-max", "--input-shape",
                             "x".join(map(str, shape)), "--output-size", f"{size[0]},{size[1]}",
                             "--json"))  # fmt: skip
    h, w = shape[-2:]
    up = torch.arange(h * w, dtype=torch.float64).reshape(1, h, w)
    values, last = torch.nn.functional.adaptive_max_pool2d(up, size, return_indices=True)
    _, first = torch.nn.functional.adaptive_max_pool2d(-up, size, return_indices=True)
    assert payload["output_shape"] == [*shape[:-2], *values.shape[-2:]]
    for i, (r0, r1) in enumerate(payload["windows"]["h"]):
        for j, (q0, q1) in enumerate(payload["windows"]["w"]):
            assert int(first[0, i, j]) == r0 * w + q0
            assert int(last[0, i, j]) == (r1 - 1) * w + (q1 - 1)


def _indices_input(tmp_path: Path) -> tuple[str, Any]:
    """Ties (the 3s, the 5s, the 9s) and two NaN in one window."""
    x = np.array([[[1, np.nan, 3, 3], [5, 2, 5, np.nan], [0, 9, 0, 9], [4, 4, np.nan, np.nan]]])
    return save(tmp_path / "x.npy", x), x


@pytest.mark.torch
@pytest.mark.parametrize(
    ("args", "torch_call"),
    [
        (["-k", "2", "-s", "1"], ("max_pool2d", {"kernel_size": 2, "stride": 1})),
        (["-k", "3", "-s", "2", "-p", "1", "--ceil-mode"],
         ("max_pool2d", {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True})),
        (["-k", "2", "-d", "2", "-p", "1"],
         ("max_pool2d", {"kernel_size": 2, "dilation": 2, "padding": 1})),
        (["-k", "2,3", "-s", "1,2", "-p", "1,0", "--ceil-mode"],
         ("max_pool2d", {"kernel_size": (2, 3), "stride": (1, 2), "padding": (1, 0),
                         "ceil_mode": True})),
        (["--kind", "adaptive-max", "--output-size", "3,2"],
         ("adaptive_max_pool2d", {"output_size": (3, 2)})),
        (["--kind", "adaptive-max", "--output-size", "5"],
         ("adaptive_max_pool2d", {"output_size": 5})),
    ],
)  # fmt: skip
def test_pool_indices_match_pytorch(
    tmp_path: Path, args: list[str], torch_call: tuple[str, dict[str, Any]]
) -> None:
    torch = pytest.importorskip("torch")
    path, x = _indices_input(tmp_path)
    payload = json_of(invoke("pool", path, *args, "--indices", "--json"))
    name, kwargs = torch_call
    function = getattr(torch.nn.functional, name)
    values, where = function(torch.from_numpy(x), **kwargs, return_indices=True)
    np.testing.assert_array_equal(array_of(payload), values.numpy())
    assert payload["indices"]["dtype"] == "int64"
    np.testing.assert_array_equal(np.array(payload["indices"]["data"]), where.numpy())


def test_pool_indices_report_and_refusals(tmp_path: Path) -> None:
    path, _ = _indices_input(tmp_path)
    result = invoke("pool", path, "-k", "2", "--indices")
    assert result.exit_code == 0, result.output
    assert "I[c=0]" in result.stdout and "row*4 + col" in result.stdout
    assert "indices" not in json_of(invoke("pool", path, "-k", "2", "--json"))
    out = tmp_path / "y.npy"
    assert_usage_error(invoke("pool", path, "-k", "2", "--indices", "-o", str(out)), "--indices")
    assert not out.exists()
    assert_usage_error(invoke("pool", path, "--kind", "avg", "-k", "2", "--indices"), "--indices")
    assert_usage_error(
        invoke("pool", path, "--kind", "adaptive-avg", "--output-size", "1", "--indices"), "max"
    )
    assert_usage_error(invoke("pool", path, "-k", "2", "--indices", "--at", "0,0,0"), "--indices")
