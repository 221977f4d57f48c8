"""Every command agrees with the core on random inputs, through real files.

The tensors go through ``.npy``, ``.npz`` (``FILE.npz:NAME``), ``.json`` and stdin (``-``),
the results come back through ``--json`` and ``--output`` files, and each is compared
with ``convcli.conv2d`` (and the lesson's functions) called on the same arrays.
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from clitools import array_of, invoke, json_of
from hypothesis import given
from hypothesis import strategies as st

from convcli import conv2d, corr2d_multi_in, corr2d_multi_in_out, corr2d_multi_in_out_1x1
from convcli.tensorio.files import tensor_to_json

Array = npt.NDArray[Any]
FORMATS = ["npy", "npz", "json", "stdin"]


def assert_same(actual: Array, expected: Array) -> None:
    """Same dtype and shape; integers equal, floats equal up to a few ulps of the sums."""
    assert actual.dtype == expected.dtype, (actual.dtype, expected.dtype)
    assert actual.shape == expected.shape
    if expected.dtype.kind in "iub":
        np.testing.assert_array_equal(actual, expected)
    else:
        scale = float(np.max(np.abs(expected))) if expected.size else 1.0
        eps = float(np.finfo(expected.dtype).eps)
        np.testing.assert_allclose(actual, expected, rtol=8 * eps, atol=8 * eps * scale)


@dataclass(frozen=True)
class Config:
    """One random convolution: shapes, options and dtype."""

    name: str
    x_shape: tuple[int, ...]
    w_shape: tuple[int, ...]
    bias: bool = False
    dtype: str = "float64"
    options: dict[str, Any] = field(default_factory=dict)

    def args(self) -> list[str]:
        flags = {"stride": "-s", "padding": "-p", "dilation": "-d", "groups": "-g"}
        out: list[str] = []
        for key, value in self.options.items():
            text = ",".join(map(str, value)) if isinstance(value, tuple) else str(value)
            out += [flags[key], text]
        return out

    def tensors(self, seed: int) -> tuple[Array, Array, Array | None]:
        rng = np.random.default_rng(seed)

        def draw(shape: tuple[int, ...]) -> Array:
            if np.dtype(self.dtype).kind in "iu":
                low = 0 if np.dtype(self.dtype).kind == "u" else -9
                return rng.integers(low, 9, shape).astype(self.dtype)
            return rng.standard_normal(shape).astype(self.dtype)

        bias = draw((self.w_shape[0],)) if self.bias else None
        return draw(self.x_shape), draw(self.w_shape), bias


CONFIGS = [
    Config("plain", (3, 7, 6), (4, 3, 3, 3)),
    Config("batch-bias", (2, 3, 6, 5), (2, 3, 2, 2), bias=True),
    Config(
        "stride-padding", (2, 9, 8), (3, 2, 3, 2), True, "float32", {"stride": (2, 1), "padding": 1}
    ),
    Config(
        "dilation-same",
        (1, 7, 7),
        (2, 1, 3, 3),
        True,
        "float32",
        {"padding": "same", "dilation": 2},
    ),
    Config("groups", (2, 4, 6, 6), (6, 2, 3, 3), True, "float64", {"groups": 2, "padding": (0, 2)}),
    Config("depthwise", (4, 5, 5), (8, 1, 2, 2), False, "float32", {"groups": 4, "stride": 2}),
    Config("int8", (3, 6, 6), (2, 3, 3, 3), True, "int8", {"padding": 1}),
    Config("uint8-valid", (2, 5, 7), (1, 2, 2, 3), False, "uint8", {"padding": "valid"}),
    Config("int64-batch", (3, 2, 5, 5), (4, 2, 1, 1), True, "int64", {"stride": 2}),
]


def write_tensors(
    folder: Path, fmt: str, tensors: dict[str, Array]
) -> tuple[dict[str, str], str | None]:
    """Files for ``tensors`` in ``fmt``: a spec per name, and stdin text for the input."""
    if fmt == "npz":
        path = folder / "all.npz"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, array in tensors.items():
                with archive.open(f"{name}.npy", "w") as member:
                    np.lib.format.write_array(member, array, allow_pickle=False)
        return {name: f"{path}:{name}" for name in tensors}, None
    specs, stdin = {}, None
    for name, array in tensors.items():
        if fmt == "npy":
            specs[name] = str(folder / f"{name}.npy")
            np.save(specs[name], array)
        elif fmt == "stdin" and name == "x":
            specs[name], stdin = "-", json.dumps(tensor_to_json(array))
        else:
            specs[name] = str(folder / f"{name}.json")
            Path(specs[name]).write_text(json.dumps(tensor_to_json(array)))
    return specs, stdin


def present(**tensors: Array | None) -> dict[str, Array]:
    return {name: array for name, array in tensors.items() if array is not None}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("config", CONFIGS, ids=[c.name for c in CONFIGS])
def test_run_agrees_with_conv2d(tmp_path: Path, config: Config, fmt: str) -> None:
    x, w, b = config.tensors(seed=len(config.name) * 31 + len(fmt))
    specs, stdin = write_tensors(tmp_path, fmt, present(x=x, w=w, b=b))
    expected = conv2d(x, w, b, **config.options)
    args = [specs["x"], specs["w"], *config.args()]
    if b is not None:
        args += ["--bias", specs["b"]]
    assert_same(array_of(json_of(invoke("run", *args, "--json", input=stdin))), expected)
    for ext in ("npy", "json"):
        out = tmp_path / f"y.{ext}"
        result = invoke("run", *args, "-o", str(out), input=stdin)
        assert result.exit_code == 0, result.output
        written = np.load(out) if ext == "npy" else array_of(json.loads(out.read_text()))
        assert_same(written, expected)
    shapes = json_of(invoke("shapes", *args[:2], *config.args(), "--json", input=stdin))
    assert shapes["output_shape"] == list(expected.shape)


@pytest.mark.parametrize("config", CONFIGS, ids=[c.name for c in CONFIGS])
def test_shapes_from_sizes_agrees_with_the_result_shape(config: Config) -> None:
    x, w, b = config.tensors(seed=1)
    sizes = ["--input-shape", "x".join(map(str, x.shape)), "--kernel-shape"]
    sizes.append("x".join(map(str, w.shape)))
    payload = json_of(invoke("shapes", *sizes, *config.args(), "--json"))
    assert payload["output_shape"] == list(conv2d(x, w, b, **config.options).shape)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("config", CONFIGS[:6], ids=[c.name for c in CONFIGS[:6]])
def test_verify_and_explain_agree_with_conv2d(tmp_path: Path, config: Config, fmt: str) -> None:
    x, w, b = config.tensors(seed=7)
    specs, stdin = write_tensors(tmp_path, fmt, present(x=x, w=w, b=b))
    expected = conv2d(x, w, b, **config.options)
    args = [specs["x"], specs["w"], *config.args()]
    if b is not None:
        args += ["--bias", specs["b"]]
    payload = json_of(invoke("verify", *args, "--json", input=stdin))
    assert payload["agree"] is True
    assert_same(array_of(payload["direct"]), expected)
    np.testing.assert_allclose(array_of(payload["matrix_product"]), expected, rtol=1e-5, atol=1e-5)
    rng = np.random.default_rng(3)
    for _ in range(3):
        position = tuple(int(rng.integers(0, n)) for n in expected.shape)
        at = ",".join(map(str, position))
        explained = json_of(invoke("explain", *args, "--at", at, "--json", input=stdin))
        assert explained["output_shape"] == list(expected.shape)
        np.testing.assert_allclose(explained["value"], expected[position], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    ("dtype", "c_i", "c_o"), [("float32", 5, 3), ("float64", 1, 4), ("int16", 3, 2)]
)
def test_verify_1x1_agrees_with_the_lesson_functions(
    tmp_path: Path, fmt: str, dtype: str, c_i: int, c_o: int
) -> None:
    rng = np.random.default_rng(c_i * c_o)
    x = (rng.standard_normal((c_i, 4, 5)) * 10).astype(dtype)
    k = (rng.standard_normal((c_o, c_i, 1, 1)) * 10).astype(dtype)
    specs, stdin = write_tensors(tmp_path, fmt, {"x": x, "k": k})
    payload = json_of(invoke("verify-1x1", specs["x"], specs["k"], "--json", input=stdin))
    assert payload["agree"] is True
    assert_same(array_of(payload["per_channel"]), corr2d_multi_in_out(x, k))
    assert_same(array_of(payload["matrix_product"]), corr2d_multi_in_out_1x1(x, k))
    assert payload["input_matrix_shape"] == [c_i, 20]


def test_verify_1x1_random_draws_agree_with_the_lesson_functions() -> None:
    payload = json_of(
        invoke("verify-1x1", "--input-shape", "6x5x4", "--out-channels", "3", "--json")
    )
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 5, 4), dtype=np.float32)
    k = rng.standard_normal((3, 6, 1, 1), dtype=np.float32)
    assert_same(array_of(payload["per_channel"]), corr2d_multi_in_out(x, k))
    assert_same(array_of(payload["matrix_product"]), corr2d_multi_in_out_1x1(x, k))


LESSON_MODES: list[tuple[str, Callable[[Array, Array], Array], tuple[int, ...]]] = [
    ("multi-in", corr2d_multi_in, (3, 3, 2)),
    ("multi-out", corr2d_multi_in_out, (2, 3, 3, 2)),
    ("1x1", corr2d_multi_in_out_1x1, (2, 3, 1, 1)),
]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    ("mode", "function", "k_shape"), LESSON_MODES, ids=[m[0] for m in LESSON_MODES]
)
def test_run_named_modes_agree_with_the_lesson_functions(
    tmp_path: Path,
    fmt: str,
    mode: str,
    function: Callable[[Array, Array], Array],
    k_shape: tuple[int, ...],
) -> None:
    rng = np.random.default_rng(11)
    x, k = rng.standard_normal((3, 5, 4)), rng.standard_normal(k_shape)
    specs, stdin = write_tensors(tmp_path, fmt, {"x": x, "k": k})
    payload = json_of(invoke("run", specs["x"], specs["k"], "--mode", mode, "--json", input=stdin))
    assert_same(array_of(payload), function(x, k))
    auto = json_of(invoke("run", specs["x"], specs["k"], "--json", input=stdin))
    np.testing.assert_allclose(array_of(auto), function(x, k), rtol=1e-12, atol=1e-12)


@st.composite
def convolutions(draw: st.DrawFn) -> Config:
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    c_i = groups * draw(st.integers(1, 3))
    c_o = groups * draw(st.integers(1, 3))
    k_h, k_w = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    d_h, d_w = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    p_h, p_w = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    s_h, s_w = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    h = draw(st.integers(max(1, d_h * (k_h - 1) + 1 - 2 * p_h), 8))
    w = draw(st.integers(max(1, d_w * (k_w - 1) + 1 - 2 * p_w), 8))
    batch = draw(st.sampled_from([(), (1,), (2,)]))
    options: dict[str, Any] = {
        "stride": (s_h, s_w),
        "padding": (p_h, p_w),
        "dilation": (d_h, d_w),
        "groups": groups,
    }
    return Config(
        "drawn",
        (*batch, c_i, h, w),
        (c_o, c_i // groups, k_h, k_w),
        bias=draw(st.booleans()),
        dtype=draw(st.sampled_from(["float32", "float64", "int32", "uint8", "float16"])),
        options=options,
    )


@given(config=convolutions(), seed=st.integers(0, 2**32 - 1), fmt=st.sampled_from(FORMATS))
def test_run_agrees_with_conv2d_on_drawn_configurations(
    config: Config, seed: int, fmt: str
) -> None:
    x, w, b = config.tensors(seed)
    expected = conv2d(x, w, b, **config.options)
    with tempfile.TemporaryDirectory() as folder:
        specs, stdin = write_tensors(Path(folder), fmt, present(x=x, w=w, b=b))
        args = [specs["x"], specs["w"], *config.args()]
        if b is not None:
            args += ["--bias", specs["b"]]
        assert_same(array_of(json_of(invoke("run", *args, "--json", input=stdin))), expected)
        shapes = json_of(invoke("shapes", *args[:2], *config.args(), "--json", input=stdin))
        assert shapes["output_shape"] == list(expected.shape)
