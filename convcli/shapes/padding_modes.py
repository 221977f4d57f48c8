"""What the padding holds: PyTorch's ``padding_mode`` names and their size rules.

Pure Python, so shape arithmetic (``convcli net``) and the numpy padding
(``convcli.ops.padding``) refuse the same paddings with the same words.
"""

from __future__ import annotations

from convcli.errors import OptionError
from convcli.i18n import N_, _

__all__ = ["PADDING_MODES", "check_padding_mode"]

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def check_padding_mode(
    mode: str, in_size: tuple[int, int], padding: tuple[int, int, int, int]
) -> None:
    """Raise ``ValueError`` unless ``mode`` can pad an ``in_size`` input by ``padding``.

    ``padding`` is ``(top, bottom, left, right)``. As in PyTorch, ``reflect`` needs
    each pad smaller than the input size along its axis (the edge is not repeated),
    and ``circular`` may wrap around at most once (pad <= input size).

    Examples
    --------
    >>> check_padding_mode("reflect", (3, 3), (2, 2, 2, 2))
    >>> check_padding_mode("reflect", (3, 5), (3, 3, 0, 0))
    Traceback (most recent call last):
    ...
    convcli.errors.OptionError: reflect padding 3 must be < input height 3
    """
    if mode not in PADDING_MODES:
        raise OptionError(
            _("padding mode must be one of {join_PADDING_MODES}, got {mode!r}").format(
                join_PADDING_MODES=", ".join(PADDING_MODES), mode=mode
            )
        )
    for pad, axis, name in zip(
        padding, (0, 0, 1, 1), (N_("height"),) * 2 + (N_("width"),) * 2, strict=True
    ):
        n = in_size[axis]
        if mode == "reflect" and pad >= n:
            raise OptionError(
                _("reflect padding {pad} must be < input {name} {n}").format(
                    pad=pad, name=_(name), n=n
                )
            )
        if mode == "circular" and pad > n:
            raise OptionError(
                _(
                    "circular padding {pad} must be <= input {name} {n} (it wraps around once)"
                ).format(pad=pad, name=_(name), n=n)
            )
