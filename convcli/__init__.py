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
    "conv2d": "convcli.core",
    "corr2d": "convcli.core",
    "corr2d_multi_in": "convcli.core",
    "corr2d_multi_in_out": "convcli.core",
    "corr2d_multi_in_out_1x1": "convcli.core",
    "ConvGeometry": "convcli.geometry",
    "output_size": "convcli.geometry",
    "resolve_geometry": "convcli.geometry",
    "LayerShapes": "convcli.layer",
    "describe_layer": "convcli.layer",
    "separable_cost": "convcli.layer",
    "explain_output": "convcli.explain",
    "verify_im2col": "convcli.checks",
    "pad_input": "convcli.padding",
    "TensorFileError": "convcli.tensorio",
    "load_tensor": "convcli.tensorio",
    "save_tensor": "convcli.tensorio",
}

if TYPE_CHECKING:
    from convcli.checks import verify_im2col
    from convcli.core import (
        conv2d,
        corr2d,
        corr2d_multi_in,
        corr2d_multi_in_out,
        corr2d_multi_in_out_1x1,
    )
    from convcli.explain import explain_output
    from convcli.geometry import ConvGeometry, output_size, resolve_geometry
    from convcli.layer import LayerShapes, describe_layer, separable_cost
    from convcli.padding import pad_input
    from convcli.tensorio import TensorFileError, load_tensor, save_tensor

__all__ = [
    "ConvGeometry",
    "LayerShapes",
    "TensorFileError",
    "__version__",
    "conv2d",
    "corr2d",
    "corr2d_multi_in",
    "corr2d_multi_in_out",
    "corr2d_multi_in_out_1x1",
    "describe_layer",
    "explain_output",
    "load_tensor",
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
