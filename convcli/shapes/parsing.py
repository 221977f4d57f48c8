"""Parsing of the command line's text values: ``2,3``, ``same``, ``2x3x3``.

Pure functions that raise ``ValueError`` naming what was received; the CLI adds
the option's name.
"""

from __future__ import annotations

from convcli.errors import OptionError
from convcli.i18n import _
from convcli.shapes.geometry import IntOrPair, PaddingArg

__all__ = ["parse_int_or_pair", "parse_padding", "parse_position", "parse_shape"]


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
        raise OptionError(_("expected N or H,W, got {text!r}").format(text=text))
    values = [_parse_int(part, text) for part in parts]
    for value in values:
        if value < minimum:
            raise OptionError(
                _("must be >= {minimum}, got {text!r}").format(minimum=minimum, text=text)
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
            _("expected N, H,W, 'same' or 'valid', got {text!r}").format(text=text)
        ) from None


def parse_shape(text: str, *, ndims: tuple[int, ...]) -> tuple[int, ...]:
    """``"2x3x3"`` -> (2, 3, 3); the number of dimensions must be one of ``ndims``.

    Examples
    --------
    >>> parse_shape("2x3x3", ndims=(3, 4))
    (2, 3, 3)
    """
    parts = [part.strip() for part in text.lower().replace("*", "x").split("x")]
    shape = tuple(_parse_int(part, text) for part in parts)
    if len(shape) not in ndims:
        allowed = _(" or ").join(str(n) for n in ndims)
        raise OptionError(
            _("expected {allowed} sizes like 2x3x3, got {text!r}").format(
                allowed=allowed, text=text
            )
        )
    if any(size < 1 for size in shape):
        raise OptionError(_("sizes must be >= 1, got {text!r}").format(text=text))
    return shape


def _parse_int(part: str, text: str) -> int:
    # isdecimal() rejects '+1', '1.5', '1e3' and unicode digits int() would accept.
    if not part.isascii() or not part.lstrip("-").isdecimal() or len(part) > 18:
        hint = ""
        if "," in text and all(p.strip().isdecimal() for p in text.split(",")):
            example = "x".join(p.strip() for p in text.split(","))
            hint = ": " + _("shapes are written with x, e.g. {example}").format(example=example)
        raise OptionError(
            _("expected whole numbers, got {text!r}{hint}").format(text=text, hint=hint)
        )
    return int(part)


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
            _("expected 2 to 4 indices like i,j or o,i,j, got {text!r}").format(text=text)
        )
    values = tuple(_parse_int(part, text) for part in parts)
    if any(value < 0 for value in values):
        raise OptionError(_("indices must be >= 0, got {text!r}").format(text=text))
    return values
