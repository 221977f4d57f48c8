"""The gradients of a convolution computed on the padded width: no im2col per tap.

``dW[o, c, u, v] = sum X[c, i*s + u*d, j*s + v*d] * dY[o, i, j]`` over samples and
positions. Split the padded input into its stride phases (``X[r::s]``: at stride 1 the
padded input itself) and lay each phase out flat, one row per channel, samples end to
end. Tap ``(u, v)`` then reads one contiguous run of every row, starting ``q_h*W + q_w``
along it (``q = u*d // s`` in the phase grid of width ``W``), against ``dY`` laid out on
the same grid with zeros in the columns and rows no output has (``dy_grid``). So each
tap is a matrix product on views, without the copy per tap im2col makes:

- dense and grouped: the ``k_w`` taps of a kernel row are ``k_w`` shifted copies of the
  phases (rows ``(c, v)``); the ``k_h`` kernel rows are then views of those copies at
  ``q_h*W``: ``k_h`` products ``dY (c_o/g, K) @ copies (K, c_i/g * k_w)`` per group, in
  cache-sized chunks of ``K`` so that ``dY``'s chunk is read once for all ``k_h`` rows;
- depthwise (one input channel per group): per tap, one dot product per channel, all
  channels in one stacked ``matmul`` on the views.

``dX`` runs the other way on the same grid (``input_grad_phases``, col2im): one product
``K^T @ dY`` per chunk, each tap's rows added at the tap's offset of its phase.

The zero columns of ``dY`` multiply input values no tap of a real output reads there:
zero when the value is finite, NaN when it is inf or NaN, and a NaN never leaves a sum.
So a finite ``dW`` met none and is right, and the caller recomputes any other with
im2col. ``dX``'s zero columns meet the kernel, which the caller checks first
(``all_finite``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "WeightGradPlan",
    "all_finite",
    "dy_grid",
    "input_grad_phases",
    "input_grad_workspace",
    "kept_buffer",
    "plan_weight_grad",
    "weight_grad_phases",
]

Array = npt.NDArray[Any]
# Columns per product (docs/performance.md, "The backward pass"): with few channels a
# chunk of dY and of the copies stays in cache for all k_h kernel rows and the products
# stay under OpenBLAS's small-matrix size (10**6 multiply-adds), 2.7x faster than whole
# rows for the rgb case; with many channels the products are long enough either way.
_CHUNK = 4096


# Each thread keeps the working buffers of its last backward pass (up to this many bytes
# in all) for its next one of the same shapes: fresh pages cost a fault each on first
# touch (glibc hands large blocks back when they are freed), which took 10 of the batch
# case's 35 ms. Never results: only buffers that no returned array can view.
_KEEP_BYTES = 64 * 2**20
_KEPT = threading.local()


def kept_buffer(name: str, shape: tuple[int, ...], dtype: np.dtype[Any]) -> Array:
    """An uninitialised ``shape``/``dtype`` buffer: this thread's ``name`` from its last
    call when that had the same shape and dtype, else a new one (kept if it fits).

    Examples
    --------
    >>> a = kept_buffer("example", (2, 3), np.dtype(np.int64))
    >>> kept_buffer("example", (2, 3), np.dtype(np.int64)) is a
    True
    """
    kept: dict[str, Array] = _KEPT.__dict__.setdefault("buffers", {})
    old = kept.get(name)
    if old is not None and old.shape == shape and old.dtype == dtype:
        return old
    kept.pop(name, None)
    del old  # freed before the new one is allocated
    buffer = np.empty(shape, dtype=dtype)
    if sum(b.nbytes for b in kept.values()) + buffer.nbytes <= _KEEP_BYTES:
        kept[name] = buffer
    return buffer


@dataclass(frozen=True)
class WeightGradPlan:
    """The phase grid (``height`` x ``width`` per sample), the products' length ``terms``
    and the tiling of the tap copies: ``tile`` columns per copy (plus the kernel rows'
    overlap), ``chunk`` columns per product; ``workspace_bytes`` counts every buffer."""

    height: int
    width: int
    terms: int
    tile: int
    chunk: int
    workspace_bytes: int


def plan_weight_grad(
    n: int,
    c_i: int,
    c_o: int,
    kernel_shape: tuple[int, ...],
    out_size: tuple[int, int],
    stride: tuple[int, int],
    dilation: tuple[int, int],
    groups: int,
    itemsize: int,
    tile_bytes: int,
) -> WeightGradPlan:
    """Size ``weight_grad_phases``' buffers from shapes alone.

    Examples
    --------
    >>> p = plan_weight_grad(1, 64, 64, (64, 64, 3, 3), (56, 56), (1, 1), (1, 1), 1, 4, 2**25)
    >>> p.height, p.width, p.terms
    (58, 58, 3246)
    """
    _, c_ig, k_h, k_w = kernel_shape
    (m_h, m_w), (s_h, s_w), (d_h, d_w) = out_size, stride, dilation
    q_h, q_w = (k_h - 1) * d_h // s_h, (k_w - 1) * d_w // s_w
    height, width = m_h + q_h, m_w + q_w
    phases = len({u * d_h % s_h for u in range(k_h)}) * len({v * d_w % s_w for v in range(k_w)})
    terms = (n - 1) * height * width + (m_h - 1) * width + m_w
    depthwise = c_ig == 1 and groups > 1
    chunk = _CHUNK
    overlap = q_h * width
    copy_row = c_i * k_w * itemsize
    tile = max(chunk, tile_bytes // copy_row - overlap)
    tile = terms if depthwise else min(tile, terms)
    copies = 0 if depthwise or k_w == 1 else copy_row * (tile + overlap)
    grid = n * height * width * itemsize
    workspace = (
        phases * c_i * grid  # the phases, flat
        + c_o * grid  # dY on the grid
        + copies  # one tile of the taps' shifted copies
        + c_o * c_ig * k_h * k_w * itemsize * 2  # the gradient and one product
    )
    return WeightGradPlan(height, width, terms, tile, chunk, workspace)


def dy_grid(
    dy: Array,
    kernel_shape: tuple[int, ...],
    stride: tuple[int, int],
    dilation: tuple[int, int],
    compute: np.dtype[Any],
) -> Array:
    """``dY`` ``(n, c_o, m_h, m_w)`` on the phase grid, ``(c_o, n * height * width)`` in
    ``compute``, zero where no output is: what both gradients read.

    Examples
    --------
    >>> dy_grid(np.ones((1, 1, 2, 2)), (1, 1, 2, 2), (1, 1), (1, 1), np.dtype(int)).tolist()
    [[1, 1, 0, 1, 1, 0, 0, 0, 0]]
    """
    n, c_o, m_h, m_w = dy.shape
    k_h, k_w = kernel_shape[2:]
    height = m_h + (k_h - 1) * dilation[0] // stride[0]
    width = m_w + (k_w - 1) * dilation[1] // stride[1]
    if (height, width) == (m_h, m_w):  # a 1x1 kernel: dY itself (one sample: no copy)
        return np.ascontiguousarray(dy.transpose(1, 0, 2, 3), dtype=compute).reshape(c_o, -1)
    grid = kept_buffer("grid", (c_o, n, height, width), compute)
    grid[:, :, m_h:] = 0
    grid[:, :, :m_h, m_w:] = 0
    grid[:, :, :m_h, :m_w] = dy.transpose(1, 0, 2, 3)
    return grid.reshape(c_o, n * height * width)


def all_finite(x: Array) -> bool:
    """Whether every value of ``x`` is finite (integers always are): its sum is finite
    exactly when they are, unless it overflows (then the caller's other path runs, which
    is right either way).

    Examples
    --------
    >>> all_finite(np.array([1.0, 2.0])), all_finite(np.array([1.0, np.inf]))
    (True, False)
    """
    if x.dtype.kind not in "fc":
        return True
    with np.errstate(all="ignore"):
        return bool(np.isfinite(np.sum(x)))


def weight_grad_phases(
    xs: Array,
    dy: Array,
    kernel_shape: tuple[int, ...],
    stride: tuple[int, int],
    dilation: tuple[int, int],
    groups: int,
    compute: np.dtype[Any],
    tile_bytes: int,
    grid: Array | None = None,
) -> Array:
    """``dW`` (``kernel_shape``, in ``compute``) of the padded input ``xs``
    (``(n, c_i, H, W)``, already conjugated for complex) and ``dy`` ``(n, c_o, m_h, m_w)``:
    right whenever it comes out finite (the module's docstring says why).

    Examples
    --------
    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> g = weight_grad_phases(x, np.ones((1, 1, 2, 2)), (1, 1, 3, 3), (1, 1), (1, 1), 1,
    ...                        np.dtype(np.float64), 2**20)
    >>> g[0, 0].astype(int).tolist()
    [[10, 14, 18], [26, 30, 34], [42, 46, 50]]
    """
    n, c_i = xs.shape[:2]
    c_o, c_ig, k_h, k_w = kernel_shape
    c_og = c_o // groups
    m_h, m_w = dy.shape[2:]
    (s_h, s_w), (d_h, d_w) = stride, dilation
    plan = plan_weight_grad(
        n, c_i, c_o, tuple(kernel_shape), (m_h, m_w), stride, dilation, groups,
        compute.itemsize, tile_bytes,
    )  # fmt: skip
    height, width, terms = plan.height, plan.width, plan.terms
    phases = _phases(xs, stride, dilation, kernel_shape, height, width, compute)
    if grid is None:
        grid = dy_grid(dy, kernel_shape, stride, dilation, compute)
    dyf = grid[:, :terms]
    rows_at = [divmod(u * d_h, s_h) for u in range(k_h)]  # (q_h, residue)
    cols_at = [divmod(v * d_w, s_w) for v in range(k_w)]
    grad = np.empty((c_o, c_ig, k_h, k_w), dtype=compute)
    if c_ig == 1 and groups > 1:
        per_group = dyf.reshape(groups, c_og, terms)
        for u, (q_h, r_h) in enumerate(rows_at):
            for v, (q_w, r_w) in enumerate(cols_at):
                start = q_h * width + q_w
                tap = phases[(r_h, r_w)][:, start : start + terms, None]
                grad[:, 0, u, v] = np.matmul(per_group, tap).reshape(c_o)
        return grad
    by_residue: dict[int, list[int]] = {}
    for u, (_q, r_h) in enumerate(rows_at):
        by_residue.setdefault(r_h, []).append(u)
    sums = np.zeros((k_h, c_o, c_ig * k_w), dtype=compute)
    part = np.empty((c_og, c_ig * k_w), dtype=compute)
    for r_h, kernel_rows in by_residue.items():
        overlap = max(rows_at[u][0] for u in kernel_rows) * width
        # one kernel column: the phase itself is the copy
        tile = terms if k_w == 1 else plan.tile
        shape = (c_i, k_w, tile + overlap)
        buffer = None if k_w == 1 else kept_buffer("copies", shape, compute)
        for t0 in range(0, terms, tile):
            t1 = min(terms, t0 + tile)
            length = t1 - t0 + overlap
            if buffer is None:
                ((q_w, r_w),) = cols_at
                flat = phases[(r_h, r_w)][:, t0 + q_w : t0 + q_w + length]
            else:
                copies = buffer[:, :, :length]
                for v, (q_w, r_w) in enumerate(cols_at):
                    copies[:, v] = phases[(r_h, r_w)][:, t0 + q_w : t0 + q_w + length]
                flat = copies.reshape(c_i * k_w, length)
            for k0 in range(t0, t1, plan.chunk):
                k1 = min(t1, k0 + plan.chunk)
                for g in range(groups):
                    d = dyf[g * c_og : (g + 1) * c_og, k0:k1]
                    rows = flat[g * c_ig * k_w : (g + 1) * c_ig * k_w]
                    for u in kernel_rows:
                        a = rows_at[u][0] * width + k0 - t0
                        np.matmul(d, rows[:, a : a + k1 - k0].T, out=part)
                        target = sums[u, g * c_og : (g + 1) * c_og]
                        np.add(target, part, out=target)
    grad[...] = sums.reshape(k_h, c_o, c_ig, k_w).transpose(1, 2, 0, 3)
    return grad


def _phases(
    xs: Array,
    stride: tuple[int, int],
    dilation: tuple[int, int],
    kernel_shape: tuple[int, ...],
    height: int,
    width: int,
    compute: np.dtype[Any],
) -> dict[tuple[int, int], Array]:
    """The stride phases the taps read, each ``(c_i, n * height * width)``: phase
    ``(r_h, r_w)`` holds ``xs[..., r_h::s_h, r_w::s_w]``, zero-filled past the input."""
    n, c_i = xs.shape[:2]
    (s_h, s_w), (d_h, d_w) = stride, dilation
    k_h, k_w = kernel_shape[2:]
    residues_h = sorted({u * d_h % s_h for u in range(k_h)})
    residues_w = sorted({v * d_w % s_w for v in range(k_w)})
    phases = {}
    for r_h in residues_h:
        for r_w in residues_w:
            src = xs[:, :, r_h::s_h, r_w::s_w][:, :, :height, :width]
            if src.shape[2:] == (height, width) and n == 1 and src.dtype == compute:
                plane = np.ascontiguousarray(src.transpose(1, 0, 2, 3))
            else:
                shape = (c_i, n, height, width)
                plane = kept_buffer(f"phase {r_h} {r_w}", shape, compute)
                rows, cols = src.shape[2:]
                plane[:, :, rows:] = 0
                plane[:, :, :rows, cols:] = 0
                plane[:, :, :rows, :cols] = src.transpose(1, 0, 2, 3)
            phases[(r_h, r_w)] = plane.reshape(c_i, n * height * width)
    return phases


def input_grad_workspace(
    n: int,
    c_i: int,
    c_o: int,
    kernel_shape: tuple[int, ...],
    out_size: tuple[int, int],
    padded_size: tuple[int, int],
    stride: tuple[int, int],
    dilation: tuple[int, int],
    itemsize: int,
) -> int:
    """The bytes ``input_grad_phases`` allocates: ``dY`` on the phase grid, the phases of
    the gradient, one chunk of products, the kernel transposed and the padded gradient
    (twice when samples or phases are rearranged into it).

    Examples
    --------
    >>> input_grad_workspace(1, 3, 16, (16, 3, 5, 5), (8, 8), (12, 12), (1, 1), (1, 1), 4)
    45072
    """
    _, c_ig, k_h, k_w = kernel_shape
    (m_h, m_w), (s_h, s_w), (d_h, d_w) = out_size, stride, dilation
    height, width = m_h + (k_h - 1) * d_h // s_h, m_w + (k_w - 1) * d_w // s_w
    grid = n * height * width
    terms = (n - 1) * height * width + (m_h - 1) * width + m_w
    phases = len({u * d_h % s_h for u in range(k_h)}) * len({v * d_w % s_w for v in range(k_w)})
    padded = n * c_i * padded_size[0] * padded_size[1]
    copies = 1 if n == 1 and stride == (1, 1) else 2
    products = c_ig * k_h * k_w * (min(_CHUNK, terms) + c_o)
    values = c_o * grid + phases * c_i * grid + products + copies * padded
    return values * itemsize


def input_grad_phases(
    dy: Array,
    kernel: Array,
    padded_size: tuple[int, int],
    stride: tuple[int, int],
    dilation: tuple[int, int],
    groups: int,
    compute: np.dtype[Any],
    grid: Array | None = None,
) -> Array:
    """The padded input's gradient ``(n, c_i, H, W)`` in ``compute``: per chunk of the
    phase grid, ``Z = K^T (c_i/g * taps, c_o/g) @ dY (c_o/g, chunk)``, then each tap's rows
    of ``Z`` added at the tap's offset of its phase (col2im on the padded width). The
    kernel (already conjugated for complex) must be finite: ``dY``'s zero columns meet it.

    Examples
    --------
    >>> g = input_grad_phases(np.ones((1, 1, 2, 2)), np.ones((1, 1, 2, 2)), (3, 3), (1, 1),
    ...                       (1, 1), 1, np.dtype(np.float64))
    >>> g[0, 0].astype(int).tolist()
    [[1, 2, 1], [2, 4, 2], [1, 2, 1]]
    """
    n, c_o, m_h, m_w = dy.shape
    _, c_ig, k_h, k_w = kernel.shape
    c_i, c_og = c_ig * groups, c_o // groups
    (s_h, s_w), (d_h, d_w) = stride, dilation
    height = m_h + (k_h - 1) * d_h // s_h
    width = m_w + (k_w - 1) * d_w // s_w
    terms = (n - 1) * height * width + (m_h - 1) * width + m_w
    dyf = dy_grid(dy, kernel.shape, stride, dilation, compute) if grid is None else grid
    taps = [(u, v) for u in range(k_h) for v in range(k_w)]
    offsets = []
    for u, v in taps:
        (q_h, r_h), (q_w, r_w) = divmod(u * d_h, s_h), divmod(v * d_w, s_w)
        offsets.append(((r_h, r_w), q_h * width + q_w))
    phases = {key: np.zeros((c_i, n * height * width), dtype=compute) for key, _ in offsets}
    # (c_i/g * taps, c_o/g) per group: rows (channel, tap) of Z.
    w_t = [
        np.ascontiguousarray(kernel[g * c_og : (g + 1) * c_og].reshape(c_og, -1).T, dtype=compute)
        for g in range(groups)
    ]
    if len(taps) == 1:  # a 1x1 kernel: one product per group, straight into place
        ((key, offset),) = offsets
        for g in range(groups):
            target = phases[key][g * c_ig : (g + 1) * c_ig, offset : offset + terms]
            np.matmul(w_t[g], dyf[g * c_og : (g + 1) * c_og, :terms], out=target)
        return _place(phases, n, c_i, padded_size, stride, height, width, compute)
    part = np.empty((c_ig * len(taps), min(_CHUNK, terms)), dtype=compute)
    for k0 in range(0, terms, _CHUNK):
        k1 = min(terms, k0 + _CHUNK)
        z = part[:, : k1 - k0]
        for g in range(groups):
            np.matmul(w_t[g], dyf[g * c_og : (g + 1) * c_og, k0:k1], out=z)
            rows = z.reshape(c_ig, len(taps), k1 - k0)
            for t, (key, offset) in enumerate(offsets):
                target = phases[key][g * c_ig : (g + 1) * c_ig, offset + k0 : offset + k1]
                np.add(target, rows[:, t], out=target)
    return _place(phases, n, c_i, padded_size, stride, height, width, compute)


def _place(
    phases: dict[tuple[int, int], Array],
    n: int,
    c_i: int,
    padded_size: tuple[int, int],
    stride: tuple[int, int],
    height: int,
    width: int,
    compute: np.dtype[Any],
) -> Array:
    """The padded gradient ``(n, c_i, H, W)`` from its phases."""
    h_p, w_p = padded_size
    s_h, s_w = stride
    if stride == (1, 1):  # one phase, the padded input's own grid
        plane = phases[(0, 0)].reshape(c_i, n, h_p, w_p)
        return np.ascontiguousarray(plane.transpose(1, 0, 2, 3))
    grad = np.zeros((n, c_i, h_p, w_p), dtype=compute)
    for (r_h, r_w), plane in phases.items():
        dst = grad[:, :, r_h::s_h, r_w::s_w]
        rows_h, cols_w = min(dst.shape[2], height), min(dst.shape[3], width)
        src = plane.reshape(c_i, n, height, width)[:, :, :rows_h, :cols_w]
        dst[:, :, :rows_h, :cols_w] = src.transpose(1, 0, 2, 3)
    return grad
