"""Builders of hostile tensor files, byte by byte, for the CLI-level catalogue tests."""

from __future__ import annotations

import io
import struct
import zipfile
from typing import Any

import numpy as np

MAGIC = b"\x93NUMPY"

# Arrays of every dtype kind convcli refuses (RELIABILITY.md item 8), by name.
UNSUPPORTED_DTYPES: dict[str, np.ndarray[Any, Any]] = {
    "str": np.array(["ab", "c"]),
    "bytes": np.array([b"ab", b"c"]),
    "datetime": np.array(["2020-01-01"], dtype="M8[D]"),
    "timedelta": np.array([1], dtype="m8[s]"),
    "void": np.zeros(2, dtype="V4"),
    "structured": np.zeros(2, dtype=[("a", "<f8"), ("b", "<i4")]),
}


def npy_bytes(
    header: str | bytes,
    data: bytes = b"",
    *,
    version: tuple[int, int] = (1, 0),
    length: int | None = None,
) -> bytes:
    """A .npy file by hand: magic, version, header length, header text, data."""
    text = header.encode("latin-1") if isinstance(header, str) else header
    size = struct.pack("<H" if version[0] == 1 else "<I", len(text) if length is None else length)
    return MAGIC + bytes(version) + size + text + data


def header(descr: object = "<f8", fortran_order: object = False, shape: object = (2,)) -> str:
    """The text of a .npy header dict, with any values (valid or not)."""
    return f"{{'descr': {descr!r}, 'fortran_order': {fortran_order!r}, 'shape': {shape!r}, }}\n"


def saved(array: np.ndarray[Any, Any], *, allow_pickle: bool = False) -> bytes:
    """What ``np.save`` writes for ``array``."""
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def npz_bytes(members: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> bytes:
    """A zip of ``members`` (name -> content), as an .npz is."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def forge_zip_size(content: bytes, size: int) -> bytes:
    """The zip ``content`` with its first member's declared uncompressed size set to ``size``."""
    directory = content.index(b"PK\x01\x02")
    local = struct.pack("<I", size)
    forged = content[: directory + 24] + local + content[directory + 28 :]
    return forged[:22] + local + forged[26:]
