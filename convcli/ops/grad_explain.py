"""Where one gradient (梯度) comes from, and the backward pass checked a second way.

Pure numpy. ``explain_grad`` lists the terms of one cell of ``dX`` (every output that read
the input cell, with the kernel tap it used: ``dX = sum dY * K``) or of ``dW`` (every
position the tap visited: ``dW = sum X * dY``). ``verify_grad`` computes the gradients
again through im2col (``Y = W @ cols``, so ``dcols = W^T @ dY`` scattered back onto the
input is ``dX``, and ``dW = dY @ cols^T``) and compares them with ``convcli grad``'s
transposed convolution and correlation, and ``db`` with the sum of ``dY``;
``verify_transposed_grad`` does the same for ``conv_transpose2d``, whose ``dX`` is the
ordinary correlation ``conv2d(dY, K)`` (``K`` read as conv2d's kernel, same stride,
padding, dilation and groups): ``W @ cols(dY)``, and ``dW = X @ cols(dY)^T``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from convcli.errors import BudgetError, PositionError
from convcli.i18n import _
from convcli.ops.grad import ConvGrads, conv_grads, transposed_grads
from convcli.ops.numerics import accumulation_for
from convcli.ops.padding import flip_kernel, pad_input, source_index
from convcli.ops.verify import MAX_UNFOLDED_VALUES, Comparison, compare, default_atol, unfold
from convcli.shapes.geometry import resolve_geometry
from convcli.shapes.layer import lift_to_conv2d
from convcli.shapes.options import ConvOptions
from convcli.shapes.transposed import TransposedOptions, options_geometry

__all__ = [
    "GradCheck",
    "GradExplanation",
    "GradTerm",
    "explain_grad",
    "verify_grad",
    "verify_transposed_grad",
]

Array = npt.NDArray[Any]
Index = tuple[int, ...]
TARGETS = ("input", "weight")


@dataclass(frozen=True)
class GradTerm:
    """One term of a gradient: ``dy * factor``.

    ``output`` indexes ``dY``, ``tap`` the kernel and ``cell`` the input (each in its
    file's rank); ``factor`` is the kernel's value (a ``dX`` term) or the input's (a
    ``dW`` term); ``padded`` is the padded position when the input cell is read through
    a reflect/replicate/circular copy.
    """

    output: Index
    tap: Index
    cell: Index
    dy: Any
    factor: Any
    product: Any
    padded: tuple[int, int] | None = None


@dataclass(frozen=True)
class GradExplanation:
    """One cell of ``dX`` (``target="input"``) or ``dW`` (``"weight"``) term by term.

    ``total`` is the terms' sum, ``computed`` the whole backward pass's value there;
    ``zero_reads`` counts the positions where the tap read zero padding (no term).
    """

    target: str
    index: Index
    terms: tuple[GradTerm, ...]
    total: Any
    computed: Any
    zero_reads: int
    transposed: bool
    grads: ConvGrads


def explain_grad(
    x: Array,
    kernel: Array,
    bias: Array | None,
    options: ConvOptions | TransposedOptions,
    target: str,
    index: Index,
    grad_output: Array | None = None,
) -> GradExplanation:
    """The terms of ``dX[index]`` (``target="input"``) or ``dW[index]`` (``"weight"``).

    ``index`` has the rank of the input (or the kernel) as given; ``options`` a
    ``TransposedOptions`` explains ``conv_transpose2d``'s backward pass.

    Examples
    --------
    >>> x = np.arange(9).reshape(3, 3)
    >>> e = explain_grad(x, np.array([[0, 1], [2, 3]]), None, ConvOptions(), "input", (1, 1))
    >>> [(t.output, t.tap, int(t.product)) for t in e.terms]
    [((0, 0), (1, 1), 3), ((0, 1), (1, 0), 2), ((1, 0), (0, 1), 1), ((1, 1), (0, 0), 0)]
    >>> int(e.total), int(e.computed)
    (6, 6)
    >>> e = explain_grad(x, np.array([[0, 1], [2, 3]]), None, ConvOptions(), "weight", (0, 1))
    >>> [int(t.factor) for t in e.terms], int(e.total)
    ([1, 2, 4, 5], 12)
    """
    transposed = isinstance(options, TransposedOptions)
    if transposed:
        assert isinstance(options, TransposedOptions)
        grads = transposed_grads(x, kernel, bias, options, grad_output)
    else:
        assert isinstance(options, ConvOptions)
        grads = conv_grads(x, kernel, bias, options, grad_output)
    shape = x.shape if target == "input" else kernel.shape
    _check_index(target, index, shape)
    if transposed:
        assert isinstance(options, TransposedOptions)
        terms, zero_reads = _transposed_terms(x, kernel, grads.grad_output, options, target, index)
    else:
        assert isinstance(options, ConvOptions)
        terms, zero_reads = _conv_terms(x, kernel, grads.grad_output, options, target, index)
    terms.sort(key=lambda t: (t.output, t.tap, t.cell))
    acc = accumulation_for(x, kernel, grads.grad_output)
    with np.errstate(all="ignore"):
        total = np.sum(np.array([t.product for t in terms], dtype=acc.acc))
    computed = (grads.grad_input if target == "input" else grads.grad_weight)[index]
    return GradExplanation(
        target=target,
        index=index,
        terms=tuple(terms),
        total=acc.out.type(total),
        computed=computed,
        zero_reads=zero_reads,
        transposed=transposed,
        grads=grads,
    )


def _check_index(target: str, index: Index, shape: Index) -> None:
    if len(index) != len(shape):
        raise PositionError(
            _("{target} has {ndim} axes {shape}: give {ndim} indices, got {count}").format(
                target=target, ndim=len(shape), shape=shape, count=len(index)
            )
        )
    for axis, (i, n) in enumerate(zip(index, shape, strict=True)):
        if not 0 <= i < n:
            raise PositionError(
                _("index {i} of axis {axis} is outside {target} {shape}").format(
                    i=i, axis=axis, target=target, shape=shape
                )
            )


def _lift(index: Index, ndim: int) -> Index:
    """An index of a tensor of ``ndim`` axes as an index of its 4-D form."""
    return (0,) * (4 - ndim) + tuple(index)


def _user(index4: Index, ndim: int) -> Index:
    return tuple(index4[4 - ndim :])


def _output_index(index4: Index, x_ndim: int, k_ndim: int) -> Index:
    """A 4-D ``dY`` index in the rank ``run`` prints: no batch axis for a 3-D input, no
    channel axis for a 2-D or 3-D kernel (one output channel)."""
    n, o, y, x = index4
    lead = (n,) if x_ndim == 4 else ()
    return (*lead, o, y, x) if k_ndim == 4 else (*lead, y, x)


def _conv_terms(
    x: Array, kernel: Array, dy: Array, options: ConvOptions, target: str, index: Index
) -> tuple[list[GradTerm], int]:
    x_shape, w_shape = lift_to_conv2d(x.shape, kernel.shape)
    x4 = x.reshape(x_shape)
    x4 = x4 if x4.ndim == 4 else x4[None]
    w4 = kernel.reshape(w_shape)
    c_o, c_ig, k_h, k_w = w4.shape
    c_og = c_o // options.groups
    h, w = x4.shape[2:]
    g = resolve_geometry(
        (h, w), (k_h, k_w), stride=options.stride, padding=options.padding,
        dilation=options.dilation,
    )  # fmt: skip
    top, _bottom, left, _right = g.padding
    (s_h, s_w), (d_h, d_w) = g.stride, g.dilation
    m_h, m_w = g.out_size
    dy4 = dy.reshape(x4.shape[0], c_o, m_h, m_w)
    mode = options.padding_mode
    conj = np.conj if np.iscomplexobj(x4) or np.iscomplexobj(w4) else (lambda v: v)
    x_rank = 4 if x.ndim == 4 else x.ndim

    def file_tap(u: int, v: int) -> tuple[int, int]:  # the used tap as the file holds it
        return (k_h - 1 - u, k_w - 1 - v) if options.flip else (u, v)

    terms: list[GradTerm] = []
    if target == "input":
        n, c, i, j = _lift(index, x.ndim)
        group, c_local = divmod(c, c_ig)
        rows = [r for r in range(g.padded_size[0]) if source_index(r, h, top, mode) == i]
        cols = [s for s in range(g.padded_size[1]) if source_index(s, w, left, mode) == j]
        for o in range(group * c_og, (group + 1) * c_og):
            for r in rows:
                for s in cols:
                    for u in range(k_h):
                        y, off_y = divmod(r - u * d_h, s_h)
                        if off_y or not 0 <= y < m_h:
                            continue
                        for v in range(k_w):
                            xo, off_x = divmod(s - v * d_w, s_w)
                            if off_x or not 0 <= xo < m_w:
                                continue
                            tap4 = (o, c_local, *file_tap(u, v))
                            dyv, kv = dy4[n, o, y, xo], conj(w4[tap4])
                            terms.append(
                                GradTerm(
                                    output=_output_index((n, o, y, xo), x_rank, kernel.ndim),
                                    tap=_user(tap4, kernel.ndim),
                                    cell=tuple(index),
                                    dy=dyv,
                                    factor=kv,
                                    product=_times(dyv, kv),
                                    padded=None if (r - top, s - left) == (i, j) else (r, s),
                                )
                            )
        return terms, 0
    o, c_local, p, q = _lift(index, kernel.ndim)
    u, v = (k_h - 1 - p, k_w - 1 - q) if options.flip else (p, q)
    c = (o // c_og) * c_ig + c_local
    zero_reads = 0
    for n in range(x4.shape[0]):
        for y in range(m_h):
            for xo in range(m_w):
                r, s = y * s_h + u * d_h, xo * s_w + v * d_w
                row, col = source_index(r, h, top, mode), source_index(s, w, left, mode)
                if row is None or col is None:
                    zero_reads += 1
                    continue
                i, j = row, col
                xv, dyv = conj(x4[n, c, i, j]), dy4[n, o, y, xo]
                terms.append(
                    GradTerm(
                        output=_output_index((n, o, y, xo), x_rank, kernel.ndim),
                        tap=tuple(index),
                        cell=_user((n, c, i, j), x_rank),
                        dy=dyv,
                        factor=xv,
                        product=_times(xv, dyv),
                        padded=None if (r - top, s - left) == (i, j) else (r, s),
                    )
                )
    return terms, zero_reads


def _transposed_terms(
    x: Array, kernel: Array, dy: Array, options: TransposedOptions, target: str, index: Index
) -> tuple[list[GradTerm], int]:
    x4 = x if x.ndim == 4 else x[None]
    c_i, c_og, k_h, k_w = kernel.shape
    c_ig = c_i // int(options.groups)
    geom = options_geometry(x.shape, kernel.shape, options)
    (s_h, s_w), (d_h, d_w), (p_h, p_w) = geom.stride, geom.dilation, geom.padding
    m_h, m_w = geom.out_size
    dy4 = dy if dy.ndim == 4 else dy[None]
    conj = np.conj if np.iscomplexobj(x4) or np.iscomplexobj(kernel) else (lambda v: v)
    lead = (lambda n: (n,)) if x.ndim == 4 else (lambda n: ())
    terms: list[GradTerm] = []
    if target == "input":
        n, c, i, j = _lift(index, x.ndim)
        group = c // c_ig
        for o_local in range(c_og):
            for u in range(k_h):
                y = i * s_h - p_h + u * d_h
                for v in range(k_w):
                    xo = j * s_w - p_w + v * d_w
                    if not (0 <= y < m_h and 0 <= xo < m_w):
                        continue
                    o = group * c_og + o_local
                    dyv, kv = dy4[n, o, y, xo], conj(kernel[c, o_local, u, v])
                    terms.append(
                        GradTerm(
                            output=(*lead(n), o, y, xo),
                            tap=(c, o_local, u, v),
                            cell=tuple(index),
                            dy=dyv,
                            factor=kv,
                            product=_times(dyv, kv),
                        )
                    )
        return terms, 0
    c, o_local, u, v = index
    o = (c // c_ig) * c_og + o_local
    outside = 0
    for n in range(x4.shape[0]):
        for i in range(x4.shape[2]):
            for j in range(x4.shape[3]):
                y, xo = i * s_h - p_h + u * d_h, j * s_w - p_w + v * d_w
                if not (0 <= y < m_h and 0 <= xo < m_w):
                    outside += 1  # the stamp fell in the cropped padding
                    continue
                xv, dyv = conj(x4[n, c, i, j]), dy4[n, o, y, xo]
                terms.append(
                    GradTerm(
                        output=(*lead(n), o, y, xo),
                        tap=tuple(index),
                        cell=(*lead(n), c, i, j),
                        dy=dyv,
                        factor=xv,
                        product=_times(xv, dyv),
                    )
                )
    return terms, outside


def _times(a: Any, b: Any) -> Any:
    acc = accumulation_for(np.asarray(a), np.asarray(b))
    with np.errstate(all="ignore"):
        product: Any = acc.acc.type(a) * acc.acc.type(b)  # type: ignore[operator]
    return product


# --- verify --grad ----------------------------------------------------------------------------


@dataclass(frozen=True)
class GradCheck:
    """The gradients of ``convcli grad`` against im2col's (``dX = col2im(W^T @ dY)``,
    ``dW = dY @ cols^T``) and ``db`` against the sum of ``dY``; ``transposed``: of
    ``conv_transpose2d`` (``dX = W @ cols(dY)``, ``dW = X @ cols(dY)^T``)."""

    grads: ConvGrads
    input_check: Array
    weight_check: Array
    bias_check: Array | None
    input_comparison: Comparison
    weight_comparison: Comparison
    bias_comparison: Comparison | None
    transposed: bool = False


def verify_grad(
    x: Array,
    kernel: Array,
    bias: Array | None = None,
    options: ConvOptions | None = None,
    grad_output: Array | None = None,
    *,
    atol: float | None = None,
    rtol: float = 0.0,
) -> GradCheck:
    """Check the backward pass's identities numerically, through im2col.

    ``convcli grad`` computes ``dX`` as the transposed convolution of ``dY`` with the
    kernel and ``dW`` as a correlation of the input with ``dY``. Here the convolution is
    ``Y = W @ cols`` (``verify``'s unfolded input), so ``dcols = W^T @ dY``, whose every
    entry is added back to the input cell it was copied from (col2im, through the padding
    too), and ``dW = dY @ cols^T``; ``db`` is the sum of ``dY``.

    Examples
    --------
    >>> X = np.arange(18).reshape(2, 3, 3)
    >>> check = verify_grad(X, np.ones((2, 2, 2), dtype=int))
    >>> check.input_comparison.agree, check.weight_comparison.agree
    (True, True)
    >>> check.weight_check.tolist()
    [[[8, 12], [20, 24]], [[44, 48], [56, 60]]]
    """
    options = options or ConvOptions()
    grads = conv_grads(x, kernel, bias, options, grad_output)
    x_shape, w_shape = lift_to_conv2d(x.shape, kernel.shape)
    xb = x.reshape(x_shape)
    xb = xb if xb.ndim == 4 else xb[None]
    w = kernel.reshape(w_shape)
    w = flip_kernel(w) if options.flip else w
    c_o, c_ig, k_h, k_w = w.shape
    groups = options.groups
    h, wd = xb.shape[2:]
    geometry = resolve_geometry(
        (h, wd), (k_h, k_w), stride=options.stride, padding=options.padding,
        dilation=options.dilation,
    )  # fmt: skip
    m_h, m_w = geometry.out_size
    n = xb.shape[0]
    if n * xb.shape[1] * k_h * k_w * m_h * m_w > MAX_UNFOLDED_VALUES:
        raise BudgetError(
            _(
                "the unfolded input would hold more than {MAX_UNFOLDED_VALUES:,} values: "
                "verify a smaller input"
            ).format(MAX_UNFOLDED_VALUES=MAX_UNFOLDED_VALUES)
        )
    acc = accumulation_for(xb, w, grads.grad_output)
    wide = acc.acc
    padded = pad_input(xb, geometry.padding, options.padding_mode).astype(wide)
    if np.iscomplexobj(padded):
        padded = np.conj(padded)
    columns = unfold(padded, (k_h, k_w), geometry, groups)  # (n, g, rows, m)
    # Where each column entry was copied from: the unfolded flat index of the input cell.
    sources = _source_cells(xb.shape[1:], geometry, options.padding_mode)
    where = unfold(sources[None], (k_h, k_w), geometry, groups)[0]  # (g, rows, m)
    weights = w.astype(wide).reshape(groups, c_o // groups, c_ig * k_h * k_w)
    if np.iscomplexobj(weights):
        weights = np.conj(weights)
    dy = grads.grad_output.reshape(n, groups, c_o // groups, m_h * m_w).astype(wide)
    with np.errstate(all="ignore"):
        dcols = np.matmul(weights.transpose(0, 2, 1)[None], dy)  # (n, g, rows, m)
        dx = np.zeros((n, xb.shape[1] * h * wd + 1), dtype=wide)  # the last: padding zeros
        flat = np.broadcast_to(where, dcols.shape).reshape(n, -1)
        np.add.at(dx, (np.arange(n)[:, None], flat), dcols.reshape(n, -1))
        dw = np.einsum("ngom,ngrm->gor", dy, columns).reshape(w.shape)
    dx_check = dx[:, :-1].reshape(xb.shape).astype(acc.out).reshape(x.shape)
    dw_check = (flip_kernel(dw) if options.flip else dw).astype(acc.out).reshape(kernel.shape)
    terms_x = c_o // groups * k_h * k_w
    terms_w = n * m_h * m_w
    tol_x = default_atol(grads.grad_output, w, terms_x) if atol is None else atol
    tol_w = default_atol(grads.grad_output, xb, terms_w) if atol is None else atol
    bias_check = bias_comparison = None
    if grads.grad_bias is not None:
        dy_all = grads.grad_output.reshape(n, c_o, m_h * m_w).astype(wide)
        with np.errstate(all="ignore"):  # inf + -inf in dY: NaN, as autograd, no warning
            bias_check = dy_all.sum(axis=(0, 2)).astype(acc.out)
        tol_b = default_atol(dy_all, np.ones(1, wide), terms_w) if atol is None else atol
        bias_comparison = compare(bias_check, grads.grad_bias, atol=tol_b, rtol=rtol)
    return GradCheck(
        grads=grads,
        input_check=dx_check,
        weight_check=dw_check,
        bias_check=bias_check,
        input_comparison=compare(dx_check, grads.grad_input, atol=tol_x, rtol=rtol),
        weight_comparison=compare(dw_check, grads.grad_weight, atol=tol_w, rtol=rtol),
        bias_comparison=bias_comparison,
    )


def verify_transposed_grad(
    x: Array,
    kernel: Array,
    bias: Array | None,
    options: TransposedOptions,
    grad_output: Array | None = None,
    *,
    atol: float | None = None,
    rtol: float = 0.0,
) -> GradCheck:
    """Check the backward identities of ``conv_transpose2d`` numerically, through im2col.

    The forward pass adds ``X[c, i, j] * W[c, o, u, v]`` into ``Y[o, i*s - p + u*d,
    j*s - p + v*d]``, so every input cell's gradient reads ``dY`` through the same window:
    ``dX = conv2d(dY, W, stride=s, padding=p, dilation=d, groups=g)`` (its first ``h x w``
    when ``output_padding`` reaches a further row), the kernel ``(c_i, c_o/g, k_h, k_w)``
    read as conv2d's ``(c_out, c_in/g, k_h, k_w)``, unflipped; ``dW[c, o, u, v] = sum X[c, i,
    j] * dY[o, i*s - p + u*d, j*s - p + v*d]``, the correlation of ``dY`` with ``X``; ``db``
    the sum of ``dY``. Here ``dY`` is zero-padded by ``p`` and unfolded (one column per input
    cell), so ``dX = W @ cols`` and ``dW = X @ cols^T``; ``convcli grad`` computes them
    another way.

    Examples
    --------
    >>> check = verify_transposed_grad(np.array([[[1, 2], [3, 4]]]),
    ...                                np.ones((1, 1, 2, 2), dtype=int), None,
    ...                                TransposedOptions(stride=2, output_padding=1))
    >>> check.input_comparison.agree, check.weight_comparison.agree
    (True, True)
    >>> check.input_check.tolist(), check.weight_check.tolist()
    ([[[4, 4], [4, 4]]], [[[[10, 10], [10, 10]]]])
    """
    grads = transposed_grads(x, kernel, bias, options, grad_output)
    xb = x if x.ndim == 4 else x[None]
    n, c_i, h, wd = xb.shape
    _c_i, c_og, k_h, k_w = kernel.shape
    groups = int(options.groups)
    c_ig = c_i // groups
    geom = options_geometry(x.shape, kernel.shape, options)
    (s_h, s_w), (d_h, d_w), (p_h, p_w) = geom.stride, geom.dilation, geom.padding
    m_h, m_w = geom.out_size
    if n * c_og * groups * k_h * k_w * h * wd > MAX_UNFOLDED_VALUES:
        raise BudgetError(
            _(
                "the unfolded input would hold more than {MAX_UNFOLDED_VALUES:,} values: "
                "verify a smaller input"
            ).format(MAX_UNFOLDED_VALUES=MAX_UNFOLDED_VALUES)
        )
    dy = grads.grad_output if grads.grad_output.ndim == 4 else grads.grad_output[None]
    acc = accumulation_for(xb, kernel, dy)
    wide = acc.acc
    # dY read at i*s - p + u*d: padded by p before, and by zeros (or cut) up to the last read.
    need = ((h - 1) * s_h + d_h * (k_h - 1) + 1, (wd - 1) * s_w + d_w * (k_w - 1) + 1)
    padded = np.zeros((n, dy.shape[1], *need), dtype=wide)
    rows, cols_ = max(0, min(m_h, need[0] - p_h)), max(0, min(m_w, need[1] - p_w))
    padded[..., p_h : p_h + rows, p_w : p_w + cols_] = dy[..., :rows, :cols_]
    geometry = resolve_geometry(need, (k_h, k_w), stride=(s_h, s_w), dilation=(d_h, d_w))
    columns = unfold(padded, (k_h, k_w), geometry, groups)  # (n, g, c_o/g * k_h * k_w, h * w)
    weights = kernel.astype(wide).reshape(groups, c_ig, c_og * k_h * k_w)
    xs = xb.astype(wide).reshape(n, groups, c_ig, h * wd)
    if np.iscomplexobj(weights):
        weights = np.conj(weights)
    if np.iscomplexobj(xs):
        xs = np.conj(xs)
    with np.errstate(all="ignore"):
        dx = np.matmul(weights[None], columns)  # (n, g, c_i/g, h * w)
        dw = np.einsum("ngcm,ngrm->gcr", xs, columns)
    dx_check = dx.reshape(xb.shape).astype(acc.out).reshape(x.shape)
    dw_check = dw.reshape(kernel.shape).astype(acc.out)
    terms_w = n * h * wd
    tol_x = default_atol(dy, kernel, c_og * k_h * k_w) if atol is None else atol
    tol_w = default_atol(dy, xb, terms_w) if atol is None else atol
    bias_check = bias_comparison = None
    if grads.grad_bias is not None:
        dy_all = dy.reshape(n, dy.shape[1], m_h * m_w).astype(wide)
        with np.errstate(all="ignore"):  # inf + -inf in dY: NaN, as autograd, no warning
            bias_check = dy_all.sum(axis=(0, 2)).astype(acc.out)
        tol_b = default_atol(dy_all, np.ones(1, wide), n * m_h * m_w) if atol is None else atol
        bias_comparison = compare(bias_check, grads.grad_bias, atol=tol_b, rtol=rtol)
    return GradCheck(
        grads=grads,
        input_check=dx_check,
        weight_check=dw_check,
        bias_check=bias_check,
        input_comparison=compare(dx_check, grads.grad_input, atol=tol_x, rtol=rtol),
        weight_comparison=compare(dw_check, grads.grad_weight, atol=tol_w, rtol=rtol),
        bias_comparison=bias_comparison,
        transposed=True,
    )


def _source_cells(shape: Index, geometry: Any, mode: str) -> Array:
    """The padded input of channels ``shape[0]`` as flat indices of the cells each padded
    cell copies (``c*h*w + i*w + j``), or ``c_i*h*w`` (a spare slot) for zero padding."""
    c_i, h, w = shape
    top, _bottom, left, _right = geometry.padding
    rows = [source_index(r, h, top, mode) for r in range(geometry.padded_size[0])]
    cols = [source_index(s, w, left, mode) for s in range(geometry.padded_size[1])]
    spare = c_i * h * w
    plane = np.array(
        [[spare if i is None or j is None else i * w + j for j in cols] for i in rows],
        dtype=np.int64,
    )
    cells = plane[None] + (np.arange(c_i) * h * w)[:, None, None]
    return np.where(plane[None] == spare, spare, cells)
