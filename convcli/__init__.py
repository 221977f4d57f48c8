"""convcli: a terminal calculator for multi-channel 2-D convolution.

The compute core follows the Dive into Deep Learning lesson on multiple input and
output channels, and ``conv2d`` has PyTorch's exact semantics.

>>> from convcli import conv2d, corr2d_multi_in
>>> import numpy as np
>>> conv2d(np.ones((1, 3, 3), dtype=int), np.ones((1, 1, 2, 2), dtype=int))
array([[[4, 4],
        [4, 4]]])
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Exports load on first use, so `convcli --help` does not pay for numpy.
_EXPORTS = {
    "conv2d": "convcli.ops.conv",
    "conv_transpose2d": "convcli.ops.transposed",
    "max_pool2d": "convcli.ops.pooling",
    "avg_pool2d": "convcli.ops.pooling",
    "adaptive_avg_pool2d": "convcli.ops.pooling",
    "adaptive_max_pool2d": "convcli.ops.pooling",
    "corr2d": "convcli.ops.conv",
    "corr2d_multi_in": "convcli.ops.conv",
    "corr2d_multi_in_out": "convcli.ops.conv",
    "corr2d_multi_in_out_1x1": "convcli.ops.conv",
    "ConvGeometry": "convcli.shapes.geometry",
    "output_size": "convcli.shapes.geometry",
    "resolve_geometry": "convcli.shapes.geometry",
    "LayerShapes": "convcli.shapes.layer",
    "describe_layer": "convcli.shapes.layer",
    "separable_cost": "convcli.shapes.layer",
    "explain_output": "convcli.ops.explain",
    "verify_im2col": "convcli.ops.verify",
    "pad_input": "convcli.ops.padding",
    "ConvcliError": "convcli.errors",
    "TensorFileError": "convcli.errors",
    "load_tensor": "convcli.tensorio.files",
    "save_tensor": "convcli.tensorio.files",
}

if TYPE_CHECKING:
    from convcli.errors import ConvcliError, TensorFileError
    from convcli.ops.conv import (
        conv2d,
        corr2d,
        corr2d_multi_in,
        corr2d_multi_in_out,
        corr2d_multi_in_out_1x1,
    )
    from convcli.ops.explain import explain_output
    from convcli.ops.padding import pad_input
    from convcli.ops.pooling import (
        adaptive_avg_pool2d,
        adaptive_max_pool2d,
        avg_pool2d,
        max_pool2d,
    )
    from convcli.ops.transposed import conv_transpose2d
    from convcli.ops.verify import verify_im2col
    from convcli.shapes.geometry import ConvGeometry, output_size, resolve_geometry
    from convcli.shapes.layer import LayerShapes, describe_layer, separable_cost
    from convcli.tensorio.files import load_tensor, save_tensor

__all__ = [
    "ConvGeometry",
    "ConvcliError",
    "LayerShapes",
    "TensorFileError",
    "__version__",
    "adaptive_avg_pool2d",
    "adaptive_max_pool2d",
    "avg_pool2d",
    "conv2d",
    "conv_transpose2d",
    "corr2d",
    "corr2d_multi_in",
    "corr2d_multi_in_out",
    "corr2d_multi_in_out_1x1",
    "describe_layer",
    "explain_output",
    "load_tensor",
    "max_pool2d",
    "output_size",
    "pad_input",
    "resolve_geometry",
    "save_tensor",
    "separable_cost",
    "verify_im2col",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'convcli' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
