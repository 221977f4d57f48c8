"""Hostile .npy and .npz files: RELIABILITY.md items 1-12, built byte by byte."""

from __future__ import annotations

import io
import pickle
import struct
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hostile import MAGIC, UNSUPPORTED_DTYPES, header, npy_bytes, npz_bytes, saved
from tracing import peak_allocation

from convcli.tensorio.files import TensorFileError, load_tensor


def write(folder: Path, name: str, content: bytes) -> Path:
    path = folder / name
    path.write_bytes(content)
    return path


def refused(spec: str | Path, *words: str, **options: Any) -> str:
    """Load ``spec``, expect a one-line TensorFileError naming it and holding ``words``."""
    with pytest.raises(TensorFileError) as caught:
        load_tensor(str(spec), **options)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{spec}: ")
    for word in words:
        assert word in message
    return message


def test_item01_pickled_object_array_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_unpickling(*args: object, **kwargs: object) -> None:
        raise AssertionError("a pickle was loaded")

    monkeypatch.setattr(pickle, "load", no_unpickling)
    monkeypatch.setattr(pickle, "loads", no_unpickling)
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    path = write(tmp_path, "objects.npy", buffer.getvalue())
    refused(path, "unsupported dtype", "'|O'")
    npz = write(tmp_path, "objects.npz", npz_bytes({"x.npy": buffer.getvalue()}))
    refused(npz, "unsupported dtype", "'x'")


@pytest.mark.parametrize(
    "content",
    [pickle.dumps([1.0, 2.0]), pickle.dumps([1.0], protocol=0), b"hello, world", b"\x00" * 64],
    ids=["pickle", "pickle-protocol-0", "text", "zeros"],
)
def test_item02_raw_pickle_or_other_bytes_named_npy_refused(tmp_path: Path, content: bytes) -> None:
    refused(write(tmp_path, "fake.npy", content), "not a .npy file")


def test_item03_header_over_numpy_limit_refused(tmp_path: Path) -> None:
    text = header()[:-1] + " " * 20_000 + "\n"
    path = write(tmp_path, "big-header.npy", npy_bytes(text, b"\0" * 16, version=(2, 0)))
    refused(path, "header of 20058 bytes", "10000-byte limit")


def test_item04_forged_shape_refused_before_allocating(tmp_path: Path) -> None:
    path = write(tmp_path, "forged.npy", npy_bytes(header(shape=(2**40,))))
    assert path.stat().st_size <= 128
    started = time.perf_counter()
    _, peak = peak_allocation(
        lambda: refused(path, "file incomplete: expected 8796093022208 bytes of data, found 0")
    )
    assert peak < 1024**2
    assert time.perf_counter() - started < 1.0


def test_item04_data_over_the_byte_budget_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "honest.npy", saved(np.zeros(1000)))
    refused(path, "data of 8000 bytes is over the limit of 4000 bytes", max_bytes=4000)


@pytest.mark.parametrize(
    ("descr", "fortran_order", "shape", "words"),
    [
        ("<f8", False, (2**64,), "2**63 elements or more"),
        ("<f8", False, (2**32, 2**32), "2**63 elements or more"),
        # Refused by numpy's header reader, in its words:
        ("<f8", False, (2.0,), "invalid .npy header: shape is not valid: (2.0,)"),
        ("<f8", False, [2], "invalid .npy header: shape is not valid: [2]"),
        ("<f8", False, "2", "invalid .npy header: shape is not valid: '2'"),
        ("<f8", False, (2, None), "invalid .npy header: shape is not valid: (2, None)"),
        (8, False, (2,), "invalid .npy header: descr is not a valid dtype descriptor: 8"),
        ("<f8", "no", (2,), "invalid .npy header: fortran_order is not a valid bool: 'no'"),
        ("<f8", 0, (2,), "invalid .npy header: fortran_order is not a valid bool: 0"),
        # numpy's reader breaks on it (an IndexError): still a refusal of the file.
        (("<f8",), False, (2,), "invalid .npy header: numpy's own reader cannot parse it"),
        # What numpy lets through, refused here:
        ("<f8", False, (True, 2), "header shape (True, 2) is not a tuple of integers"),
        ("<f8", False, (-2,), "negative dimension"),
        ("<f8", False, (1,) * 33, "33 dimensions"),
        ([("a", "<f8")], False, (2,), "unsupported dtype [('a', '<f8')]"),
    ],
)
def test_item05_bad_shape_or_descr_refused(
    tmp_path: Path, descr: object, fortran_order: object, shape: object, words: str
) -> None:
    path = write(tmp_path, "bad.npy", npy_bytes(header(descr, fortran_order, shape), b"\0" * 16))
    refused(path, words)


@pytest.mark.parametrize(
    "text",
    [
        "{'descr': '<f8', 'shape': (2,), }\n",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), 'extra': 1}\n",
        "{1: '<f8', 'fortran_order': False, 'shape': (2,)}\n",
    ],
    ids=["missing-key", "extra-key", "non-string-key"],
)
def test_item05_header_keys_must_be_exact(tmp_path: Path, text: str) -> None:
    refused(write(tmp_path, "keys.npy", npy_bytes(text, b"\0" * 16)), "invalid .npy header")


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (MAGIC, "truncated header"),
        (MAGIC + b"\x01\x00\x76", "truncated header"),
        (npy_bytes(header(), length=200), "truncated header: declares 200 bytes, the file has 58"),
        (npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (2,\n"), "unterminated"),
        (npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (2,}\n"), "invalid .npy"),
        (npy_bytes("{'descr': __import__('os').getcwd(), }\n"), "invalid .npy header: malformed"),
        (npy_bytes("[1, 2]\n"), "not a dict literal"),
        (npy_bytes("{" * 5000 + "}" * 5000), "invalid .npy header: Cannot parse header"),
        (b"\x93NUMPX\x01\x00" + npy_bytes(header())[8:], "not a .npy file"),
        (npy_bytes(header(), b"\0" * 16, version=(4, 0)), "unsupported .npy format version 4.0"),
        (npy_bytes(header(), b"\0" * 16, version=(1, 1)), "unsupported .npy format version 1.1"),
        (npy_bytes(b"{'descr': '\xff'}", version=(3, 0)), "not valid UTF-8"),
    ],
    ids=[
        "magic-only",
        "cut-in-length",
        "cut-in-header",
        "unterminated",
        "unbalanced",
        "code",
        "not-a-dict",
        "deep-braces",
        "bad-magic",
        "version-4",
        "version-1.1",
        "bad-utf8-v3",
    ],
)
def test_item06_truncated_unterminated_or_bad_header_refused(
    tmp_path: Path, content: bytes, words: str
) -> None:
    refused(write(tmp_path, "broken.npy", content), words)


@pytest.mark.parametrize("version", [(1, 0), (2, 0), (3, 0)])
def test_every_npy_format_version_is_read(tmp_path: Path, version: tuple[int, int]) -> None:
    """numpy's 2.0 reader reads 3.0 headers too: they differ only by UTF-8 text."""
    expected = np.arange(6, dtype="<i4").reshape(2, 3)
    content = npy_bytes(header("<i4", False, (2, 3)), expected.tobytes(), version=version)
    loaded = load_tensor(str(write(tmp_path, "v.npy", content)))
    assert loaded.dtype == expected.dtype and np.array_equal(loaded, expected)


def test_a_3_0_header_with_non_ascii_field_names_is_refused(tmp_path: Path) -> None:
    text = header([("é", "<f8")], False, (2,)).encode("utf-8")
    path = write(tmp_path, "named.npy", npy_bytes(text, b"\0" * 16, version=(3, 0)))
    refused(path, "unsupported dtype", "structured")


def test_item07_truncated_data_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "short.npy", saved(np.arange(10.0))[:-40])
    refused(path, "file incomplete: expected 80 bytes of data, found 40")


def test_item07_zero_byte_file_refused(tmp_path: Path) -> None:
    refused(write(tmp_path, "empty.npy", b""), "empty file (0 bytes)", "not a .npy file")


def test_item07_trailing_bytes_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "long.npy", saved(np.arange(2.0)) + b"junk")
    refused(path, "4 unexpected bytes after the 16 bytes of data")


@pytest.mark.parametrize(
    "array",
    UNSUPPORTED_DTYPES.values(),
    ids=UNSUPPORTED_DTYPES.keys(),
)
def test_item08_unsupported_dtypes_refused(tmp_path: Path, array: np.ndarray[Any, Any]) -> None:
    refused(write(tmp_path, "odd.npy", saved(array)), "unsupported dtype")


@pytest.mark.parametrize(
    ("descr", "words"),
    [
        ("f8,i4", "unsupported dtype [('f0', '<f8'), ('f1', '<i4')]"),
        ("(2,)f8", "unsupported dtype ('<f8', (2,))"),
        ("O", "unsupported dtype '|O'"),
        ("<M8[ns]", "unsupported dtype '<M8[ns]'"),
        # Deprecated aliases are refused, not warned about (numpy 1.x reads 'a' as bytes);
        # unknown names are numpy's refusal.
        (
            "a",
            "invalid .npy header: Data type alias 'a' was deprecated"
            if np.lib.NumpyVersion(np.__version__) >= "2.0.0"
            else "unsupported dtype '|S",
        ),
        ("Float64", "invalid .npy header: descr is not a valid dtype descriptor: 'Float64'"),
    ],
)
def test_item08_unsupported_descr_strings_refused(tmp_path: Path, descr: str, words: str) -> None:
    path = write(tmp_path, "odd.npy", npy_bytes(header(descr), b"\0" * 32))
    refused(path, words)


@pytest.mark.parametrize("dtype", [">f8", ">f4", ">i4", ">u2", ">c16", ">i8", "<f2"])
@pytest.mark.parametrize("fortran", [False, True])
def test_item09_big_endian_and_fortran_accepted(tmp_path: Path, dtype: str, fortran: bool) -> None:
    expected = (np.arange(24).reshape(2, 3, 4) * 3 - 7).astype(dtype)
    if dtype.startswith(">c"):
        expected = expected + 1j * expected[::-1]
    stored = np.asfortranarray(expected) if fortran else expected
    content = saved(stored)
    assert f"'fortran_order': {fortran}".encode() in content
    loaded = load_tensor(str(write(tmp_path, "order.npy", content)))
    np.testing.assert_array_equal(loaded, expected)
    assert loaded.dtype == np.dtype(dtype).newbyteorder("=")
    assert loaded.dtype.isnative
    assert loaded.flags.c_contiguous


def test_item09_bool_bytes_other_than_0_and_1_read_as_true(tmp_path: Path) -> None:
    path = write(tmp_path, "bool.npy", npy_bytes(header("|b1", shape=(3,)), b"\x00\x01\x07"))
    loaded = load_tensor(str(path))
    assert loaded.tolist() == [False, True, True]
    assert loaded.view(np.uint8).tolist() == [0, 1, 1]


def test_item10_npz_member_that_is_not_npy_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path, "notes.npz", npz_bytes({"readme.txt": b"hello", "x.npy": saved(np.ones(2))})
    )
    refused(f"{path}:readme.txt", "array 'readme.txt'", "not a .npy file")
    only = write(tmp_path, "only.npz", npz_bytes({"x.npy": b'{"data": [1]}'}))
    refused(only, "array 'x'", "looks like JSON, not a .npy file")


def test_item10_npz_with_several_arrays_and_none_chosen_lists_them(tmp_path: Path) -> None:
    path = tmp_path / "two.npz"
    np.savez(path, weight=np.ones((1, 1, 2, 2)), bias=np.zeros(1))
    refused(path, "holds 2 arrays", "'weight'", "'bias'", "FILE.npz:NAME")


def test_item10_npz_missing_name_lists_the_names(tmp_path: Path) -> None:
    path = tmp_path / "two.npz"
    np.savez(path, weight=np.ones(2), bias=np.zeros(1))
    refused(f"{path}:kernel", "has no array 'kernel'", "'weight', 'bias'")


def test_item10_npz_without_arrays_refused(tmp_path: Path) -> None:
    refused(write(tmp_path, "none.npz", npz_bytes({})), "holds no arrays")


def test_item10_npz_listing_is_capped(tmp_path: Path) -> None:
    path = write(tmp_path, "many.npz", npz_bytes({f"a{i}.npy": b"" for i in range(50)}))
    message = refused(path, "holds 50 arrays", "and 40 more")
    assert "'a10'" not in message


def test_item11_npz_zip_bomb_refused(tmp_path: Path) -> None:
    bomb = npz_bytes({"x.npy": saved(np.zeros(8 * 1024**2))}, zipfile.ZIP_DEFLATED)
    assert len(bomb) < 1024**2  # 64 MiB of zeros, deflated
    path = write(tmp_path, "bomb.npz", bomb)
    _, peak = peak_allocation(
        lambda: refused(path, "array 'x' would decompress to 67108992 bytes", max_bytes=1024**2)
    )
    assert peak < 4 * 1024**2


def test_item11_npz_member_with_forged_npy_header_refused(tmp_path: Path) -> None:
    # An honest zip whose npy header declares 64 MiB: checked against the zip's size.
    content = npy_bytes(header(shape=(8 * 1024**2,)), b"\0" * 72)
    path = write(tmp_path, "forged.npz", npz_bytes({"x.npy": content}))
    refused(path, "array 'x'", "file incomplete: expected 67108864 bytes of data, found 72")


def test_item11_npz_member_with_forged_zip_size_refused(tmp_path: Path) -> None:
    # The zip says 200 bytes for 64 MiB of deflated zeros: reading stops at 200 bytes.
    content = npz_bytes({"x.npy": saved(np.zeros(8 * 1024**2))}, zipfile.ZIP_DEFLATED)
    directory = content.index(b"PK\x01\x02")
    forged = content[: directory + 24] + struct.pack("<I", 200) + content[directory + 28 :]
    path = write(tmp_path, "forged.npz", forged)
    _, peak = peak_allocation(lambda: refused(path, "damaged .npz file", "Bad CRC-32"))
    assert peak < 4 * 1024**2


def test_item11_damaged_npz_refused(tmp_path: Path) -> None:
    content = npz_bytes({"x.npy": saved(np.arange(100.0))}, zipfile.ZIP_DEFLATED)
    damaged = content[:50] + bytes(b ^ 0xFF for b in content[50:60]) + content[60:]
    refused(write(tmp_path, "damaged.npz", damaged), "damaged .npz file")
    refused(write(tmp_path, "cut.npz", content[:-30]), "damaged .npz file")


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("json.npy", b'{"data": [[1, 2]]}', "looks like JSON, not a .npy file"),
        ("list.npy", b"  [[1, 2]]", "looks like JSON, not a .npy file"),
        ("zip.npy", npz_bytes({"x.npy": saved(np.ones(2))}), "looks like a .npz (zip) file"),
        ("npy.json", saved(np.ones(2)), "looks like a .npy file, not JSON"),
        ("zip.json", npz_bytes({"x.npy": saved(np.ones(2))}), "looks like a .npz (zip) file"),
        ("npy.npz", saved(np.ones(2)), "looks like a .npy file, not a .npz file"),
        ("json.npz", b"[1]", "looks like JSON, not a .npz file"),
        ("text.npz", b"hello", "not a .npz (zip) file"),
    ],
)
def test_item12_misnamed_file_says_what_it_is(
    tmp_path: Path, name: str, content: bytes, words: str
) -> None:
    refused(write(tmp_path, name, content), words)
