"""Parsing of the command line's text values: ``2,3``, ``same``, ``2x3x3``.

Pure functions that raise ``ValueError`` naming what was received; the CLI adds
the option's name.
"""

from __future__ import annotations

import math
import re

from convcli.errors import OptionError
from convcli.i18n import _
from convcli.shapes.geometry import IntOrPair, PaddingArg

__all__ = [
    "parse_grad_target",
    "parse_int_or_pair",
    "parse_number",
    "parse_padding",
    "parse_position",
    "parse_shape",
    "parse_size",
    "parse_whole",
    "shorten",
]

# The one spelling of numbers on the command line: ASCII digits only (int() and float()
# also take Arabic-Indic or full-width digits, which --stride never did).
_REAL = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_MAX_DIGITS = 18


def shorten(text: str, limit: int = 40) -> str:
    """``text`` quoted as ``repr`` does, cut after ``limit`` characters in messages.

    Examples
    --------
    >>> shorten("2x3"), shorten("9" * 4000, limit=5)
    ("'2x3'", "'99999'... (4,000 characters)")
    """
    if len(text) <= limit:
        return repr(text)
    return _("{start}... ({count} characters)").format(
        start=repr(text[:limit]), count=f"{len(text):,}"
    )


def parse_whole(text: str, *, minimum: int | None = None) -> int:
    """A whole number of ASCII digits (``-`` allowed), at least ``minimum``.

    The parser of every integer option (``--groups``, ``--seed``, ``--out-channels``),
    as ``--stride``'s values: ``+1``, ``1.0``, ``1e3`` and non-ASCII digits are refused.

    Examples
    --------
    >>> parse_whole(" 12 "), parse_whole("-3")
    (12, -3)
    >>> parse_whole("\u0661")
    Traceback (most recent call last):
    ...
    convcli.errors.OptionError: expected a whole number, got '\u0661'
    """
    part = text.strip()
    digits = part[1:] if part.startswith("-") else part
    if not (digits.isascii() and digits.isdigit()) or len(digits) > _MAX_DIGITS:
        raise OptionError(
            _("expected a whole number, got {shorten_text}").format(shorten_text=shorten(text))
        )
    value = int(part)
    if minimum is not None and value < minimum:
        raise OptionError(
            _("must be >= {minimum}, got {shorten_text}").format(
                minimum=minimum, shorten_text=shorten(text)
            )
        )
    return value


def parse_number(text: str) -> float:
    """A finite decimal number of ASCII digits: ``0.5``, ``1e-9``, ``3``.

    Examples
    --------
    >>> parse_number("1e-9"), parse_number("2")
    (1e-09, 2.0)
    >>> parse_number("nan")
    Traceback (most recent call last):
    ...
    convcli.errors.OptionError: expected a finite number like 0.5 or 1e-9, got 'nan'
    """
    part = text.strip()
    if not _REAL.fullmatch(part) or not math.isfinite(value := float(part)):
        raise OptionError(
            _("expected a finite number like 0.5 or 1e-9, got {shorten_text}").format(
                shorten_text=shorten(text)
            )
        )
    return value


def parse_int_or_pair(text: str, *, minimum: int) -> IntOrPair:
    """``"2"`` -> 2, ``"2,3"`` -> (2, 3); each value at least ``minimum``.

    Examples
    --------
    >>> parse_int_or_pair("2", minimum=1)
    2
    >>> parse_int_or_pair("1, 3", minimum=1)
    (1, 3)
    """
    parts = [part.strip() for part in text.split(",")]
    if len(parts) not in (1, 2):
        raise OptionError(
            _("expected N or H,W, got {shorten_text}").format(shorten_text=shorten(text))
        )
    values = [_parse_int(part, text) for part in parts]
    for value in values:
        if value < minimum:
            raise OptionError(
                _("must be >= {minimum}, got {shorten_text}").format(
                    minimum=minimum, shorten_text=shorten(text)
                )
            )
    return values[0] if len(values) == 1 else (values[0], values[1])


def parse_padding(text: str) -> PaddingArg:
    """``"1"``, ``"1,2"``, ``"same"`` or ``"valid"``.

    Examples
    --------
    >>> parse_padding("same")
    'same'
    >>> parse_padding("0,2")
    (0, 2)
    """
    word = text.strip().lower()
    if word == "same":
        return "same"
    if word == "valid":
        return "valid"
    try:
        return parse_int_or_pair(word, minimum=0)
    except OptionError:
        raise OptionError(
            _("expected N, H,W, 'same' or 'valid', got {shorten_text}").format(
                shorten_text=shorten(text)
            )
        ) from None


# A shape as people paste it: torch.Size([1, 64, 56, 56]), (1, 64, 56, 56), [1, 64, 56, 56].
_PASTED_SHAPE = re.compile(
    r"(?:torch\.Size\(\s*\[(?P<size>[^\[\]]*)\]\s*\))|\((?P<tuple>[^()]*)\)|\[(?P<list>[^\[\]]*)\]"
)


def parse_shape(text: str, *, ndims: tuple[int, ...]) -> tuple[int, ...]:
    """``"2x3x3"`` -> (2, 3, 3); the number of dimensions must be one of ``ndims``.

    A shape pasted from Python reads the same: ``(2, 3, 3)``, ``[2, 3, 3]`` or
    ``torch.Size([2, 3, 3])``.

    Examples
    --------
    >>> parse_shape("2x3x3", ndims=(3, 4))
    (2, 3, 3)
    >>> parse_shape("torch.Size([1, 64, 56, 56])", ndims=(4,))
    (1, 64, 56, 56)
    >>> parse_shape("(1,64,56,56)", ndims=(4,)) == parse_shape("[1, 64, 56, 56]", ndims=(4,))
    True
    """
    pasted = _PASTED_SHAPE.fullmatch(text.strip())
    if pasted is not None:
        inner = next(group for group in pasted.groups() if group is not None)
        items = [part.strip() for part in inner.split(",")]
        if len(items) > 1 and items[-1] == "":
            items.pop()  # Python's one-element tuple: (3,)
        shape = tuple(_parse_int(part, text) for part in items)
    else:
        parts = [part.strip() for part in text.lower().replace("*", "x").split("x")]
        shape = tuple(_parse_int(part, text) for part in parts)
    if len(shape) not in ndims:
        allowed = " or ".join(str(n) for n in ndims)
        raise OptionError(
            _("expected {allowed} sizes like 2x3x3, got {shorten_text}").format(
                allowed=allowed, shorten_text=shorten(text)
            )
        )
    if any(size < 1 for size in shape):
        raise OptionError(
            _("sizes must be >= 1, got {shorten_text}").format(shorten_text=shorten(text))
        )
    return shape


def parse_size(text: str) -> tuple[int, int]:
    """A wanted output size: ``"28"``, ``"28,14"`` or ``"28x14"`` -> ``(h, w)``, each >= 1;
    a pasted shape, ``torch.Size([1, 64, 28, 14])`` or ``(1, 64, 28, 14)``, gives its last two
    sizes (as ``nn.ConvTranspose2d``'s ``output_size`` takes a whole shape).

    Examples
    --------
    >>> parse_size("56"), parse_size("28x14"), parse_size("7, 9")
    ((56, 56), (28, 14), (7, 9))
    >>> parse_size("torch.Size([1, 64, 28, 14])"), parse_size("1x64x28x14")
    ((28, 14), (28, 14))
    """
    if _PASTED_SHAPE.fullmatch(text.strip()) or text.lower().count("x") > 1:
        shape = parse_shape(text, ndims=(2, 3, 4))
        return shape[-2], shape[-1]
    try:
        value = parse_int_or_pair(text.lower().replace("x", ","), minimum=1)
    except OptionError:
        raise OptionError(
            _("expected H,W, HxW or N (each >= 1), got {shorten_text}").format(
                shorten_text=shorten(text)
            )
        ) from None
    return (value, value) if isinstance(value, int) else value


def _parse_int(part: str, text: str) -> int:
    try:
        return parse_whole(part)
    except OptionError:
        hint = ""
        if "," in text and all(p.strip().isdecimal() for p in text.split(",")):
            hint = (
                f": shapes are written with x, e.g. {'x'.join(p.strip() for p in text.split(','))}"
            )
        raise OptionError(
            _("expected whole numbers, got {shorten_text}{hint}").format(
                shorten_text=shorten(text), hint=hint
            )
        ) from None


def parse_position(text: str) -> tuple[int, ...]:
    """``"0,1,1"`` -> (0, 1, 1): an index into an output, each value >= 0.

    Examples
    --------
    >>> parse_position("0, 1,1")
    (0, 1, 1)
    """
    parts = [part.strip() for part in text.split(",")]
    if not 2 <= len(parts) <= 4:
        raise OptionError(
            _("expected 2 to 4 indices like i,j or o,i,j, got {shorten_text}").format(
                shorten_text=shorten(text)
            )
        )
    values = tuple(_parse_int(part, text) for part in parts)
    if any(value < 0 for value in values):
        raise OptionError(
            _("indices must be >= 0, got {shorten_text}").format(shorten_text=shorten(text))
        )
    return values


def parse_grad_target(text: str) -> tuple[str, tuple[int, ...]]:
    """``"input:0,1,1"`` -> ("input", (0, 1, 1)); ``"weight:..."`` a kernel tap.

    Examples
    --------
    >>> parse_grad_target("weight:0,1,0,1")
    ('weight', (0, 1, 0, 1))
    >>> parse_grad_target("x:1,1")
    Traceback (most recent call last):
    ...
    convcli.errors.OptionError: expected input:INDICES or weight:INDICES, got 'x:1,1'
    """
    target, sep, rest = text.partition(":")
    if not sep or target.strip() not in ("input", "weight"):
        raise OptionError(
            _("expected input:INDICES or weight:INDICES, got {shorten_text}").format(
                shorten_text=shorten(text)
            )
        )
    return target.strip(), parse_position(rest)
