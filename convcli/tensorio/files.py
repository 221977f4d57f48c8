"""Loading and saving tensor files: ``.npy``, ``.npz`` (one array) and ``.json``.

Every input is untrusted: ``load_tensor`` returns a non-empty numeric array of at least
one dimension, or raises ``TensorFileError`` whose one-line message names the file and the
problem (the formats' own rules live in ``convcli.tensorio.npy`` and ``convcli.tensorio.jsontext``).

Every output is written atomically: a temporary file beside the destination, fsync,
then a rename, so an interrupted write leaves any old file intact and no temporary file.
An output is never one of the inputs, not even with ``force``. Inside ``held_outputs``
the renames wait for the caller (the command line renames its files only once its
report is printed).
"""

from __future__ import annotations

import contextlib
import contextvars
import errno
import io
import json
import os
import stat
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import IO, Any, BinaryIO

import numpy as np
import numpy.typing as npt

from convcli.errors import (
    EnvironmentFailureError,
    FileProblem,
    Param,
    TensorFileError,
    Words,
    shown_name,
)
from convcli.i18n import _
from convcli.i18n.reasons import os_reason
from convcli.ops.numerics import SUPPORTED_TEXT, is_supported
from convcli.tensorio.jsontext import MAX_JSON_BYTES, parse_json_tensor, tensor_to_json
from convcli.tensorio.npy import check_npy, check_npz, read_npy, read_npz, read_upto

__all__ = [
    "DEFAULT_MAX_BYTES",
    "MAX_JSON_BYTES",
    "HeldOutputs",
    "TensorFileError",
    "check_output_path",
    "held_outputs",
    "json_text_size",
    "load_tensor",
    "npy_writer",
    "peek_tensor",
    "read_stdin",
    "read_text_file",
    "replacing_output",
    "save_tensor",
    "staged_output",
    "tensor_to_json",
]

DEFAULT_MAX_BYTES = 2 * 1024**3
INPUT_SUFFIXES = (".npy", ".npz", ".json")
OUTPUT_SUFFIXES = (".npy", ".json")
PathArg = str | os.PathLike[str]


def load_tensor(
    spec: str, *, stdin: BinaryIO | None = None, max_bytes: int = DEFAULT_MAX_BYTES
) -> npt.NDArray[Any]:
    """Load a tensor from ``spec``: ``x.npy``, ``x.npz``, ``x.npz:NAME``, ``x.json`` or ``-``.

    Parameters
    ----------
    spec : str
        A file path; ``.npz`` files with several arrays need ``:NAME``. ``-`` reads JSON
        from ``stdin``.
    stdin : binary stream, optional
        Read for ``-``; ``sys.stdin.buffer`` by default.
    max_bytes : int
        The largest data accepted: shape times itemsize for ``.npy``/``.npz``, the text
        size for JSON (which is also capped at ``MAX_JSON_BYTES``).

    Returns
    -------
    ndarray
        Bool, integer, float or complex; native byte order, C-contiguous, at least 1-D,
        not empty.

    Examples
    --------
    >>> import io
    >>> load_tensor("-", stdin=io.BytesIO(b"[[1, 2], [3, 4]]"))
    array([[1, 2],
           [3, 4]])
    >>> load_tensor("-", stdin=io.BytesIO(b"[1, NaN]"))
    Traceback (most recent call last):
    ...
    convcli.errors.TensorFileError: stdin: NaN is not a number: strict JSON has no NaN or Infinity
    """
    if spec == "-":
        raw = read_stdin(min(max_bytes, MAX_JSON_BYTES), stdin=stdin)
        with _named("stdin"):
            if not raw:
                raise FileProblem(_("empty input, expected JSON"))
            return parse_json_tensor(raw)
    path, member = split_spec(spec)
    suffix = _suffix(path)
    if suffix not in INPUT_SUFFIXES:
        torch_file = suffix in (".pt", ".pth")
        raise TensorFileError(
            _(
                "{shown_spec}: unsupported file type {suffix_or_none!r}: expected .npy, .npz or "
                ".json (or - for JSON on stdin)"
            ).format(shown_spec=_shown(spec), suffix_or_none=suffix or _("(none)"))
            + (
                ": " + _("save the tensor with numpy.save(path, tensor.numpy())")
                if torch_file
                else ""
            )
        )
    with _named(spec), _open_input(path) as (stream, size):
        if suffix == ".npy":
            return read_npy(stream, size=size, max_bytes=max_bytes)
        if suffix == ".npz":
            return read_npz(stream, member, max_bytes=max_bytes)
        limit = min(max_bytes, MAX_JSON_BYTES)
        if size > limit:
            raise FileProblem(
                _("JSON text of {size} bytes is over the limit of {limit} bytes").format(
                    size=size, limit=limit
                )
            )
        raw = read_upto(stream, limit + 1)
        if len(raw) > limit:
            raise FileProblem(_("JSON text over the limit of {limit} bytes").format(limit=limit))
        return parse_json_tensor(raw)


def peek_tensor(
    spec: str, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> tuple[tuple[int, ...], np.dtype[Any]] | None:
    """The shape and dtype of a ``.npy``/``.npz`` tensor from its checked header alone.

    Reads no data, so a run can be sized before anything is allocated. ``None`` for JSON
    and stdin, whose shape is only known once parsed (their text is capped anyway).
    Raises ``TensorFileError`` for what ``load_tensor`` would refuse from the header
    (``max_bytes`` as there).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> folder = tempfile.TemporaryDirectory()
    >>> target = pathlib.Path(folder.name) / "x.npy"
    >>> np.save(target, np.zeros((2, 3), dtype=">f4"))
    >>> peek_tensor(str(target))
    ((2, 3), dtype('float32'))
    >>> folder.cleanup()
    """
    if spec == "-":
        return None
    path, member = split_spec(spec)
    suffix = _suffix(path)
    if suffix not in (".npy", ".npz"):
        return None
    with _named(spec), _open_input(path) as (stream, size):
        if suffix == ".npy":
            header = check_npy(stream, size=size, max_bytes=max_bytes)
        else:
            header = check_npz(stream, member, max_bytes=max_bytes)
    return header.shape, header.dtype.newbyteorder("=")


def json_text_size(spec: str) -> int | None:
    """The size in bytes of a ``.json`` file's text, from the file system alone.

    ``None`` for stdin and the other formats. Raises ``TensorFileError`` for a file
    ``load_tensor`` could not open (missing, a folder, not a regular file).
    """
    if spec == "-" or _suffix(split_spec(spec)[0]) != ".json":
        return None
    with _named(spec), _open_input(spec) as (_, size):
        return size


def read_stdin(limit: int, *, stdin: BinaryIO | None = None) -> bytes:
    """Up to ``limit`` bytes of JSON text from stdin (``sys.stdin.buffer`` by default).

    Raises ``TensorFileError`` when there is more, ``EnvironmentFailureError`` when stdin is
    closed (``<&-``): then no input was given at all, and that is not a usage error.

    Examples
    --------
    >>> import io
    >>> read_stdin(10, stdin=io.BytesIO(b"[1, 2]"))
    b'[1, 2]'
    """
    with _named("stdin"):
        if stdin is None:
            if sys.stdin is None:
                raise EnvironmentFailureError(_("stdin: is closed: give the JSON text on stdin"))
            stdin = sys.stdin.buffer
        try:
            raw = read_upto(stdin, limit + 1)
        except (OSError, ValueError) as err:  # ValueError: a closed file object
            if isinstance(err, OSError) and err.errno != errno.EBADF:
                raise FileProblem(
                    _("cannot read: {reason_err}").format(reason_err=_reason(err))
                ) from err
            raise EnvironmentFailureError(
                _("stdin: is closed: give the JSON text on stdin")
            ) from err
        if len(raw) > limit:
            raise FileProblem(_("JSON text over the limit of {limit} bytes").format(limit=limit))
        return raw


def split_spec(spec: str) -> tuple[str, str | None]:
    """``("x.npz", "w")`` for ``"x.npz:w"``; other specs are a path as they are.

    Examples
    --------
    >>> split_spec("runs/x.npz:kernel"), split_spec("C:/data/x.npy")
    (('runs/x.npz', 'kernel'), ('C:/data/x.npy', None))
    """
    head, sep, tail = spec.rpartition(":")
    if sep and head.lower().endswith(".npz"):
        return head, tail
    return spec, None


def save_tensor(
    path: PathArg,
    array: npt.NDArray[Any],
    *,
    force: bool = False,
    inputs: Sequence[PathArg] = (),
) -> None:
    """Write ``array`` to a ``.npy`` or ``.json`` file, atomically.

    Checks ``check_output_path`` first. A ``.json`` file is refused, suggesting ``.npy``,
    when ``load_tensor`` could not read it back: NaN or infinite values, or text over
    ``MAX_JSON_BYTES``. dtypes outside convcli's list (float128, strings) are refused.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> folder = tempfile.TemporaryDirectory()
    >>> target = pathlib.Path(folder.name) / "x.json"
    >>> save_tensor(target, np.array([[1, 2]], dtype=np.int8))
    >>> target.read_text()
    '{"shape": [1, 2], "dtype": "int8", "data": [[1, 2]]}\\n'
    >>> save_tensor(target, np.array([[3, 4]]))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    convcli.errors.TensorFileError: ...x.json: already exists; use force=True to replace it
    >>> folder.cleanup()
    """
    with staged_output(path, force=force, inputs=inputs) as staged:
        staged.write(array)
        staged.commit()


def _json_text(array: npt.NDArray[Any]) -> bytes:
    """The text of a ``.json`` file, refused when ``load_tensor`` could not read it back."""
    if array.dtype.kind in "fc" and not np.isfinite(array).all():
        count = int(np.count_nonzero(~np.isfinite(array)))
        raise FileProblem(
            _("{count} NaN or infinite values cannot be written to JSON: use .npy").format(
                count=count
            )
        )
    text = (json.dumps(tensor_to_json(array), allow_nan=False) + "\n").encode()
    if len(text) > MAX_JSON_BYTES:
        raise FileProblem(
            _(
                "JSON text of {len_text} bytes is over the limit of {MAX_JSON_BYTES} bytes that "
                "can be read back: use .npy"
            ).format(len_text=len(text), MAX_JSON_BYTES=MAX_JSON_BYTES)
        )
    return text


class StagedOutput:
    """An output being written: a temporary file beside ``target``, renamed by ``commit``.

    Made by ``staged_output``. Everything that can fail (computing, writing, building
    the report) happens before ``commit``; the rename is the last step.
    """

    def __init__(
        self, target: str, temporary: str, *, force: bool, identity: tuple[int, int] | None = None
    ) -> None:
        self.target = target
        self.temporary = temporary
        self.force = force
        self.identity = identity  # the temporary file's (device, inode)
        self.committed = False
        self.held = False  # committed inside ``held_outputs``: renamed later

    def write(self, array: npt.NDArray[Any]) -> None:
        """Write ``array`` (as ``.npy`` or ``.json``, by the target's name) to the temporary."""
        with _named(self.target):
            if not is_supported(array.dtype):
                raise FileProblem(
                    _("unsupported dtype {array_dtype}: {SUPPORTED_TEXT}").format(
                        array_dtype=array.dtype, SUPPORTED_TEXT=_(SUPPORTED_TEXT)
                    )
                )
            payload = _json_text(array) if _suffix(self.target) == ".json" else None
        if payload is not None:
            self.write_bytes(payload)
            return
        with _named(self.target), self._writing() as stream:
            np.lib.format.write_array(stream, array, allow_pickle=False)

    def write_bytes(self, payload: bytes) -> None:
        """Write ``payload`` as the file's whole content (a sample's own JSON text)."""
        with _named(self.target), self._writing() as stream:
            stream.write(payload)

    @contextlib.contextmanager
    def _writing(self) -> Iterator[IO[bytes]]:
        try:
            with open(self.temporary, "wb") as stream:
                yield stream
        except OSError as err:
            raise FileProblem(
                _("cannot write: {write_reason_err}").format(write_reason_err=_write_reason(err))
            ) from err

    def write_arrays(self, arrays: dict[str, npt.NDArray[Any]]) -> None:
        """Write named arrays to the temporary as one ``.npz`` file (``np.load`` reads it)."""
        with _named(self.target):
            for array in arrays.values():
                if not is_supported(array.dtype):
                    raise FileProblem(
                        _("unsupported dtype {array_dtype}: {SUPPORTED_TEXT}").format(
                            array_dtype=array.dtype, SUPPORTED_TEXT=_(SUPPORTED_TEXT)
                        )
                    )
            try:
                with open(self.temporary, "wb") as stream:
                    np.savez(stream, allow_pickle=False, **arrays)
            except OSError as err:
                raise FileProblem(
                    _("cannot write: {write_reason_err}").format(
                        write_reason_err=_write_reason(err)
                    )
                ) from err

    def memory_map(
        self, shape: tuple[int, ...], dtype: np.dtype[Any]
    ) -> np.memmap[Any, np.dtype[Any]]:
        """A writable ``.npy`` memory map of the temporary file, its blocks reserved."""
        with _named(self.target):
            if not is_supported(dtype):
                raise FileProblem(
                    _("unsupported dtype {dtype}: {SUPPORTED_TEXT}").format(
                        dtype=dtype, SUPPORTED_TEXT=_(SUPPORTED_TEXT)
                    )
                )
            if not all(type(n) is int and n > 0 for n in shape) or not shape:
                raise FileProblem(
                    _("shape {shape} is not a tensor's: expected positive sizes").format(
                        shape=shape
                    )
                )
            try:
                out = np.lib.format.open_memmap(self.temporary, "w+", dtype=dtype, shape=shape)
                _reserve(self.temporary)
            except OSError as err:
                raise FileProblem(
                    _("cannot write: {write_reason_err}").format(
                        write_reason_err=_write_reason(err)
                    )
                ) from err
        return out

    def commit(self) -> None:
        """Make the temporary file ``target``: fsync, rename, fsync the folder.

        Inside ``held_outputs`` only the fsync happens here; the rename waits for
        ``HeldOutputs.commit``.
        """
        self.prepare()
        held = _HELD.get()
        if held is not None:
            self.held = True
            held.pending.append(self)
            return
        self.rename()

    def prepare(self) -> None:
        """Everything of the commit that can fail but the rename: the data on disk, and
        without ``force`` a ``target`` that another process created since the check."""
        with _named(self.target):
            try:
                _fsync(self.temporary)
            except OSError as err:
                raise FileProblem(
                    _("cannot write: {write_reason_err}").format(
                        write_reason_err=_write_reason(err)
                    )
                ) from err
            if not self.force and os.path.lexists(self.target):
                raise _exists()

    def rename(self) -> None:
        """Put the prepared temporary file in place as ``target``."""
        with _named(self.target):
            try:
                _commit(self.temporary, self.target, force=self.force)
            except OSError as err:
                raise FileProblem(
                    _("cannot write: {write_reason_err}").format(
                        write_reason_err=_write_reason(err)
                    )
                ) from err
            except BaseException:  # an interrupt: it may have come just after the rename
                self.committed = self._in_place()
                if self.committed:  # linked but not yet unlinked: the temporary name goes
                    with contextlib.suppress(OSError):
                        os.unlink(self.temporary)
                raise
        self.committed = True
        with contextlib.suppress(OSError):
            _fsync(os.path.dirname(os.path.abspath(self.target)))  # the rename, durable

    def _in_place(self) -> bool:
        """Whether ``target`` is now the temporary file."""
        try:
            info = os.lstat(self.target)
        except OSError:
            return False
        return self.identity == (info.st_dev, info.st_ino)


class HeldOutputs:
    """The outputs committed inside ``held_outputs``, waiting to be renamed into place."""

    def __init__(self) -> None:
        self.pending: list[StagedOutput] = []

    def commit(self, done: Callable[[str], None] | None = None) -> None:
        """Rename every held output into place, in the order they were committed;
        ``done(target)`` is called after each rename."""
        for staged in self.pending:
            if staged.committed:
                continue
            try:
                staged.rename()
            finally:  # an interrupt just after the rename still counts the file
                if staged.committed and done is not None:
                    done(staged.target)


_HELD: contextvars.ContextVar[HeldOutputs | None] = contextvars.ContextVar(
    "convcli_held_outputs", default=None
)


@contextlib.contextmanager
def held_outputs() -> Iterator[HeldOutputs]:
    """Hold every output committed inside until ``HeldOutputs.commit``: written, synced,
    checked, but not renamed into place.

    Whatever ends the block before that commit (an error, Ctrl-C, a stdout that failed)
    removes the held temporary files: no output is created or changed.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> folder = tempfile.TemporaryDirectory()
    >>> target = pathlib.Path(folder.name) / "y.npy"
    >>> with held_outputs() as held:
    ...     save_tensor(target, np.arange(3))
    ...     print(target.exists())
    ...     held.commit()
    False
    >>> np.load(target)
    array([0, 1, 2])
    >>> folder.cleanup()
    """
    held = HeldOutputs()
    token = _HELD.set(held)
    try:
        yield held
    finally:
        _HELD.reset(token)
        for staged in held.pending:
            if not staged.committed:
                with contextlib.suppress(OSError):
                    os.unlink(staged.temporary)


@contextlib.contextmanager
def staged_output(
    path: PathArg,
    *,
    force: bool = False,
    inputs: Sequence[PathArg] = (),
    suffixes: tuple[str, ...] = OUTPUT_SUFFIXES,
) -> Iterator[StagedOutput]:
    """A ``StagedOutput`` for ``path``; its temporary file is removed unless committed.

    Checks as ``check_output_path``. Whatever ends the block before ``commit`` (an
    error, Ctrl-C, SIGTERM) leaves any old ``path`` intact and no temporary file.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> folder = tempfile.TemporaryDirectory()
    >>> target = pathlib.Path(folder.name) / "y.npy"
    >>> with staged_output(target) as staged:
    ...     staged.write(np.arange(3))
    >>> sorted(p.name for p in pathlib.Path(folder.name).iterdir())  # not committed
    []
    >>> with staged_output(target) as staged:
    ...     staged.write(np.arange(3))
    ...     staged.commit()
    >>> np.load(target)
    array([0, 1, 2])
    >>> folder.cleanup()
    """
    import tempfile  # loaded only when something is written (start-up)

    target = os.fspath(path)
    _check_output(target, force=force, inputs=inputs, suffixes=suffixes)
    folder = os.path.dirname(os.path.abspath(target))
    with _named(target):
        try:
            handle, temporary = tempfile.mkstemp(
                dir=folder, prefix=_temporary_prefix(target), suffix=".tmp"
            )
        except OSError as err:
            raise FileProblem(
                _("cannot create a file in {shown_folder}: {reason_err}").format(
                    shown_folder=_shown(folder), reason_err=_reason(err)
                )
            ) from err
    staged = StagedOutput(target, temporary, force=force)
    try:
        try:
            info = os.fstat(handle)
            staged.identity = (info.st_dev, info.st_ino)
            # mkstemp makes 0600 files; give the output the mode a plain open() would.
            os.fchmod(handle, 0o666 & ~_umask())
        finally:
            os.close(handle)
        yield staged
    finally:
        if not (staged.committed or staged.held):
            with contextlib.suppress(OSError):
                os.unlink(temporary)


def _temporary_prefix(target: str) -> str:
    """``.NAME.``, NAME cut to 64 bytes: with mkstemp's 8 random letters and ``.tmp`` the
    temporary name stays far below the 255 bytes a file name may have, however long the
    output's own name is."""
    name = os.path.basename(target)
    short = name.encode("utf-8", "surrogateescape")[:64].decode("utf-8", "ignore")
    return f".{short}."


@contextlib.contextmanager
def npy_writer(
    path: PathArg,
    shape: tuple[int, ...],
    dtype: npt.DTypeLike,
    *,
    force: bool = False,
    inputs: Sequence[PathArg] = (),
) -> Iterator[np.memmap[Any, np.dtype[Any]]]:
    """Stream a big ``.npy`` result: yield a writable memory map, then rename it into place.

    The map lives in a temporary file beside ``path``; on normal exit it is flushed and
    atomically renamed to ``path``; on any exception (Ctrl-C included) the temporary file
    is removed and any old ``path`` is left intact. Same checks as ``save_tensor``.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> folder = tempfile.TemporaryDirectory()
    >>> target = pathlib.Path(folder.name) / "y.npy"
    >>> with npy_writer(target, (2, 3), np.int32) as out:
    ...     out[0], out[1] = 7, 8
    >>> np.load(target)
    array([[7, 7, 7],
           [8, 8, 8]], dtype=int32)
    >>> del out; folder.cleanup()
    """
    with staged_output(path, force=force, inputs=inputs, suffixes=(".npy",)) as staged:
        out = staged.memory_map(tuple(shape), np.dtype(dtype))
        yield out
        out.flush()
        staged.commit()


@contextlib.contextmanager
def replacing_output(
    path: PathArg, *, suffixes: tuple[str, ...], force: bool = False, inputs: Sequence[PathArg] = ()
) -> Iterator[str]:
    """An output of another kind (a picture): checked as tensor outputs are, written atomically.

    Yields a temporary path beside ``path`` for the caller to write; on success it is
    renamed to ``path``, on any error removed (an old ``path`` stays intact). An
    ``OSError`` while writing becomes a one-line ``TensorFileError`` naming ``path``.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> folder = tempfile.TemporaryDirectory()
    >>> target = pathlib.Path(folder.name) / "a.svg"
    >>> with replacing_output(target, suffixes=(".svg",)) as temporary:
    ...     _ = pathlib.Path(temporary).write_text("<svg/>")
    >>> target.read_text()
    '<svg/>'
    >>> folder.cleanup()
    """
    with staged_output(path, force=force, inputs=inputs, suffixes=suffixes) as staged:
        try:
            yield staged.temporary
        except OSError as err:
            with _named(staged.target):
                raise FileProblem(
                    _("cannot write: {write_reason_err}").format(
                        write_reason_err=_write_reason(err)
                    )
                ) from err
        staged.commit()


def check_output_path(
    path: PathArg,
    *,
    force: bool,
    inputs: Sequence[PathArg] = (),
    suffixes: tuple[str, ...] = OUTPUT_SUFFIXES,
) -> None:
    """Refuse an output before any work: extension, folder, existing file, an input.

    An output that is the same file as an input (same path, a hard link, a symbolic link)
    is refused even with ``force``.

    Examples
    --------
    >>> check_output_path("x.csv", force=True)
    Traceback (most recent call last):
    ...
    convcli.errors.TensorFileError: x.csv: unsupported output type '.csv': expected .npy or .json
    """
    _check_output(os.fspath(path), force=force, inputs=inputs, suffixes=suffixes)


def _check_output(
    target: str, *, force: bool, inputs: Sequence[PathArg], suffixes: tuple[str, ...]
) -> None:
    with _named(target):
        suffix = _suffix(target)
        if suffix not in suffixes:
            raise FileProblem(
                _("unsupported output type {suffix_or_none!r}: expected {or_join_suffixes}").format(
                    suffix_or_none=suffix or _("(none)"), or_join_suffixes=_(" or ").join(suffixes)
                )
            )
        folder = os.path.dirname(os.path.abspath(target))
        if not os.path.isdir(folder):
            raise FileProblem(
                _("folder {shown_folder} does not exist").format(shown_folder=_shown(folder))
            )
        if not os.access(folder, os.W_OK | os.X_OK):
            raise FileProblem(
                _("folder {shown_folder} is not writable").format(shown_folder=_shown(folder))
            )
        for spec in inputs:
            source = split_spec(os.fspath(spec))[0]
            if source == "-" and _is_stdin(target):
                raise FileProblem(
                    _("is the file read as stdin: never overwriting an input, even with {force}"),
                    force=Param("force", True),
                )
            if source != "-" and _same_file(target, source):
                raise FileProblem(
                    _("is the input {shown_source}: never overwriting an input, even with {force}"),
                    shown_source=_shown(source),
                    force=Param("force", True),
                )
        if os.path.isdir(target):
            raise FileProblem(_("is a folder"))
        if os.path.lexists(target) and not force:
            raise _exists()


def _exists() -> FileProblem:
    return FileProblem(_("already exists; use {force} to replace it"), force=Param("force", True))


def _is_stdin(target: str) -> bool:
    """Whether ``target`` is the file behind stdin (``< in.json``), compared by identity."""
    try:
        handle = sys.stdin.fileno() if sys.stdin is not None else 0
        source = os.fstat(handle)
        if not stat.S_ISREG(source.st_mode):
            return False
        existing = os.stat(target)
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        return False
    return (source.st_dev, source.st_ino) == (existing.st_dev, existing.st_ino)


def _same_file(a: str, b: str) -> bool:
    with contextlib.suppress(OSError, ValueError):
        if os.path.samefile(a, b):
            return True
    # A path that does not resolve yet may still name the input once written.
    return os.path.normcase(os.path.realpath(a)) == os.path.normcase(os.path.realpath(b))


def _commit(temporary: str, target: str, *, force: bool) -> None:
    if force:
        os.replace(temporary, target)
        return
    try:
        # Unlike a rename, a link fails if another process created target since the check.
        os.link(temporary, target)
    except FileExistsError:
        raise _exists() from None
    except OSError:  # a file system without hard links
        if os.path.lexists(target):
            raise _exists() from None
        os.replace(temporary, target)
        return
    with contextlib.suppress(OSError):  # the output is in place; a stray name is harmless
        os.unlink(temporary)


def _reserve(path: str) -> None:
    """Allocate a mapped file's blocks now: a full disk is then an error here, not a
    SIGBUS when a page of the map is first written."""
    handle = os.open(path, os.O_RDWR)
    try:
        os.posix_fallocate(handle, 0, os.fstat(handle).st_size)
    except OSError as err:
        if err.errno not in (errno.EOPNOTSUPP, errno.EINVAL):  # no fallocate here: carry on
            raise
    finally:
        os.close(handle)


def _fsync(path: str) -> None:
    handle = os.open(path, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def _umask() -> int:
    # os offers no way to read the umask but setting it; put it straight back.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def _open_input(path: str) -> Iterator[tuple[IO[bytes], int]]:
    """The open file and its size; only regular files, so a FIFO cannot block a read."""
    try:
        info = os.stat(path)
        if stat.S_ISDIR(info.st_mode):
            raise FileProblem(_("is a folder, not a file"))
        if not stat.S_ISREG(info.st_mode):
            raise FileProblem(_("is not a regular file"))
        stream = open(path, "rb")  # noqa: SIM115 - closed below, after the size is read
    except FileNotFoundError:
        raise FileProblem(_("no such file")) from None
    except PermissionError:
        raise FileProblem(_("permission denied: cannot read it")) from None
    except OSError as err:
        raise FileProblem(_("cannot open: {reason_err}").format(reason_err=_reason(err))) from None
    with stream:
        try:
            size = os.fstat(stream.fileno()).st_size
        except OSError as err:
            raise FileProblem(
                _("cannot read: {reason_err}").format(reason_err=_reason(err))
            ) from None
        try:
            yield stream, size
        except OSError as err:
            raise FileProblem(
                _("cannot read: {reason_err}").format(reason_err=_reason(err))
            ) from err


@contextlib.contextmanager
def _named(name: str) -> Iterator[None]:
    """Name the file in the format modules' ``FileProblem``: a one-line ``TensorFileError``."""
    try:
        yield
    except FileProblem as err:
        # One line, whatever the problem's text; its fields (a parameter) kept for the caller.
        problem = Words(
            " ".join(err.words.template.split()),
            **{
                key: " ".join(value.split()) if isinstance(value, str) else value
                for key, value in err.fields.items()
            },
        )
        raise TensorFileError(
            _("{shown_name}: {problem}"), shown_name=_shown(name), problem=problem
        ) from err


def read_text_file(path: str, *, max_bytes: int) -> str:
    """The UTF-8 text of the file at ``path`` (a network spec), checked as tensor files
    are before anything is read: a regular file (a FIFO, device or folder is refused at
    once, never waited on), at most ``max_bytes`` bytes.

    >>> read_text_file("/dev/null", max_bytes=10)
    Traceback (most recent call last):
    ...
    convcli.errors.TensorFileError: /dev/null: is not a regular file
    """
    with _named(path), _open_input(path) as (stream, size):
        if size > max_bytes:
            raise FileProblem(
                _("{size} bytes: larger than the {limit} bytes allowed").format(
                    size=f"{size:,}", limit=f"{max_bytes:,}"
                )
            )
        raw = read_upto(stream, max_bytes + 1)
        if len(raw) > max_bytes:  # a file that grew, or one whose size the system does not say
            raise FileProblem(
                _("larger than the {limit} bytes allowed").format(limit=f"{max_bytes:,}")
            )
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise FileProblem(
                _("not UTF-8 text: byte 0x{byte:02x} at offset {offset}").format(
                    byte=raw[err.start], offset=err.start
                )
            ) from None


def _suffix(path: str) -> str:
    return os.path.splitext(path)[1].lower()


_shown = shown_name


def _reason(err: OSError) -> str:
    """The system's reason for an error, worded from its errno (``no space left on device``)."""
    return os_reason(err)


def _write_reason(err: OSError) -> str:
    """``_reason``; a write that stopped short without an errno (numpy's ``tofile``
    raises ``OSError("N requested and M written")``) is a full disk in practice."""
    if err.strerror or err.errno is not None:
        return _reason(err)
    return _("only part was written: is the disk full?")
