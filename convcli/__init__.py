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

# The public names, by the module that defines them: the one list. They load on first use,
# so `convcli --help` does not pay for numpy, and __all__ derives from it. The TYPE_CHECKING
# imports repeat it for type checkers (`name as name`: an explicit re-export);
# tests/test_api.py checks that the two agree.
_EXPORTS: dict[str, tuple[str, ...]] = {
    "convcli.errors": (
        "BudgetError",
        "ConvcliError",
        "DependencyError",
        "EnvironmentFailureError",
        "NumericError",
        "OptionError",
        "PositionError",
        "ShapeError",
        "TensorFileError",
    ),
    "convcli.shapes.cost": ("training_cost", "vary_layer"),
    "convcli.shapes.geometry": ("ConvGeometry", "output_size", "resolve_geometry"),
    "convcli.shapes.layer": ("LayerShapes", "describe_layer", "separable_cost"),
    "convcli.shapes.options": ("ConvOptions",),
    "convcli.shapes.graph": ("Node", "graph_spec"),
    "convcli.shapes.netspec": ("parse_spec",),
    "convcli.shapes.network": ("trace_cell", "walk_network"),
    "convcli.shapes.solve": ("solve_conv_axis", "solve_pool_axis", "solve_transposed_axis"),
    "convcli.shapes.training": ("training_memory",),
    "convcli.ops.compose": ("check_composition", "compose_kernels", "separability"),
    "convcli.ops.conv": (
        "conv2d",
        "corr2d",
        "corr2d_multi_in",
        "corr2d_multi_in_out",
        "corr2d_multi_in_out_1x1",
    ),
    "convcli.ops.explain": ("explain_output",),
    "convcli.ops.layout": ("to_nchw", "to_oihw"),
    "convcli.ops.learn": ("kernel_gradient", "learn_kernel"),
    "convcli.ops.grad": (
        "ConvGrads",
        "conv2d_backward",
        "conv_transpose2d_backward",
        "pool2d_backward",
    ),
    "convcli.ops.padding": ("pad_input",),
    "convcli.ops.pooling": (
        "adaptive_avg_pool2d",
        "adaptive_max_pool2d",
        "avg_pool2d",
        "max_pool2d",
    ),
    "convcli.ops.transposed": ("conv_transpose2d",),
    "convcli.ops.ulp": ("ulp_gap",),
    "convcli.ops.verify": ("verify_im2col",),
    "convcli.tensorio.files": ("load_tensor", "save_tensor"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = ["__version__", *sorted(_MODULE_OF)]

if TYPE_CHECKING:
    from convcli.errors import BudgetError as BudgetError
    from convcli.errors import ConvcliError as ConvcliError
    from convcli.errors import DependencyError as DependencyError
    from convcli.errors import EnvironmentFailureError as EnvironmentFailureError
    from convcli.errors import NumericError as NumericError
    from convcli.errors import OptionError as OptionError
    from convcli.errors import PositionError as PositionError
    from convcli.errors import ShapeError as ShapeError
    from convcli.errors import TensorFileError as TensorFileError
    from convcli.ops.compose import check_composition as check_composition
    from convcli.ops.compose import compose_kernels as compose_kernels
    from convcli.ops.compose import separability as separability
    from convcli.ops.conv import conv2d as conv2d
    from convcli.ops.conv import corr2d as corr2d
    from convcli.ops.conv import corr2d_multi_in as corr2d_multi_in
    from convcli.ops.conv import corr2d_multi_in_out as corr2d_multi_in_out
    from convcli.ops.conv import corr2d_multi_in_out_1x1 as corr2d_multi_in_out_1x1
    from convcli.ops.explain import explain_output as explain_output
    from convcli.ops.grad import ConvGrads as ConvGrads
    from convcli.ops.grad import conv2d_backward as conv2d_backward
    from convcli.ops.grad import conv_transpose2d_backward as conv_transpose2d_backward
    from convcli.ops.grad import pool2d_backward as pool2d_backward
    from convcli.ops.layout import to_nchw as to_nchw
    from convcli.ops.layout import to_oihw as to_oihw
    from convcli.ops.learn import kernel_gradient as kernel_gradient
    from convcli.ops.learn import learn_kernel as learn_kernel
    from convcli.ops.padding import pad_input as pad_input
    from convcli.ops.pooling import adaptive_avg_pool2d as adaptive_avg_pool2d
    from convcli.ops.pooling import adaptive_max_pool2d as adaptive_max_pool2d
    from convcli.ops.pooling import avg_pool2d as avg_pool2d
    from convcli.ops.pooling import max_pool2d as max_pool2d
    from convcli.ops.transposed import conv_transpose2d as conv_transpose2d
    from convcli.ops.ulp import ulp_gap as ulp_gap
    from convcli.ops.verify import verify_im2col as verify_im2col
    from convcli.shapes.cost import training_cost as training_cost
    from convcli.shapes.cost import vary_layer as vary_layer
    from convcli.shapes.geometry import ConvGeometry as ConvGeometry
    from convcli.shapes.geometry import output_size as output_size
    from convcli.shapes.geometry import resolve_geometry as resolve_geometry
    from convcli.shapes.graph import Node as Node
    from convcli.shapes.graph import graph_spec as graph_spec
    from convcli.shapes.layer import LayerShapes as LayerShapes
    from convcli.shapes.layer import describe_layer as describe_layer
    from convcli.shapes.layer import separable_cost as separable_cost
    from convcli.shapes.netspec import parse_spec as parse_spec
    from convcli.shapes.network import trace_cell as trace_cell
    from convcli.shapes.network import walk_network as walk_network
    from convcli.shapes.options import ConvOptions as ConvOptions
    from convcli.shapes.solve import solve_conv_axis as solve_conv_axis
    from convcli.shapes.solve import solve_pool_axis as solve_pool_axis
    from convcli.shapes.solve import solve_transposed_axis as solve_transposed_axis
    from convcli.shapes.training import training_memory as training_memory
    from convcli.tensorio.files import load_tensor as load_tensor
    from convcli.tensorio.files import save_tensor as save_tensor


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'convcli' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
