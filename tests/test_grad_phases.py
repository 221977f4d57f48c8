"""The padded-width gradients (``convcli.ops.grad_weight``) against the definition, and
``conv2d_backward`` on sizes large enough to take them, against ``torch.autograd``.

Small hypothesis-drawn convolutions run the two algorithms directly (``conv2d_backward``
keeps lesson-sized problems on im2col) on integer values in float64, where every order
of summation is exact, against a reference written from the definition. Inputs and
kernels with inf or NaN must give autograd's values (the padded-width products would
meet them in dY's zero columns: the callers fall back).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_properties import Conv, convolutions, torch_single_thread

from convcli import conv2d
from convcli.ops.grad import conv2d_backward, conv_transpose2d_backward
from convcli.ops.grad_weight import all_finite, input_grad_phases, weight_grad_phases
from convcli.ops.padding import pad_input
from convcli.shapes.geometry import ConvGeometry, resolve_geometry

__all__ = ["torch_single_thread"]

Array = npt.NDArray[Any]
F64 = np.dtype(np.float64)


def _geometry(conv: Conv) -> ConvGeometry:
    return resolve_geometry(
        conv.x.shape[-2:],
        conv.weight.shape[2:],
        stride=conv.stride,
        padding=conv.padding,
        dilation=conv.dilation,
    )


def _reference(
    xp: Array, w: Array, dy: Array, geom: ConvGeometry, groups: int
) -> tuple[Array, Array]:
    """dW and the padded input's gradient, tap by tap from the definition."""
    c_o, c_ig, k_h, k_w = w.shape
    c_og = c_o // groups
    (s_h, s_w), (d_h, d_w) = geom.stride, geom.dilation
    m_h, m_w = dy.shape[2:]
    dw = np.zeros(w.shape)
    dxp = np.zeros(xp.shape)
    for g in range(groups):
        xs = xp[:, g * c_ig : (g + 1) * c_ig]
        dys = dy[:, g * c_og : (g + 1) * c_og]
        for u in range(k_h):
            for v in range(k_w):
                rows = slice(u * d_h, u * d_h + (m_h - 1) * s_h + 1, s_h)
                cols = slice(v * d_w, v * d_w + (m_w - 1) * s_w + 1, s_w)
                window = xs[:, :, rows, cols]
                dw[g * c_og : (g + 1) * c_og, :, u, v] = np.einsum("ncij,noij->oc", window, dys)
                back = np.einsum("noij,oc->ncij", dys, w[g * c_og : (g + 1) * c_og, :, u, v])
                dxp[:, g * c_ig : (g + 1) * c_ig, rows, cols] += back
    return dw, dxp


@given(conv=convolutions(dtypes=("float64",)), seed=st.integers(0, 2**16))
def test_padded_width_gradients_match_the_definition(conv: Conv, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.integers(-4, 5, conv.x.shape).astype(np.float64)
    x = x if x.ndim == 4 else x[None]
    w = rng.integers(-4, 5, conv.weight.shape).astype(np.float64)
    geom = _geometry(conv)
    dy = rng.integers(-4, 5, (x.shape[0], w.shape[0], *geom.out_size)).astype(np.float64)
    xp = pad_input(x, geom.padding, "zeros")
    expected_dw, expected_dxp = _reference(xp, w, dy, geom, conv.groups)
    dw = weight_grad_phases(xp, dy, w.shape, geom.stride, geom.dilation, conv.groups, F64, 2**20)
    np.testing.assert_array_equal(dw, expected_dw)
    if w.shape[1] == 1 and conv.groups > 1:
        return  # depthwise dX has its own path
    dxp = input_grad_phases(dy, w, geom.padded_size, geom.stride, geom.dilation, conv.groups, F64)
    np.testing.assert_array_equal(dxp, expected_dxp)


def test_tiles_and_chunks_add_up() -> None:
    """A tile budget far below the input's copies: many tiles and chunks, the same sums."""
    rng = np.random.default_rng(1)
    x = rng.integers(-3, 4, (2, 3, 70, 90)).astype(np.float64)
    w = rng.integers(-3, 4, (5, 3, 3, 4)).astype(np.float64)
    geom = resolve_geometry((70, 90), (3, 4), stride=(1, 2), padding=1, dilation=(2, 1))
    dy = rng.integers(-3, 4, (2, 5, *geom.out_size)).astype(np.float64)
    xp = pad_input(x, geom.padding, "zeros")
    expected, _ = _reference(xp, w, dy, geom, 1)
    for tile_bytes in (1, 4096, 2**30):
        dw = weight_grad_phases(xp, dy, w.shape, geom.stride, geom.dilation, 1, F64, tile_bytes)
        np.testing.assert_array_equal(dw, expected)


def test_only_finite_inputs_fit() -> None:
    assert all_finite(np.ones(3))
    assert all_finite(np.array([1, 2], dtype=np.int64))
    assert not all_finite(np.array([1.0, np.inf]))
    assert not all_finite(np.array([np.nan, 1.0], dtype=np.float32))
    assert not all_finite(np.array([1 + 1j, complex(0, np.inf)]))


# Sizes above the lesson-sized cut-off, so conv2d_backward takes the padded-width paths.
CASES = [
    ((1, 3, 40, 36), (16, 3, 5, 5), {"padding": 2}),
    ((2, 8, 24, 20), (8, 8, 3, 3), {"padding": 1}),
    ((1, 8, 33, 31), (16, 4, 3, 5), {"stride": 2, "padding": (1, 2), "groups": 2}),
    ((1, 6, 40, 40), (12, 6, 3, 3), {"stride": 2, "padding": 2, "dilation": 2}),
    ((2, 6, 29, 27), (12, 6, 4, 3), {"stride": (3, 2), "padding": 1, "dilation": (1, 2)}),
    ((1, 16, 30, 30), (16, 1, 3, 3), {"padding": 1, "groups": 16}),
    ((2, 8, 31, 29), (16, 1, 3, 3), {"stride": 2, "padding": 1, "groups": 8}),
    ((1, 4, 41, 43), (8, 4, 3, 3), {"padding": 1, "padding_mode": "reflect"}),
    ((1, 32, 20, 20), (8, 32, 1, 1), {}),
    ((2, 16, 15, 17), (8, 8, 1, 1), {"stride": 2, "padding": 1, "groups": 2}),
]


def _autograd(torch: Any, x: Array, w: Array, b: Array, dy: Array, options: dict[str, Any]) -> Any:
    opts = dict(options)
    mode = opts.pop("padding_mode", "zeros")
    tx, tw, tb = (torch.from_numpy(a).requires_grad_(True) for a in (x, w, b))
    if mode == "zeros":
        y = torch.nn.functional.conv2d(tx, tw, tb, **opts)
    else:
        layer = torch.nn.Conv2d(
            x.shape[1], w.shape[0], w.shape[2:], bias=False, padding_mode=mode, **opts
        )
        y = layer._conv_forward(tx, tw, tb)
    y.backward(torch.from_numpy(dy))
    return [t.grad.numpy() for t in (tx, tw, tb)]


@pytest.mark.torch
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(("x_shape", "w_shape", "options"), CASES)
def test_larger_convolutions_match_autograd(
    x_shape: tuple[int, ...],
    w_shape: tuple[int, ...],
    options: dict[str, Any],
    dtype: str,
    torch_single_thread: Any,
) -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    b = rng.standard_normal(w_shape[0]).astype(dtype)
    y = conv2d(x, w, b, **options)
    dy = rng.standard_normal(y.shape).astype(dtype)
    grads = conv2d_backward(x, w, dy, b, **options)
    expected = _autograd(torch_single_thread, x, w, b, dy, options)
    tol = 1e-4 if dtype == "float32" else 1e-10
    for ours, theirs in zip(
        (grads.grad_input, grads.grad_weight, grads.grad_bias), expected, strict=True
    ):
        assert ours is not None and ours.dtype == np.dtype(dtype)
        scale = float(np.abs(theirs).max())
        np.testing.assert_allclose(ours / scale, theirs / scale, rtol=tol, atol=tol)


@pytest.mark.torch
@pytest.mark.parametrize("where", ["input", "kernel"])
@pytest.mark.parametrize("value", [np.inf, np.nan])
def test_inf_and_nan_give_autografs_values(
    where: str, value: float, torch_single_thread: Any
) -> None:
    """A non-finite value reaches only the gradients autograd sends it to."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((1, 3, 40, 36))
    w = rng.standard_normal((16, 3, 5, 5))
    b = np.zeros(16)
    x[0, 1, -1, -1] = value
    options: dict[str, Any] = {"padding": 2}
    dy = rng.standard_normal(conv2d(x, w, b, **options).shape)
    grads = conv2d_backward(x, w, dy, b, **options)
    expected = _autograd(torch_single_thread, x, w, b, dy, options)
    for ours, theirs in zip((grads.grad_input, grads.grad_weight), expected[:2], strict=True):
        np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
        np.testing.assert_array_equal(np.isinf(ours), np.isinf(theirs))
        finite = np.isfinite(theirs)
        np.testing.assert_allclose(ours[finite], theirs[finite], rtol=1e-9, atol=1e-9)


@pytest.mark.torch
def test_larger_transposed_backward_matches_autograd(torch_single_thread: Any) -> None:
    torch = torch_single_thread
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 8, 20, 18))
    w = rng.standard_normal((8, 4, 4, 4))
    b = rng.standard_normal(4)
    options: dict[str, Any] = {"stride": 2, "padding": 1}
    tx, tw, tb = (torch.from_numpy(a).requires_grad_(True) for a in (x, w, b))
    y = torch.nn.functional.conv_transpose2d(tx, tw, tb, **options)
    dy = rng.standard_normal(tuple(y.shape))
    y.backward(torch.from_numpy(dy))
    grads = conv_transpose2d_backward(x, w, dy, b, **options)
    np.testing.assert_allclose(grads.grad_input, tx.grad.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(grads.grad_weight, tw.grad.numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize(("x_shape", "w_shape", "options"), CASES[:3] + CASES[-2:])
def test_kept_buffers_never_hold_a_result(
    x_shape: tuple[int, ...], w_shape: tuple[int, ...], options: dict[str, Any]
) -> None:
    """A second call of the same shapes reuses the working buffers: the first call's
    gradients must not change (none of them views a kept buffer)."""
    rng = np.random.default_rng(4)
    first = conv2d_backward(rng.standard_normal(x_shape), rng.standard_normal(w_shape), **options)
    saved = [first.grad_input.copy(), first.grad_weight.copy()]
    second = conv2d_backward(rng.standard_normal(x_shape), rng.standard_normal(w_shape), **options)
    np.testing.assert_array_equal(first.grad_input, saved[0])
    np.testing.assert_array_equal(first.grad_weight, saved[1])
    assert not np.array_equal(second.grad_weight, saved[1])
