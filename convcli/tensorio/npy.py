"""Reading ``.npy`` and ``.npz`` files without trusting them.

``numpy.load`` believes a file's header: a forged shape allocates before the short file is
noticed, and an object array unpickles. Here numpy's own header readers parse the header,
and what they do not check is checked before one data byte is read: the header's length,
every declared size against the real file and a byte budget, and the dtype (only bool,
integer, float and complex exist, so nothing is ever unpickled).

Problems raise ``FileProblem`` with a one-line description; ``convcli.tensorio.files`` adds
the file's name.
"""

from __future__ import annotations

import io
import math
import struct
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, TypeVar

import numpy as np
import numpy.typing as npt

from convcli.errors import FileProblem
from convcli.i18n import _
from convcli.ops.numerics import SUPPORTED_TEXT, is_supported

if TYPE_CHECKING:  # zipfile and lzma load only when a .npz is read (start-up)
    import zipfile

__all__ = [
    "MAX_HEADER_BYTES",
    "NpyHeader",
    "check_npy",
    "check_npz",
    "describe_content",
    "read_npy",
    "read_npz",
    "read_upto",
]

MAGIC = b"\x93NUMPY"
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
MAX_HEADER_BYTES = 10_000  # numpy's own limit on the header text (numpy.lib.format)
MAX_DIMS = 32  # numpy 1.x's limit: a file beyond it cannot be loaded everywhere
_VERSIONS = {(1, 0): "<H", (2, 0): "<I", (3, 0): "<I"}  # the header length's struct format
_HEADER_READERS = {
    1: np.lib.format.read_array_header_1_0,
    2: np.lib.format.read_array_header_2_0,
    3: np.lib.format.read_array_header_2_0,
}
_CHUNK = 1 << 24
_TEXT_CHUNK = 1 << 20
T = TypeVar("T")


def _zip_errors() -> tuple[type[BaseException], ...]:
    import lzma
    import zipfile

    return (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        OSError,
        EOFError,
        NotImplementedError,
        RuntimeError,  # an encrypted member
        struct.error,
        zlib.error,
        lzma.LZMAError,
    )


@dataclass(frozen=True)
class NpyHeader:
    """What a ``.npy`` header declares; ``offset`` is where the data starts."""

    dtype: np.dtype[Any]
    shape: tuple[int, ...]
    fortran_order: bool
    offset: int

    @property
    def data_bytes(self) -> int:
        """The declared data size, in Python ints so it never overflows."""
        return math.prod(self.shape) * self.dtype.itemsize


def describe_content(prefix: bytes) -> str | None:
    """What the first bytes of a file look like, for messages about misnamed files.

    Examples
    --------
    >>> describe_content(b'{"data": [1]}'), describe_content(b"PK\\x03\\x04")
    ('JSON', 'a .npz (zip) file')
    """
    if prefix.startswith(MAGIC):
        return _("a .npy file")
    if prefix.startswith(ZIP_MAGIC):
        return _("a .npz (zip) file")
    if prefix.startswith(b"\x80") or prefix.startswith((b"(lp", b"(dp", b"cnumpy")):
        return _("a Python pickle")
    if prefix.removeprefix(b"\xef\xbb\xbf").lstrip()[:1] in (b"[", b"{"):
        return "JSON"
    return None


def read_npy(stream: IO[bytes], *, size: int, max_bytes: int) -> npt.NDArray[Any]:
    """Read one ``.npy`` array of ``size`` bytes from ``stream``, checking it first.

    Returns a native-byte-order, C-contiguous array of at least one dimension and one
    element.

    Examples
    --------
    >>> import io
    >>> buffer = io.BytesIO()
    >>> np.save(buffer, np.arange(3, dtype=">i2"))
    >>> read_npy(io.BytesIO(buffer.getvalue()), size=len(buffer.getvalue()), max_bytes=100)
    array([0, 1, 2], dtype=int16)
    """
    header = check_npy(stream, size=size, max_bytes=max_bytes)
    flat = np.empty(math.prod(header.shape), dtype=header.dtype)
    _read_into(stream, flat.view(np.uint8))
    array = flat.reshape(header.shape, order="F" if header.fortran_order else "C")
    if header.dtype.kind == "b":
        # A bool byte other than 0 or 1 would make an array that compares oddly.
        array = array.view(np.uint8) != 0
    return np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("="))


def check_npy(stream: IO[bytes], *, size: int, max_bytes: int) -> NpyHeader:
    """Read the header of a ``.npy`` file of ``size`` bytes and check it against the size.

    Everything ``read_npy`` checks, without reading any data: a forged shape is refused
    here, so the header alone can size a computation.
    """
    header = read_npy_header(stream)
    if header.shape == ():
        raise FileProblem(_("holds a scalar, expected a tensor of at least one dimension"))
    if 0 in header.shape:
        raise FileProblem(_("empty tensor: shape {header_shape}").format(header_shape=header.shape))
    expected, found = header.data_bytes, size - header.offset
    if found < expected:
        raise FileProblem(
            _("file incomplete: expected {expected} bytes of data, found {found}").format(
                expected=expected, found=found
            )
        )
    if found > expected:
        raise FileProblem(
            _("{found_expected} unexpected bytes after the {expected} bytes of data").format(
                found_expected=found - expected, expected=expected
            )
        )
    if expected > max_bytes:
        raise FileProblem(
            _("data of {expected} bytes is over the limit of {max_bytes} bytes").format(
                expected=expected, max_bytes=max_bytes
            )
        )
    return header


def read_npy_header(stream: IO[bytes]) -> NpyHeader:
    """Read and check a ``.npy`` header, reading at most its declared bytes.

    numpy's own readers (``numpy.lib.format.read_magic``, ``read_array_header_1_0`` and
    ``_2_0``) parse it. Checked here, what they do not check: the declared header length
    before the header is read (numpy reads it all, then compares), what a file that is not
    a ``.npy`` file is, a plain numeric dtype, and a shape of true ints within numpy 1.x's
    32 dimensions and 2**63 elements.

    Examples
    --------
    >>> import io
    >>> buffer = io.BytesIO()
    >>> np.save(buffer, np.zeros((2, 3), dtype=">i2"))
    >>> _ = buffer.seek(0)
    >>> read_npy_header(buffer)
    NpyHeader(dtype=dtype('>i2'), shape=(2, 3), fortran_order=False, offset=128)
    """
    prefix = read_upto(stream, len(MAGIC) + 2)
    if not prefix:
        raise FileProblem(_("empty file (0 bytes), not a .npy file"))
    if not prefix.startswith(MAGIC):
        kind = describe_content(prefix)
        if kind is None:
            raise FileProblem(_("not a .npy file (it does not start with the .npy magic bytes)"))
        raise FileProblem(_("looks like {kind}, not a .npy file").format(kind=kind))
    if len(prefix) < len(MAGIC) + 2:
        raise FileProblem(
            _("truncated header: the file ends after {len_prefix} bytes").format(
                len_prefix=len(prefix)
            )
        )
    version = np.lib.format.read_magic(io.BytesIO(prefix))
    if version not in _VERSIONS:
        raise FileProblem(
            _(
                "unsupported .npy format version {version_0}.{version_1}: expected 1.0, 2.0 or 3.0"
            ).format(version_0=version[0], version_1=version[1])
        )
    length_format = _VERSIONS[version]
    length_bytes = read_upto(stream, struct.calcsize(length_format))
    if len(length_bytes) < struct.calcsize(length_format):
        raise FileProblem(_("truncated header: the file ends inside the header length"))
    (length,) = struct.unpack(length_format, length_bytes)
    if length > MAX_HEADER_BYTES:
        raise FileProblem(
            _("header of {length} bytes is over numpy's {MAX_HEADER_BYTES}-byte limit").format(
                length=length, MAX_HEADER_BYTES=MAX_HEADER_BYTES
            )
        )
    raw = read_upto(stream, length)
    if len(raw) < length:
        raise FileProblem(
            _("truncated header: declares {length} bytes, the file has {len_raw}").format(
                length=length, len_raw=len(raw)
            )
        )
    if version == (3, 0):
        _check_utf8(raw)
    literal = raw.decode("latin-1").strip()
    if not (literal.startswith("{") and literal.endswith("}")):
        # Checked first: numpy's message for a cut header is a tokenizer's.
        raise FileProblem(_("header is not a dict literal (truncated or unterminated header)"))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # deprecated dtype aliases are refused, not warned
            # 3.0 differs from 2.0 only by UTF-8 text, which _check_utf8 kept to ASCII.
            read = _HEADER_READERS[version[0]]
            shape, fortran_order, dtype = read(
                io.BytesIO(length_bytes + raw), max_header_size=MAX_HEADER_BYTES
            )
    except Exception as err:  # numpy's reader on the file's own bytes: the file is at fault
        raise FileProblem(
            _("invalid .npy header: {numpy_says_err}").format(numpy_says_err=_numpy_says(err))
        ) from None
    _check_dtype(dtype)
    _check_shape(shape)
    return NpyHeader(dtype, shape, fortran_order, len(prefix) + len(length_bytes) + length)


def read_npz(stream: IO[bytes], member: str | None, *, max_bytes: int) -> npt.NDArray[Any]:
    """Read the single array of an ``.npz`` file, or the array ``member``."""
    return _in_npz(stream, lambda archive: _read_member(archive, member, max_bytes))


def check_npz(stream: IO[bytes], member: str | None, *, max_bytes: int) -> NpyHeader:
    """The checked header of an ``.npz`` file's array (as ``check_npy``), reading no data."""

    def peek(archive: zipfile.ZipFile) -> NpyHeader:
        info, name = _select_member(archive, member, max_bytes)
        with archive.open(info) as data:
            try:
                return check_npy(data, size=info.file_size, max_bytes=max_bytes)
            except FileProblem as err:
                raise FileProblem(_("array {name!r}: {err}").format(name=name, err=err)) from err

    return _in_npz(stream, peek)


def _in_npz(stream: IO[bytes], action: Callable[[zipfile.ZipFile], T]) -> T:
    prefix = stream.read(8)
    stream.seek(0)
    if not prefix.startswith(ZIP_MAGIC):
        kind = describe_content(prefix)
        raise FileProblem(
            _("looks like {kind}, not a .npz file").format(kind=kind)
            if kind
            else _("not a .npz (zip) file")
        )
    import zipfile

    try:
        with zipfile.ZipFile(stream) as archive:
            return action(archive)
    except _zip_errors() as err:
        raise FileProblem(_("damaged .npz file: {err}").format(err=err)) from err


def _select_member(
    archive: zipfile.ZipFile, member: str | None, max_bytes: int
) -> tuple[zipfile.ZipInfo, str]:
    infos = [info for info in archive.infolist() if not info.is_dir()]
    names = [info.filename.removesuffix(".npy") for info in infos]
    if not infos:
        raise FileProblem(_("holds no arrays"))
    if member is None:
        if len(infos) > 1:
            raise FileProblem(
                _("holds {len_infos} arrays ({listing_names}): choose one as FILE.npz:NAME").format(
                    len_infos=len(infos), listing_names=_listing(names)
                )
            )
        info = infos[0]
    else:
        matches = [i for i in infos if member in (i.filename, i.filename.removesuffix(".npy"))]
        if not matches:
            raise FileProblem(
                _("has no array {member!r}; it holds {listing_names}").format(
                    member=member, listing_names=_listing(names)
                )
            )
        info = matches[0]
    name = info.filename.removesuffix(".npy")
    # The zip's own declared size bounds a zip bomb before anything is decompressed.
    if info.file_size > max_bytes + len(MAGIC) + 6 + MAX_HEADER_BYTES:
        raise FileProblem(
            _(
                "array {name!r} would decompress to {info_file_size} bytes, over the limit of "
                "{max_bytes} bytes"
            ).format(name=name, info_file_size=info.file_size, max_bytes=max_bytes)
        )
    return info, name


def _read_member(archive: zipfile.ZipFile, member: str | None, max_bytes: int) -> npt.NDArray[Any]:
    info, name = _select_member(archive, member, max_bytes)
    with archive.open(info) as stream:
        try:
            return read_npy(stream, size=info.file_size, max_bytes=max_bytes)
        except FileProblem as err:
            raise FileProblem(_("array {name!r}: {err}").format(name=name, err=err)) from err


def _check_utf8(raw: bytes) -> None:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise FileProblem(_("header is not valid UTF-8 text")) from None
    if not text.isascii():
        # Only a structured dtype's field names can need more than ASCII.
        raise FileProblem(_("unsupported dtype: a structured dtype with non-ASCII field names"))


def _numpy_says(err: Exception) -> str:
    """numpy's reason on one line: its own refusal (a ValueError or a warning).

    Anything else is numpy's reader breaking on the header (an IndexError, a tokenizer
    error): those words would read as convcli's crash, so they are not shown.
    """
    if not isinstance(err, (ValueError, Warning)):
        return "numpy's own reader cannot parse it"
    lines = str(err).splitlines()
    return _shorten(lines[0] if lines else type(err).__name__, 100)


def _check_dtype(dtype: np.dtype[Any]) -> None:
    """Only bool, integer, float16/32/64 and complex64/128 (``numerics.is_supported``):
    nothing to unpickle, no structures, no float128."""
    if dtype.subdtype is None and is_supported(dtype):
        return
    if dtype.subdtype is not None:
        shown: object = (np.lib.format.dtype_to_descr(dtype.subdtype[0]), dtype.subdtype[1])
    else:
        shown = np.lib.format.dtype_to_descr(dtype)
    raise FileProblem(
        _("unsupported dtype {shorten_repr_shown}: {SUPPORTED_TEXT}").format(
            shorten_repr_shown=_shorten(repr(shown)), SUPPORTED_TEXT=_(SUPPORTED_TEXT)
        )
    )


def _check_shape(shape: tuple[int, ...]) -> None:
    """What numpy lets through: bools as sizes, negative sizes, too many or too big."""
    if any(type(n) is not int for n in shape):
        raise FileProblem(
            _("header shape {shorten_repr_shape} is not a tuple of integers").format(
                shorten_repr_shape=_shorten(repr(shape))
            )
        )
    if any(n < 0 for n in shape):
        raise FileProblem(
            _("header shape {shorten_repr_shape} has a negative dimension").format(
                shorten_repr_shape=_shorten(repr(shape))
            )
        )
    if len(shape) > MAX_DIMS:
        raise FileProblem(
            _("header shape has {len_shape} dimensions, more than {MAX_DIMS}").format(
                len_shape=len(shape), MAX_DIMS=MAX_DIMS
            )
        )
    if math.prod(shape) >= 2**63:
        raise FileProblem(
            _("header shape {shorten_repr_shape} has 2**63 elements or more").format(
                shorten_repr_shape=_shorten(repr(shape))
            )
        )


def read_upto(stream: IO[bytes], size: int) -> bytes:
    """Up to ``size`` bytes: fewer only at the end of the stream.

    Read a mebibyte at a time: ``read(n)`` allocates ``n`` bytes before it knows how many
    come, so a short text read with a large ``size`` would briefly hold far more than it.
    """
    parts, left = [], size
    while left > 0:
        part = stream.read(min(left, _TEXT_CHUNK))
        if not part:
            break
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def _read_into(stream: IO[bytes], buffer: npt.NDArray[np.uint8]) -> None:
    done = 0
    while done < buffer.size:
        part = stream.read(min(buffer.size - done, _CHUNK))
        if not part:
            raise FileProblem(
                _("file incomplete: expected {buffer_size} bytes of data, found {done}").format(
                    buffer_size=buffer.size, done=done
                )
            )
        buffer[done : done + len(part)] = np.frombuffer(part, dtype=np.uint8)
        done += len(part)


def _listing(names: list[str], limit: int = 10) -> str:
    shown = ", ".join(repr(name) for name in names[:limit])
    return shown if len(names) <= limit else f"{shown} and {len(names) - limit} more"


def _shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
