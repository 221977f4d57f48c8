"""Tensor files: round trips, file-system problems, and the output items 28-31 of RELIABILITY.md."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tracing import peak_allocation

import convcli.tensorio.files
from convcli.tensorio.files import (
    TensorFileError,
    check_output_path,
    load_tensor,
    npy_writer,
    peek_tensor,
    save_tensor,
    tensor_to_json,
)

JSON_DTYPES = [
    "bool",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "float16",
    "float32",
    "float64",
    "complex64",
    "complex128",
]
root_ignores_permissions = pytest.mark.skipif(
    hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores file permissions"
)


def sample(dtype: str, shape: tuple[int, ...] = (2, 3, 4)) -> np.ndarray[Any, Any]:
    values = np.arange(int(np.prod(shape))).reshape(shape) % 7 - (0 if "u" in dtype else 3)
    array = values.astype(dtype)
    return array + 1j * array[..., ::-1] if array.dtype.kind == "c" else array


@contextlib.contextmanager
def refuses(*words: str) -> Iterator[None]:
    """Expect a one-line TensorFileError holding ``words`` (the file name among them)."""
    with pytest.raises(TensorFileError) as caught:
        yield
    message = str(caught.value)
    assert "\n" not in message
    for word in words:
        assert word in message


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


@pytest.fixture
def old_output(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "out.npy"
    np.save(path, np.array([1.0, 2.0]))
    yield path


# Round trips ----------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", JSON_DTYPES)
def test_npy_round_trip_all_numeric_dtypes(tmp_path: Path, dtype: str) -> None:
    array = sample(dtype)
    save_tensor(tmp_path / "x.npy", array)
    loaded = load_tensor(str(tmp_path / "x.npy"))
    assert loaded.dtype == array.dtype
    np.testing.assert_array_equal(loaded, array)


@pytest.mark.parametrize("dtype", JSON_DTYPES)
def test_json_round_trip_all_numeric_dtypes(tmp_path: Path, dtype: str) -> None:
    array = sample(dtype)
    save_tensor(tmp_path / "x.json", array)
    document = json.loads((tmp_path / "x.json").read_text())
    assert document["dtype"] == dtype
    assert document["shape"] == [2, 3, 4]
    loaded = load_tensor(str(tmp_path / "x.json"))
    assert loaded.dtype == array.dtype
    np.testing.assert_array_equal(loaded, array)


def test_json_round_trip_keeps_float_values_exactly(tmp_path: Path) -> None:
    array = np.array([0.1, 1 / 3, -2.5e-300, 1.7976931348623157e308], dtype=np.float64)
    save_tensor(tmp_path / "x.json", array)
    assert load_tensor(str(tmp_path / "x.json")).tolist() == array.tolist()
    small = np.array([0.1, 65504], dtype=np.float32)
    save_tensor(tmp_path / "y.json", small)
    np.testing.assert_array_equal(load_tensor(str(tmp_path / "y.json")), small)


def test_tensor_to_json_non_finite_values_are_strings_in_strict_json() -> None:
    document = tensor_to_json(np.array([[np.nan, np.inf], [-np.inf, 1.5]], dtype=np.float32))
    assert document == {
        "shape": [2, 2],
        "dtype": "float32",
        "data": [["NaN", "Infinity"], ["-Infinity", 1.5]],
    }
    json.dumps(document, allow_nan=False)  # strict: raises if a bare NaN were left
    complex_document = tensor_to_json(np.array([complex(np.nan, 1)]))
    assert complex_document["data"] == [{"real": "NaN", "imag": 1.0}]


def test_tensor_to_json_bool_is_0_and_1_big_endian_is_named_plainly() -> None:
    assert tensor_to_json(np.array([True, False]))["data"] == [1, 0]
    assert tensor_to_json(np.array([1.0], dtype=">f4"))["dtype"] == "float32"


def test_tensor_to_json_refuses_dtypes_it_cannot_write_exactly() -> None:
    with pytest.raises(ValueError, match="dtype float128 cannot be written as JSON"):
        tensor_to_json(np.ones(2, dtype=np.longdouble))


def test_save_json_refuses_non_finite_values(tmp_path: Path) -> None:
    with refuses(str(tmp_path / "x.json"), "2 NaN or infinite values", "use .npy"):
        save_tensor(tmp_path / "x.json", np.array([np.nan, 1.0, -np.inf]))
    assert list(tmp_path.iterdir()) == []


def test_save_json_refuses_text_it_could_not_read_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(convcli.tensorio.files, "MAX_JSON_BYTES", 100)
    with refuses("x.json: JSON text of", "over the limit of 100 bytes", "use .npy"):
        save_tensor(tmp_path / "x.json", np.arange(100))
    with refuses("y.json: unsupported dtype float128"):
        save_tensor(tmp_path / "y.json", np.ones(2, dtype=np.longdouble))
    assert list(tmp_path.iterdir()) == []


def test_save_npy_keeps_non_finite_values(tmp_path: Path) -> None:
    save_tensor(tmp_path / "x.npy", np.array([np.nan, np.inf]))
    assert str(load_tensor(str(tmp_path / "x.npy")).tolist()) == "[nan, inf]"


def test_saved_file_gets_ordinary_permissions(tmp_path: Path) -> None:
    mask = os.umask(0o022)
    try:
        save_tensor(tmp_path / "x.npy", np.ones(2))
    finally:
        os.umask(mask)
    assert (tmp_path / "x.npy").stat().st_mode & 0o777 == 0o644


def test_save_refuses_non_numeric_arrays(tmp_path: Path) -> None:
    with refuses("x.npy", "unsupported dtype <U1"):
        save_tensor(tmp_path / "x.npy", np.array(["a"]))


# Input specs and file-system problems ----------------------------------------------------


def test_npz_member_selection_with_or_without_npy_suffix(tmp_path: Path) -> None:
    np.savez(tmp_path / "m.npz", weight=np.ones((2, 2)), bias=np.arange(3))
    assert load_tensor(f"{tmp_path}/m.npz:bias").tolist() == [0, 1, 2]
    assert load_tensor(f"{tmp_path}/m.npz:bias.npy").tolist() == [0, 1, 2]
    np.savez_compressed(tmp_path / "one.npz", only=np.arange(4.0).reshape(2, 2))
    assert load_tensor(str(tmp_path / "one.npz")).tolist() == [[0, 1], [2, 3]]


def test_colon_in_a_non_npz_path_is_part_of_the_name(tmp_path: Path) -> None:
    path = tmp_path / "a:b.npy"
    np.save(path, np.arange(2))
    assert load_tensor(str(path)).tolist() == [0, 1]
    # Only the last colon can start a member name, so this is a path with an odd suffix.
    with refuses(f"{tmp_path}/x.npz:a:b: unsupported file type '.npz:a:b'"):
        load_tensor(f"{tmp_path}/x.npz:a:b")


@pytest.mark.parametrize("name", ["x.txt", "x", "x.npy.bak", "x.pt"])
def test_unknown_extension_refused_listing_supported_ones(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_text("[1]")
    with refuses(f"{tmp_path / name}: unsupported file type", "expected .npy, .npz or .json"):
        load_tensor(str(tmp_path / name))


def test_missing_file_refused(tmp_path: Path) -> None:
    with refuses(f"{tmp_path}/nope.npy: no such file"):
        load_tensor(f"{tmp_path}/nope.npy")
    with refuses(f"{tmp_path}/nope.json: no such file"):
        load_tensor(f"{tmp_path}/nope.json")


def test_directory_refused(tmp_path: Path) -> None:
    (tmp_path / "d.npy").mkdir()
    with refuses(f"{tmp_path}/d.npy: is a folder, not a file"):
        load_tensor(f"{tmp_path}/d.npy")


def test_fifo_refused_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.json")
    with refuses("pipe.json: is not a regular file"):
        load_tensor(str(tmp_path / "pipe.json"))


@root_ignores_permissions
def test_unreadable_file_refused(tmp_path: Path) -> None:
    path = tmp_path / "secret.npy"
    np.save(path, np.ones(2))
    path.chmod(0)
    with refuses(f"{path}: permission denied"):
        load_tensor(str(path))


def test_unreadable_file_refused_as_any_user(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "secret.npy"
    np.save(path, np.ones(2))

    def denied(*args: object, **kwargs: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(convcli.tensorio.files, "open", denied, raising=False)
    with refuses(f"{path}: permission denied"):
        load_tensor(str(path))


def test_name_with_a_line_break_stays_one_line(tmp_path: Path) -> None:
    with pytest.raises(TensorFileError) as caught:
        load_tensor(f"{tmp_path}/two\nlines.npy")
    assert "\n" not in str(caught.value)
    assert "'two\\nlines.npy'" in str(caught.value) or "two\\nlines.npy" in str(caught.value)


# Item 28: an output is never an input ----------------------------------------------------


def test_item28_output_same_path_as_input_refused_even_with_force(old_output: Path) -> None:
    for output in (old_output, old_output.parent / "." / "out.npy"):
        with refuses("is the input", "even with force=True"):
            save_tensor(output, np.ones(3), force=True, inputs=[str(old_output)])
    assert load_tensor(str(old_output)).tolist() == [1.0, 2.0]


def test_item28_output_hard_link_to_input_refused(old_output: Path) -> None:
    link = old_output.parent / "link.npy"
    os.link(old_output, link)
    with refuses("link.npy: is the input"):
        save_tensor(link, np.ones(3), force=True, inputs=[old_output])
    with (
        refuses("link.npy: is the input"),
        npy_writer(link, (3,), np.float64, force=True, inputs=[old_output]),
    ):
        pass
    assert load_tensor(str(old_output)).tolist() == [1.0, 2.0]


def test_item28_output_symlink_to_input_refused(old_output: Path) -> None:
    link = old_output.parent / "link.npy"
    link.symlink_to(old_output)
    with refuses("link.npy: is the input"):
        check_output_path(link, force=True, inputs=[str(old_output)])
    folder_link = old_output.parent / "alias"
    folder_link.symlink_to(old_output.parent)
    with refuses("is the input"):
        check_output_path(folder_link / "out.npy", force=True, inputs=[str(old_output)])


def test_item28_other_outputs_pass(tmp_path: Path) -> None:
    np.savez(tmp_path / "in.npz", a=np.ones(2))
    np.save(tmp_path / "in.npy", np.ones(2))
    inputs: list[str | os.PathLike[str]] = [f"{tmp_path}/in.npz:a", "-", tmp_path / "in.npy"]
    check_output_path(tmp_path / "new.npy", force=False, inputs=inputs)
    check_output_path(tmp_path / "in.npz:a.npy", force=False, inputs=inputs)
    check_output_path(tmp_path / "in.json", force=False, inputs=inputs)


def test_item28_dangling_symlink_output_naming_an_input_refused(tmp_path: Path) -> None:
    source = tmp_path / "in.json"
    source.write_text("[1]")
    link = tmp_path / "later.json"
    link.symlink_to(tmp_path / "gone" / ".." / "in.json")
    with refuses("later.json: is the input"):
        check_output_path(link, force=True, inputs=[source])


# Item 29: an existing output needs force ---------------------------------------------------


def test_item29_existing_output_without_force_refused_untouched(old_output: Path) -> None:
    before = old_output.read_bytes(), old_output.stat().st_mtime_ns
    with refuses("out.npy: already exists; use force=True"):
        save_tensor(old_output, np.ones(3))
    with refuses("out.npy: already exists"), npy_writer(old_output, (3,), np.float64):
        pass
    assert (old_output.read_bytes(), old_output.stat().st_mtime_ns) == before
    save_tensor(old_output, np.ones(3), force=True)
    assert load_tensor(str(old_output)).tolist() == [1.0, 1.0, 1.0]
    assert leftovers(old_output.parent) == []


def test_item29_output_created_meanwhile_is_not_replaced(
    old_output: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another process creates the output between the check and the rename.
    monkeypatch.setattr(convcli.tensorio.files, "_check_output", lambda *args, **kwargs: None)
    with refuses("out.npy: already exists"):
        save_tensor(old_output, np.ones(3))
    assert load_tensor(str(old_output)).tolist() == [1.0, 2.0]
    assert leftovers(old_output.parent) == []


def test_item29_output_that_is_a_folder_refused(tmp_path: Path) -> None:
    (tmp_path / "d.npy").mkdir()
    with refuses("d.npy: is a folder"):
        save_tensor(tmp_path / "d.npy", np.ones(2), force=True)


# Item 30: missing or read-only folder -------------------------------------------------------


def test_item30_missing_output_folder_refused(tmp_path: Path) -> None:
    with refuses("missing/out.npy: folder", "missing does not exist"):
        save_tensor(tmp_path / "missing" / "out.npy", np.ones(2))


@pytest.mark.parametrize("name", ["out.csv", "out", "out.npz"])
def test_item30_unsupported_output_type_refused(tmp_path: Path, name: str) -> None:
    with refuses(f"{name}: unsupported output type", "expected .npy or .json"):
        check_output_path(tmp_path / name, force=True)
    with refuses(f"{name}: unsupported output type", "expected .npy"):
        save_tensor(tmp_path / name, np.ones(2))


def test_item30_npy_writer_needs_npy(tmp_path: Path) -> None:
    with (
        refuses("out.json: unsupported output type '.json': expected .npy"),
        npy_writer(tmp_path / "out.json", (2,), np.float64),
    ):
        pass


@root_ignores_permissions
def test_item30_read_only_output_folder_refused(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir(mode=0o500)
    with refuses("out.npy: folder", "is not writable"):
        save_tensor(folder / "out.npy", np.ones(2))


def test_item30_read_only_output_folder_refused_as_any_user(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "access", lambda *args, **kwargs: False)
    with refuses("out.npy: folder", "is not writable"):
        check_output_path(tmp_path / "out.npy", force=False)


def test_item30_folder_that_refuses_files_at_write_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def read_only(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    with refuses("out.npy: cannot create a file in", "read-only file system"):
        save_tensor(tmp_path / "out.npy", np.ones(2))


# Item 31: an interrupted write leaves the old file and no temporary file ---------------------


@pytest.mark.parametrize("failure", [KeyboardInterrupt(), OSError(errno.ENOSPC, "No space left")])
def test_item31_failure_mid_write_keeps_old_file_and_no_temp(
    old_output: Path, monkeypatch: pytest.MonkeyPatch, failure: BaseException
) -> None:
    def half_written(stream: Any, array: Any, **kwargs: object) -> None:
        stream.write(b"\x93NUMPY partial")
        raise failure

    monkeypatch.setattr(np.lib.format, "write_array", half_written)
    expected = KeyboardInterrupt if isinstance(failure, KeyboardInterrupt) else TensorFileError
    with pytest.raises(expected) as caught:
        save_tensor(old_output, np.ones(3), force=True)
    if expected is TensorFileError:
        assert (
            str(caught.value) == f"{old_output}: cannot write: no space left on device"
        )  # worded from errno
    assert load_tensor(str(old_output)).tolist() == [1.0, 2.0]
    assert leftovers(old_output.parent) == []


def test_item31_failure_at_rename_keeps_old_file_and_no_temp(
    old_output: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_tensor(old_output.with_suffix(".json"), np.ones(3), force=True)
    with pytest.raises(KeyboardInterrupt):
        save_tensor(old_output, np.ones(3), force=True)
    assert load_tensor(str(old_output)).tolist() == [1.0, 2.0]
    assert sorted(p.name for p in old_output.parent.iterdir()) == ["out.npy"]


@pytest.mark.parametrize("failure", [KeyboardInterrupt, RuntimeError])
def test_item31_npy_writer_interrupted_keeps_old_file_and_no_temp(
    old_output: Path, failure: type[BaseException]
) -> None:
    with pytest.raises(failure), npy_writer(old_output, (4, 4), np.float32, force=True) as out:
        out[:2] = 5
        raise failure
    assert load_tensor(str(old_output)).tolist() == [1.0, 2.0]
    assert leftovers(old_output.parent) == []


# npy_writer ----------------------------------------------------------------------------------


def test_npy_writer_builds_a_big_result_tile_by_tile_without_holding_it(tmp_path: Path) -> None:
    shape = (64, 256, 256)  # 16 MiB of float32

    def write() -> None:
        with npy_writer(tmp_path / "big.npy", shape, np.float32) as out:
            for channel in range(shape[0]):
                out[channel] = channel

    _, peak = peak_allocation(write)
    assert peak < 2 * 1024**2
    assert leftovers(tmp_path) == []
    loaded = np.load(tmp_path / "big.npy", mmap_mode="r")
    assert loaded.shape == shape
    assert loaded.dtype == np.float32
    assert float(loaded[63, 255, 255]) == 63.0


@pytest.mark.parametrize(
    ("shape", "dtype", "words"),
    [
        ((0, 2), np.float32, "shape (0, 2) is not a tensor's"),
        ((), np.float32, "shape () is not a tensor's"),
        ((2,), np.dtype("U3"), "unsupported dtype <U3"),
        ((2,), np.dtype([("a", "f8")]), "unsupported dtype"),
    ],
)
def test_npy_writer_refuses_non_tensor_shapes_and_dtypes(
    tmp_path: Path, shape: tuple[int, ...], dtype: Any, words: str
) -> None:
    with refuses(words), npy_writer(tmp_path / "x.npy", shape, dtype):
        pass
    assert list(tmp_path.iterdir()) == []


# peek_tensor -----------------------------------------------------------------------------


def test_peek_tensor_reads_the_checked_header_only(tmp_path: Path) -> None:
    path = tmp_path / "big.npy"
    np.save(path, np.zeros((8, 1024, 1024), dtype=">f8"))  # 64 MiB
    ok, peak = peak_allocation(
        lambda: peek_tensor(str(path)) == ((8, 1024, 1024), np.dtype(np.float64))
    )
    assert ok
    assert peak < 1024**2


def test_peek_tensor_npz_member_and_refusals(tmp_path: Path) -> None:
    np.savez_compressed(tmp_path / "m.npz", weight=np.ones((2, 3), np.int16), bias=np.ones(2))
    assert peek_tensor(f"{tmp_path}/m.npz:weight") == ((2, 3), np.dtype(np.int16))
    with refuses("m.npz: holds 2 arrays"):
        peek_tensor(str(tmp_path / "m.npz"))
    forged = tmp_path / "forged.npy"
    forged.write_bytes(
        b"\x93NUMPY\x01\x00\x76\x00"
        + b"{'descr': '<f8', 'fortran_order': False, 'shape': (1099511627776,), }".ljust(117)
        + b"\n"
    )
    with refuses("forged.npy: file incomplete: expected 8796093022208 bytes of data, found 0"):
        peek_tensor(str(forged))


def test_peek_tensor_is_none_for_json_and_stdin(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text("[1]")
    assert peek_tensor(str(tmp_path / "x.json")) is None
    assert peek_tensor("-") is None


def test_peek_tensor_applies_the_byte_budget(tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", np.zeros(1000))
    with refuses("x.npy: data of 8000 bytes is over the limit of 4000 bytes"):
        peek_tensor(str(tmp_path / "x.npy"), max_bytes=4000)
    np.savez_compressed(tmp_path / "bomb.npz", x=np.zeros(1024**2))
    with refuses("bomb.npz: array 'x' would decompress to 8388736 bytes"):
        peek_tensor(str(tmp_path / "bomb.npz"), max_bytes=4000)
