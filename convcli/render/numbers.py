"""How convcli writes the numbers a person reads: one style, exact, for every command.

- **Counts** (sizes, parameters, MACs, FLOPs, outputs, the numbers a formula is filled
  in with) are whole numbers with their digits grouped in threes by commas, in every
  language: ``57,802,752``, ``73,728``, ``512``. Shapes (``1x3x224x224``) are written as
  ``--input-shape`` takes them, without grouping.
- **Suffixed counts** (the ``net`` table's K, M, G, T) keep three significant digits,
  rounded half up from the exact integer: ``12,345`` is ``12.3K``, ``999,500`` is
  ``1.00M``. Below 10,000 a count is written whole; from 1,000T on, as ``1.23e15``.
- **Halves** (a receptive field's centre) are written exactly: ``-9,007,199,254,740,992.5``.
- **Byte sizes** are in B, KiB, MiB, GiB, TiB, PiB or EiB with two decimals, rounded
  half up from the exact byte count.

No float is used on the way: every function takes ``int`` or ``fractions.Fraction``.
"""

from __future__ import annotations

from fractions import Fraction

__all__ = [
    "byte_size_text",
    "compact_count",
    "count_text",
    "exact_decimal",
    "megabytes_text",
    "number_text",
]

_UNITS = ("", "K", "M", "G", "T")
_BYTE_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")


def count_text(count: int) -> str:
    """A whole number with its digits grouped in threes.

    >>> count_text(73728), count_text(512), count_text(-1234567)
    ('73,728', '512', '-1,234,567')
    """
    return f"{count:,}"


def _round_half_up(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded to the nearest integer, halves away from zero."""
    quotient, remainder = divmod(abs(numerator), denominator)
    if 2 * remainder >= denominator:
        quotient += 1
    return quotient if numerator >= 0 else -quotient


def _digits(count: int) -> int:
    """The number of decimal digits of ``count`` > 0, without writing it out."""
    estimate = max(1, (count.bit_length() * 30103) // 100000)  # log10(2) ~ 0.30103
    while 10**estimate <= count:
        estimate += 1
    while estimate > 1 and 10 ** (estimate - 1) > count:
        estimate -= 1
    return estimate


def compact_count(count: int) -> str:
    """A count in a narrow table cell: whole below 10,000, else three significant digits
    and K, M, G or T, rounded half up from the exact integer (``1.23e15`` from 1,000T on).

    >>> compact_count(9999), compact_count(12345), compact_count(999_500), compact_count(117600)
    ('9,999', '12.3K', '1.00M', '118K')
    >>> compact_count(4611686018427387904 ** 2)
    '2.13e37'
    """
    if abs(count) < 10_000:
        return count_text(count)
    sign = "-" if count < 0 else ""
    value = abs(count)
    dropped = _digits(value) - 3
    leading = _round_half_up(value, 10**dropped)
    if leading == 1000:  # 999.5 rounds up to the next power of ten
        leading, dropped = 100, dropped + 1
    exponent = dropped + 2  # value ~ leading/100 * 10**exponent
    unit = exponent // 3
    if unit >= len(_UNITS):
        return f"{sign}{leading // 100}.{leading % 100:02d}e{exponent}"
    whole = exponent - 3 * unit + 1  # digits before the point: 1, 2 or 3
    text = str(leading)
    shown = text[:whole] + ("." + text[whole:] if whole < 3 else "")
    return f"{sign}{shown}{_UNITS[unit]}"


def exact_decimal(value: int | Fraction) -> str:
    """``value`` written exactly, without grouping: an integer, a terminating decimal
    (``-9007199254740992.5``), else ``p/q`` (``--json``'s text of a half).

    >>> exact_decimal(Fraction(-18014398509481985, 2)), exact_decimal(Fraction(4, 2))
    ('-9007199254740992.5', '2')
    >>> exact_decimal(Fraction(1, 3))
    '1/3'
    """
    value = Fraction(value)
    if value.denominator == 1:
        return str(value.numerator)
    denominator = value.denominator
    places = 0
    for prime in (2, 5):
        count = 0
        while denominator % prime == 0:
            denominator //= prime
            count += 1
        places = max(places, count)
    if denominator != 1:
        return f"{value.numerator}/{value.denominator}"
    scaled = abs(value) * 10**places
    assert scaled.denominator == 1
    whole, fraction = divmod(scaled.numerator, 10**places)
    sign = "-" if value < 0 else ""
    return f"{sign}{whole}.{fraction:0{places}d}".rstrip("0")


def number_text(value: int | Fraction) -> str:
    """A whole number or a half as a person reads it: digits grouped, halves exact.

    >>> number_text(Fraction(-18014398509481985, 2)), number_text(Fraction(3, 2)), number_text(8192)
    ('-9,007,199,254,740,992.5', '1.5', '8,192')
    """
    text = exact_decimal(value)
    if "/" in text:
        return text
    whole, point, fraction = text.partition(".")
    sign = "-" if whole.startswith("-") else ""
    return sign + count_text(int(whole.lstrip("-"))) + point + fraction


def byte_size_text(count: int) -> str:
    """A byte count in B, KiB ... EiB with two decimals, rounded half up from the exact count.

    >>> byte_size_text(20), byte_size_text(1536), byte_size_text(2**30 - 1)
    ('20 B', '1.50 KiB', '1.00 GiB')
    """
    unit = 0
    while unit + 1 < len(_BYTE_UNITS) and count >= 1024 ** (unit + 1):
        unit += 1
    if unit == 0:
        return f"{count_text(count)} B"
    hundredths = _round_half_up(count * 100, 1024**unit)
    if hundredths >= 1024 * 100 and unit + 1 < len(_BYTE_UNITS):  # 1023.995 KiB is 1.00 MiB
        unit += 1
        hundredths = _round_half_up(count * 100, 1024**unit)
    whole, cents = divmod(hundredths, 100)
    return f"{count_text(whole)}.{cents:02d} {_BYTE_UNITS[unit]}"


def megabytes_text(count: int) -> str:
    """Bytes in torchinfo's MB (10**6 bytes), two decimals, rounded half up from the count.

    >>> megabytes_text(44_712_960), megabytes_text(5_000), megabytes_text(1_234_567_890_123)
    ('44.71', '0.01', '1,234,567.89')
    """
    hundredths = _round_half_up(count, 10**4)
    return f"{count_text(hundredths // 100)}.{hundredths % 100:02d}"
