"""Tensors as strict JSON: parsing untrusted text, and the encoding convcli writes.

Accepted text is a nested list of numbers (at most 4 levels), or an object
``{"data": nested, "dtype": "float32", "shape": [...]}`` where ``dtype`` and ``shape`` are
optional and any other key is refused (a typo such as ``"dtpye"`` must not be ignored).

Choices, consistent between reading and writing:

- **Non-finite values**: the text's ``NaN``, ``Infinity``, ``-Infinity`` and numbers that
  overflow to infinity (``1e400``) are refused. ``tensor_to_json`` writes non-finite
  values as the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"`` so printed output stays
  strict JSON; a ``.json`` *file* with them is refused by ``save_tensor`` (use ``.npy``),
  because reading refuses strings.
- **Complex** numbers are objects ``{"real": 1.0, "imag": -2.0}`` per element, both ways.
- **bool** is written as 0/1 with ``"dtype": "bool"``: JSON ``true``/``false`` are not numbers.
- A **UTF-8 BOM** is refused, as RFC 8259 says writers must not add one.
- Integers stay int64 (more than 19 digits, or outside int64, is refused); any float makes
  float64; any complex makes complex128; ``"dtype"`` converts, refusing values that do not
  fit it (300 as uint8, 1.5 as int32, 1e300 as float32) instead of wrapping them, and
  integers a float type would round (16777217 as float32; 2**53 + 1 beside a float).

Problems raise ``ValueError`` with a one-line description; ``convcli.tensorio.files`` adds the
file's name.
"""

from __future__ import annotations

import codecs
import json
import math
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from convcli.errors import FileProblem
from convcli.i18n import _
from convcli.tensorio.npy import describe_content

__all__ = ["MAX_DATA_DEPTH", "MAX_JSON_BYTES", "parse_json_tensor", "tensor_to_json"]

MAX_JSON_BYTES = 64 * 1024**2
MAX_DATA_DEPTH = 4
_DTYPES = {
    np.dtype(code).name: np.dtype(code)
    for code in ("?", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8", "c8", "c16")
}
_KEYS = ("data", "dtype", "shape")
_NON_BRACKET = re.compile(r"[^\[\]{}]+")
_CHUNK = 1 << 20
_NON_FINITE = {math.inf: "Infinity", -math.inf: "-Infinity"}


def parse_json_tensor(raw: bytes) -> npt.NDArray[Any]:
    """Parse strict JSON text into a non-empty numeric array of at least one dimension.

    Examples
    --------
    >>> parse_json_tensor(b"[[1, 2], [3, 4]]")
    array([[1, 2],
           [3, 4]])
    >>> parse_json_tensor(b'{"data": [1, 2], "dtype": "uint8"}')
    array([1, 2], dtype=uint8)
    """
    if not raw.strip():
        raise FileProblem(_("empty text, expected JSON"))
    if raw.startswith(codecs.BOM_UTF8):
        raise FileProblem(
            _("starts with a UTF-8 byte order mark (BOM): save it as UTF-8 without BOM")
        )
    kind = describe_content(raw[:8])
    if kind not in (None, "JSON"):
        raise FileProblem(_("looks like {kind}, not JSON").format(kind=kind))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise FileProblem(
            _("not UTF-8 text: byte 0x{raw_err_start:02x} at offset {err_start}").format(
                raw_err_start=raw[err.start], err_start=err.start
            )
        ) from None
    _check_nesting(text)
    try:
        value = json.loads(
            text,
            parse_constant=_refuse_constant,
            parse_float=_parse_float,
            parse_int=_parse_int,
            object_pairs_hook=_unique_keys,
        )
    except json.JSONDecodeError as err:
        raise FileProblem(
            _("invalid JSON at line {err_lineno} column {err_colno}: {err_msg}").format(
                err_lineno=err.lineno, err_colno=err.colno, err_msg=err.msg
            )
        ) from None
    except RecursionError:
        raise FileProblem(
            _("nested more than {MAX_DATA_DEPTH} levels deep").format(MAX_DATA_DEPTH=MAX_DATA_DEPTH)
        ) from None
    return _to_array(value)


def tensor_to_json(array: npt.NDArray[Any]) -> dict[str, object]:
    """``{"shape": [...], "dtype": name, "data": nested lists}``, ready for ``json.dumps``.

    Non-finite floats become the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``;
    complex elements become ``{"real": x, "imag": y}``; bool becomes 0/1.

    Examples
    --------
    >>> tensor_to_json(np.array([[1, 2]], dtype=np.uint8))
    {'shape': [1, 2], 'dtype': 'uint8', 'data': [[1, 2]]}
    >>> tensor_to_json(np.array([np.inf, 1.0]))["data"]
    ['Infinity', 1.0]
    >>> tensor_to_json(np.array([1 - 2j]))["data"]
    [{'real': 1.0, 'imag': -2.0}]
    """
    dtype = array.dtype
    if dtype.fields is not None or dtype.name not in _DTYPES:
        raise FileProblem(
            _("dtype {dtype} cannot be written as JSON: expected one of {join__DTYPES}").format(
                dtype=dtype, join__DTYPES=", ".join(_DTYPES)
            )
        )
    data: object
    if dtype.kind == "c":
        data = _map_leaves(
            array.tolist(), lambda z: {"real": _float(z.real), "imag": _float(z.imag)}
        )
    elif dtype.kind == "f" and not np.isfinite(array).all():
        data = _map_leaves(array.tolist(), _float)
    else:
        data = (array.astype(np.int64) if dtype.kind == "b" else array).tolist()
    return {"shape": list(array.shape), "dtype": dtype.name, "data": data}


def _check_nesting(text: str) -> None:
    """Refuse deep nesting cheaply, before ``json.loads`` could hit RecursionError.

    The running count of open brackets may reach 6: an object, 4 lists, a complex
    element. Brackets inside strings count too, which only misreports text that is
    refused anyway (data holds no strings).
    """
    brackets = np.frombuffer(_NON_BRACKET.sub("", text).encode("ascii"), dtype=np.uint8)
    depth = 0
    for start in range(0, brackets.size, _CHUNK):
        chunk = brackets[start : start + _CHUNK]
        running = depth + np.cumsum(np.where((chunk == ord("[")) | (chunk == ord("{")), 1, -1))
        if running.max() > MAX_DATA_DEPTH + 2:
            raise FileProblem(
                _("nested more than {MAX_DATA_DEPTH} levels deep").format(
                    MAX_DATA_DEPTH=MAX_DATA_DEPTH
                )
            )
        depth = int(running[-1])


def _refuse_constant(name: str) -> float:
    raise FileProblem(
        _("{name} is not a number: strict JSON has no NaN or Infinity").format(name=name)
    )


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise FileProblem(
            _("number {shorten_text} overflows to infinity").format(shorten_text=_shorten(text))
        )
    return value


def _parse_int(text: str) -> int:
    # Checked before int(): thousands of digits are slow to convert (and Python limits it).
    if len(text.lstrip("-")) > 19:
        raise FileProblem(
            _("integer {shorten_text} has more than 19 digits: beyond int64").format(
                shorten_text=_shorten(text)
            )
        )
    value = int(text)
    if not -(2**63) <= value < 2**63:
        raise FileProblem(_("integer {text} is outside int64").format(text=text))
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise FileProblem(
                _("duplicate key {shorten_repr_key}").format(shorten_repr_key=_shorten(repr(key)))
            )
        result[key] = value
    return result


def _to_array(value: object) -> npt.NDArray[Any]:
    dtype: np.dtype[Any] | None = None
    shape: list[int] | None = None
    if isinstance(value, dict):
        unknown = [key for key in value if key not in _KEYS]
        if unknown:
            raise FileProblem(
                _("unknown key {shorten_repr_unknown_0}: allowed keys are {join__KEYS}").format(
                    shorten_repr_unknown_0=_shorten(repr(unknown[0])), join__KEYS=", ".join(_KEYS)
                )
            )
        if "data" not in value:
            raise FileProblem(_('an object without "data": expected {"data": [...]}'))
        if "dtype" in value:
            dtype = _requested_dtype(value["dtype"])
        if "shape" in value:
            shape = value["shape"]
            if type(shape) is not list or any(type(n) is not int for n in shape):
                raise FileProblem(
                    _('"shape" {shorten_repr_shape} is not a list of integers').format(
                        shorten_repr_shape=_shorten(repr(shape))
                    )
                )
        value = value["data"]
    if not isinstance(value, list):
        if _is_number(value):
            raise FileProblem(_("holds a scalar, expected a tensor (a list of numbers)"))
        raise FileProblem(
            _("expected a list of numbers, got {kind_value}").format(kind_value=_kind(value))
        )
    found, leaves, types = _walk(value)
    if shape is not None and shape != list(found):
        raise FileProblem(
            _('"shape" is {shorten_repr_shape} but the data has shape {found}').format(
                shorten_repr_shape=_shorten(repr(shape)), found=found
            )
        )
    return _convert(leaves, found, types, dtype)


def _walk(data: list[Any]) -> tuple[tuple[int, ...], list[Any], set[type]]:
    """The shape of a nested list, its leaves in C order, and the leaves' types."""
    shape: list[int] = []
    level: list[Any] = [data]
    while True:
        types = set(map(type, level))
        if types <= {int, float} or (types == {list} and len(shape) < MAX_DATA_DEPTH):
            pass  # the common cases, checked at C speed
        elif type(level[0]) is list:
            bad = next((i for i, node in enumerate(level) if type(node) is not list), None)
            if bad is None:
                raise FileProblem(
                    _("nested more than {MAX_DATA_DEPTH} levels deep").format(
                        MAX_DATA_DEPTH=MAX_DATA_DEPTH
                    )
                )
            raise FileProblem(
                _("{at_bad_shape} is {kind_level_bad}, expected a list").format(
                    at_bad_shape=_at(bad, shape), kind_level_bad=_kind(level[bad])
                )
            )
        else:
            for index, node in enumerate(level):
                if not (_is_number(node) or _is_complex(node)):
                    raise FileProblem(
                        _("{at_index_shape} is {kind_node}, expected a number").format(
                            at_index_shape=_at(index, shape), kind_node=_kind(node)
                        )
                    )
        if list not in types:
            return tuple(shape), level, types
        lengths = list(map(len, level))
        for index, length in enumerate(lengths):
            if length != lengths[0]:
                raise FileProblem(
                    _(
                        "ragged: {at_index_shape} has {length} items, {at_0_shape} has {lengths_0}"
                    ).format(
                        at_index_shape=_at(index, shape),
                        length=length,
                        at_0_shape=_at(0, shape),
                        lengths_0=lengths[0],
                    )
                )
        if lengths[0] == 0:
            raise FileProblem(
                _("empty tensor: {at_0_shape} is an empty list").format(at_0_shape=_at(0, shape))
            )
        shape.append(lengths[0])
        level = [child for node in level for child in node]


def _convert(
    leaves: list[Any], shape: tuple[int, ...], types: set[type], dtype: np.dtype[Any] | None
) -> npt.NDArray[Any]:
    if dict in types:
        values = [complex(v["real"], v["imag"]) if type(v) is dict else v for v in leaves]
        array = np.array(values, dtype=np.complex128)
    else:
        array = np.array(leaves, dtype=np.float64 if float in types else np.int64)
    target = dtype if dtype is not None else array.dtype
    if target.kind in "fc":
        _check_exact_integers(leaves, array, shape, target)
    array = array.reshape(shape)
    return array if dtype is None else _cast(array, dtype)


def _check_exact_integers(
    leaves: list[Any], array: npt.NDArray[Any], shape: tuple[int, ...], target: np.dtype[Any]
) -> None:
    """Refuse a JSON integer that ``target`` (a float or complex dtype) would round.

    Integers below 2**(mantissa bits + 1) are exact in any float; only the others are
    looked at, against the integer the text wrote (``array`` may already be rounded).
    """
    real = np.finfo(target).dtype
    limit = 2 ** (np.finfo(target).nmant + 1)
    parts = (array.real, array.imag) if array.dtype.kind == "c" else (array,)
    large = np.zeros(array.shape, dtype=bool)
    for part in parts:
        large |= (part >= limit) | (part <= -limit)
    for index in np.flatnonzero(large):
        leaf = leaves[index]
        for value in (leaf["real"], leaf["imag"]) if type(leaf) is dict else (leaf,):
            if type(value) is not int:
                continue
            with np.errstate(all="ignore"):
                held = real.type(value)
            if np.isfinite(held) and int(held) != value:
                raise FileProblem(
                    _(
                        "{at_int_index_shape} is the integer {shorten_str_value}, which {target} "
                        "cannot hold exactly (it would become {int_held}): use an integer dtype, "
                        "or write it as a float (e.g. 1.0e18) to accept rounding"
                    ).format(
                        at_int_index_shape=_at(int(index), shape),
                        shorten_str_value=_shorten(str(value)),
                        target=target,
                        int_held=int(held),
                    )
                )


def _cast(array: npt.NDArray[Any], dtype: np.dtype[Any]) -> npt.NDArray[Any]:
    """``array`` as ``dtype``, refusing any value that would change on the way."""
    if array.dtype.kind == "c" and dtype.kind != "c":
        bad = array.imag != 0
        if bad.any():
            raise FileProblem(
                _("{first_bad} is complex but dtype is {dtype}").format(
                    first_bad=_first(bad), dtype=dtype
                )
            )
        array = array.real
    if dtype.kind in "biu":
        if dtype.kind == "b":
            low, high = 0, 1
        else:
            info = np.iinfo(dtype)
            low, high = int(info.min), int(info.max)
        if array.dtype.kind == "f":
            bad = array != np.trunc(array)
            if bad.any():
                raise FileProblem(
                    _("{first_bad} is not an integer, as dtype {dtype} needs").format(
                        first_bad=_first(bad), dtype=dtype
                    )
                )
            # Bounds as floats are exact here: high + 1 and low are 0 or powers of two.
            bad = (array < float(low)) | (array >= float(high + 1))
        else:
            bad = (array < max(low, -(2**63))) | (array > min(high, 2**63 - 1))
        if bad.any():
            raise FileProblem(
                _("{first_bad} does not fit dtype {dtype} ({low} to {high})").format(
                    first_bad=_first(bad), dtype=dtype, low=low, high=high
                )
            )
    elif dtype.kind in "fc":
        limit = np.finfo(dtype).max
        parts = (array.real, array.imag) if array.dtype.kind == "c" else (array,)
        for part in parts:
            bad = np.abs(part.astype(np.float64)) > limit
            if bad.any():
                raise FileProblem(
                    _("{first_bad} overflows dtype {dtype}").format(
                        first_bad=_first(bad), dtype=dtype
                    )
                )
    return array.astype(dtype)


def _requested_dtype(name: object) -> np.dtype[Any]:
    if not isinstance(name, str) or name not in _DTYPES:
        raise FileProblem(
            _('unsupported "dtype" {shorten_repr_name}: expected one of {join__DTYPES}').format(
                shorten_repr_name=_shorten(repr(name)), join__DTYPES=", ".join(_DTYPES)
            )
        )
    return _DTYPES[name]


def _is_number(value: object) -> bool:
    return type(value) is int or type(value) is float


def _is_complex(value: object) -> bool:
    return (
        type(value) is dict
        and set(value) == {"real", "imag"}
        and all(_is_number(part) for part in value.values())
    )


def _kind(value: object) -> str:
    names = {str: _("a string"), bool: _("a boolean"), type(None): "null", list: _("a list")}
    return names.get(type(value), _("an object") if isinstance(value, dict) else _("a number"))


def _at(index: int, shape: list[int] | tuple[int, ...]) -> str:
    """The position of a node at flat ``index`` of a level below ``shape``: data[1][0]."""
    position = np.unravel_index(index, shape) if shape else ()
    return "data" + "".join(f"[{int(i)}]" for i in position)


def _first(mask: npt.NDArray[np.bool_]) -> str:
    return _at(int(np.argmax(mask.reshape(-1))), mask.shape)


def _float(value: float) -> float | str:
    if math.isnan(value):
        return "NaN"
    return _NON_FINITE.get(value, value)


def _map_leaves(nested: Any, leaf: Callable[[Any], object]) -> Any:
    if isinstance(nested, list):
        return [_map_leaves(item, leaf) for item in nested]
    return leaf(nested)


def _shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
