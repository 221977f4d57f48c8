"""convcli: a terminal calculator for multi-channel 2-D convolution.

The compute core follows the Dive into Deep Learning lesson on multiple input and
output channels, and ``conv2d`` has PyTorch's exact semantics.
"""

from convcli.core import (
    conv2d,
    corr2d,
    corr2d_multi_in,
    corr2d_multi_in_out,
    corr2d_multi_in_out_1x1,
)
from convcli.geometry import ConvGeometry, output_size, resolve_geometry

__version__ = "0.1.0"

__all__ = [
    "ConvGeometry",
    "__version__",
    "conv2d",
    "corr2d",
    "corr2d_multi_in",
    "corr2d_multi_in_out",
    "corr2d_multi_in_out_1x1",
    "output_size",
    "resolve_geometry",
]
