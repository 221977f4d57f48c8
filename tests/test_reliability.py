"""The hostile-input catalogue (../shared/RELIABILITY.md), item by item, at the command line.

Each ``test_itemNN_...`` drives convcli as a user does: through typer's CliRunner, or a
real process where one matters (pipes, terminals, signals). Unless the item says
otherwise a refusal is: exit 2, exactly one line on stderr naming the file or option and
the problem, no traceback, nothing on stdout, and no output or temporary file left.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import pickle
import pty
import re
import select
import signal
import subprocess
import sys
import threading
import time
import tracemalloc
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from clitools import (
    array_of,
    assert_usage_error,
    files_in,
    invoke,
    json_of,
    lesson_files,
    save,
)
from hostile import UNSUPPORTED_DTYPES, forge_zip_size, header, npy_bytes, npz_bytes, saved
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.lib.stride_tricks import sliding_window_view
from reference import conv2d_reference
from test_properties import torch_single_thread
from tracing import peak_allocation
from typer.testing import Result

import convcli.tensorio.files
from convcli import conv2d
from convcli.tensorio.samples import sample_names

PYTHON = sys.executable
__all__ = ["torch_single_thread"]  # the fixture, shared with test_properties
Array = npt.NDArray[Any]


# --- helpers -------------------------------------------------------------------------


def write(path: Path, content: bytes | str) -> str:
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return str(path)


@pytest.fixture
def kernel(tmp_path: Path) -> str:
    """A valid 4-D kernel for a 2-channel input."""
    return save(tmp_path / "k.npy", np.ones((1, 2, 1, 1)))


@pytest.fixture
def good_input(tmp_path: Path) -> str:
    return save(tmp_path / "x.npy", np.arange(18.0).reshape(2, 3, 3))


def run_refused(
    tmp_path: Path, args: Sequence[str], *words: str, input: bytes | None = None
) -> str:
    """``convcli run ARGS -o out/y.npy`` is refused and leaves every folder as it was."""
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    before = files_in(tmp_path)
    line = assert_usage_error(invoke("run", *args, "-o", str(out / "y.npy"), input=input), *words)
    assert files_in(out) == []
    assert files_in(tmp_path) == before
    return line


def refused_as_input_and_kernel(
    tmp_path: Path, spec: str, *words: str, good: str, kernel: str
) -> None:
    """A hostile file is refused whether it is the input, the kernel or the bias."""
    name = spec.rsplit("/", 1)[-1]
    run_refused(tmp_path, [spec, kernel], "input", name, *words)
    run_refused(tmp_path, [good, spec], "kernel", name, *words)
    run_refused(tmp_path, [good, kernel, "--bias", spec], "bias", name, *words)


# --- .npy / .npz files -----------------------------------------------------------------


def test_item01_pickled_object_array_refused_without_unpickling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, good_input: str, kernel: str
) -> None:
    def no_unpickling(*args: object, **kwargs: object) -> None:
        raise AssertionError("a pickle was loaded")

    monkeypatch.setattr(pickle, "load", no_unpickling)
    monkeypatch.setattr(pickle, "loads", no_unpickling)
    content = saved(np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    spec = write(tmp_path / "objects.npy", content)
    refused_as_input_and_kernel(tmp_path, spec, "unsupported dtype", good=good_input, kernel=kernel)
    npz = write(tmp_path / "objects.npz", npz_bytes({"w.npy": content}))
    run_refused(tmp_path, [good_input, npz], "objects.npz", "'w'", "unsupported dtype")
    assert_usage_error(invoke("shapes", spec, kernel), "objects.npy", "unsupported dtype")


@pytest.mark.parametrize(
    "content",
    [pickle.dumps([1.0, 2.0]), pickle.dumps([1.0], protocol=0), b"hello, world", b"\x00" * 64],
    ids=["pickle", "pickle-protocol-0", "text", "zeros"],
)
def test_item02_raw_pickle_or_other_bytes_named_npy(
    tmp_path: Path, content: bytes, good_input: str, kernel: str
) -> None:
    spec = write(tmp_path / "fake.npy", content)
    refused_as_input_and_kernel(tmp_path, spec, "not a .npy file", good=good_input, kernel=kernel)


def test_item03_header_over_numpy_limit(tmp_path: Path, good_input: str, kernel: str) -> None:
    text = header()[:-1] + " " * 20_000 + "\n"
    spec = write(tmp_path / "big-header.npy", npy_bytes(text, b"\0" * 16, version=(2, 0)))
    refused_as_input_and_kernel(tmp_path, spec, "10000-byte limit", good=good_input, kernel=kernel)


@pytest.mark.parametrize(
    "command", [["run"], ["shapes"], ["verify-1x1"], ["verify"], ["explain", "--at", "0,0,0"]]
)
def test_item04_forged_shape_refused_from_the_header(
    tmp_path: Path, command: list[str], kernel: str
) -> None:
    spec = write(tmp_path / "forged.npy", npy_bytes(header(shape=(2**40,))))
    assert Path(spec).stat().st_size <= 128
    started = time.perf_counter()
    result, peak = peak_allocation(lambda: invoke(*command, spec, kernel))
    assert_usage_error(result, "forged.npy", "file incomplete: expected 8796093022208 bytes")
    assert peak < 8 * 1024**2
    assert time.perf_counter() - started < 5.0


def test_item04_forged_4d_shape_with_data_budget(tmp_path: Path, good_input: str) -> None:
    # An honest-looking header of 2**33 float64 values: refused before any allocation.
    spec = write(tmp_path / "w.npy", npy_bytes(header(shape=(2**10, 2**10, 2**7, 2**6))))
    run_refused(tmp_path, [good_input, spec], "w.npy", "file incomplete")


@pytest.mark.parametrize(
    ("descr", "shape", "words"),
    [
        ("<f8", (2**64,), "2**63 elements or more"),
        ("<f8", (2**32, 2**32), "2**63 elements or more"),
        ("<f8", (2.0,), "shape is not valid: (2.0,)"),
        ("<f8", (2, None), "shape is not valid: (2, None)"),
        ("<f8", "2", "shape is not valid: '2'"),
        ("<f8", (-2,), "negative dimension"),
        (("<f8",), (2,), "invalid .npy header"),
        ([("a", "<f8")], (2,), "unsupported dtype"),
        (8, (2,), "not a valid dtype descriptor: 8"),
    ],
    ids=["2**64", "2**64-product", "float", "none", "string", "negative", "tuple", "list", "int"],
)
def test_item05_bad_shape_or_tuple_descr(
    tmp_path: Path, descr: object, shape: object, words: str, good_input: str, kernel: str
) -> None:
    spec = write(tmp_path / "bad.npy", npy_bytes(header(descr, False, shape), b"\0" * 16))
    refused_as_input_and_kernel(tmp_path, spec, words, good=good_input, kernel=kernel)


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"\x93NUMPY", "truncated header"),
        (npy_bytes(header(), length=200), "truncated header: declares 200 bytes"),
        (npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (2,\n"), "unterminated"),
        (b"\x93NUMPX\x01\x00" + npy_bytes(header())[8:], "not a .npy file"),
        (npy_bytes(header(), b"\0" * 16, version=(4, 0)), "unsupported .npy format version 4.0"),
        (npy_bytes("{" * 5000 + "}" * 5000), "invalid .npy header: Cannot parse header"),
    ],
    ids=["magic-only", "cut-in-header", "unterminated", "bad-magic", "version-4", "deep-braces"],
)
def test_item06_truncated_unterminated_bad_magic_or_version(
    tmp_path: Path, content: bytes, words: str, good_input: str, kernel: str
) -> None:
    spec = write(tmp_path / "broken.npy", content)
    refused_as_input_and_kernel(tmp_path, spec, words, good=good_input, kernel=kernel)


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (saved(np.arange(18.0).reshape(2, 3, 3))[:-40], "file incomplete: expected 144 bytes"),
        (b"", "empty file (0 bytes)"),
    ],
    ids=["truncated-data", "zero-bytes"],
)
def test_item07_truncated_data_or_zero_byte_file(
    tmp_path: Path, content: bytes, words: str, good_input: str, kernel: str
) -> None:
    spec = write(tmp_path / "short.npy", content)
    refused_as_input_and_kernel(tmp_path, spec, words, good=good_input, kernel=kernel)


@pytest.mark.parametrize(
    "array",
    UNSUPPORTED_DTYPES.values(),
    ids=UNSUPPORTED_DTYPES.keys(),
)
def test_item08_unsupported_dtypes(
    tmp_path: Path, array: Array, good_input: str, kernel: str
) -> None:
    spec = write(tmp_path / "odd.npy", saved(array))
    refused_as_input_and_kernel(tmp_path, spec, "unsupported dtype", good=good_input, kernel=kernel)


@pytest.mark.parametrize("dtype", [">f8", ">f4", ">i4", ">i2", ">c16", "<f2"])
@pytest.mark.parametrize("fortran", [False, True])
def test_item09_big_endian_and_fortran_arrays_give_the_right_numbers(
    tmp_path: Path, dtype: str, fortran: bool
) -> None:
    rng = np.random.default_rng(9)
    x = rng.integers(-9, 9, (2, 3, 6, 5)).astype(dtype)
    w = rng.integers(-3, 3, (4, 3, 3, 2)).astype(dtype)
    b = rng.integers(-5, 5, 4).astype(dtype)
    if x.dtype.kind == "c":
        x = x + 1j * x[..., ::-1]
    layout = np.asfortranarray if fortran else np.ascontiguousarray
    files = [save(tmp_path / f"{name}.npy", layout(a)) for name, a in (("x", x), ("w", w))]
    files.append(save(tmp_path / "b.npy", b))
    assert (f"'fortran_order': {fortran}").encode() in Path(files[0]).read_bytes()
    xn, wn, bn = (a.astype(a.dtype.newbyteorder("=")) for a in (x, w, b))
    expected = conv2d(xn, wn, bn, padding=1, stride=(2, 1))
    args = [files[0], files[1], "--bias", files[2], "-p", "1", "-s", "2,1"]
    payload = json_of(invoke("run", *args, "--json"))
    np.testing.assert_array_equal(array_of(payload), expected)
    assert payload["dtype"] == expected.dtype.name
    out = tmp_path / "y.npy"
    assert invoke("run", *args, "-o", str(out)).exit_code == 0
    np.testing.assert_array_equal(np.load(out, allow_pickle=False), expected)


def test_item10_npz_member_that_is_not_npy(tmp_path: Path, good_input: str) -> None:
    content = npz_bytes({"readme.txt": b"hello", "w.npy": saved(np.ones((1, 2, 1, 1)))})
    npz = write(tmp_path / "notes.npz", content)
    run_refused(tmp_path, [good_input, f"{npz}:readme.txt"], "notes.npz", "not a .npy file")


def test_item10_npz_with_several_arrays_and_none_chosen(tmp_path: Path, good_input: str) -> None:
    npz = tmp_path / "layer.npz"
    np.savez(npz, weight=np.ones((1, 2, 1, 1)), bias=np.zeros(1))
    run_refused(tmp_path, [good_input, str(npz)], "layer.npz", "holds 2 arrays", "FILE.npz:NAME")
    ok = invoke("run", good_input, f"{npz}:weight", "--bias", f"{npz}:bias", "--json")
    assert json_of(ok)["shape"] == [1, 3, 3]


def test_item10_npz_missing_name(tmp_path: Path, good_input: str) -> None:
    npz = tmp_path / "layer.npz"
    np.savez(npz, weight=np.ones((1, 2, 1, 1)), bias=np.zeros(1))
    run_refused(tmp_path, [good_input, f"{npz}:kernel"], "has no array 'kernel'", "'weight'")


def test_item11_npz_zip_bomb_refused_before_decompressing(tmp_path: Path, good_input: str) -> None:
    bomb = npz_bytes({"w.npy": saved(np.zeros(8 * 1024**2))}, zipfile.ZIP_DEFLATED)
    # Declared 4 GiB (over the 2 GiB data limit) for 64 MiB of deflated zeros.
    spec = write(tmp_path / "bomb.npz", forge_zip_size(bomb, 2**32 - 16))
    line, peak = peak_allocation(
        lambda: run_refused(tmp_path, [good_input, spec], "bomb.npz", "would decompress to")
    )
    assert "4294967280 bytes" in line
    assert peak < 8 * 1024**2


def test_item11_npz_member_with_forged_npy_header(tmp_path: Path, good_input: str) -> None:
    content = npy_bytes(header(shape=(1, 2, 1024, 4096)), b"\0" * 72)
    spec = write(tmp_path / "forged.npz", npz_bytes({"w.npy": content}, zipfile.ZIP_DEFLATED))
    run_refused(tmp_path, [good_input, spec], "forged.npz", "array 'w'", "file incomplete")


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("json.npy", b'{"data": [[1, 2]]}', "looks like JSON, not a .npy file"),
        ("npy.json", saved(np.ones((1, 2, 1, 1))), "looks like a .npy file, not JSON"),
        ("zip.npy", npz_bytes({"w.npy": saved(np.ones(2))}), "looks like a .npz (zip) file"),
        ("npy.npz", saved(np.ones((1, 2, 1, 1))), "looks like a .npy file, not a .npz file"),
    ],
)
def test_item12_misnamed_file_says_what_it_really_is(
    tmp_path: Path, name: str, content: bytes, words: str, good_input: str
) -> None:
    spec = write(tmp_path / name, content)
    run_refused(tmp_path, [good_input, spec], name, words)


# --- JSON --------------------------------------------------------------------------------


def json_refused(tmp_path: Path, text: str | bytes, *words: str, kernel: str) -> None:
    """Refused from a .json file (named) and from stdin (named 'stdin')."""
    raw = text.encode() if isinstance(text, str) else text
    spec = write(tmp_path / "hostile.json", raw)
    run_refused(tmp_path, [spec, kernel], "hostile.json", *words)
    run_refused(tmp_path, ["-", kernel], "stdin", *words, input=raw)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[[[1, NaN]]]", "NaN is not a number"),
        ("[[[Infinity]]]", "Infinity is not a number"),
        ("[[[-Infinity, 2]]]", "-Infinity is not a number"),
        ("[[[1e400]]]", "number 1e400 overflows to infinity"),
    ],
)
def test_item13_json_nan_infinity_and_overflow(
    tmp_path: Path, text: str, words: str, kernel: str
) -> None:
    json_refused(tmp_path, text, words, kernel=kernel)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[[[" + "7" * 5000 + "]]]", "has more than 19 digits"),
        ("[[[9223372036854775808]]]", "outside int64"),
        ("[[[-9223372036854775809]]]", "outside int64"),
    ],
    ids=["5000-digits", "2**63", "-2**63-1"],
)
def test_item14_json_huge_integers(tmp_path: Path, text: str, words: str, kernel: str) -> None:
    json_refused(tmp_path, text, words, kernel=kernel)


@pytest.mark.parametrize("depth", [5, 100, 100_000])
def test_item15_json_nesting_too_deep(tmp_path: Path, depth: int, kernel: str) -> None:
    json_refused(
        tmp_path, "[" * depth + "1" + "]" * depth, "nested more than 4 levels", kernel=kernel
    )


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[[[1, 2], [3]]]", "ragged"),
        ('[[["a"]]]', "a string"),
        ("[[[null]]]", "null"),
        ("[[[true]]]", "a boolean"),
        ('{"shape": [1, 1, 1]}', 'without "data"'),
        ('{"data": [[[1]]], "data": [[[2]]]}', "duplicate key"),
        (b"\xef\xbb\xbf[[[1]]]", "BOM"),
        ("[[[1]]] x", "invalid JSON at line 1"),
        ("", "empty"),
    ],
    ids=["ragged", "string", "null", "bool", "no-data", "duplicate", "bom", "junk", "empty"],
)
def test_item16_json_not_a_tensor(
    tmp_path: Path, text: str | bytes, words: str, kernel: str
) -> None:
    json_refused(tmp_path, text, words, kernel=kernel)


@pytest.mark.parametrize(
    ("text", "words"), [("[]", "empty"), ("[[]]", "empty"), ("[[[]]]", "empty"), ("7", "scalar")]
)
def test_item17_json_empty_or_scalar(tmp_path: Path, text: str, words: str, kernel: str) -> None:
    json_refused(tmp_path, text, words, kernel=kernel)


@pytest.mark.parametrize(
    ("array", "words"),
    [(np.zeros((0, 3, 3)), "empty tensor"), (np.float64(1.0), "scalar")],
    ids=["zero-channels", "scalar"],
)
def test_item17_npy_zero_channels_or_scalar(
    tmp_path: Path, array: Array, words: str, good_input: str, kernel: str
) -> None:
    spec = write(tmp_path / "odd.npy", saved(np.asarray(array)))
    refused_as_input_and_kernel(tmp_path, spec, words, good=good_input, kernel=kernel)


def test_item18_empty_stdin(tmp_path: Path, kernel: str) -> None:
    run_refused(tmp_path, ["-", kernel], "stdin", "empty", input=b"")
    run_refused(tmp_path, ["-", kernel], "stdin", "empty", input=b"  \n")


def test_item18_stdin_over_the_size_cap(tmp_path: Path, kernel: str) -> None:
    cap = convcli.tensorio.files.MAX_JSON_BYTES
    run_refused(tmp_path, ["-", kernel], "stdin", f"limit of {cap} bytes", input=b" " * (cap + 1))


def test_item18_stdin_cap_reads_no_more_than_the_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kernel: str
) -> None:
    monkeypatch.setattr(convcli.tensorio.files, "MAX_JSON_BYTES", 1000)
    text = ("[[[" + ", ".join(["1"] * 2000) + "]]]").encode()
    run_refused(tmp_path, ["-", kernel], "stdin", "over the limit of 1000 bytes", input=text)


# --- numbers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dtype", "low", "high"),
    [
        ("int8", -128, 127),
        ("uint8", 0, 255),
        ("int32", -(2**24), 2**24),
        ("int64", -(2**26), 2**26),
    ],
)
def test_item19_integer_sums_that_overflow_the_dtype_are_exact(
    tmp_path: Path, dtype: str, low: int, high: int
) -> None:
    rng = np.random.default_rng(19)
    x = rng.integers(low, high, (16, 4, 4), endpoint=True).astype(dtype)
    w = rng.integers(low, high, (2, 16, 3, 3), endpoint=True).astype(dtype)
    x[0], w[0] = high, high  # the largest sum: every product at the top of the range
    spec = [save(tmp_path / "x.npy", x), save(tmp_path / "w.npy", w)]
    payload = json_of(invoke("run", *spec, "--json"))
    expected = conv2d_reference(x, w, exact_ints=True)
    assert payload["dtype"] == "int64"
    assert payload["data"] == expected.tolist()  # Python ints: exact
    # Beyond the input dtype (it would wrap), or for int64 beyond float64's exact 2**53.
    limit = 2**53 if dtype == "int64" else int(np.iinfo(dtype).max)
    assert max(abs(v) for v in np.ravel(payload["data"])) > limit
    out = tmp_path / "y.npy"
    assert invoke("run", *spec, "-o", str(out)).exit_code == 0
    assert np.load(out).tolist() == expected.tolist()


@pytest.mark.parametrize(
    ("dtype", "value"), [("int32", 2**31 - 1), ("int64", 2**40), ("uint64", 2**40)]
)
def test_item19_integer_sums_beyond_int64_refused_suggesting_float64(
    tmp_path: Path, dtype: str, value: int
) -> None:
    x = save(tmp_path / "x.npy", np.full((4, 2, 2), value, dtype=dtype))
    w = save(tmp_path / "w.npy", np.full((1, 4, 2, 2), value, dtype=dtype))
    run_refused(tmp_path, [x, w], "beyond int64", "float64", "x.npy", "w.npy")


def test_item19_int64_with_uint64_never_rounds_silently(tmp_path: Path) -> None:
    # numpy promotes int64 with uint64 to float64: exact below 2**53, refused beyond.
    x = save(tmp_path / "x.npy", np.full((1, 2, 2), 2**60 + 1, dtype=np.uint64))
    w = save(tmp_path / "w.npy", np.ones((1, 1, 1, 1), dtype=np.int64))
    run_refused(tmp_path, [x, w], "int64 and uint64", "2**53", "x.npy", "w.npy")
    small = save(tmp_path / "s.npy", np.full((1, 2, 2), 2**40 + 1, dtype=np.uint64))
    payload = json_of(invoke("run", small, w, "--json"))
    assert payload["data"] == [[[2**40 + 1] * 2] * 2]


def test_item20_float16_accumulates_in_float32(tmp_path: Path) -> None:
    x = save(tmp_path / "x.npy", np.ones((4096, 1, 1), dtype=np.float16))
    w = save(tmp_path / "w.npy", np.ones((1, 4096, 1, 1), dtype=np.float16))
    payload = json_of(invoke("run", x, w, "--json"))
    assert payload == {"shape": [1, 1, 1], "dtype": "float16", "data": [[[4096.0]]]}
    square = save(tmp_path / "s.npy", np.ones((1, 64, 64), dtype=np.float16))
    k = save(tmp_path / "k.npy", np.ones((1, 1, 64, 64), dtype=np.float16))
    assert json_of(invoke("run", square, k, "--json"))["data"] == [[[4096.0]]]


@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
def test_item21_complex_inputs_computed_correctly(tmp_path: Path, dtype: str) -> None:
    rng = np.random.default_rng(21)
    x = (rng.standard_normal((3, 5, 4)) + 1j * rng.standard_normal((3, 5, 4))).astype(dtype)
    w = (rng.standard_normal((2, 3, 2, 2)) + 1j * rng.standard_normal((2, 3, 2, 2))).astype(dtype)
    spec = [save(tmp_path / "x.npy", x), save(tmp_path / "w.npy", w), "-p", "1"]
    payload = json_of(invoke("run", *spec, "--json"))
    expected = conv2d_reference(x, w, padding=1)
    assert payload["dtype"] == dtype
    assert set(np.ravel(payload["data"])[0]) == {"real", "imag"}
    tolerance = 1e-5 if dtype == "complex64" else 1e-12
    np.testing.assert_allclose(array_of(payload), expected, rtol=tolerance, atol=tolerance)
    out = tmp_path / "y.npy"
    assert invoke("run", *spec, "-o", str(out)).exit_code == 0
    np.testing.assert_allclose(np.load(out), expected, rtol=tolerance, atol=tolerance)


def ieee_conv(x: Array, w: Array) -> Array:
    """Valid cross-correlation with plain IEEE products and sums (no BLAS)."""
    windows = sliding_window_view(x, w.shape[2:], axis=(1, 2))  # (c_i, m_h, m_w, k_h, k_w)
    products = windows[None] * w[:, :, None, None]  # (c_o, c_i, m_h, m_w, k_h, k_w)
    result: Array = products.sum(axis=(1, 4, 5))
    return result


def test_item22_nan_and_inf_in_npy_data_give_ieee_results_and_are_counted(
    tmp_path: Path,
) -> None:
    x = np.ones((2, 5, 5))
    x[0, 1, 1], x[1, 3, 3], x[1, 0, 4] = np.nan, np.inf, -np.inf
    w = np.ones((2, 2, 2, 2))
    w[1, 0, 0, 0] = 0.0  # 0 * inf is NaN
    spec = [save(tmp_path / "x.npy", x), save(tmp_path / "w.npy", w)]
    expected = ieee_conv(x, w)
    bad = int(np.count_nonzero(~np.isfinite(expected)))
    assert 0 < bad < expected.size
    payload = json_of(invoke("run", *spec, "--json"))
    np.testing.assert_array_equal(array_of(payload), expected)
    assert "NaN" in json.dumps(payload) and "Infinity" in json.dumps(payload)
    shown = invoke("run", *spec)
    assert shown.exit_code == 0, shown.output
    lines = [" ".join(line.split()) for line in shown.stdout.splitlines()]
    assert any(line.startswith("input: 2x5x5 float64") and "3 non-finite" in line for line in lines)
    result_line = "result: 2x4x4 float64"
    assert any(line.startswith(result_line) and f"{bad} non-finite" in line for line in lines)
    out = tmp_path / "y.npy"
    assert invoke("run", *spec, "-o", str(out)).exit_code == 0
    np.testing.assert_array_equal(np.load(out), expected)


def test_item22_non_finite_results_cannot_go_to_a_json_file(tmp_path: Path) -> None:
    x = np.ones((1, 3, 3))
    x[0, 0, 0] = np.nan
    spec = [save(tmp_path / "x.npy", x), save(tmp_path / "w.npy", np.ones((1, 1, 2, 2)))]
    (tmp_path / "out").mkdir()
    result = invoke("run", *spec, "-o", str(tmp_path / "out" / "y.json"))
    assert_usage_error(
        result, "y.json", "1 NaN or infinite values cannot be written to JSON", ".npy"
    )
    assert files_in(tmp_path / "out") == []


# --- convolution arguments ------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ([], ["larger than the padded input"]),
        (["--padding", "1", "--dilation", "3"], ["dilated to 10", "larger than the padded input"]),
        (["--padding", "valid"], ["larger than the padded input"]),
    ],
)
def test_item23_kernel_larger_than_the_padded_input(
    tmp_path: Path, options: list[str], words: list[str]
) -> None:
    x = save(tmp_path / "x.npy", np.ones((1, 3, 3)))
    w = save(tmp_path / "w.npy", np.ones((1, 1, 4, 4)))
    run_refused(tmp_path, [x, w, *options], *words)
    assert_usage_error(invoke("shapes", x, w, *options), *words)


@pytest.mark.parametrize(
    ("options", "words"),
    [
        (["--stride", "0"], ["--stride", ">= 1"]),
        (["--stride", "-1"], ["--stride"]),
        (["--padding", "-1"], ["--padding", "-1"]),
        (["--dilation", "0"], ["--dilation", ">= 1"]),
        (["--groups", "0"], ["--groups", ">= 1"]),
        (["--groups", "-2"], ["--groups", ">= 1"]),
        (["--stride", "1,2,3"], ["--stride", "1,2,3"]),
        (["--padding", "sideways"], ["--padding", "sideways"]),
        (["--dilation", "1.5"], ["--dilation", "1.5"]),
        (["--groups", "two"], ["--groups", "two"]),
        (["--max-memory", "lots"], ["--max-memory", "lots"]),
    ],
)
def test_item24_bad_or_malformed_option_values(
    tmp_path: Path, options: list[str], words: list[str], good_input: str, kernel: str
) -> None:
    run_refused(tmp_path, [good_input, kernel, *options], *words)


@pytest.mark.parametrize(
    ("x_shape", "w_shape", "options", "words"),
    [
        ((3, 4, 4), (2, 1, 1, 1), ["--groups", "2"], ["groups=2", "3 input channels"]),
        ((4, 4, 4), (3, 2, 1, 1), ["--groups", "2"], ["groups=2", "3 output channels"]),
        ((2, 5, 5), (1, 2, 3, 3), ["--padding", "same", "--stride", "2"], ["same", "stride 1"]),
        ((2, 5, 5), (1, 2, 3, 3), ["--mode", "1x1"], ["1x1 kernel", "3x3"]),
    ],
    ids=["groups-c_i", "groups-c_o", "same-stride-2", "1x1-mode"],
)
def test_item25_groups_same_padding_and_1x1_mode_mismatches(
    tmp_path: Path,
    x_shape: tuple[int, ...],
    w_shape: tuple[int, ...],
    options: list[str],
    words: list[str],
) -> None:
    x = save(tmp_path / "x.npy", np.ones(x_shape))
    w = save(tmp_path / "w.npy", np.ones(w_shape))
    run_refused(tmp_path, [x, w, *options], *words)


def test_item25_verify_1x1_with_a_non_1x1_kernel(tmp_path: Path) -> None:
    x = save(tmp_path / "x.npy", np.ones((2, 5, 5)))
    w = save(tmp_path / "w.npy", np.ones((1, 2, 3, 3)))
    assert_usage_error(invoke("verify-1x1", x, w), "(c_o, c_i, 1, 1)", "x.npy", "w.npy")


@pytest.mark.parametrize(
    ("x_shape", "w_shape", "b_shape", "words"),
    [
        ((2, 5, 5), (1, 1, 2, 2, 2), None, ["kernel must be 2-D, 3-D or 4-D", "got 5-D"]),
        ((2, 5, 5), (3,), None, ["kernel must be", "got 1-D"]),
        ((1, 1, 2, 5, 5), (1, 2, 2, 2), None, ["input must be 3-D", "got 5-D"]),
        ((2, 5, 5), (1, 3, 2, 2), None, ["kernel expects 3 input channels, input has 2"]),
        ((2, 5, 5), (3, 2, 2, 2), (3, 1), ["bias must be 1-D"]),
        ((2, 5, 5), (3, 2, 2, 2), (4,), ["bias must have shape (3,)", "got (4,)"]),
    ],
    ids=["kernel-5d", "kernel-1d", "input-5d", "channels", "bias-2d", "bias-length"],
)
def test_item26_wrong_ranks_channels_and_bias(
    tmp_path: Path,
    x_shape: tuple[int, ...],
    w_shape: tuple[int, ...],
    b_shape: tuple[int, ...] | None,
    words: list[str],
) -> None:
    args = [save(tmp_path / "x.npy", np.ones(x_shape)), save(tmp_path / "w.npy", np.ones(w_shape))]
    if b_shape is not None:
        args += ["--bias", save(tmp_path / "b.npy", np.ones(b_shape))]
    line = run_refused(tmp_path, args, *words)
    assert "x.npy" in line and "w.npy" in line  # which files did not fit


@contextmanager
def nothing_loaded_or_computed(monkeypatch: pytest.MonkeyPatch, *, loads: bool) -> Iterator[None]:
    """Fail the test if tensor data is loaded (unless ``loads``) or anything is computed."""
    import convcli.ops.modes

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("allocated before the memory check")

    if not loads:
        monkeypatch.setattr(convcli.tensorio.files, "load_tensor", forbidden)
    monkeypatch.setattr(convcli.ops.modes, "run_convolution", forbidden)
    yield


def test_item27_65536_output_channels_on_1024x1024_refused_before_allocating(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    x = save(tmp_path / "x.npy", np.zeros((1, 1024, 1024), dtype=np.float32))
    w = save(tmp_path / "w.npy", np.zeros((65536, 1, 3, 3), dtype=np.float32))
    started = time.perf_counter()
    with nothing_loaded_or_computed(monkeypatch, loads=False):
        line = run_refused(tmp_path, [x, w], "needs about", "output 255.0 GiB", "--max-memory")
        assert "input 4.0 MiB" in line and "workspace" in line
        # verify holds two results and the unfolded input.
        line = assert_usage_error(
            invoke("verify", x, w), "needs about", "output 510.0 GiB", "unfolded"
        )
    assert time.perf_counter() - started < 5.0


def test_item27_json_kernel_is_sized_after_parsing_before_computing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    x = save(tmp_path / "x.npy", np.zeros((1, 512, 512), dtype=np.float32))
    w = write(tmp_path / "w.json", json.dumps({"data": [[[[1]]]] * 4096}))
    with nothing_loaded_or_computed(monkeypatch, loads=True):
        run_refused(tmp_path, [x, w, "--max-memory", "1G"], "needs about", "budget of 1.0 GiB")


@pytest.mark.parametrize(
    ("budget", "refuse"),
    [("100", True), ("0.1K", True), ("1MiB", True), ("8MiB", False), ("1.5GiB", False)],
)
def test_item27_max_memory_sizes(
    tmp_path: Path, budget: str, refuse: bool, good_input: str, kernel: str
) -> None:
    args = [good_input, kernel, "--max-memory", budget]
    if refuse:
        run_refused(tmp_path, args, "needs about", "--max-memory budget")
    else:
        assert invoke("run", *args, "--json").exit_code == 0


def test_item27_verify_1x1_huge_random_shape_refused_before_drawing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("drew the tensors before the memory check")

    monkeypatch.setattr(np.random, "default_rng", forbidden)
    for shape in ("100000x1000x1000", "999999999999999999x999999999999999999x9"):
        result = invoke("verify-1x1", "--input-shape", shape, "--out-channels", "64")
        assert_usage_error(result, "needs about", "--max-memory budget")


def test_item27_default_budget_is_half_the_available_memory() -> None:
    from convcli.ops.budget import available_memory, default_budget

    available = available_memory()
    if available is None:
        pytest.skip("available memory unknown here")
    assert abs(default_budget() - available // 2) < 256 * 1024**2  # it moves between reads


# --- output files ---------------------------------------------------------------------


@pytest.mark.parametrize("link", ["same", "hard", "symbolic", "symbolic-to-kernel", "dotdot"])
def test_item28_output_is_an_input_refused_even_with_force(tmp_path: Path, link: str) -> None:
    x, k = lesson_files(tmp_path)
    (tmp_path / "sub").mkdir()
    target = {
        "same": x,
        "hard": str(tmp_path / "hard.npy"),
        "symbolic": str(tmp_path / "soft.npy"),
        "symbolic-to-kernel": str(tmp_path / "soft.npy"),
        "dotdot": str(tmp_path / "sub" / ".." / "x.npy"),
    }[link]
    if link == "hard":
        os.link(x, target)
    elif link.startswith("symbolic"):
        os.symlink(k if link.endswith("kernel") else x, target)
    before = {name: (tmp_path / name).read_bytes() for name in ("x.npy", "k.npy")}
    listing = files_in(tmp_path)
    line = assert_usage_error(
        invoke("run", x, k, "-o", target, "--force"), "never overwriting an input"
    )
    assert "--force" in line
    assert {name: (tmp_path / name).read_bytes() for name in before} == before
    assert files_in(tmp_path) == listing


def test_item28_output_is_an_npz_input(tmp_path: Path) -> None:
    npz = tmp_path / "layer.npz"
    np.savez(npz, x=np.ones((2, 3, 3)), w=np.ones((1, 2, 2, 2)))
    before = npz.read_bytes()
    result = invoke("run", f"{npz}:x", f"{npz}:w", "-o", str(npz), "--force")
    assert_usage_error(result, "unsupported output type '.npz'")
    assert npz.read_bytes() == before


def test_item29_existing_output_needs_force(tmp_path: Path) -> None:
    x, k = lesson_files(tmp_path)
    out = tmp_path / "y.npy"
    out.write_bytes(b"old")
    assert_usage_error(invoke("run", x, k, "-o", str(out)), "y.npy", "already exists", "--force")
    assert out.read_bytes() == b"old"
    assert sorted(files_in(tmp_path)) == ["k.npy", "x.npy", "y.npy"]
    assert invoke("run", x, k, "-o", str(out), "--force").exit_code == 0
    assert np.load(out).shape == (1, 2, 2)


def test_item30_missing_output_folder(tmp_path: Path) -> None:
    x, k = lesson_files(tmp_path)
    assert_usage_error(
        invoke("run", x, k, "-o", str(tmp_path / "nope" / "y.npy")), "nope", "does not exist"
    )
    assert_usage_error(invoke("run", x, k, "-o", f"{x}/y.npy"), "x.npy", "does not exist")
    assert not (tmp_path / "nope").exists()


def test_item30_read_only_output_folder(tmp_path: Path) -> None:
    x, k = lesson_files(tmp_path)
    if os.geteuid() != 0:
        folder = tmp_path / "locked"
        folder.mkdir()
        folder.chmod(0o555)
        try:
            assert_usage_error(
                invoke("run", x, k, "-o", str(folder / "y.npy")), "locked", "not writable"
            )
        finally:
            folder.chmod(0o755)
        assert files_in(folder) == []
        return
    # root writes anywhere it has permissions for; sysfs refuses new files even to root.
    if not os.path.isdir("/sys/kernel"):
        pytest.skip("no read-only folder to try as root")
    assert_usage_error(
        invoke("run", x, k, "-o", "/sys/kernel/y.npy"), "/sys/kernel", "cannot create"
    )


@pytest.mark.parametrize(
    ("failure", "code", "words"),
    [
        (OSError(errno.ENOSPC, "No space left on device"), 2, ["out/y.", "no space left"]),
        (KeyboardInterrupt(), 130, ["interrupted"]),
    ],
    ids=["disk-full", "ctrl-c"],
)
@pytest.mark.parametrize("ext", ["npy", "json"])
def test_item31_failure_mid_write_keeps_the_old_file_and_no_temp_file(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    failure: BaseException,
    code: int,
    words: list[str],
    ext: str,
) -> None:
    x, k = lesson_files(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    old = out / f"y.{ext}"
    old.write_bytes(b"old contents")

    def fsync_fails(path: str) -> None:
        raise failure

    # .npy results are written through a memory map (npy_writer), .json ones at the end.
    monkeypatch.setattr(convcli.tensorio.files, "_fsync", fsync_fails)
    result = invoke("run", x, k, "-o", str(old), "--force")
    assert result.exit_code == code, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and all(word in lines[0] for word in words), result.stderr
    assert "Traceback" not in result.output and result.stdout == ""
    assert old.read_bytes() == b"old contents"
    assert files_in(out) == [f"y.{ext}"]


# --- terminal -------------------------------------------------------------------------


MARKUP = "[red]x[bold]"


def test_item32_markup_in_file_names_printed_literally(tmp_path: Path) -> None:
    x = save(tmp_path / f"{MARKUP}.npy", np.ones((2, 3, 3)))
    k = save(tmp_path / "[link=https:example.com]k.npy", np.ones((1, 2, 2, 2)))
    result = invoke("run", x, k, env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    assert f"{MARKUP}.npy" in result.stdout
    assert "[link=https:example.com]k.npy" in result.stdout
    assert invoke("shapes", x, k).exit_code == 0
    missing = str(tmp_path / "[bold]missing[/bold].npy")
    assert_usage_error(invoke("run", missing, k), "[bold]missing[/bold].npy", "no such file")
    bad = write(tmp_path / f"{MARKUP}.json", "[[[1, NaN]]]")
    assert_usage_error(invoke("run", bad, k), f"{MARKUP}.json", "NaN")


def test_item32_markup_in_npz_keys_printed_literally(tmp_path: Path) -> None:
    npz = write(
        tmp_path / "layer.npz",
        npz_bytes({"w[/].npy": saved(np.ones((1, 2, 2, 2))), "[red]b.npy": saved(np.ones(1))}),
    )
    x = save(tmp_path / "x.npy", np.ones((2, 3, 3)))
    result = invoke("run", x, f"{npz}:w[/]", "--bias", f"{npz}:[red]b", env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    assert "layer.npz:w[/]" in result.stdout and "layer.npz:[red]b" in result.stdout
    line = assert_usage_error(invoke("run", x, f"{npz}:[bold]nope"), "has no array '[bold]nope'")
    assert "'w[/]'" in line and "'[red]b'" in line
    assert_usage_error(invoke("run", x, npz), "holds 2 arrays", "'w[/]'", "'[red]b'")


def run_process(
    args: Sequence[str], *, tty: Sequence[str] = (), env: dict[str, str] | None = None
) -> tuple[int, bytes, bytes]:
    """Run ``python -m convcli ARGS``; the streams named in ``tty`` ("stdout", "stderr")
    are one pseudo-terminal, the others pipes. Returns (exit code, stdout, stderr);
    what the terminal showed is returned in place of its stream(s)."""
    full_env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    full_env.update({"COLUMNS": "100", "TERM": "xterm-256color", **(env or {})})
    master, slave = pty.openpty() if tty else (-1, -1)
    streams = {name: (slave if name in tty else subprocess.PIPE) for name in ("stdout", "stderr")}
    process = subprocess.Popen(
        [PYTHON, "-m", "convcli", *args],
        stdin=subprocess.DEVNULL,
        stdout=streams["stdout"],
        stderr=streams["stderr"],
        env=full_env,
    )
    # The pipes are drained while the terminal is read, so a big output cannot block.
    piped: dict[str, bytes] = {}
    drain = threading.Thread(
        target=lambda: piped.update(
            zip(("stdout", "stderr"), process.communicate(timeout=120), strict=True)
        )
    )
    drain.start()
    shown = b""
    if tty:
        os.close(slave)
        shown = read_terminal(master, process)
    drain.join()
    out, err = piped["stdout"], piped["stderr"]
    return (
        process.returncode,
        shown if "stdout" in tty else out,
        shown if "stderr" in tty else err,
    )


def read_terminal(master: int, process: subprocess.Popen[bytes]) -> bytes:
    shown = b""
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # the terminal closed: the process is done
                    break
                if not chunk:
                    break
                shown += chunk
            elif process.poll() is not None:
                break
    finally:
        os.close(master)
    return shown


LESSON = str(Path(__file__).resolve().parent.parent / "samples")


@pytest.mark.parametrize(
    "command",
    [
        ["demo"],
        ["run", "LESSON/lesson_X.npy", "LESSON/lesson_K_multi_out.npy"],
        ["shapes"],
        ["verify-1x1"],
    ],
)
def test_item33_no_escape_sequences_when_piped_or_no_color(command: list[str]) -> None:
    args = [arg.replace("LESSON", LESSON) for arg in command]
    code, out, err = run_process(args)
    assert code == 0, err
    assert b"\x1b" not in out and b"\x1b" not in err and out
    code, shown, _ = run_process(args, tty=["stdout"], env={"NO_COLOR": "1"})
    assert code == 0
    assert b"\x1b" not in shown and shown


def test_item33_a_terminal_without_no_color_does_get_styles() -> None:
    # The control: the same command on a terminal is styled, so the tests above do test.
    code, shown, _ = run_process(["demo"], tty=["stdout"])
    assert code == 0 and b"\x1b[" in shown


def long_run_files(folder: Path, batch: int) -> list[str]:
    """A run of roughly batch * 0.4 s of multiply-adds on small files."""
    x = np.ones((batch, 16, 128, 128), dtype=np.float32)
    w = np.ones((128, 16, 5, 5), dtype=np.float32)
    return [save(folder / "x.npy", x), save(folder / "w.npy", w)]


def rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


SIGNALS_SENT = (signal.SIGINT, signal.SIGHUP, signal.SIGTERM)


def default_signals() -> None:
    """In a child before it starts: the signals the tests send, delivered as by default.

    A suite started under ``nohup`` or as ``cmd &`` from a script runs with SIGHUP or
    SIGINT ignored, and children inherit that: Ctrl-C would never reach them (item 60).
    """
    for signum in SIGNALS_SENT:
        signal.signal(signum, signal.SIG_DFL)


def signalled_process(args: Sequence[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    """``Popen(args)`` for a test that sends the process signals (``default_signals``)."""
    return subprocess.Popen(args, preexec_fn=default_signals, **kwargs)


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs /proc to see the run start")
def test_item34_ctrl_c_during_a_computation_exit_130_nothing_written(tmp_path: Path) -> None:
    files = long_run_files(tmp_path, batch=32)
    out = tmp_path / "out"
    out.mkdir()
    process = signalled_process(
        # An explicit budget: the default (half the free memory) depends on the machine.
        [PYTHON, "-m", "convcli", "run", *files, "-o", str(out / "y.npy"), "--max-memory", "4G"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    # Computing: the 32 MiB input is loaded and output pages are being written.
    deadline = time.monotonic() + 60
    while rss_bytes(process.pid) < 160 * 1024**2 and time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        time.sleep(0.02)
    assert process.poll() is None, "the run ended before it could be interrupted"
    sent = time.monotonic()
    process.send_signal(signal.SIGINT)
    out_text, err_text = process.communicate(timeout=60)
    assert time.monotonic() - sent < 10, "Ctrl-C took too long to stop the computation"
    assert process.returncode == 130, err_text
    assert err_text.decode().splitlines() == ["convcli: interrupted"]
    assert out_text == b""
    assert files_in(out) == []
    assert files_in(tmp_path) == ["out", "w.npy", "x.npy"]


def _interrupted(*args: object, **kwargs: object) -> None:
    """A stand-in for a function that the user's Ctrl-C stops."""
    raise KeyboardInterrupt


def test_item34_ctrl_c_inside_conv2d_via_cli_runner(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import convcli.ops.modes

    monkeypatch.setattr(convcli.ops.modes, "conv2d", _interrupted)
    x, k = lesson_files(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    for as_json in ([], ["--json"]):
        result = invoke("run", x, k, "-o", str(out / "y.npy"), *as_json)
        assert result.exit_code == 130
        assert result.stderr == "convcli: interrupted\n" and result.stdout == ""
        assert files_in(out) == []


@pytest.mark.parametrize("debug", [[], ["--debug"]])
@pytest.mark.parametrize("where", ["run", "verify-1x1", "shapes"])
def test_item35_internal_bug_exit_70_traceback_only_with_debug(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, debug: list[str], where: str
) -> None:
    import convcli.ops.modes
    import convcli.ops.verify
    import convcli.render.reports

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    x, k = lesson_files(tmp_path)
    args = {"run": ["run", x, k], "verify-1x1": ["verify-1x1"], "shapes": ["shapes"]}[where]
    module, name = {
        "run": (convcli.ops.modes, "conv2d"),
        "verify-1x1": (convcli.ops.verify, "corr2d_multi_in_out"),
        "shapes": (convcli.render.reports, "explain_shapes"),
    }[where]
    monkeypatch.setattr(module, name, broken)
    result = invoke(*debug, *args)
    assert result.exit_code == 70, result.output
    assert result.stdout == ""
    if debug:
        assert "Traceback" in result.stderr and "RuntimeError: boom" in result.stderr
        assert result.stderr.rstrip().splitlines()[-1].startswith("convcli: internal error")
    else:
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and "Traceback" not in result.stderr
        assert "internal error (RuntimeError: boom)" in lines[0]
        assert "please report it" in lines[0] and "--debug" in lines[0]


def test_item35_convcli_debug_environment_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import convcli.ops.modes

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(convcli.ops.modes, "conv2d", broken)
    x, k = lesson_files(tmp_path)
    result = invoke("run", x, k, env={"CONVCLI_DEBUG": "1"})
    assert result.exit_code == 70 and "Traceback" in result.stderr


def progress_files(folder: Path) -> list[str]:
    """Eight chunks of 2**26 multiply-adds (a 1x1 GEMM each) into only 131072 outputs."""
    x = np.ones((8, 4096, 16, 16), dtype=np.float32)
    w = np.ones((64, 4096, 1, 1), dtype=np.float32)
    return [save(folder / "x.npy", x), save(folder / "w.npy", w)]


# The bar appears at once rather than after half a second: the test does not race the clock.
AT_ONCE = {"CONVCLI_PROGRESS_DELAY": "0"}


def test_item36_progress_bar_on_a_terminal_stderr(tmp_path: Path) -> None:
    files = progress_files(tmp_path)
    code, out, shown = run_process(["run", *files], tty=["stderr"], env=AT_ONCE)
    assert code == 0, shown
    assert b"computing" in shown and b"\xe2\x94\x81" in shown  # the bar's line character
    assert b"8/8\x1b[0m chunks" in shown and b"elapsed" in shown and b"left" in shown
    assert b"computing" not in out and b"\x1b" not in out
    assert b"mean 4096" in out


def test_item36_no_progress_for_a_short_run_on_a_terminal() -> None:
    args = ["run", f"{LESSON}/lesson_X.npy", f"{LESSON}/lesson_K_multi_out.npy"]
    code, _, shown = run_process(args, tty=["stderr"], env=AT_ONCE)
    assert code == 0 and shown == b""


def test_item36_no_progress_when_stderr_is_not_a_terminal(tmp_path: Path) -> None:
    files = progress_files(tmp_path)
    code, out, err = run_process(["run", *files], env=AT_ONCE)
    assert code == 0
    assert err == b""
    assert b"mean 4096" in out


def test_item36_nothing_extra_with_json_even_on_a_terminal(tmp_path: Path) -> None:
    files = progress_files(tmp_path)
    code, out, shown = run_process(["run", *files, "--json"], tty=["stderr"], env=AT_ONCE)
    assert code == 0
    assert shown == b""
    payload = json.loads(out)
    assert payload["shape"] == [8, 64, 16, 16]
    assert np.all(np.array(payload["data"]) == 4096)


def test_item36_transposed_and_pooling_runs_have_the_progress_bar_too(tmp_path: Path) -> None:
    x = save(tmp_path / "x.npy", np.ones((1, 8, 16, 16), dtype=np.float32))
    w = save(tmp_path / "w.npy", np.ones((8, 2, 3, 3), dtype=np.float32))
    # Four groups, four product blocks; a pooling of 2**25 values and more, three blocks.
    planes = save(tmp_path / "p.npy", np.ones((1, 33, 1024, 1024), dtype=np.bool_))
    for args in (["run", x, w, "--transposed", "-g", "4", "--stats"], ["pool", planes, "-k", "2"]):
        code, out, shown = run_process(args, tty=["stderr"], env=AT_ONCE)
        assert code == 0, shown
        assert b"computing" in shown and b"\xe2\x94\x81" in shown, args  # the bar's line
        assert b"computing" not in out and b"\x1b" not in out
        code, out, shown = run_process([*args, "--json"], tty=["stderr"], env=AT_ONCE)
        assert code == 0 and shown == b"" and json.loads(out)["shape"]


def test_item31_full_disk_when_reserving_the_mapped_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A memory-mapped .npy output reserves its blocks first: no SIGBUS on a full disk."""
    x, k = lesson_files(tmp_path)
    out = tmp_path / "out"
    out.mkdir()

    def disk_full(fd: int, offset: int, length: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "posix_fallocate", disk_full)
    result = invoke("run", x, k, "-o", str(out / "y.npy"))
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "y.npy" in lines[0] and "no space left" in lines[0], result.stderr
    assert files_in(out) == []


@pytest.mark.parametrize(
    "command",
    [
        ["run", "-p", "1"],
        ["run", "--mode", "multi-out"],
        ["verify", "-p", "1"],
        ["explain", "--at", "0,1,1", "-p", "1"],
    ],
    ids=["run", "run-multi-out", "verify", "explain"],
)
def test_item22_inf_times_zero_gives_nan_without_warnings(
    tmp_path: Path, command: list[str]
) -> None:
    """inf * 0 and inf - inf are NaN (IEEE); numpy's RuntimeWarnings never reach stderr."""
    x = np.ones((2, 6, 6))
    x[0, 1, 1], x[1, 2, 2] = np.inf, -np.inf
    w = np.ones((3, 2, 3, 3))
    w[:, 0, 1, 1] = 0.0  # inf * 0
    b = np.array([np.inf, 0.0, -np.inf])
    files = [save(tmp_path / "x.npy", x), save(tmp_path / "w.npy", w)]
    result = invoke(command[0], *files, *command[1:], "--bias", save(tmp_path / "b.npy", b))
    assert result.exit_code == 0, result.output
    assert "Warning" not in result.stderr and result.stderr == "", result.stderr
    assert "non-finite" in result.stdout or command[0] != "run"


# --- second round (issue 9) -------------------------------------------------------------

refused = assert_usage_error


def cli_payload(result: Result) -> tuple[str, Any]:
    """("ok", the JSON payload) of a successful run, ("refused", None) of a refusal."""
    if result.exit_code == 0:
        return "ok", json.loads(result.stdout)
    refused(result)
    return "refused", None


BIASES = {
    "int64-max": np.array([2**63 - 1], dtype=np.int64),
    "uint64-max": np.array([2**64 - 1], dtype=np.uint64),
    "uint64-small": np.array([3], dtype=np.uint64),
    "half": np.array([0.5]),
    "nan": np.array([np.nan]),
    "huge": np.array([1e30]),
    "complex": np.array([0.5 + 2j]),
    "float64-with-float32": np.array([0.1]),
}


@pytest.mark.parametrize("bias", BIASES, ids=list(BIASES))
@pytest.mark.parametrize("mode", ["multi-in", "multi-out", "1x1"])
def test_item37_every_mode_follows_the_dtype_and_exactness_rule_of_auto(
    tmp_path: Path, mode: str, bias: str
) -> None:
    dtype = np.float32 if bias == "float64-with-float32" else np.int64
    x = save(tmp_path / "x.npy", np.array([[[127, 3], [5, 7]]], dtype=dtype))
    shape = (1, 1, 1) if mode == "multi-in" else (1, 1, 1, 1)
    k = save(tmp_path / "k.npy", np.full(shape, 127, dtype=dtype))
    b = save(tmp_path / "b.npy", BIASES[bias])
    named = cli_payload(invoke("run", x, k, "--bias", b, "--mode", mode, "--json"))
    auto = cli_payload(invoke("run", x, k, "--bias", b, "--json"))
    assert named[0] == auto[0], (named, auto)
    if named[0] == "ok":
        got, want = array_of(named[1]), array_of(auto[1])
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got, want)
    if bias in ("int64-max", "uint64-max"):
        assert named[0] == "refused"  # never wrapped
    if bias == "half":
        assert array_of(named[1]).reshape(-1)[0] == 16129.5  # the fraction is kept


def test_item37_the_dtype_rule_in_the_api_too() -> None:
    from convcli.ops.modes import run_convolution

    x = np.array([[[127]]], dtype=np.int64)
    k = np.array([[[[127]]]], dtype=np.int64)
    with pytest.raises(ValueError, match="beyond int64"):
        run_convolution(x, k, np.array([2**63 - 1]), mode="multi-out")
    result = run_convolution(x, k, np.array([0.5 + 1j]), mode="1x1")
    assert result.output.dtype == np.complex128 and result.output[0, 0, 0] == 16129.5 + 1j


@contextmanager
def no_tensor_data_read(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail the test if any .npy/.npz data is read or any JSON text is parsed."""

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("tensor data read before every check was made")

    with monkeypatch.context() as patch:
        for name in ("read_npy", "read_npz", "parse_json_tensor"):
            patch.setattr(convcli.tensorio.files, name, forbidden)
        yield


def sparse_npy(path: Path, descr: str, shape: tuple[int, ...]) -> str:
    """A .npy file whose header says ``shape``, its data a hole: big, yet nothing on disk."""
    content = npy_bytes(header(descr, shape=shape))
    size = len(content) + math.prod(shape) * np.dtype(descr).itemsize
    with open(path, "wb") as stream:
        stream.write(content)
        stream.truncate(size)
    return str(path)


def test_item38_shapes_that_do_not_fit_are_refused_from_the_headers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    x = str(tmp_path / "x.npz")  # 64 MiB of zeros in a few kilobytes
    np.savez_compressed(x, x=np.zeros((1, 1, 4096, 4096), dtype=np.float32))
    k = save(tmp_path / "k.npy", np.ones((1, 3, 3, 3), dtype=np.float32))
    sparse = sparse_npy(tmp_path / "s.npy", "<f4", (7, 2048, 2048))
    with no_tensor_data_read(monkeypatch):
        run_refused(tmp_path, [x, k, "--max-memory", "100M"], "kernel expects 3 input channels")
        run_refused(tmp_path, [sparse, k], "kernel expects 3 input channels")
        refused(invoke("verify", sparse, k), "kernel expects 3 input channels")
        refused(invoke("explain", sparse, k, "--at", "0,0,0"), "kernel expects 3 input channels")
        refused(invoke("verify-1x1", sparse, k), "kernel must be (c_o, c_i, 1, 1)")


@pytest.mark.parametrize("kernel_as", ["json", "stdin"])
def test_item38_a_json_kernel_does_not_let_an_npy_input_load_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kernel_as: str
) -> None:
    x = sparse_npy(tmp_path / "x.npy", "<f8", (1, 4096, 4096))  # 128 MiB
    text = json.dumps([[[[1.0]]]])
    k = write(tmp_path / "k.json", text) if kernel_as == "json" else "-"
    with no_tensor_data_read(monkeypatch):
        line = run_refused(tmp_path, [x, k, "--max-memory", "32M"], input=text.encode())
    assert "input" in line and "128.0 MiB" in line and "budget of 32.0 MiB" in line


@pytest.mark.parametrize("source", ["file", "stdin"])
def test_item38_json_text_is_budgeted_before_it_is_parsed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    from convcli.ops.budget import JSON_PARSE_EXPANSION

    text = json.dumps([[[0.0] * 100] * 100])  # ~50 KiB of text
    x = write(tmp_path / "x.json", text) if source == "file" else "-"
    k = save(tmp_path / "k.npy", np.ones((1, 1, 1, 1)))
    budget = str(len(text) * JSON_PARSE_EXPANSION // 2)
    with no_tensor_data_read(monkeypatch):
        line = run_refused(tmp_path, [x, k, "--max-memory", budget], input=text.encode())
    assert "JSON text" in line and "pars" in line and "--max-memory" in line
    # The same text with room to parse it runs.
    enough = str(len(text) * JSON_PARSE_EXPANSION * 2 + 8 * 1024**2)  # + the report's
    assert invoke("run", x, k, "--max-memory", enough, "--json", input=text).exit_code == 0


@pytest.mark.parametrize("command", ["pool", "transposed", "verify-transposed"])
def test_item38_json_text_is_budgeted_before_it_is_parsed_by_the_layer_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    from convcli.ops.budget import JSON_PARSE_EXPANSION

    text = json.dumps([[[0.0] * 100] * 100])  # ~50 KiB of text
    x = write(tmp_path / "x.json", text)
    k = save(tmp_path / "k.npy", np.ones((1, 1, 2, 2)))
    args = {
        "pool": ["pool", x, "--kind", "max", "--kernel-size", "2"],
        "transposed": ["run", x, k, "--transposed"],
        "verify-transposed": ["verify", x, k, "--transposed"],
    }[command]
    budget = str(len(text) * JSON_PARSE_EXPANSION // 2)
    with no_tensor_data_read(monkeypatch):
        line = assert_usage_error(invoke(*args, "--max-memory", budget))
    assert "JSON text" in line and "pars" in line and "--max-memory" in line
    enough = str(len(text) * JSON_PARSE_EXPANSION * 2 + 64 * 1024**2)
    assert invoke(*args, "--max-memory", enough, "--json").exit_code == 0


EXPLAINING_AND_DRAWING = {
    "explain --transposed": ["explain", "X", "K", "--transposed", "--at", "0,0,0"],
    "pool --at": ["pool", "X", "-k", "2", "--at", "0,0,0"],
    "draw": ["draw", "X", "K", "--at", "0,0,0", "-o", "OUT/a.svg"],
    "draw --transposed": ["draw", "X", "K", "--transposed", "--at", "0,0,0", "-o", "OUT/a.svg"],
    "draw --pool": ["draw", "X", "--pool", "max", "-k", "2", "--at", "0,0,0", "-o", "OUT/a.svg"],
}


def _explaining_args(case: str, x: str, k: str, out: Path) -> list[str]:
    names = {"X": x, "K": k}
    return [names.get(arg, arg.replace("OUT", str(out))) for arg in EXPLAINING_AND_DRAWING[case]]


@pytest.mark.parametrize("case", EXPLAINING_AND_DRAWING)
def test_item38_explaining_and_drawing_budget_every_header_before_any_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    x = sparse_npy(tmp_path / "x.npy", "<f8", (1, 4096, 4096))  # 128 MiB
    k = save(tmp_path / "k.npy", np.ones((1, 1, 2, 2)))
    args = _explaining_args(case, x, k, tmp_path)
    with no_tensor_data_read(monkeypatch):
        line = assert_usage_error(invoke(*args, "--max-memory", "32M"))
    assert "x.npy 128.0 MiB" in line and "budget of 32.0 MiB" in line and "--max-memory" in line
    assert files_in(tmp_path) == ["k.npy", "x.npy"]


@pytest.mark.parametrize("case", EXPLAINING_AND_DRAWING)
def test_item38_explaining_and_drawing_budget_json_text_before_parsing_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    from convcli.ops.budget import JSON_PARSE_EXPANSION

    text = json.dumps([[[0.0] * 30] * 30])  # ~4.5 KiB of text: a drawing of few enough cells
    x = write(tmp_path / "x.json", text)
    k = save(tmp_path / "k.npy", np.ones((1, 1, 2, 2)))
    args = _explaining_args(case, x, k, tmp_path)
    budget = str(len(text) * JSON_PARSE_EXPANSION // 2)
    with no_tensor_data_read(monkeypatch):
        line = assert_usage_error(invoke(*args, "--max-memory", budget))
    assert "x.json" in line and "JSON text" in line and "--max-memory" in line
    enough = str(len(text) * JSON_PARSE_EXPANSION * 2 + 64 * 1024**2)
    assert invoke(*args, "--max-memory", enough).exit_code == 0


LAYER_MISFITS = {
    # (command, extra arguments, kernel shape, what the refusal says)
    "run --transposed, channels": (["run"], (3, 1, 2, 2), "expects 3 input channels"),
    "run --transposed, 3-D kernel": (["run"], (1, 2, 2), "needs a 4-D kernel"),
    "run --transposed, --output-size": (
        ["run", "--output-size", "5,5"],
        (1, 1, 2, 2),
        "--output-size: requested an output size of (5, 5)",
    ),
    "run --transposed, --output-padding": (
        ["run", "-s", "2", "--output-padding", "2"],
        (1, 1, 2, 2),
        "--output-padding",
    ),
    "verify --transposed, groups": (["verify", "-g", "2"], (1, 1, 2, 2), "groups"),
    "explain --transposed, channels": (
        ["explain", "--at", "0,0,0"],
        (3, 1, 2, 2),
        "expects 3 input channels",
    ),
}


@pytest.mark.parametrize("case", LAYER_MISFITS)
def test_item38_transposed_shapes_that_do_not_fit_are_refused_from_the_headers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    """check_transposed_memory let these through to the computation, which refused them
    only after loading every tensor."""
    command, kernel_shape, words = LAYER_MISFITS[case]
    x = sparse_npy(tmp_path / "x.npy", "<f4", (1, 2048, 2048))  # 16 MiB: fits the budget
    k = save(tmp_path / "k.npy", np.ones(kernel_shape, dtype=np.float32))
    args = [command[0], x, k, "--transposed", *command[1:]]
    with no_tensor_data_read(monkeypatch):
        assert_usage_error(invoke(*args), words)


def test_item38_a_pooling_window_that_does_not_fit_is_refused_from_the_header(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    x = sparse_npy(tmp_path / "x.npy", "<f4", (2048, 4, 4))
    for extra in ([], ["--at", "0,0,0"]):
        with no_tensor_data_read(monkeypatch):
            line = assert_usage_error(invoke("pool", x, "-k", "5", *extra))
        assert "pooling window 5" in line and "x.npy" in line


def test_item38_the_measured_json_expansion_covers_the_parser() -> None:
    from convcli.ops.budget import JSON_PARSE_EXPANSION
    from convcli.tensorio.jsontext import parse_json_tensor

    texts = [
        json.dumps([[0] * 20000]).replace(" ", ""),
        json.dumps([[[0]]] * 20000).replace(" ", ""),  # the worst: rows of one value
        json.dumps({"data": [[1.5] * 20000], "dtype": "float32"}),
        json.dumps([[{"real": 0, "imag": 1}] * 5000]).replace(" ", ""),
    ]
    for text in texts:
        raw = text.encode()
        tracemalloc.start()
        try:
            parse_json_tensor(raw)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak <= len(raw) * JSON_PARSE_EXPANSION, (text[:30], peak / len(raw))


def test_item38_explain_has_a_memory_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    x = sparse_npy(tmp_path / "x.npy", "<f8", (4000, 4000))
    with no_tensor_data_read(monkeypatch):
        line = refused(invoke("explain", x, x, "--at", "0,0", "--max-memory", "100M"))
    assert "--max-memory" in line and "122.1 MiB" in line


@pytest.mark.parametrize("mode", ["auto", "multi-out"], ids=["streamed", "in-memory"])
@pytest.mark.parametrize("failure", ["json-out-of-memory", "report-fails"])
def test_item40_nothing_after_the_rename_can_fail_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str, failure: str
) -> None:
    import convcli.render.run

    x, k = lesson_files(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    old = save(out / "y.npy", np.array([42.0]))
    before = Path(old).read_bytes()

    def no_memory(*args: object, **kwargs: object) -> None:
        raise MemoryError

    if failure == "json-out-of-memory":
        monkeypatch.setattr(convcli.render.run, "run_payload", no_memory)
        args = ["--json"]
    else:
        monkeypatch.setattr(convcli.render.run, "run_report", no_memory)
        args = []
    result = invoke("run", x, k, "--mode", mode, "-o", old, "--force", *args)
    refused(result, "not enough memory")
    assert Path(old).read_bytes() == before  # the old file is intact
    assert files_in(out) == ["y.npy"]  # and no temporary file is left


@pytest.mark.parametrize("step", ["renamed", "linked"])
def test_item40_an_interrupt_after_the_rename_says_the_file_was_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    # The report is printed before the rename (item 50): Ctrl-C comes just after it,
    # or between the link that puts a new file in place and the temporary name's unlink.
    rename = convcli.tensorio.files._commit

    def renamed_then_interrupted(temporary: str, target: str, *, force: bool) -> None:
        if step == "renamed":
            rename(temporary, target, force=force)
        else:
            os.link(temporary, target)
        raise KeyboardInterrupt

    monkeypatch.setattr(convcli.tensorio.files, "_commit", renamed_then_interrupted)
    x, k = lesson_files(tmp_path)
    target = tmp_path / "y.npy"
    result = invoke("run", x, k, "-o", str(target))
    assert result.exit_code == 130
    assert result.stderr == f"convcli: interrupted; {target} was written\n"
    assert result.stdout.startswith("shapes")  # the report came first
    assert files_in(tmp_path) == ["k.npy", "x.npy", "y.npy"]  # no temporary name left
    np.testing.assert_array_equal(np.load(target), conv2d(np.load(x), np.load(k)))


def test_item41_an_input_read_through_stdin_is_never_overwritten(tmp_path: Path) -> None:
    text = json.dumps([[[1.0, 2.0], [3.0, 4.0]]])
    source = tmp_path / "in.json"
    source.write_text(text)
    k = save(tmp_path / "k.npy", np.ones((1, 1, 1, 1)))
    for target in (source, tmp_path / "link.json"):
        if target != source:
            os.link(source, target)  # the same file under another name
        with open(source, "rb") as stdin:
            done = subprocess.run(
                [PYTHON, "-m", "convcli", "run", "-", k, "-o", str(target), "--force"],
                stdin=stdin,
                capture_output=True,
                timeout=60,
            )
        assert done.returncode == 2, done.stderr
        assert b"stdin" in done.stderr and len(done.stderr.splitlines()) == 1
        assert source.read_text() == text
    # A different output from the same stdin is fine.
    with open(source, "rb") as stdin:
        done = subprocess.run(
            [PYTHON, "-m", "convcli", "run", "-", k, "-o", str(tmp_path / "y.json")],
            stdin=stdin,
            capture_output=True,
            timeout=60,
        )
    assert done.returncode == 0, done.stderr


ESC_NAME = "red\x1b[31mRED\x1b[0m\nline.npy"


def test_item42_names_are_printed_the_same_safe_way_everywhere(tmp_path: Path) -> None:
    x = save(tmp_path / ESC_NAME, np.arange(18.0).reshape(2, 3, 3))
    npz = write(
        tmp_path / "layer.npz", npz_bytes({"w\x1b[2Jkey.npy": saved(np.ones((1, 2, 2, 2)))})
    )
    out = tmp_path / "out\x1b[31mRED.npy"
    result = invoke("run", x, f"{npz}:w\x1b[2Jkey", "-o", str(out), env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.stdout and "\x1b" not in result.stderr
    assert repr(ESC_NAME)[1:-1] in result.stdout  # shown quoted, as errors show it
    assert "\\x1b[2Jkey" in result.stdout
    assert result.stderr == f"convcli: wrote {str(out)!r}\n"
    assert out.exists()
    line = refused(invoke("run", x, str(tmp_path / "missing\x1b[31m.npy")))
    assert "\x1b" not in line and "missing\\x1b[31m.npy" in line
    line = refused(invoke("shapes", x, str(tmp_path / "missing\x1b[31m.npy")))
    assert "\x1b" not in line


def test_item42_onnx_node_and_module_names_are_escaped(tmp_path: Path) -> None:
    """A model file's node names and module paths reach the table, the notes and the
    errors: escaped there, whole in --json (where JSON escapes them)."""
    pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "w")
    k = numpy_helper.from_array(np.array([2], np.int64), "k")
    conv = helper.make_node("Conv", ["x", "w"], ["c"], name="/evil\x1b[31m\n/mod/Conv")
    soft = helper.make_node("Softsign", ["c"], ["s"], name="soft")
    helper.set_metadata_props(soft, {"namespace": ": M/a\x1b[2J: X\x07/op: aten"})
    stop = helper.make_node("TopK", ["s", "k"], ["y", "i"], axis=1, name="stop\x1b[31m")
    graph = helper.make_graph(
        [conv, soft, stop],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializer=[weight, k],
    )
    path = tmp_path / "evil.onnx"
    path.write_bytes(helper.make_model(graph).SerializeToString())
    for depth in ("all", "1", "2"):
        result = invoke("net", str(path), "--depth", depth, env={"COLUMNS": "200"})
        assert result.exit_code == 0, result.output
        assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "evil\\x1b[31m\\n" in result.stdout and "stop\\x1b[31m" in result.stdout
    payload = json.loads(invoke("net", str(path), "--json").stdout)
    assert payload["layers"][0]["node"] == "/evil\x1b[31m\n/mod/Conv"
    # A node named with control characters in a one-line refusal.
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["y"], name="\x1b[2J")],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 5, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializer=[weight],
    )
    path.write_bytes(helper.make_model(graph).SerializeToString())
    line = refused(invoke("net", str(path)))
    assert "\x1b" not in line and "\\x1b[2J" in line


@pytest.mark.parametrize(
    ("x_shape", "w_shape", "groups"),
    [
        ((2, 3, 3), (3, 2, 2, 2), 1),  # tiny
        ((64, 40, 40), (64, 1, 3, 3), 64),  # depthwise
        ((64, 40, 40), (32, 64, 1, 1), 1),  # 1x1
        ((64, 40, 40), (32, 64, 3, 3), 1),  # im2col
    ],
    ids=["tiny", "depthwise", "1x1", "im2col"],
)
def test_item43_a_stride_of_10_to_the_17_computes(
    tmp_path: Path, x_shape: tuple[int, ...], w_shape: tuple[int, ...], groups: int
) -> None:
    rng = np.random.default_rng(43)
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    files = [save(tmp_path / "x.npy", x), save(tmp_path / "w.npy", w)]
    for stride in ("999999999999999999", "1,999999999999999999", "999999999999999999,2"):
        pair = tuple(int(s) for s in stride.split(","))
        want = conv2d_reference(
            x, w, None, stride=pair if len(pair) == 2 else pair[0], groups=groups
        )
        result = invoke("run", *files, "--stride", stride, "--groups", str(groups), "--json")
        np.testing.assert_allclose(array_of(json_of(result)), want, rtol=1e-9, atol=1e-9)
    dilated = conv2d(x, w[..., :1, :], dilation=(10**17, 1), groups=groups)  # a 1-tall kernel
    np.testing.assert_allclose(dilated, conv2d(x, w[..., :1, :], groups=groups))


def test_item44_stdout_full_or_closed_and_stdin_closed_are_exit_74(tmp_path: Path) -> None:
    x, k = lesson_files(tmp_path)
    y = tmp_path / "y.npy"
    commands = {
        "stdout full": (f"run {x} {k} > /dev/full", 1),
        "stdout full, --json": (f"run {x} {k} --json > /dev/full", 1),
        "stdout closed": (f"run {x} {k} >&-", 1),
        "stdout closed, --json -o": (f"run {x} {k} --json -o {y} >&-", 1),
        "stdin closed": (f"run - {k} <&-", 1),
        "shapes, stdout full": ("shapes --json > /dev/full", 1),
    }
    for name, (command, lines) in commands.items():
        done = subprocess.run(
            ["bash", "-c", f"{PYTHON} -m convcli {command}"],
            capture_output=True,
            timeout=60,
        )
        err = done.stderr.decode()
        assert done.returncode == 74, (name, done.returncode, err)
        assert len(err.splitlines()) == lines and err.startswith("convcli: error: "), (name, err)
        assert "Traceback" not in err and "internal error" not in err, (name, err)
    assert not y.exists()  # nothing half-done: stdout was closed before anything ran


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs /proc to see the run start")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_item45_every_catchable_signal_cleans_up_the_temporary_file(
    tmp_path: Path, signum: int
) -> None:
    signal_a_long_run(tmp_path, signum)


def signal_a_long_run(tmp_path: Path, signum: int) -> None:
    """Send ``signum`` to a run writing over an old ``-o`` file: one line, 128 + signum,
    the old file intact and no temporary file."""
    files = long_run_files(tmp_path, batch=32)
    out = tmp_path / "out"
    out.mkdir()
    old = save(out / "y.npy", np.array([7.0]))
    before = Path(old).read_bytes()
    process = signalled_process(
        [PYTHON, "-m", "convcli", "run", *files, "-o", old, "--force", "--max-memory", "4G"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    # The temporary output is there and being written.
    deadline = time.monotonic() + 60
    while rss_bytes(process.pid) < 160 * 1024**2 and time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        time.sleep(0.02)
    assert process.poll() is None, "the run ended before the signal"
    assert len(files_in(out)) == 2  # y.npy and its temporary
    process.send_signal(signum)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 128 + signum, err
    assert err.decode().splitlines() == ["convcli: interrupted"]
    assert files_in(out) == ["y.npy"] and Path(old).read_bytes() == before


@pytest.mark.parametrize("module", ["typer", "convcli.cli._app", "numpy", "rich"])
def test_item45_ctrl_c_while_importing_is_exit_130_in_one_line(module: str) -> None:
    # Ctrl-C arrives while ``module`` is being imported, as it does in the first 0.1 s.
    hook = (
        "import builtins, sys\n"
        "real = builtins.__import__\n"
        "def importing(name, *args, **kwargs):\n"
        f"    if name == {module!r}:\n"
        "        raise KeyboardInterrupt\n"
        "    return real(name, *args, **kwargs)\n"
        "builtins.__import__ = importing\n"
        "sys.argv = ['convcli', 'run', sys.argv[1], sys.argv[2]]\n"
        "import runpy\n"
        "runpy.run_module('convcli', run_name='__main__')\n"
    )
    args = [f"{LESSON}/lesson_X.npy", f"{LESSON}/lesson_K_multi_out.npy"]
    done = subprocess.run(
        [PYTHON, "-c", hook, *args], stdin=subprocess.DEVNULL, capture_output=True, timeout=60
    )
    assert done.returncode == 130, (done.returncode, done.stderr)
    assert done.stderr.decode().splitlines() == ["convcli: interrupted"]


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs /proc to see the imports")
def test_item45_ctrl_c_during_the_real_imports_is_exit_130_in_one_line() -> None:
    process = signalled_process(
        [
            PYTHON,
            "-m",
            "convcli",
            "run",
            f"{LESSON}/lesson_X.npy",
            f"{LESSON}/lesson_K_multi_out.npy",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    # Python is running convcli's code once numpy's extension is being loaded.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        with contextlib.suppress(OSError):
            if "_multiarray_umath" in Path(f"/proc/{process.pid}/maps").read_text():
                break
        time.sleep(0.002)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    if process.returncode != 0:  # 0: it finished before the signal came
        assert process.returncode == 130, (process.returncode, err)
        assert err.decode().splitlines() == ["convcli: interrupted"]


UNICODE_DIGITS = ["\u0661", "\uff11", "\u0967", "\U0001d7d9"]  # Arabic-Indic, full-width, ...


@pytest.mark.parametrize("digit", UNICODE_DIGITS)
@pytest.mark.parametrize(
    ("command", "option", "value"),
    [
        ("run", "--groups", "D"),
        ("run", "--stride", "D"),
        ("run", "--padding", "D"),
        ("run", "--dilation", "D"),
        ("run", "--max-memory", "DG"),
        ("verify", "--atol", "D"),
        ("verify", "--rtol", "D"),
        ("verify-1x1", "--seed", "D"),
        ("verify-1x1", "--out-channels", "D"),
        ("verify-1x1", "--input-shape", "Dx3x3"),
        ("explain", "--at", "0,0,D"),
        ("shapes", "--input-shape", "Dx3x3"),
    ],
)
def test_item46_one_number_parser_refuses_non_ascii_digits_everywhere(
    tmp_path: Path, digit: str, command: str, option: str, value: str
) -> None:
    x, k = lesson_files(tmp_path)
    files = [] if command in ("verify-1x1", "shapes") else [x, k]
    extra = ["--at", "0,0,0"] if command == "explain" and option != "--at" else []
    refused(invoke(command, *files, *extra, option, value.replace("D", digit)), option)


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--max-memory", "1" + "0" * 400),  # float() would give inf
        ("--max-memory", "1e400"),
        ("--seed", "-1"),
        ("--seed", "1" * 30),
        ("--out-channels", "0"),
        ("--atol", "nan"),
        ("--rtol", "-1"),
        ("--input-shape", "9" * 4000 + "x3x3"),
    ],
)
def test_item46_extreme_option_values_are_one_short_line_naming_the_option(
    option: str, value: str
) -> None:
    line = refused(invoke("verify-1x1", option, value), option)
    assert len(line) < 300, line


def test_item47_float128_and_complex256_are_refused_everywhere(tmp_path: Path) -> None:
    x, k = lesson_files(tmp_path)
    for dtype in ("longdouble", "clongdouble"):
        wide = save(tmp_path / f"{dtype}.npy", np.ones((2, 3, 3), dtype=dtype))
        run_refused(tmp_path, [wide, k], f"{dtype}.npy", "unsupported dtype")
        run_refused(tmp_path, [x, k, "--bias", save(tmp_path / "b.npy", np.ones(1, dtype))])
        for api in (conv2d, convcli.corr2d_multi_in):
            with pytest.raises(ValueError, match="unsupported dtype"):
                api(np.ones((2, 3, 3), dtype=dtype), np.ones((2, 2, 2)))
        with pytest.raises(ValueError, match="unsupported dtype"):
            convcli.tensorio.files.save_tensor(tmp_path / "w.npy", np.ones(2, dtype=dtype))


def test_item47_statistics_of_huge_finite_values_neither_overflow_nor_warn(
    tmp_path: Path,
) -> None:
    x = save(tmp_path / "x.npy", np.full((1, 4, 4), 1e308))
    k = save(tmp_path / "k.npy", np.ones((1, 1, 1, 1)))
    result = invoke("run", x, k)
    assert result.exit_code == 0 and result.stderr == "", result.output
    assert "mean 1e+308" in result.stdout and "min 1e+308" in result.stdout
    assert "inf" not in result.stdout and "0" * 30 not in result.stdout


@pytest.mark.parametrize(
    "text",
    [
        '{"data": [[[16777217]]], "dtype": "float32"}',
        "[[[9007199254740993, 0.5]]]",
        '{"data": [[[2049]]], "dtype": "float16"}',
        '[[[{"real": 9007199254740993, "imag": 0}]]]',
        '{"data": [[[{"real": 1, "imag": 16777217}]]], "dtype": "complex64"}',
    ],
)
def test_item48_json_integers_the_dtype_cannot_hold_exactly_are_refused(
    tmp_path: Path, text: str, kernel: str
) -> None:
    json_refused(tmp_path, text, "cannot hold exactly", kernel=kernel)


def test_item48_json_integers_that_fit_exactly_still_load(tmp_path: Path) -> None:
    k = save(tmp_path / "k.npy", np.ones((1, 1, 1, 1)))
    for text, want in (
        ('{"data": [[[16777216]]], "dtype": "float32"}', 16777216.0),
        ("[[[9007199254740992, 0.5]]]", 9007199254740992.0),
        ('{"data": [[[2048]]], "dtype": "float16"}', 2048.0),
    ):
        x = write(tmp_path / "x.json", text)
        assert array_of(json_of(invoke("run", x, k, "--json"))).reshape(-1)[0] == want


def test_item49_a_long_valid_output_name_works(tmp_path: Path) -> None:
    x, k = lesson_files(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    for name in ("y" * 246 + ".npy", "\u00e9" * 123 + ".npy", "y" * 245 + ".json"):
        target = out / name
        assert len(os.fsencode(name)) <= 255
        result = invoke("run", x, k, "-o", str(target))
        assert result.exit_code == 0, result.output
        assert target.exists()
    with convcli.tensorio.files.staged_output(out / ("z" * 251 + ".npy")) as staged:
        assert len(os.fsencode(Path(staged.temporary).name)) <= 255
    assert sorted(files_in(out)) == sorted(
        ("y" * 246 + ".npy", "\u00e9" * 123 + ".npy", "y" * 245 + ".json")
    )


MEASURED = {
    "run": ["run", "X", "K"],
    "run --json": ["run", "X", "K", "--json"],
    "run -o y.json": ["run", "X", "K1", "-o", "OUT/y.json", "--force"],
    "run -o y.npy": ["run", "X", "K", "-o", "OUT/y.npy", "--force"],
    "run complex --json": ["run", "XC", "KC", "--json"],
    "run int64": ["run", "XI", "KI"],
    "run --mode multi-out": ["run", "X3", "K", "--mode", "multi-out"],
    "run --mode 1x1 --json": ["run", "X3", "K1", "--mode", "1x1", "--json"],
    "run reflect padding": ["run", "X", "K", "-p", "1", "--padding-mode", "reflect"],
    "verify": ["verify", "X", "K"],
    "verify --json": ["verify", "X", "K", "--json"],
    "verify-1x1 files": ["verify-1x1", "X3", "K1"],
    "verify-1x1 drawn --json": [
        "verify-1x1",
        "--input-shape",
        "8x96x96",
        "--out-channels",
        "8",
        "--json",
    ],
    "explain --json": ["explain", "X", "K", "--at", "0,0,0,0", "--json"],
    "explain --full": ["explain", "X", "K", "--at", "0,1,2,3", "--full"],
}


@pytest.fixture(scope="module")
def measured_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("measured")
    rng = np.random.default_rng(39)
    arrays = {
        "X": rng.standard_normal((1, 8, 64, 64)).astype(np.float32),
        "X3": rng.standard_normal((8, 64, 64)).astype(np.float32),
        "K": rng.standard_normal((8, 8, 3, 3)).astype(np.float32),
        "K1": rng.standard_normal((8, 8, 1, 1)).astype(np.float32),
        "XC": rng.standard_normal((1, 2, 64, 64)) + 1j,
        "KC": np.ones((2, 2, 1, 1), np.complex128),
        "XI": rng.integers(-9, 9, (1, 8, 64, 64)),
        "KI": rng.integers(-9, 9, (8, 8, 3, 3)),
    }
    files = {name: save(folder / f"{name}.npy", array) for name, array in arrays.items()}
    files["OUT"] = str(folder)
    return files


@pytest.mark.parametrize("case", MEASURED, ids=list(MEASURED))
def test_item39_the_estimate_covers_the_measured_peak_memory(
    monkeypatch: pytest.MonkeyPatch, measured_files: dict[str, str], case: str
) -> None:
    import convcli.ops.budget

    estimates: list[int] = []
    real = convcli.ops.budget.check_budget

    def record(estimate: Any, budget: int) -> None:
        estimates.append(estimate.total)
        real(estimate, budget)

    monkeypatch.setattr(convcli.ops.budget, "check_budget", record)
    args = [measured_files.get(arg.split("/")[0], arg.split("/")[0]) for arg in MEASURED[case]]
    args = [
        a + "/" + arg.split("/")[1] if "/" in arg else a
        for a, arg in zip(args, MEASURED[case], strict=True)
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
    assert estimates, "no estimate was made"
    assert peak <= max(estimates), (case, peak, max(estimates))


def test_item33_no_color_means_no_progress_bar_controls_either(tmp_path: Path) -> None:
    files = progress_files(tmp_path)
    code, _, shown = run_process(["run", *files], tty=["stderr"], env={**AT_ONCE, "NO_COLOR": "1"})
    assert code == 0
    assert b"\x1b" not in shown


def test_issue9_messages_name_what_was_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from convcli.ops.explain import explain_output

    x5 = save(tmp_path / "x5.npy", np.ones((1, 1, 2, 3, 3)))
    k = save(tmp_path / "k.npy", np.ones((1, 2, 1, 1)))
    refused(invoke("explain", x5, k, "--at", "0,0,0"), "got 5-D")
    # explain follows run's exactness rule: int64 x uint64 beyond 2**53 is refused.
    with pytest.raises(ValueError, match="2\\*\\*53"):
        explain_output(np.array([[2**60]]), np.array([[3]], dtype=np.uint64), None, (0, 0))

    # A short write without an errno (numpy's tofile on a full disk) says so.
    def short_write(*args: object, **kwargs: object) -> None:
        raise OSError("4096 requested and 0 written")

    x, kk = lesson_files(tmp_path)
    monkeypatch.setattr(np.lib.format, "write_array", short_write)
    line = refused(invoke("run", x, kk, "--mode", "multi-out", "-o", str(tmp_path / "y.npy")))
    assert "is the disk full?" in line and "oserror" not in line


# --- third round: a failed run writes nothing (50), encodings (51), stdout outside a
# command (52), signal dispositions (60) --------------------------------------------------


def convcli_with_stdout(
    kind: str, args: Sequence[str], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    """``python -m convcli ARGS`` in ``cwd``, its stdout ``kind``: "fine" (a pipe read to
    the end), "closed" (``>&-``), "full" (``/dev/full``) or "broken" (a pipe whose
    reader is gone)."""
    command = [PYTHON, "-m", "convcli", *args]
    options: dict[str, Any] = {
        "cwd": cwd,
        "env": {**os.environ, "COLUMNS": "80", **(env or {})},
        "stdin": subprocess.DEVNULL,
        "stderr": subprocess.PIPE,
        "timeout": 120,
    }
    if kind == "fine":
        return subprocess.run(command, stdout=subprocess.PIPE, **options)
    if kind == "broken":
        reader, writer = os.pipe()
        os.close(reader)
        try:
            return subprocess.run(command, stdout=writer, **options)
        finally:
            os.close(writer)
    redirect = {"closed": ">&-", "full": ">/dev/full"}[kind]
    return subprocess.run(
        ["bash", "-c", f'"$@" {redirect}', "convcli", *command], stdout=subprocess.PIPE, **options
    )


def folder_state(folder: Path) -> dict[str, bytes]:
    """Every file in ``folder`` (hidden temporary files too) with its content."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def writing_folder(folder: Path) -> Path:
    """The inputs every writing command below reads: ``x.npy`` (2, 3, 3), ``k.npy``
    (1, 2, 2, 2) and the transposed kernel ``kt.npy`` (2, 1, 2, 2)."""
    folder.mkdir()
    save(folder / "x.npy", np.arange(18.0).reshape(2, 3, 3))
    save(folder / "k.npy", np.ones((1, 2, 2, 2)))
    save(folder / "kt.npy", np.ones((2, 1, 2, 2)))
    return folder


# Every command and output kind that writes a file: its arguments and the files it writes.
WRITERS = {
    "run -o .npy (streamed)": (["run", "x.npy", "k.npy", "-o", "y.npy"], ["y.npy"]),
    "run -o .json": (["run", "x.npy", "k.npy", "-o", "y.json"], ["y.json"]),
    "run --mode multi-out -o --json": (
        ["run", "x.npy", "k.npy", "--mode", "multi-out", "-o", "y.npy", "--json"],
        ["y.npy"],
    ),
    "run --transposed -o": (["run", "x.npy", "kt.npy", "--transposed", "-o", "y.npy"], ["y.npy"]),
    "run --transposed -o --json": (
        ["run", "x.npy", "kt.npy", "--transposed", "-o", "y.json", "--json"],
        ["y.json"],
    ),
    "pool -o": (["pool", "x.npy", "-k", "2", "-o", "y.npy"], ["y.npy"]),
    "pool -o --json": (["pool", "x.npy", "-k", "2", "-o", "y.json", "--json"], ["y.json"]),
    "run -o --plot": (
        ["run", "x.npy", "k.npy", "-o", "y.npy", "--plot", "p.svg"],
        ["y.npy", "p.svg"],
    ),
    "pool --plot": (["pool", "x.npy", "-k", "2", "--plot", "p.png"], ["p.png"]),
    "grad -o .npz": (["grad", "x.npy", "k.npy", "-o", "g.npz"], ["g.npz"]),
    "pool --grad -o --json": (
        ["pool", "x.npy", "-k", "2", "--grad", "-o", "g.npy", "--json"],
        ["g.npy"],
    ),
    "compose -o": (["compose", "k.npy", "kt.npy", "-o", "c.npy"], ["c.npy"]),
    "learn -o --plot": (
        ["learn", "--example", "edges", "-o", "l.npy", "--plot", "l.png"],
        ["l.npy", "l.png"],
    ),
}


@pytest.mark.parametrize("stdout", ["fine", "closed", "full", "broken"])
@pytest.mark.parametrize("writer", list(WRITERS))
def test_item50_a_failed_stdout_leaves_no_file_created_or_changed(
    tmp_path: Path, writer: str, stdout: str
) -> None:
    args, outputs = WRITERS[writer]
    if "--plot" in args:
        pytest.importorskip("matplotlib")
    folder = writing_folder(tmp_path / "work")
    # Over old files (--force) where the file could be changed, else where it would be new.
    replacing = stdout in ("fine", "full")
    if replacing:
        for name in outputs:
            (folder / name).write_bytes(b"OLD")
        args = [*args, "--force"]
    before = folder_state(folder)
    done = convcli_with_stdout(stdout, args, folder)
    err = done.stderr.decode()
    if stdout == "fine":  # exit 0: everything was written and printed
        assert done.returncode == 0, err
        assert done.stdout.strip()
        for name in outputs:
            assert (folder / name).read_bytes() != b"OLD", name
        assert sorted(folder_state(folder)) == sorted({*before, *outputs})  # no temporary file
        return
    assert done.returncode == 74, (done.returncode, err)
    assert len(err.splitlines()) == 1 and err.startswith("convcli: error: cannot write to stdout")
    if stdout == "closed":  # found before anything was computed
        assert err == "convcli: error: cannot write to stdout: it is closed\n"
    assert folder_state(folder) == before  # nothing created, nothing changed, no temporary


@pytest.mark.parametrize("writer", ["run -o .npy (streamed)", "run --transposed -o", "pool -o"])
def test_item50_an_interrupt_while_the_report_prints_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, writer: str
) -> None:
    import convcli.render.widgets

    monkeypatch.setattr(convcli.render.widgets, "print_sections", _interrupted)
    folder = writing_folder(tmp_path / "work")
    monkeypatch.chdir(folder)
    args, outputs = WRITERS[writer]
    (folder / outputs[0]).write_bytes(b"OLD")
    before = folder_state(folder)
    result = invoke(*args, "--force")
    assert result.exit_code == 130
    assert result.stderr == "convcli: interrupted\n"  # no "y.npy was written"
    assert folder_state(folder) == before


@pytest.mark.parametrize("stdout", ["closed", "full"])
@pytest.mark.parametrize(
    "command",
    [
        ["draw", "x.npy", "k.npy", "-o", "d.svg"],
        ["draw", "--input-shape", "3x3", "--kernel-shape", "2x2", "-o", "d.gif"],
        ["demo", "--write", "samples"],
    ],
    ids=["draw svg", "draw gif", "demo --write"],
)
def test_item50_commands_that_print_nothing_need_no_stdout(
    tmp_path: Path, command: list[str], stdout: str
) -> None:
    """draw and demo --write print only "wrote ..." on stderr: their stdout may be
    closed or full, and exit 0 still means the files are in place."""
    folder = writing_folder(tmp_path / "work")
    done = convcli_with_stdout(stdout, command, folder)
    assert done.returncode == 0, done.stderr
    assert done.stderr.decode().startswith("convcli: wrote ")
    written = folder / command[-1]
    assert written.is_dir() or written.stat().st_size > 0
    if written.is_dir():
        assert len(files_in(written)) == len(sample_names())  # every sample, no temporary file
    assert not [name for name in files_in(folder) if name.endswith(".tmp")]


@pytest.mark.parametrize(
    "command",
    [
        ["run", "x.npy", "k.npy", "-o", "y.npy"],
        ["pool", "x.npy", "-k", "2", "-o", "y.npy"],
        ["draw", "x.npy", "k.npy", "-o", "y.svg"],
    ],
    ids=["run", "pool", "draw"],
)
def test_item50_a_full_stderr_after_the_rename_is_still_exit_0(
    tmp_path: Path, command: list[str]
) -> None:
    """The file is in place: a "wrote y.npy" that stderr cannot take changes nothing."""
    folder = writing_folder(tmp_path / "work")
    done = subprocess.run(
        ["bash", "-c", '"$@" 2>/dev/full', "convcli", PYTHON, "-m", "convcli", *command],
        cwd=folder,
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done
    assert (folder / command[-1]).stat().st_size > 0


@pytest.mark.parametrize("failure", ["interrupt", "disk full"])
def test_item50_demo_write_is_all_or_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: str
) -> None:
    import builtins

    calls: list[str] = []

    def opening(path: str, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if "w" in mode:  # the third sample file cannot be written
            calls.append(path)
            if len(calls) == 3:
                if failure == "interrupt":
                    raise KeyboardInterrupt
                raise OSError(errno.ENOSPC, "No space left on device")
        return builtins.open(path, mode, *args, **kwargs)

    monkeypatch.setattr(convcli.tensorio.files, "open", opening, raising=False)
    target = tmp_path / "samples"
    result = invoke("demo", "--write", str(target))
    assert result.exit_code == (130 if failure == "interrupt" else 2), result.output
    assert files_in(tmp_path) == []  # no sample, no temporary file, not even the folder
    # With existing files (--force), the old ones stay as they were.
    target.mkdir()
    (target / "lesson_X.json").write_text("OLD")
    calls.clear()
    result = invoke("demo", "--write", str(target), "--force")
    assert result.exit_code != 0
    assert files_in(target) == ["lesson_X.json"] and (target / "lesson_X.json").read_text() == "OLD"
    monkeypatch.undo()
    assert invoke("demo", "--write", str(target), "--force").exit_code == 0
    assert len(files_in(target)) == len(sample_names())


def cjk_of(text: str) -> set[str]:
    """The Chinese characters and full-width punctuation in ``text``."""
    return {c for c in text if "\u3000" <= c <= "\u9fff" or "\uff00" <= c <= "\uffef"}


ENCODINGS = {
    "PYTHONIOENCODING=ascii": {"PYTHONIOENCODING": "ascii"},
    "LC_ALL=C": {"LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONIOENCODING": ""},
}
# Every command and output kind, reading an input whose name is not ASCII.
PRINTERS = {
    "run -o": ["run", "\u00e9.npy", "k.npy", "-o", "y.npy"],
    "run --json": ["run", "\u00e9.npy", "k.npy", "--json"],
    "run --transposed": ["run", "\u00e9.npy", "kt.npy", "--transposed"],
    "pool --indices": ["pool", "\u00e9.npy", "-k", "2", "--indices"],
    "pool --at": ["pool", "\u00e9.npy", "-k", "2", "--at", "0,0,0"],
    "verify": ["verify", "\u00e9.npy", "k.npy"],
    "verify-1x1": ["verify-1x1"],
    "explain": ["explain", "\u00e9.npy", "k.npy", "--at", "0,0,0"],
    "shapes": ["shapes", "\u00e9.npy", "k.npy"],
    "net": ["net", "--preset", "lenet"],
    "net --emit torch": ["net", "--preset", "lenet", "--emit", "torch"],
    "demo": ["demo"],
    "draw": ["draw", "\u00e9.npy", "k.npy", "-o", "d.svg"],
}


@pytest.mark.parametrize(
    ("printer", "encoding", "lang"),
    [(name, "PYTHONIOENCODING=ascii", "zh") for name in PRINTERS]
    + [(name, "LC_ALL=C", "zh") for name in ("run -o", "net", "shapes")]
    + [(name, "PYTHONIOENCODING=ascii", "en") for name in ("run -o", "shapes", "draw")],
)
def test_item51_a_stdout_that_cannot_encode_the_text_gets_it_escaped(
    tmp_path: Path, printer: str, encoding: str, lang: str
) -> None:
    folder = writing_folder(tmp_path / "work")
    os.rename(folder / "x.npy", folder / "\u00e9.npy")
    args = ["--lang", lang, *PRINTERS[printer]]
    done = convcli_with_stdout("fine", args, folder, env=ENCODINGS[encoding])
    err = done.stderr.decode("ascii")  # stderr escapes too
    assert done.returncode == 0, err
    assert "internal error" not in err and "Traceback" not in err
    shown = done.stdout.decode("ascii")  # never a character the encoding lacks
    written = [name for name in ("y.npy", "d.svg") if name in args]
    for name in written:
        assert (folder / name).stat().st_size > 0
    # Nothing is lost: every character a UTF-8 stdout shows is there, escaped.
    for name in written:
        (folder / name).unlink()
    same_locale = {**ENCODINGS[encoding], "PYTHONIOENCODING": "utf-8"}
    utf8 = convcli_with_stdout("fine", args, folder, env=same_locale)
    assert utf8.returncode == 0
    unescaped = shown.encode("ascii").decode("unicode_escape")
    want = utf8.stdout.decode("utf-8")
    assert cjk_of(want) <= cjk_of(unescaped)
    if lang == "zh" and printer not in ("run --json", "draw", "net --emit torch"):
        assert cjk_of(want), "a Chinese report shows Chinese"
    if "\u00e9" in want:  # the input's name
        assert "\\xe9" in shown or "\\udcc3\\udca9" in shown


@pytest.mark.parametrize("encoding", list(ENCODINGS))
def test_item51_help_onto_an_ascii_stdout_is_no_internal_error(
    tmp_path: Path, encoding: str
) -> None:
    """click writes its help itself (UTF-8 when the stream says ASCII): never exit 70."""
    for args in (["--lang", "zh", "--help"], ["--lang", "zh", "net", "--help"], ["--version"]):
        done = convcli_with_stdout("fine", args, tmp_path, env=ENCODINGS[encoding])
        assert done.returncode == 0, done.stderr
        assert done.stdout and done.stderr == b""
        full = convcli_with_stdout("full", args, tmp_path, env=ENCODINGS[encoding])
        assert full.returncode == 74 and len(full.stderr.splitlines()) == 1, full.stderr


@pytest.mark.parametrize("stdout", ["closed", "full"])
@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--help"],
        ["--lang", "zh", "--help"],
        ["net", "--help"],
        ["run", "--help"],
        ["--version"],
        ["--show-completion", "bash"],
        ["net", "--preset", "lenet", "--emit", "torch"],
        ["--lang", "zh", "net", "--preset", "lenet", "--emit", "torch"],
    ],
    ids=lambda args: " ".join(args) or "bare",
)
def test_item52_printing_onto_a_failed_stdout_is_74_in_one_line(
    tmp_path: Path, args: list[str], stdout: str
) -> None:
    fine = convcli_with_stdout("fine", args, tmp_path)
    assert fine.returncode == 0 and fine.stdout, fine.stderr
    done = convcli_with_stdout(stdout, args, tmp_path)
    err = done.stderr.decode()
    assert done.returncode == 74, (done.returncode, err)
    assert len(err.splitlines()) == 1 and err.startswith("convcli: "), err
    assert "Traceback" not in err and "internal" not in err
    if "zh" in args:
        assert cjk_of(err), err  # said in the language asked for
    assert files_in(tmp_path) == []


@pytest.fixture
def ignoring_parent() -> Iterator[None]:
    """This process as ``nohup pytest`` or ``pytest &`` in a script starts it: SIGHUP and
    SIGINT ignored, a disposition every child inherits."""
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGHUP)}
    for signum in saved:
        signal.signal(signum, signal.SIG_IGN)
    try:
        yield
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)


# What a child makes of SIGINT, SIGHUP and SIGTERM: "ignored" or "default" (Python's
# Ctrl-C handler is SIGINT's default).
DISPOSITIONS = (
    "import signal\n"
    "for s in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):\n"
    "    h = signal.getsignal(s)\n"
    "    print('ignored' if h == signal.SIG_IGN else 'default' "
    "if h in (signal.SIG_DFL, signal.default_int_handler) else h)\n"
)


@pytest.mark.usefixtures("ignoring_parent")
def test_item60_children_of_the_signal_tests_get_the_default_dispositions() -> None:
    inherited = subprocess.run([PYTHON, "-c", DISPOSITIONS], capture_output=True, timeout=60)
    # The trap this item is about: a plain child inherits the ignored signals ...
    assert inherited.stdout.decode().split() == ["ignored", "ignored", "default"]
    # ... and the children that the tests signal do not.
    process = signalled_process([PYTHON, "-c", DISPOSITIONS], stdout=subprocess.PIPE)
    out, _ = process.communicate(timeout=60)
    assert out.decode().split() == ["default", "default", "default"]


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs /proc to see the run start")
@pytest.mark.usefixtures("ignoring_parent")
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGHUP])
def test_item60_ctrl_c_and_sighup_reach_convcli_when_the_suite_ignores_them(
    tmp_path: Path, signum: int
) -> None:
    signal_a_long_run(tmp_path, signum)


# --- item 56: signed zeros and NaN in max pooling follow PyTorch on every path ----------

SIGNED_ZERO_ELEMENTS = (-0.0, 0.0, float("nan"), -1.0, 1.0, float("-inf"))


def _same_bits(actual: Array, expected: Array) -> None:
    """Equal values with the same sign of zero (and NaN where NaN is)."""
    assert actual.shape == expected.shape
    nan = np.isnan(expected)
    np.testing.assert_array_equal(np.isnan(actual), nan)
    np.testing.assert_array_equal(actual[~nan], expected[~nan])
    np.testing.assert_array_equal(np.signbit(actual[~nan]), np.signbit(expected[~nan]))


def test_item56_signed_zeros_in_max_pooling_follow_pytorchs_scan(tmp_path: Path) -> None:
    """PyTorch's scan (row by row, a value replaces the best when larger or NaN): of equal
    zeros the first one in the window wins; every path gives the same value."""
    z = save(tmp_path / "z.npy", np.array([[[-0.0, 0.0]], [[0.0, -0.0]]], "f4"))
    for args in (["-k", "1,2"], ["--kind", "adaptive-max", "--output-size", "1"]):
        for extra in ([], ["--indices"]):
            payload = json_of(invoke("pool", z, *args, *extra, "--json"))
            out = array_of(payload.get("output", payload))
            assert np.signbit(out.ravel()).tolist() == [True, False], (args, extra)
    # Down the rows, then along them: a 2x2 window whose first row holds +0 gives +0,
    # though its first column's best is -0.
    w = save(tmp_path / "w.npy", np.array([[[-1.0, 0.0], [-0.0, -1.0]]], "f4"))
    for args in (["-k", "2"], ["--kind", "adaptive-max", "--output-size", "1"]):
        out = array_of(json_of(invoke("pool", w, *args, "--json")))
        assert not np.signbit(out.ravel()[0]), args
    at = json_of(invoke("pool", z, "-k", "1,2", "--at", "1,0,0", "--json"))
    assert str(at["value"]) == "0.0"
    at = json_of(invoke("pool", z, "-k", "1,2", "--at", "0,0,0", "--json"))
    assert str(at["value"]) == "-0.0"


def test_item56_draw_pool_shows_pytorchs_signed_zero(tmp_path: Path) -> None:
    z = save(tmp_path / "z.npy", np.array([[[-0.0, 0.0]]], "f4"))
    target = tmp_path / "z.svg"
    assert invoke("draw", z, "--pool", "max", "-k", "1,2", "-o", str(target)).exit_code == 0
    # The output cell, written after the input's two cells, holds the first zero: -0.
    texts = [t.split("<")[0] for t in target.read_text().split(">")]
    assert texts.count("-0") == 2 and texts.count("0") == 1, texts


@st.composite
def _zero_rich_pools(draw: Any) -> tuple[Array, dict[str, Any], tuple[int, int]]:
    dtype = draw(st.sampled_from(["float32", "float64"]))
    k = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    d = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    p = (draw(st.integers(0, k[0] // 2)), draw(st.integers(0, k[1] // 2)))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    size = tuple(max(1, d[a] * (k[a] - 1) + 1 - 2 * p[a]) + draw(st.integers(0, 4)) for a in (0, 1))
    shape = (draw(st.integers(1, 2)), *size)
    x = draw(hnp.arrays(dtype, shape, elements=st.sampled_from(SIGNED_ZERO_ELEMENTS)))
    options = {"kernel_size": k, "stride": s, "padding": p, "dilation": d}
    adaptive = (draw(st.integers(1, size[0] + 1)), draw(st.integers(1, size[1] + 1)))
    return x, options, adaptive


@pytest.mark.torch
@given(case=_zero_rich_pools())
def test_item56_max_pooling_matches_pytorch_on_zeros_and_nan(
    case: tuple[Array, dict[str, Any], tuple[int, int]], torch_single_thread: Any
) -> None:
    from convcli.ops.explain_layers import explain_pool
    from convcli.ops.pooling import adaptive_max_pool2d, max_pool2d
    from convcli.shapes.pooling import PoolOptions

    torch = torch_single_thread
    functional = torch.nn.functional
    x, options, adaptive = case
    t = torch.from_numpy(x)
    values, indices = functional.max_pool2d(t, **options, return_indices=True)
    _same_bits(max_pool2d(x, **options), values.numpy())
    ours, our_indices = max_pool2d(x, **options, return_indices=True)
    _same_bits(ours, values.numpy())
    np.testing.assert_array_equal(our_indices, indices.numpy())
    a_values, a_indices = functional.adaptive_max_pool2d(t, adaptive, return_indices=True)
    _same_bits(adaptive_max_pool2d(x, adaptive), a_values.numpy())
    ours, our_indices = adaptive_max_pool2d(x, adaptive, return_indices=True)
    _same_bits(ours, a_values.numpy())
    np.testing.assert_array_equal(our_indices, a_indices.numpy())
    # --at: the explained value and its winner are PyTorch's value and index.
    pool_options = PoolOptions("max", options["kernel_size"], options["stride"],
                               options["padding"], options["dilation"])  # fmt: skip
    position = (0, 0, values.shape[-1] - 1)
    explained = explain_pool(x, pool_options, position)
    expected = values.numpy()[position]
    _same_bits(np.array([explained.value], x.dtype), np.array([expected]))
    if explained.winner is not None:
        r, c = explained.winner
        assert r * x.shape[-1] + c == int(indices.numpy()[position])


# --- third round: numbers, --emit torch, Chinese, spec files, messages (items 53, 55, 57-59) --

BIG_STRIDE = 2**62


def _half_up(count: int) -> tuple[Decimal, int]:
    """``count`` to three significant digits, half up, by decimal's own rounding (a
    reference independent of convcli's integer arithmetic): (mantissa, exponent)."""
    value = Decimal(count)
    exponent = value.adjusted()
    mantissa = value.scaleb(-exponent).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    if mantissa >= 10:
        mantissa, exponent = (mantissa / 10).quantize(Decimal("0.01")), exponent + 1
    return mantissa, exponent


def _read_compact(text: str) -> tuple[Decimal, int]:
    """A suffixed table count (``12.3K``, ``2.13e37``) back as (mantissa, exponent)."""
    if "e" in text:
        mantissa, power = text.split("e")
        return Decimal(mantissa), int(power)
    scale = {"K": 3, "M": 6, "G": 9, "T": 12}[text[-1]]
    value = Decimal(text[:-1])
    exponent = value.adjusted()
    return value.scaleb(-exponent), exponent + scale


@pytest.mark.parametrize(
    "count",
    [
        10_000,
        12_345,
        99_950,
        999_499,
        999_500,
        999_999,
        1_234_567_890,
        10**15 - 1,
        999_500 * 10**9,
        4611686018427387826628747544663732818804736,
        BIG_STRIDE**9 + 7,
        *(3**n + 5 * 10 ** (n // 2) for n in range(9, 200, 7)),
    ],
)
def test_item53_suffixed_counts_are_rounded_from_the_exact_integer(count: int) -> None:
    from convcli.render.numbers import compact_count

    text = compact_count(count)
    assert _read_compact(text) == _half_up(count), (count, text)
    digits = text.rstrip("KMGT").split("e")[0].replace(".", "")
    assert len(digits) == 3, text  # three significant digits, never float noise


def test_item53_counts_below_ten_thousand_are_whole_and_grouped() -> None:
    from convcli.render.numbers import compact_count, count_text

    assert [compact_count(n) for n in (0, 7, 999, 1000, 9999)] == [
        "0",
        "7",
        "999",
        "1,000",
        "9,999",
    ]
    assert count_text(57802752) == "57,802,752" and count_text(73728) == "73,728"


def test_item53_a_chain_of_huge_strides_prints_its_table_and_json() -> None:
    spec = " > ".join([f"convT(1, k=1, s={BIG_STRIDE})"] * 9)
    table = invoke("net", spec, "--input-shape", "1x1x2x2", env={"COLUMNS": "200"})
    assert table.exit_code == 0, table.output
    payload = json_of(invoke("net", spec, "--input-shape", "1x1x2x2", "--json"))
    size = 2
    for _layer in range(9):
        size = (size - 1) * BIG_STRIDE + 1  # conv_transpose2d's output size, k=1, p=0
    assert payload["output_shape"] == [1, 1, size, size]
    total = payload["total"]
    # The table's totals are the JSON's exact integers, grouped; the rows are suffixed.
    joined = "".join(table.stdout.split())  # long numbers fold over lines
    assert f"{total['macs']:,}" in joined and f"{total['flops']:,}" in joined
    last_flops = payload["layers"][-1]["flops"]
    mantissa, exponent = _half_up(last_flops)
    assert f"{mantissa}e{exponent}" in table.stdout
    assert "OverflowError" not in table.output


def test_item53_a_half_is_exact_in_the_table_and_in_json() -> None:
    spec = "conv(1, k=2, p=9007199254740993)"
    expected = Fraction(1, 2) - 9007199254740993  # start = (k - 1)/2 - p
    table = invoke("net", spec, "--input-shape", "1x1x3x3", env={"COLUMNS": "200"})
    assert table.exit_code == 0, table.output
    assert "-9,007,199,254,740,992.5" in table.stdout
    result = invoke("net", spec, "--input-shape", "1x1x3x3", "--json")
    assert result.exit_code == 0
    exact = json.loads(result.stdout, parse_float=Decimal)
    assert [Fraction(value) for value in exact["layers"][0]["start"]] == [expected, expected]
    assert "-9007199254740992.5" in result.stdout  # a JSON number, exact, not a string


def test_item53_byte_sizes_are_rounded_from_the_exact_count() -> None:
    from convcli.render.numbers import byte_size_text

    for count in (0, 1023, 1024, 1536, 2**30 - 1, 5 * 2**40 + 2**39, 7 * 2**60, 2**200):
        text = byte_size_text(count)
        number, unit = text.rsplit(" ", 1)
        power = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB").index(unit)
        exact = Fraction(count, 1024**power)
        shown = Fraction(number.replace(",", ""))
        assert abs(shown - exact) <= Fraction(1, 200), (count, text)


B18 = "999999999999999999"  # the largest size the shape parser takes


@pytest.mark.parametrize(
    "args",
    [
        ["shapes", "--input-shape", f"{B18}x{B18}x{B18}", "--kernel-shape", f"{B18}x{B18}x3x3",
         "--bias"],
        ["shapes", "--transposed", "--input-shape", f"{B18}x{B18}x{B18}", "--kernel-shape",
         f"{B18}x{B18}x3x3", "-s", B18],
        ["shapes", "--pool", "avg", "--input-shape", f"{B18}x{B18}x{B18}", "--kernel-size", "3"],
        ["shapes", "--pool", "adaptive-max", "--input-shape", f"{B18}x{B18}x{B18}",
         "--output-size", f"3,{int(B18) - 1}"],
    ],
)  # fmt: skip
def test_item53_the_shapes_family_is_exact_at_the_largest_sizes(args: list[str]) -> None:
    result = invoke(*args, env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    payload = json_of(invoke(*args, "--json"))
    flops = payload["flops"]
    assert isinstance(flops, int) and f"{flops:,}" in "".join(result.stdout.split())


def test_item53_adaptive_windows_are_counted_in_closed_form() -> None:
    for n, m in [(7, 2), (9, 3), (3, 5), (10, 4), (13, 13), (5, 7)]:
        payload = json_of(
            invoke("shapes", "--pool", "adaptive-avg", "--input-shape", f"1x{n}x{n}",
                   "--output-size", str(m), "--json")
        )  # fmt: skip
        windows = [(i * n // m, -(-(i + 1) * n // m)) for i in range(m)]  # PyTorch's windows
        assert payload["windows"]["h"] == [list(w) for w in windows]
        assert payload["window_lengths"]["h"] == sorted({end - start for start, end in windows})
        cells = sum(end - start for start, end in windows)
        assert payload["flops"] == cells * cells - m * m


def test_item53_a_network_past_the_digit_limit_is_one_line() -> None:
    spec = ">".join([f"convT(1,k=1,s={BIG_STRIDE})"] * 240)
    result = invoke("net", spec, "--input-shape", "1x1x2x2", "--json")
    line = assert_usage_error(result, "4,000 digits")
    assert len(line) < 300


ISSUE19_COMMANDS = [
    ["shapes", "--input-shape", "64x56x56", "--kernel-shape", "128x64x3x3", "--bias"],
    ["shapes", "--transposed", "--input-shape", "64x56x56", "--kernel-shape", "64x128x3x3",
     "-s", "2"],
    ["shapes", "--pool", "max", "--input-shape", "64x112x112", "--kernel-size", "3", "-s", "2"],
    ["shapes", "--pool", "adaptive-avg", "--input-shape", "300x70x90", "--output-size", "2,3"],
    ["net", "--preset", "resnet18"],
    ["net", "--preset", "alexnet"],
]  # fmt: skip
# Not counts: shapes (1x3x224x224), fractions (137/1152), the layers as written
# (linear(4096)), a year (Distill 2019).
_NOT_A_COUNT = re.compile(
    r"\b\d+(?:x\d+)+\b|\b\d+\.\d+|\d,\d|\d+/\d+|\b\w+\((?:[^()]|\([^()]*\))*\)|\b2019\b"
)


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("args", ISSUE19_COMMANDS)
def test_item53_every_count_a_person_reads_is_grouped_the_same_way(
    args: list[str], lang: str
) -> None:
    """Issue 19: no ``= 73728`` beside ``57,802,752``: four digits or more are grouped."""
    result = invoke("--lang", lang, *args, env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    text = _NOT_A_COUNT.sub(" ", result.stdout)
    ungrouped = re.findall(r"(?<![\d,.])\d{4,}(?![\d,])", text)
    assert ungrouped == [], ungrouped


# --- 55 ---------------------------------------------------------------------------------

ACCEPTED_FLOATS = [
    "1e999", "-1e999", "1e-999", "-0.0", "0.0", "0.1000000000000000055511151231257827",
    "12345678901234567890123", "4611686018427387904", "1.7976931348623157e308", "5e-324",
    "-2.5", "3",
]  # fmt: skip


class _Recorder:
    """A stand-in for ``torch.nn``: every module built records its arguments."""

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: (name, args, kwargs)


@pytest.mark.parametrize("value", ACCEPTED_FLOATS)
def test_item55_the_emitted_script_is_valid_python_for_every_accepted_float(value: str) -> None:
    spec = f"bn(eps={value}, momentum={value}) > leakyrelu(negative_slope={value})"
    result = invoke("net", spec, "--input-shape", "1x2x3x3", "--emit", "torch")
    assert result.exit_code == 0, result.output
    script = result.stdout
    compile(script, "emitted.py", "exec")
    built = script.split("net = ", 1)[1].split("\nx = ", 1)[0]
    _sequential, modules, _kwargs = eval(built, {"nn": _Recorder(), "float": float})
    expected = float(value) if "." in value or "e" in value else int(value)
    (_n1, _a1, norm), (_n2, _a2, leaky) = modules
    for got in (norm["eps"], norm["momentum"], leaky["negative_slope"]):
        assert repr(got) == repr(expected)  # the same value, -0.0 and inf included


@pytest.mark.torch
def test_item55_the_emitted_script_runs_under_torch(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    spec = (
        "conv(4, k=3, p=1) > bn(eps=1e999, momentum=-0.0) > leakyrelu(negative_slope=1e-999)"
        " > dropout(p=0.0) > maxpool(2) > flatten > linear(3)"
    )
    result = invoke("net", spec, "--input-shape", "1x2x6x6", "--emit", "torch")
    assert result.exit_code == 0, result.output
    script = tmp_path / "net.py"
    script.write_text(result.stdout, encoding="utf-8")
    done = subprocess.run([PYTHON, str(script)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "output shape (1, 3)" in done.stdout


def test_item55_an_int_past_the_float_range_is_refused_when_read() -> None:
    huge = "1" + "0" * 400
    assert_usage_error(invoke("net", f"bn(eps={huge})", "--input-shape", "1x2x3x3"), "eps")


# --- 57 ---------------------------------------------------------------------------------

BAD_SPECS = [
    "relu > foo", "conv(6, k=-1)", "conv(6, k=3) >", "conv(6 k=3)", "conv(6, k=3",
    "conv(6, k=3))", "nn.Foo(3)", "conv(6, k=3, s=0)", "conv(6, k=(1, 2, 3))",
    "conv(6, k=3, padding_mode='mirror')", "gelu(approximate='x')", "gap(x=1)",
    "relu(x=1)", "residual(conv(2, k=1))", "residual(relu, foo=relu)", "dropout(p=2)",
    "bn(eps='a')", "maxpool(k=2, s=None, ceil_mode=1)", "adaptiveavgpool((0, 1))",
    "conv(6, k=3, bias=1)", "linear(0)", "conv(6, k=" + "9" * 5000 + ")",
    "conv(6, k=3, " + "a" * 200 + "=1)", "conv(6, k=1) > 'x'", "Foo(\n)",
    "conv(2, k=1) > conv(3, k=1, g=2)", "conv(4, k=1, g=2)", "flatten > conv(1, k=1)",
    "conv(1, k=9)", "maxpool(9)", "conv(1, k=3, s=2, p='same')", "flatten > BatchNorm2d(64)",
    "Conv2d(3, 4, kernel_size=1)", "Linear(7, 2)", "residual(conv(1, k=1), shortcut=conv(2, k=1))",
    "conv(1, k=1, p=9, padding_mode='reflect')", "flatten(start_dim=5)",
]  # fmt: skip


@pytest.mark.parametrize("spec", BAD_SPECS)
def test_item57_spec_errors_have_no_english_under_zh(spec: str) -> None:
    from test_i18n import english_words, zh

    from convcli.shapes import netspec

    # Layer and argument names are what the user types: code, not English.
    code_names = {"True", "False", "None", *netspec.LAYER_NAMES} | {
        param.name for _kind, params in netspec._SHORT.values() for param in params
    }
    code, out, err = zh("net", spec, "--input-shape", "1x1x8x8")
    # (the layers before one that does not fit are still shown, on stdout)
    assert code == 2 and len(err.splitlines()) == 1, (spec, err)
    assert english_words(err + out) - code_names == set(), (spec, err)


@pytest.mark.parametrize("number", sorted(set(errno.errorcode)))
def test_item57_every_os_reason_is_worded_from_errno(number: int) -> None:
    from test_i18n import english_words

    from convcli.i18n import set_language as use_language
    from convcli.i18n.reasons import os_reason

    err = OSError(number, "English words from the C library")
    english = os_reason(err)
    assert "C library" not in english and english
    use_language("zh")
    try:
        chinese = os_reason(err)
    finally:
        use_language("en")
    assert english_words(chinese) == set(), chinese


def test_item57_a_full_disk_is_said_in_chinese() -> None:
    done = subprocess.run(
        ["bash", "-c", f"{PYTHON} -m convcli --lang zh shapes > /dev/full"],
        capture_output=True,
        timeout=60,
    )
    err = done.stderr.decode()
    assert done.returncode == 74 and "设备上没有剩余空间" in err, err
    assert "No space" not in err and "no space" not in err


BUDGET_COMMANDS = {
    "run": ["run", "x.npy", "k.npy"],
    "run --json": ["run", "x.npy", "k.npy", "--json"],
    "verify": ["verify", "x.npy", "k.npy"],
    "explain": ["explain", "x.npy", "k.npy", "--at", "0,0,0"],
    "run --transposed": ["run", "x.npy", "kt.npy", "--transposed"],
    "pool": ["pool", "x.npy", "-k", "2"],
    "pool --indices --json": ["pool", "x.npy", "-k", "2", "--indices", "--json"],
    "pool --grad": ["pool", "x.npy", "-k", "2", "--grad"],
    "grad": ["grad", "x.npy", "k.npy"],
    "draw": ["draw", "x.npy", "k.npy", "-o", "d.svg"],
    "learn": ["learn", "--example", "edges"],
}


@pytest.mark.parametrize("command", list(BUDGET_COMMANDS))
def test_item57_a_budget_refusal_names_its_parts_in_chinese(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    """Every part of a memory estimate (workspace, report, JSON text, ...) is a marked
    string: a refusal under --lang zh lists them in Chinese, joined by Chinese commas."""
    from test_i18n import english_words, zh

    monkeypatch.chdir(tmp_path)
    save(tmp_path / "x.npy", np.arange(18.0).reshape(2, 3, 3))
    save(tmp_path / "k.npy", np.ones((1, 2, 2, 2)))
    save(tmp_path / "kt.npy", np.ones((2, 1, 2, 2)))
    code, _out, err = zh(*BUDGET_COMMANDS[command], "--max-memory", "300")
    assert code == 2 and len(err.splitlines()) == 1, (command, err)
    assert "预算" in err, err
    assert english_words(err) - {"JSON"} == set(), (command, err)
    assert ", " not in err, err


# --- 58 ---------------------------------------------------------------------------------


def _net_file(path: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-m", "convcli", "net", f"@{path}", "--input-shape", "1x1x4x4"],
        capture_output=True,
        text=True,
        timeout=20,  # a FIFO that is opened blocks for ever: the timeout would fail the test
        env={**os.environ, "CONVCLI_LANG": "en"},
    )


def test_item58_a_fifo_device_or_folder_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "ff"
    os.mkfifo(fifo)
    for path, words in [
        (str(fifo), "is not a regular file"),
        ("/dev/zero", "is not a regular file"),
        (str(tmp_path), "is a folder"),
        (str(tmp_path / "missing.txt"), "no such file"),
    ]:
        done = _net_file(path)
        assert done.returncode == 2 and done.stdout == "", (path, done.stderr)
        assert len(done.stderr.splitlines()) == 1 and words in done.stderr, (path, done.stderr)


def test_item58_a_spec_file_has_a_size_budget(tmp_path: Path) -> None:
    from convcli.shapes.netspec import MAX_SPEC_CHARS

    big = tmp_path / "big.txt"
    big.write_bytes(b"relu\n" + b" " * (4 * MAX_SPEC_CHARS))
    done = _net_file(str(big))
    assert done.returncode == 2 and "bytes allowed" in done.stderr, done.stderr
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"conv(1, k=1)\xff")
    done = _net_file(str(bad))
    assert done.returncode == 2 and "not UTF-8" in done.stderr, done.stderr
    nul = tmp_path / "nul.txt"
    nul.write_bytes(b"conv(1, k=1)\n> relu\0")
    done = _net_file(str(nul))
    assert done.returncode == 2 and "line 2, column 7" in done.stderr, done.stderr
    assert "nested" not in done.stderr
    good = tmp_path / "good.txt"
    good.write_text("conv(2, k=3, p=1)  # a comment\n> relu\n", encoding="utf-8")
    assert _net_file(str(good)).returncode == 0


# --- 59 ---------------------------------------------------------------------------------


def test_item59_a_huge_literal_is_cut_and_its_length_said() -> None:
    literal = "a" * 90_000
    for spec in (
        f"conv(1, k=1, padding_mode='{literal}')",
        f"{literal}(1)",
        f"conv(1, k=1, {literal}=2)",
        f"conv(1, k=1) > {literal}",
    ):
        line = assert_usage_error(invoke("net", spec, "--input-shape", "1x1x4x4"))
        assert len(line) < 400 and "characters" in line, line[:400]
    # A layer that reads (a float of 90,000 digits) but does not fit: its text is cut too.
    spec = f"flatten > BatchNorm2d(16, eps=0.{'0' * 90_000}1)"
    result = invoke("net", spec, "--input-shape", "1x1x4x4")
    assert result.exit_code == 2 and len(result.stderr.splitlines()) == 1
    assert len(result.stderr) < 400 and "90,024 characters" in result.stderr


def test_item59_pythons_advice_never_shows() -> None:
    for spec in ("conv(1, k=" + "9" * 5000 + ")", "conv(1, k=1, p=" + "1_0" * 3000 + ")"):
        line = assert_usage_error(invoke("net", spec, "--input-shape", "1x1x4x4"), "digits")
        for word in ("sys.", "set_int_max_str_digits", "Exceeds", "hexadecimal"):
            assert word not in line, line
    line = assert_usage_error(invoke("net", "conv(1 k=1)", "--input-shape", "1x1x4x4"))
    assert "invalid syntax" not in line and "Perhaps" not in line


def test_item59_bytes_a_c_locale_cannot_decode_are_read_as_utf8() -> None:
    env = {**os.environ, "LC_ALL": "C", "PYTHONUTF8": "0", "CONVCLI_LANG": "en"}
    command = [PYTHON, "-m", "convcli", "net", "--input-shape", "1x1x4x4", "--json"]
    done = subprocess.run(
        [*command, "\uff43\uff4f\uff4e\uff56(2, k=1)".encode()],
        capture_output=True,
        timeout=30,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["output_shape"] == [1, 2, 4, 4]
    done = subprocess.run(
        [*command, b"conv(2, k=1) > \xff"], capture_output=True, timeout=30, env=env
    )
    err = done.stderr.decode()
    assert done.returncode == 2 and "not UTF-8" in err and "nested" not in err, err


def test_item59_an_unreached_cell_is_said_alike_in_text_and_json() -> None:
    spec = "convT(1, k=1, s=2) > conv(1, k=1)"
    for cell in ("1,0", "0,1", "1,1"):  # a row, a column, or both in a stride's hole
        text = invoke("net", spec, "--input-shape", "1x1x4x4", "--at", cell)
        assert text.exit_code == 0 and "no input cell reaches it" in text.stdout
        at = json_of(invoke("net", spec, "--input-shape", "1x1x4x4", "--at", cell, "--json"))["at"]
        assert at["input_rows"] is None and at["input_cols"] is None, at
        assert at["note"] == "no input cell reaches it"
    at = json_of(invoke("net", spec, "--input-shape", "1x1x4x4", "--at", "2,2", "--json"))["at"]
    assert at["input_rows"] == [1, 1] and at["input_cols"] == [1, 1] and "note" not in at


def test_item53_budget_sizes_are_exact_at_any_size() -> None:
    from convcli.ops.budget import format_bytes

    for size in (1023, 1024, 1076, 2**20 - 52, 2**20 - 51, 3 * 2**29, 2**70, 10**400):
        number, unit = format_bytes(size).split(" ")
        power = ("B", "KiB", "MiB", "GiB", "TiB", "PiB").index(unit)
        shown = Fraction(number.replace(",", ""))
        assert abs(shown - Fraction(size, 1024**power)) <= Fraction(1, 20), (size, number)
