"""``conv2d`` in chunks that report progress: batch items times blocks of output channels.

Pure numpy, no printing: ``progress(done, total)`` is called after each chunk, and the
CLI turns it into a progress bar. Each output value is computed by one ``conv2d`` call
over all of its input channels, so a chunked result is the unchunked one (up to the
summation order a matrix product of another size may pick).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from convcli.errors import ConvcliError
from convcli.ops.conv import conv2d
from convcli.ops.numerics import accumulation_for, exact_integer_bound
from convcli.shapes.geometry import IntOrPair, PaddingArg, resolve_geometry
from convcli.shapes.layer import check_conv_shapes

__all__ = ["CHUNK_MACS", "Progress", "conv2d_chunked"]

# About a tenth of a second of multiply-adds: a bar that moves, few extra calls.
CHUNK_MACS = 2**27
# Each block of output channels repeats the im2col of its input: with blocks of at
# least this many channels that costs a few percent, not a multiple.
MIN_BLOCK_CHANNELS = 32
Progress = Callable[[int, int], None]
Array = npt.NDArray[Any]


def conv2d_chunked(
    x: Array,
    weight: Array,
    bias: Array | None,
    *,
    stride: IntOrPair = 1,
    padding: PaddingArg = 0,
    dilation: IntOrPair = 1,
    groups: int = 1,
    progress: Progress,
    chunk_macs: int = CHUNK_MACS,
    out: Array | None = None,
    **more: Any,
) -> Array:
    """``conv2d(x, weight, bias, ...)``, calling ``progress(done, total)`` per chunk.

    Problems of at most two chunks run in one call. Invalid arguments are left to
    ``conv2d``, so the messages are the same as without progress. ``more`` goes to
    ``conv2d`` as it is (options that act per channel and per item, like a padding mode).
    ``out``, as for ``conv2d``, receives the result chunk by chunk (e.g. a memory-mapped
    ``.npy`` file being written).

    Examples
    --------
    >>> seen = []
    >>> y = conv2d_chunked(np.ones((3, 1, 3, 3)), np.ones((64, 1, 2, 2)), None,
    ...                    progress=lambda done, total: seen.append((done, total)), chunk_macs=16)
    >>> y.shape, float(y.sum()), seen[-1]
    ((3, 64, 2, 2), 3072.0, (6, 6))
    """
    options: dict[str, Any] = {"stride": stride, "padding": padding, "dilation": dilation}
    try:
        batched = x.ndim == 4
        xb = x if batched else x[None]
        n, _c_i, h, w = xb.shape
        c_o, c_per_group, k_h, k_w = weight.shape
        check_conv_shapes(xb.shape, weight.shape, None if bias is None else bias.shape, groups)
        geometry = resolve_geometry((h, w), (k_h, k_w), **options)
        accumulation = accumulation_for(xb, weight, bias)
        if accumulation.is_integer:  # refused as a whole, as conv2d would
            exact_integer_bound(xb, weight, bias, c_per_group * k_h * k_w)
    except ConvcliError:
        return conv2d(x, weight, bias, groups=groups, out=out, **options, **more)
    m_h, m_w = geometry.out_size
    per_channel = m_h * m_w * c_per_group * k_h * k_w  # MACs of one output channel, one item
    if n * c_o * per_channel <= 2 * chunk_macs:
        result = conv2d(x, weight, bias, groups=groups, out=out, **options, **more)
        progress(1, 1)
        return result
    # A block is whole groups: output channels of one group read the same input channels.
    c_o_per_group = c_o // groups
    unit = c_o_per_group if groups > 1 else 1
    step = max(1, chunk_macs // (unit * per_channel), -(-MIN_BLOCK_CHANNELS // unit))
    units = groups if groups > 1 else c_o
    blocks = [(start, min(units, start + step)) for start in range(0, units, step)]
    if out is None:
        y = np.empty((n, c_o, m_h, m_w), dtype=accumulation.out)
    else:
        y = out if batched else out[None]
    total, done = n * len(blocks), 0
    progress(0, total)
    for item in range(n):
        for first, last in blocks:
            block = slice(first * unit, last * unit)
            if groups > 1:
                channels = xb[item : item + 1, first * c_per_group : last * c_per_group]
                block_groups = last - first
            else:
                channels, block_groups = xb[item : item + 1], 1
            # A block of whole output channels of one item is contiguous in y: written in place.
            conv2d(
                channels,
                weight[block],
                None if bias is None else bias[block],
                groups=block_groups,
                out=y[item : item + 1, block],
                **options,
                **more,
            )
            done += 1
            progress(done, total)
    return y if batched else y[0]
