"""A convolution's options: stride, padding, dilation, groups, padding mode, flip.

Pure Python, in the library's words: the command line maps its flags onto these fields
(``convcli.cli._common``), the core never names a flag.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from convcli.shapes.geometry import IntOrPair, PaddingArg

__all__ = ["ConvOptions"]


@dataclass(frozen=True)
class ConvOptions:
    """conv2d's options, with PyTorch's defaults (``flip``: true convolution).

    Examples
    --------
    >>> ConvOptions().changed()
    []
    >>> ConvOptions(stride=(1, 1), padding=1, flip=True).changed()
    ['padding', 'flip']
    """

    stride: IntOrPair = 1
    padding: PaddingArg = 0
    dilation: IntOrPair = 1
    groups: int = 1
    padding_mode: str = "zeros"
    flip: bool = False

    def changed(self) -> list[str]:
        """The fields that differ from the defaults, in declaration order.

        A pair of equal values counts as the number (``(1, 1)`` is stride 1), and
        ``"valid"`` as padding 0.
        """
        same = {"stride": (1, (1, 1)), "padding": (0, (0, 0), "valid"), "dilation": (1, (1, 1))}
        return [
            f.name
            for f in fields(self)
            if getattr(self, f.name) not in same.get(f.name, (f.default,))
        ]
