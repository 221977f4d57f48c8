"""Hostile JSON, from files and stdin: RELIABILITY.md items 13-18."""

from __future__ import annotations

import io
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import convcli.tensorio.files
from convcli.tensorio.files import TensorFileError, load_tensor


def refused_json(tmp_path: Path, text: str | bytes, *words: str, **options: Any) -> str:
    """Load ``text`` from a .json file, expect a one-line TensorFileError naming it."""
    path = tmp_path / "input.json"
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    with pytest.raises(TensorFileError) as caught:
        load_tensor(str(path), **options)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    for word in words:
        assert word in message
    return message


def refused_stdin(stream: io.BytesIO, *words: str, **options: Any) -> str:
    with pytest.raises(TensorFileError) as caught:
        load_tensor("-", stdin=stream, **options)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("stdin: ")
    for word in words:
        assert word in message
    return message


class CountingStream(io.BytesIO):
    """Counts the bytes handed out, to prove a read was bounded."""

    handed_out = 0

    def read(self, size: int | None = -1) -> bytes:
        part = super().read(size)
        self.handed_out += len(part)
        return part


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[1, NaN]", "NaN is not a number"),
        ("[[1, Infinity]]", "Infinity is not a number"),
        ("[-Infinity, 2]", "-Infinity is not a number"),
        ('{"data": [NaN]}', "NaN is not a number"),
        ("[1e400]", "number 1e400 overflows to infinity"),
        ("[-1e400, 1]", "number -1e400 overflows to infinity"),
        ("[1.5e99999999999]", "overflows to infinity"),
    ],
)
def test_item13_nan_infinity_and_overflow_refused(tmp_path: Path, text: str, words: str) -> None:
    refused_json(tmp_path, text, words)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[" + "7" * 5000 + "]", "has more than 19 digits"),
        ("[-" + "7" * 1_000_000 + "]", "has more than 19 digits"),
        ("[9223372036854775808]", "integer 9223372036854775808 is outside int64"),
        ("[-9223372036854775809]", "integer -9223372036854775809 is outside int64"),
        ("[18446744073709551615]", "beyond int64"),
    ],
    ids=["5000-digits", "million-digits", "2**63", "-2**63-1", "2**64-1"],
)
def test_item14_huge_integers_refused(tmp_path: Path, text: str, words: str) -> None:
    started = time.perf_counter()
    refused_json(tmp_path, text, words)
    assert time.perf_counter() - started < 1.0


def test_item14_int64_limits_accepted(tmp_path: Path) -> None:
    path = tmp_path / "limits.json"
    path.write_text("[-9223372036854775808, 9223372036854775807]")
    loaded = load_tensor(str(path))
    assert loaded.dtype == np.int64
    assert loaded.tolist() == [-(2**63), 2**63 - 1]


@pytest.mark.parametrize(
    "text",
    [
        "[[[[[1]]]]]",
        '{"data": [[[[[1]]]]]}',
        "[" * 100_000 + "1" + "]" * 100_000,
        "[" * 100_000,
        '{"a":' * 100_000,
        "[[[[[[[[1, 2]]]]]]]]",
        '{"data": [[[[{"real": [1], "imag": 0}]]]]}',
    ],
    ids=[
        "5-levels",
        "5-levels-in-object",
        "deep",
        "deep-unclosed",
        "deep-objects",
        "8-levels",
        "deep-complex",
    ],
)
def test_item15_nesting_deeper_than_4_levels_refused(tmp_path: Path, text: str) -> None:
    message = refused_json(tmp_path, text)
    assert "nested more than 4 levels deep" in message or "is an object" in message


def test_item15_four_levels_accepted(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text('{"data": [[[[1, 2]], [[3, 4]]]]}')
    assert load_tensor(str(path)).shape == (1, 2, 1, 2)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[[1, 2, 3], [4, 5]]", "ragged: data[1] has 2 items, data[0] has 3"),
        ("[[[1], [2]], [[3], [4, 5]]]", "ragged: data[1][1] has 2 items, data[0][0] has 1"),
        ("[[1, 2], 3]", "data[1] is a number, expected a list"),
        ("[1, [2]]", "data[1] is a list, expected a number"),
        ('[[1, "2"]]', "data[0][1] is a string, expected a number"),
        ("[1, null]", "data[1] is null, expected a number"),
        ("[[true, false]]", "data[0][0] is a boolean, expected a number"),
        ('[{"x": 1}]', "data[0] is an object, expected a number"),
        ('"[1, 2]"', "expected a list of numbers, got a string"),
        ("null", "expected a list of numbers, got null"),
        ('{"dtype": "float32"}', 'an object without "data"'),
        ('{"data": [1], "data": [2]}', "duplicate key 'data'"),
        (
            '{"data": [1], "dtpye": "int8"}',
            "unknown key 'dtpye': allowed keys are data, dtype, shape",
        ),
        ('{"data": [1], "dtype": "object"}', "unsupported \"dtype\" 'object'"),
        ('{"data": [1], "dtype": ["f4"]}', "unsupported \"dtype\" ['f4']"),
        ('{"data": [1, 2], "shape": [3]}', '"shape" is [3] but the data has shape (2,)'),
        ('{"data": [1, 2], "shape": [2.0]}', '"shape" [2.0] is not a list of integers'),
        ('{"data": [1, 2], "shape": null}', '"shape" None is not a list of integers'),
        ('{"data": [1, 2], "dtype": null}', 'unsupported "dtype" None'),
        ("\ufeff[1, 2]", "byte order mark"),
        ("[1, 2] x", "invalid JSON at line 1 column 8: Extra data"),
        ("[1, 2]\n]", "invalid JSON at line 2 column 1: Extra data"),
        ("[1, 2,]", "invalid JSON at line 1 column 7"),
        ("", "empty text"),
        (" \n\t ", "empty text"),
        (b"[1, 2, \xff]", "not UTF-8 text: byte 0xff at offset 7"),
    ],
)
def test_item16_malformed_json_refused_with_position_or_reason(
    tmp_path: Path, text: str | bytes, words: str
) -> None:
    refused_json(tmp_path, text, words)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('{"data": [300], "dtype": "uint8"}', "data[0] does not fit dtype uint8 (0 to 255)"),
        ('{"data": [[1, -1]], "dtype": "uint64"}', "data[0][1] does not fit dtype uint64"),
        ('{"data": [1, 128], "dtype": "int8"}', "data[1] does not fit dtype int8"),
        ('{"data": [1, 2], "dtype": "bool"}', "data[1] does not fit dtype bool"),
        ('{"data": [1.5], "dtype": "int32"}', "data[0] is not an integer"),
        ('{"data": [1.0, 1e19], "dtype": "int64"}', "data[1] does not fit dtype int64"),
        ('{"data": [1e300], "dtype": "float32"}', "data[0] overflows dtype float32"),
        ('{"data": [70000], "dtype": "float16"}', "data[0] overflows dtype float16"),
        ('{"data": [{"real": 1, "imag": 2}], "dtype": "float64"}', "data[0] is complex"),
    ],
)
def test_item16_values_that_do_not_fit_the_dtype_refused(
    tmp_path: Path, text: str, words: str
) -> None:
    refused_json(tmp_path, text, words)


@pytest.mark.parametrize(
    ("text", "dtype", "expected"),
    [
        ("[1, 2]", np.int64, [1, 2]),
        ("[1, 2.5]", np.float64, [1.0, 2.5]),
        ('{"data": [255, 0], "dtype": "uint8"}', np.uint8, [255, 0]),
        ('{"data": [2.0, -3], "dtype": "int16"}', np.int16, [2, -3]),
        ('{"data": [1, 0], "dtype": "bool"}', np.bool_, [True, False]),
        ('{"data": [1, 0.5], "dtype": "float16"}', np.float16, [1.0, 0.5]),
        ('{"data": [{"real": 1, "imag": -2}, 3]}', np.complex128, [1 - 2j, 3]),
        ('{"data": [{"real": 1, "imag": 0}], "dtype": "int8"}', np.int8, [1]),
        ('{"data": [1], "dtype": "complex64", "shape": [1]}', np.complex64, [1]),
    ],
)
def test_json_dtypes_inferred_or_requested(
    tmp_path: Path, text: str, dtype: type, expected: list[Any]
) -> None:
    path = tmp_path / "ok.json"
    path.write_text(text)
    loaded = load_tensor(str(path))
    assert loaded.dtype == dtype
    assert loaded.tolist() == expected


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[]", "empty tensor: data is an empty list"),
        ("[[]]", "empty tensor: data[0] is an empty list"),
        ("[[], []]", "empty tensor: data[0] is an empty list"),
        ('{"data": []}', "empty tensor"),
        ("5", "holds a scalar, expected a tensor"),
        ("-2.5", "holds a scalar, expected a tensor"),
        ('{"data": 5}', "holds a scalar, expected a tensor"),
    ],
)
def test_item17_empty_arrays_and_scalars_refused_in_json(
    tmp_path: Path, text: str, words: str
) -> None:
    refused_json(tmp_path, text, words)


@pytest.mark.parametrize(
    ("shape", "words"),
    [
        ((0,), "empty tensor: shape (0,)"),
        ((0, 4, 4), "empty tensor: shape (0, 4, 4)"),
        ((3, 0), "empty tensor: shape (3, 0)"),
        ((), "holds a scalar, expected a tensor of at least one dimension"),
    ],
    ids=["empty", "zero-channels", "zero-width", "scalar"],
)
def test_item17_empty_arrays_and_scalars_refused_in_npy(
    tmp_path: Path, shape: tuple[int, ...], words: str
) -> None:
    path = tmp_path / "empty.npy"
    np.save(path, np.zeros(shape))
    with pytest.raises(TensorFileError, match=rf"^{re.escape(f'{path}: {words}')}$"):
        load_tensor(str(path))


def test_item18_empty_stdin_refused() -> None:
    refused_stdin(io.BytesIO(b""), "empty input")
    refused_stdin(io.BytesIO(b"  \n"), "empty text")


def test_item18_stdin_over_the_cap_refused_without_reading_it_all(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(convcli.tensorio.files, "MAX_JSON_BYTES", 1000)
    stream = CountingStream(b"[" + b"1, " * 1_000_000 + b"1]")
    refused_stdin(stream, "JSON text over the limit of 1000 bytes")
    assert stream.handed_out == 1001


def test_item18_stdin_over_max_bytes_refused() -> None:
    stream = CountingStream(b"[1, 2, 3, 4]")
    refused_stdin(stream, "over the limit of 5 bytes", max_bytes=5)
    assert stream.handed_out == 6


def test_item18_json_file_over_the_cap_refused_from_its_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(convcli.tensorio.files, "MAX_JSON_BYTES", 1000)
    refused_json(tmp_path, "[" + "1, " * 1000 + "1]", "JSON text of 3003 bytes is over the limit")


def test_stdin_json_read() -> None:
    loaded = load_tensor("-", stdin=io.BytesIO(b'{"data": [[1, 2]], "dtype": "float32"}'))
    assert loaded.dtype == np.float32
    assert loaded.tolist() == [[1.0, 2.0]]


def test_stdin_defaults_to_sys_stdin_buffer(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = io.TextIOWrapper(io.BytesIO(b"[3, 4]"))
    monkeypatch.setattr("sys.stdin", fake)
    assert load_tensor("-").tolist() == [3, 4]
