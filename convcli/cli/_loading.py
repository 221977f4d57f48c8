"""The one way every command reads its tensors: all checks first, then the data.

1. Every header is read (``.npy``/``.npz``: shape and dtype), every JSON text measured
   (a file's size; stdin's text is read, bounded by what the budget lets parse).
2. What is known is budgeted before anything is parsed or loaded: each header's data,
   and each JSON text times the parser's measured expansion.
3. When every shape is known, the command's own check (its shapes and its memory
   estimate) runs: shapes that do not fit are refused here, before any data.
4. JSON texts are parsed (their shapes are only known then) and the command's check
   runs again; only then is any ``.npy``/``.npz`` data loaded.

So a run that cannot work is refused from headers alone, whatever the mix of
``.npy``, ``.npz``, JSON and stdin.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from convcli.cli._app import shown
from convcli.cli._common import TensorInfo, check_stdin_once, load, naming_inputs, peek
from convcli.errors import BudgetError, ConvcliError, TensorFileError
from convcli.i18n import N_, _
from convcli.shapes.layout import Layouts, input_order, kernel_order, permuted

if TYPE_CHECKING:
    import numpy.typing as npt

__all__ = ["ROLES", "check_reading_budget", "load_checked"]

# grad's dY is the fourth tensor a command reads.
ROLES = ("input", "kernel", "bias", N_("grad_output"))
T = TypeVar("T")
R = TypeVar("R")
SizeCheck = Callable[[Sequence[TensorInfo | None]], None]


def load_checked(
    specs: Sequence[str | None],
    budget: int,
    check: SizeCheck,
    layouts: Layouts | None = None,
    *,
    roles: Sequence[str] = ROLES,
) -> list[npt.NDArray[Any] | None]:
    """The tensors of ``specs`` (input, kernel, bias; ``None``: not given), every check first.

    ``roles`` names them in messages, in order (``grad``'s fourth is ``dY``).

    ``check(infos)`` is the command's check on ``(shape, dtype)`` of each tensor: it raises
    a ``ConvcliError`` (a shape that does not fit, an estimate over ``budget``). It is
    called once every shape is known and before any ``.npy``/``.npz`` data is read.

    ``layouts`` (``--input-layout``, ``--kernel-layout``): the input and the kernel are
    moved to PyTorch's layout as soon as they are loaded, and ``check`` sees the moved
    shapes. The move is a copy, budgeted with the file it is made from.
    """
    chosen = layouts if layouts is not None else Layouts()
    check = _in_layouts(check, chosen)
    from convcli.ops.budget import JSON_PARSE_EXPANSION, check_inputs_budget, format_bytes
    from convcli.tensorio.files import MAX_JSON_BYTES, json_text_size, read_stdin

    check_stdin_once(specs)
    roles = tuple(roles[: len(specs)])
    infos: list[TensorInfo | None] = []
    texts: dict[int, int] = {}
    piped: bytes | None = None
    parts: list[tuple[str, int]] = []
    for index, (spec, role) in enumerate(zip(specs, roles, strict=True)):
        info = peek(spec, role)
        infos.append(info)
        if spec is None:
            continue
        name = f"{_(role)} {shown(spec) if spec != '-' else _('stdin')}"
        if info is not None:
            parts.append((name, _nbytes(info)))
            if _order(chosen, role, len(info[0])) is not None:
                parts.append((name + " " + _("(moved to PyTorch's layout)"), _nbytes(info)))
            continue
        if spec == "-":
            limit = max(0, min(MAX_JSON_BYTES, budget // JSON_PARSE_EXPANSION))
            try:
                piped = _named(role, read_stdin, limit)
            except TensorFileError:
                if limit == MAX_JSON_BYTES:
                    raise
                # Over what the budget lets parse (the size cap itself is the other case).
                raise BudgetError(
                    _(
                        "{role} stdin: JSON text over {limit} bytes, the most that parsing (text "
                        "x {JSON_PARSE_EXPANSION}) fits in the --max-memory budget of "
                        "{format_bytes_budget}: use .npy or raise --max-memory"
                    ).format(
                        role=_(role),
                        limit=limit,
                        JSON_PARSE_EXPANSION=JSON_PARSE_EXPANSION,
                        format_bytes_budget=format_bytes(budget),
                    )
                ) from None
            texts[index] = len(piped)
        else:
            size = _named(role, json_text_size, spec)
            texts[index] = 0 if size is None else size
        parts.append((name + " " + _("(JSON text to parse)"), texts[index] * JSON_PARSE_EXPANSION))
    check_inputs_budget(parts, budget)
    if not texts:
        with naming_inputs(specs, roles):
            check(infos)
    arrays: list[npt.NDArray[Any] | None] = [None] * len(specs)
    for index in texts:
        spec = specs[index]
        assert spec is not None
        if spec == "-":
            assert piped is not None
            array = _named(roles[index], _parse_stdin, piped)
        else:
            array = load(spec, roles[index])
        infos[index] = (array.shape, array.dtype)  # as in the file: check moves it
        arrays[index] = _moved(array, chosen, roles[index])
        del array  # the file's own axes: only held while copying
    if texts:
        with naming_inputs(specs, roles):
            check(infos)
    for index, spec in enumerate(specs):
        if spec is not None and arrays[index] is None:
            arrays[index] = _moved(load(spec, roles[index]), chosen, roles[index])
    return arrays


def _order(chosen: Layouts, role: str, ndim: int) -> tuple[int, ...] | None:
    if role == "input":
        return input_order(ndim, chosen.input)
    if role == "kernel":
        return kernel_order(ndim, chosen.kernel)
    return None


def _in_layouts(check: SizeCheck, chosen: Layouts) -> SizeCheck:
    """``check`` given the shapes as they will be once moved to PyTorch's layout."""
    if chosen.default:
        return check

    def in_pytorch_layout(infos: Sequence[TensorInfo | None]) -> None:
        moved: list[TensorInfo | None] = []
        for info, role in zip(infos, ROLES, strict=False):
            if info is None:
                moved.append(None)
                continue
            moved.append((permuted(info[0], _order(chosen, role, len(info[0]))), info[1]))
        check(moved)

    return in_pytorch_layout


def _moved(array: npt.NDArray[Any], chosen: Layouts, role: str) -> npt.NDArray[Any]:
    """``array`` in PyTorch's layout: a contiguous copy when its axes move (the file's
    array is dropped after, so the two are held at once only while copying)."""
    import numpy as np

    order = _order(chosen, role, array.ndim)
    return array if order is None else np.ascontiguousarray(array.transpose(order))


def _nbytes(info: TensorInfo) -> int:
    import math

    shape, dtype = info
    return math.prod(shape) * dtype.itemsize


def _parse_stdin(raw: bytes) -> npt.NDArray[Any]:
    from convcli.tensorio.files import load_tensor

    return load_tensor("-", stdin=io.BytesIO(raw))


def _named(role: str, read: Callable[[T], R], argument: T) -> R:
    """``read(argument)``, a refusal's message starting with the tensor's role."""
    try:
        return read(argument)
    except ConvcliError as err:
        raise err.with_context(_(role), " ") from None


def check_reading_budget(specs: Sequence[tuple[str | None, str]], budget: int) -> None:
    """Refuse inputs whose data (from ``.npy`` headers) or JSON parsing alone would go over
    ``budget``, before any is read (``compose``, ``learn``: files of their own roles)."""
    from convcli.ops.budget import JSON_PARSE_EXPANSION, check_inputs_budget
    from convcli.tensorio.files import json_text_size

    parts: list[tuple[str, int]] = []
    for spec, role in specs:
        if spec is None or spec == "-":
            continue
        name = f"{_(role)} {shown(spec)}"
        info = peek(spec, role)
        if info is not None:
            parts.append((name, _nbytes(info)))
            continue
        size = _named(role, json_text_size, spec) or 0
        parts.append((name + " " + _("(JSON text to parse)"), size * JSON_PARSE_EXPANSION))
    check_inputs_budget(parts, budget)
