"""What ``pool`` shows, and the ``shapes --transposed`` / ``shapes --pool`` explanations.

Builds renderables and JSON payloads from ``convcli.render.widgets``'s pieces; nothing
here prints.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from convcli.ops.modes import RunResult
from convcli.ops.numerics import array_stats
from convcli.render.widgets import (
    Renderable,
    TensorRow,
    render_array,
    render_heat_legend,
    render_line,
    render_shapes,
    render_stats,
)
from convcli.shapes.pooling import PoolOptions

__all__ = ["pool_report"]


def _describe_pool(options: PoolOptions) -> str:
    if options.kind.startswith("adaptive"):
        return f"output size {options.output_size}"
    parts = [f"kernel {options.kernel_size}"]
    parts.append("stride = kernel" if options.stride is None else f"stride {options.stride}")
    if options.padding not in (0, (0, 0)):
        parts.append(f"padding {options.padding}")
    if options.kind == "max" and options.dilation not in (1, (1, 1)):
        parts.append(f"dilation {options.dilation}")
    if options.ceil_mode:
        parts.append("ceil mode")
    return ", ".join(parts)


def pool_report(
    result: RunResult,
    x: npt.NDArray[np.generic],
    source: str,
    options: PoolOptions,
    *,
    full: bool = False,
    heatmap: bool = False,
) -> list[Renderable]:
    """The ``pool`` report: input and output with named axes, the method, the result, stats.

    Examples
    --------
    >>> from convcli.ops.pooling import run_pool
    >>> x = np.arange(16.0).reshape(1, 4, 4)
    >>> options = PoolOptions("max", kernel_size=2)
    >>> len(pool_report(run_pool(x, options), x, "x.npy", options))
    4
    """
    rows = [
        TensorRow("input", x.shape, result.input_axes, source, str(x.dtype)),
        TensorRow("output", result.output.shape, result.output_axes, "", str(result.output.dtype)),
    ]
    report: list[Renderable] = [
        render_shapes(rows),
        render_line(f"computed with {result.method}; {_describe_pool(options)}"),
        render_array(result.output, result.output_axes, full=full, heatmap=heatmap),
    ]
    if heatmap:
        report.append(render_heat_legend(result.output))
    if x.dtype.kind in "fc" and array_stats(x).non_finite:
        report.append(render_stats(x, label="input"))
    report.append(render_stats(result.output))
    return report
