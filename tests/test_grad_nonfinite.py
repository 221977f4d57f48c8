"""inf and NaN through the backward pass and conv_transpose2d, against ``torch.autograd``.

A kernel with an inf must meet only the values PyTorch multiplies it by: never a zero
of the padding (``0 * inf = NaN`` where autograd has a number). The NaN masks, the
infs' signs and the finite values must all agree. PyTorch's float64 CPU path is its
reference col2im/im2col (float32 runs oneDNN, whose NaN pattern differs from its own
float64 result in some strided configurations), so the comparison is in float64.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from test_properties import torch_single_thread

from convcli.ops.grad import conv2d_backward, conv_transpose2d_backward
from convcli.ops.transposed import conv_transpose2d

__all__ = ["torch_single_thread"]

Array = npt.NDArray[Any]
SPECIAL = (np.inf, -np.inf, np.nan)


@dataclass(frozen=True)
class Case:
    n: int
    c_i: int
    c_o: int
    groups: int
    kernel: tuple[int, int]
    size: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]
    where: str  # "weight", "input" or "dy"
    seed: int


pairs = st.tuples(st.integers(1, 3), st.integers(1, 3))


@st.composite
def cases(draw: st.DrawFn) -> Case:
    groups = draw(st.sampled_from([1, 2, 3]))
    return Case(
        n=draw(st.integers(1, 2)),
        c_i=groups * draw(st.integers(1, 2)),
        c_o=groups * draw(st.integers(1, 3)),
        groups=groups,
        kernel=draw(pairs),
        size=draw(st.tuples(st.integers(1, 7), st.integers(1, 7))),
        stride=draw(pairs),
        padding=draw(st.tuples(st.integers(0, 2), st.integers(0, 2))),
        dilation=draw(pairs),
        where=draw(st.sampled_from(["weight", "input", "dy"])),
        seed=draw(st.integers(0, 2**16)),
    )


def _poison(a: Array, rng: np.random.Generator) -> Array:
    """``a`` with one to three of its values replaced by inf, -inf or NaN."""
    out = a.copy()
    flat = out.reshape(-1)
    for index in rng.choice(flat.size, size=min(flat.size, int(rng.integers(1, 4))), replace=False):
        flat[index] = SPECIAL[int(rng.integers(0, 3))]
    return out


def _same(out: Array, expected: Array) -> None:
    """The same NaN cells, the same infs with the same signs, and close finite values."""
    assert out.shape == expected.shape
    np.testing.assert_array_equal(np.isnan(out), np.isnan(expected))
    np.testing.assert_array_equal(np.isposinf(out), np.isposinf(expected))
    np.testing.assert_array_equal(np.isneginf(out), np.isneginf(expected))
    finite = np.isfinite(expected)
    np.testing.assert_allclose(out[finite], expected[finite], rtol=1e-9, atol=1e-9)


def _fits(case: Case) -> bool:
    return all(
        h + 2 * p - d * (k - 1) - 1 >= 0
        for h, p, d, k in zip(case.size, case.padding, case.dilation, case.kernel, strict=True)
    )


@pytest.mark.torch
@given(case=cases())
def test_conv2d_backward_nonfinite_matches_autograd(case: Case, torch_single_thread: Any) -> None:
    assume(_fits(case))
    torch = torch_single_thread
    rng = np.random.default_rng(case.seed)
    x = rng.integers(-3, 4, size=(case.n, case.c_i, *case.size)).astype(np.float64)
    w = rng.integers(-3, 4, size=(case.c_o, case.c_i // case.groups, *case.kernel)).astype(
        np.float64
    )
    options: dict[str, Any] = {
        "stride": case.stride,
        "padding": case.padding,
        "dilation": case.dilation,
        "groups": case.groups,
    }
    y = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w), **options)
    dy = rng.integers(-3, 4, size=tuple(y.shape)).astype(np.float64)
    x, w, dy = (
        _poison(a, rng) if case.where == name else a
        for a, name in ((x, "input"), (w, "weight"), (dy, "dy"))
    )
    tx = torch.from_numpy(x).requires_grad_(True)
    tw = torch.from_numpy(w).requires_grad_(True)
    torch.nn.functional.conv2d(tx, tw, **options).backward(torch.from_numpy(dy))
    grads = conv2d_backward(x, w, dy, **options)
    _same(grads.grad_input, tx.grad.numpy())
    _same(grads.grad_weight, tw.grad.numpy())


@pytest.mark.torch
@given(case=cases(), extra=st.tuples(st.integers(0, 2), st.integers(0, 2)))
def test_conv_transpose2d_nonfinite_matches_pytorch(
    case: Case, extra: tuple[int, int], torch_single_thread: Any
) -> None:
    torch = torch_single_thread
    output_padding = tuple(
        min(e, max(s, d) - 1) for e, s, d in zip(extra, case.stride, case.dilation, strict=True)
    )
    assume(
        all(
            (h - 1) * s + d * (k - 1) + 1 + o - 2 * p > 0
            for h, s, d, k, o, p in zip(
                case.size, case.stride, case.dilation, case.kernel, output_padding, case.padding,
                strict=True,
            )
        )
    )  # fmt: skip
    rng = np.random.default_rng(case.seed)
    x = rng.integers(-3, 4, size=(case.n, case.c_i, *case.size)).astype(np.float64)
    w = rng.integers(-3, 4, size=(case.c_i, case.c_o // case.groups, *case.kernel)).astype(
        np.float64
    )
    options: dict[str, Any] = {
        "stride": case.stride,
        "padding": case.padding,
        "output_padding": output_padding,
        "dilation": case.dilation,
        "groups": case.groups,
    }
    if case.where == "weight":
        w = _poison(w, rng)
    elif case.where == "input":
        x = _poison(x, rng)
    tx = torch.from_numpy(x).requires_grad_(True)
    tw = torch.from_numpy(w).requires_grad_(True)
    y = torch.nn.functional.conv_transpose2d(tx, tw, **options)
    _same(conv_transpose2d(x, w, **options), y.detach().numpy())
    dy = rng.integers(-3, 4, size=tuple(y.shape)).astype(np.float64)
    if case.where == "dy":
        dy = _poison(dy, rng)
    y.backward(torch.from_numpy(dy))
    grads = conv_transpose2d_backward(x, w, dy, **options)
    _same(grads.grad_input, tx.grad.numpy())
    _same(grads.grad_weight, tw.grad.numpy())


def test_inf_kernel_meets_no_padding() -> None:
    """Without torch: an inf kernel tap is multiplied only by the values autograd's col2im
    multiplies it by, never by a zero past dY's or the input's edge."""
    w = np.array([[[[np.inf, 1.0], [1.0, 1.0]]]])
    inf = np.inf
    # dX[i, j] = sum of dY[i-u, j-v] * K[u, v] over the real outputs: the inf tap (0, 0)
    # reaches rows and columns 0..1 only; the last row and column get 1s and 2s
    expected = [[inf, inf, 1.0], [inf, inf, 2.0], [1.0, 2.0, 1.0]]
    grads = conv2d_backward(np.ones((1, 3, 3)), w, np.ones((1, 2, 2)))
    assert grads.grad_input[0].tolist() == expected
    # each input stamps the kernel: the same sums
    assert conv_transpose2d(np.ones((1, 2, 2)), w)[0].tolist() == expected


def _scatter_dx(x_shape: tuple[int, ...], w: Array, dy: Array, stride: int, padding: int) -> Array:
    """dX by the definition, tap by tap: each real output's ``dY * K`` added to the input
    cell the tap read, cells in the padding dropped (autograd's col2im), in float64."""
    n, c_i, h, wd = x_shape
    c_o, c_ig, k_h, k_w = w.shape
    groups = c_i // c_ig
    c_og = c_o // groups
    m_h, m_w = dy.shape[2:]
    full = np.zeros((n, c_i, h + 2 * padding + k_h, wd + 2 * padding + k_w))
    with np.errstate(all="ignore"):
        for g in range(groups):
            wg = w[g * c_og : (g + 1) * c_og].astype(np.float64)
            dyg = dy[:, g * c_og : (g + 1) * c_og].astype(np.float64)
            for u in range(k_h):
                for v in range(k_w):
                    part = np.einsum("oc,noij->ncij", wg[:, :, u, v], dyg)
                    target = full[
                        :, g * c_ig : (g + 1) * c_ig,
                        u : u + (m_h - 1) * stride + 1 : stride,
                        v : v + (m_w - 1) * stride + 1 : stride,
                    ]  # fmt: skip
                    np.add(target, part, out=target)
    return full[..., padding : padding + h, padding : padding + wd]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("where", ["weight", "input", "dy"])
@pytest.mark.parametrize(
    ("c_i", "c_o", "groups", "stride"),
    [(3, 16, 1, 1), (16, 16, 1, 1), (8, 8, 8, 2), (8, 16, 2, 2)],
    ids=["fewer-inputs", "dense", "depthwise", "grouped-strided"],
)
def test_large_nonfinite_dx_matches_the_definition(
    dtype: Any, where: str, c_i: int, c_o: int, groups: int, stride: int
) -> None:
    """Without torch, at sizes that take dX's fast paths when everything is finite: the
    NaN masks and infs of dX are those of the definition."""
    rng = np.random.default_rng(c_i * 100 + c_o + stride)
    x = rng.integers(-3, 4, size=(2, c_i, 20, 20)).astype(dtype)
    w = rng.integers(-3, 4, size=(c_o, c_i // groups, 3, 3)).astype(dtype)
    m = (20 + 2 - 3) // stride + 1
    dy = rng.integers(-3, 4, size=(2, c_o, m, m)).astype(dtype)
    if where == "weight":
        w = _poison(w, rng)
    elif where == "input":
        x = _poison(x, rng)
    else:
        dy = _poison(dy, rng)
    grads = conv2d_backward(x, w, dy, stride=stride, padding=1, groups=groups)
    expected = _scatter_dx(x.shape, w, dy, stride, 1)
    _same(grads.grad_input.astype(np.float64), expected)
