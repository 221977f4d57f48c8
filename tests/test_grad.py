"""The backward pass against ``torch.autograd``: conv2d (every option, padding modes,
flip), conv_transpose2d and every pooling, with a random ``dY`` or the default ones;
integers exact (compared with autograd in float64 on the same values), and the
identities the backward pass rests on, without torch.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from test_properties import Conv, convolutions, torch_single_thread
from test_properties_layers import Pool, Transposed, poolings, transposed_convolutions

from convcli import conv2d, conv_transpose2d
from convcli.errors import ConvcliError, ShapeError
from convcli.ops.grad import (
    conv2d_backward,
    conv_grads,
    conv_transpose2d_backward,
    pool2d_backward,
)
from convcli.ops.pooling import pool_indices
from convcli.shapes.options import ConvOptions
from convcli.shapes.pooling import PoolOptions

__all__ = ["torch_single_thread"]

Array = npt.NDArray[Any]
MODES = ("zeros", "reflect", "replicate", "circular")


def _close(out: Array, expected: Array, scale: float) -> None:
    assert out.shape == expected.shape
    if out.dtype.kind in "iu":
        np.testing.assert_array_equal(out, expected.astype(np.int64))
        return
    eps = {np.float16: 2e-3, np.float32: 2e-6}.get(out.dtype.type, 1e-12)
    np.testing.assert_allclose(out, expected, rtol=eps * 10, atol=eps * 50 * (1 + scale))


def _torch_conv_grads(
    torch: Any, conv: Conv, dy: Array, mode: str = "zeros", flip: bool = False
) -> list[Array | None]:
    dtype = torch.float64 if conv.x.dtype.kind in "biu" else None
    tensors: list[Any] = []
    for array in (conv.x, conv.weight, conv.bias):
        if array is None:
            tensors.append(None)
            continue
        t = torch.from_numpy(np.ascontiguousarray(array))
        t = t.to(dtype) if dtype is not None else t
        tensors.append(t.requires_grad_(True))
    x, w, b = tensors
    assert x is not None and w is not None
    weight = torch.flip(w, (-2, -1)) if flip else w
    with warnings.catch_warnings():
        # torch warns that padding="same" with an even kernel pads a copy of the input.
        warnings.filterwarnings("ignore", message="Using padding='same'", category=UserWarning)
        y = _torch_conv(torch, conv, x, weight, b, mode)
    y.backward(torch.from_numpy(dy).to(y.dtype))
    return [None if t is None else t.grad.numpy() for t in (x, w, b)]


def _torch_conv(torch: Any, conv: Conv, x: Any, weight: Any, b: Any, mode: str) -> Any:
    if mode == "zeros":
        y = torch.nn.functional.conv2d(
            x, weight, b, conv.stride, conv.padding, conv.dilation, conv.groups
        )
    else:
        layer = torch.nn.Conv2d(
            conv.x.shape[-3],
            conv.weight.shape[0],
            conv.weight.shape[2:],
            stride=conv.stride,
            padding=conv.padding,
            dilation=conv.dilation,
            groups=conv.groups,
            bias=False,
            padding_mode=mode,
        )
        y = layer._conv_forward(x, weight, b)
    return y


def _scale(*arrays: Array | None) -> float:
    total = 1.0
    for a in arrays:
        if a is not None and a.size:
            total *= float(np.abs(a.astype(np.complex128)).max()) + 1
    return total


@pytest.mark.torch
@given(conv=convolutions(dtypes=("float32", "float64", "int16")), data=st.data())
def test_conv2d_backward_matches_autograd(conv: Conv, data: Any, torch_single_thread: Any) -> None:
    mode = data.draw(st.sampled_from(MODES))
    flip = data.draw(st.booleans())
    y = conv2d(
        conv.x, conv.weight, conv.bias, conv.stride, conv.padding, conv.dilation, conv.groups
    )
    if mode != "zeros":
        # reflect needs padding below the input's size; torch refuses the rest (so do we)
        try:
            conv2d(
                conv.x,
                conv.weight,
                None,
                conv.stride,
                conv.padding,
                conv.dilation,
                conv.groups,
                padding_mode=mode,
            )
        except ConvcliError:
            return  # e.g. reflect padding as wide as the input: refused, as PyTorch does
    dy_kind = data.draw(st.sampled_from(["ones", "random"]))
    if dy_kind == "ones":
        dy = np.ones(y.shape, dtype=y.dtype)
        given_dy = None
    else:
        rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
        dy = rng.integers(-3, 4, size=y.shape).astype(y.dtype)
        given_dy = dy
    grads = conv2d_backward(
        conv.x,
        conv.weight,
        given_dy,
        conv.bias,
        conv.stride,
        conv.padding,
        conv.dilation,
        conv.groups,
        padding_mode=mode,
        flip=flip,
    )
    expected = _torch_conv_grads(torch_single_thread, conv, dy, mode, flip)
    scale = _scale(conv.x, conv.weight, dy) * np.prod(conv.weight.shape)
    _close(grads.grad_input, expected[0], scale)  # type: ignore[arg-type]
    _close(grads.grad_weight, expected[1], scale * np.prod(y.shape))  # type: ignore[arg-type]
    if conv.bias is None:
        assert grads.grad_bias is None
    else:
        assert grads.grad_bias is not None
        _close(grads.grad_bias, expected[2], float(np.prod(y.shape)))  # type: ignore[arg-type]
    assert grads.grad_input.dtype == (np.int64 if conv.x.dtype.kind in "iu" else conv.x.dtype)


@pytest.mark.torch
@given(case=transposed_convolutions(dtypes=("float32", "float64", "int16")), data=st.data())
def test_conv_transpose2d_backward_matches_autograd(
    case: Transposed, data: Any, torch_single_thread: Any
) -> None:
    torch = torch_single_thread
    y = conv_transpose2d(case.x, case.weight, case.bias, **case.options)
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    dy = rng.integers(-3, 4, size=y.shape).astype(y.dtype)
    grads = conv_transpose2d_backward(case.x, case.weight, dy, case.bias, **case.options)
    as_float = case.x.dtype.kind in "biu"
    tensors: list[Any] = [
        None
        if a is None
        else (
            torch.from_numpy(a).to(torch.float64) if as_float else torch.from_numpy(a)
        ).requires_grad_(True)
        for a in (case.x, case.weight, case.bias)
    ]
    out = torch.nn.functional.conv_transpose2d(*tensors, **case.options)
    out.backward(torch.from_numpy(dy).to(out.dtype))
    scale = _scale(case.x, case.weight, dy) * np.prod(case.weight.shape) * np.prod(y.shape)
    _close(grads.grad_input, tensors[0].grad.numpy(), scale)
    _close(grads.grad_weight, tensors[1].grad.numpy(), scale)
    if case.bias is not None:
        assert grads.grad_bias is not None
        _close(grads.grad_bias, tensors[2].grad.numpy(), scale)


def _torch_pool_grad(torch: Any, x: Array, kind: str, options: dict[str, Any], dy: Array) -> Array:
    t = torch.from_numpy(x).requires_grad_(True)
    function = getattr(torch.nn.functional, kind)
    out = function(t, **options)
    out.backward(torch.from_numpy(dy).to(out.dtype))
    grad: Array = t.grad.numpy()
    return grad


@pytest.mark.torch
@given(pool=poolings("max", ("float32", "float64")), data=st.data())
def test_max_pool_backward_matches_autograd(
    pool: Pool, data: Any, torch_single_thread: Any
) -> None:
    options = PoolOptions("max", **pool.options)
    y, indices = pool_indices(pool.x, options)
    # A window wholly in the padding: torch's backward writes outside the plane (memory
    # it does not own), so it is no oracle there; test_window_in_the_padding_has_no_winner
    assume(bool(np.all(indices < pool.x.shape[-2] * pool.x.shape[-1])))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    dy = rng.integers(-3, 4, size=y.shape).astype(y.dtype)
    expected = _torch_pool_grad(torch_single_thread, pool.x, "max_pool2d", pool.options, dy)
    _close(pool2d_backward(pool.x, options, dy), expected, 10.0)


@pytest.mark.torch
@given(pool=poolings("avg", ("float32", "float64"), special=False), data=st.data())
def test_avg_pool_backward_matches_autograd(
    pool: Pool, data: Any, torch_single_thread: Any
) -> None:
    options = PoolOptions("avg", **pool.options)
    y = convcli_pool(pool.x, options)
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    dy = rng.integers(-3, 4, size=y.shape).astype(y.dtype)
    expected = _torch_pool_grad(torch_single_thread, pool.x, "avg_pool2d", pool.options, dy)
    _close(pool2d_backward(pool.x, options, dy), expected, 10.0)


@pytest.mark.torch
@given(
    kind=st.sampled_from(["adaptive-max", "adaptive-avg"]),
    shape=st.tuples(st.integers(1, 2), st.integers(1, 7), st.integers(1, 7)),
    size=st.tuples(st.integers(1, 9), st.integers(1, 9)),
    seed=st.integers(0, 2**16),
)
def test_adaptive_pool_backward_matches_autograd(
    kind: str,
    shape: tuple[int, int, int],
    size: tuple[int, int],
    seed: int,
    torch_single_thread: Any,
) -> None:
    rng = np.random.default_rng(seed)
    x = rng.integers(-2, 3, size=shape).astype(np.float64)  # ties: the first wins, as torch
    options = PoolOptions(kind, output_size=size)
    y = convcli_pool(x, options)
    dy = rng.integers(-3, 4, size=y.shape).astype(np.float64)
    name = "adaptive_max_pool2d" if kind == "adaptive-max" else "adaptive_avg_pool2d"
    expected = _torch_pool_grad(torch_single_thread, x, name, {"output_size": size}, dy)
    _close(pool2d_backward(x, options, dy), expected, 10.0)


def convcli_pool(x: Array, options: PoolOptions) -> Array:
    from convcli.ops.pooling import pool

    return pool(x, options)


# --- without torch: the identities -----------------------------------------------------------


@given(conv=convolutions(dtypes=("int8", "int16", "float64")), seed=st.integers(0, 2**16))
def test_dot_product_identity(conv: Conv, seed: int) -> None:
    """<dY, conv(dX-direction)>: sum(dY * conv(X', W)) == sum(dX * X') for any X', and
    sum(dY * conv(X, W')) == sum(dW * W'): the gradients are the adjoints of conv2d."""
    y = conv2d(conv.x, conv.weight, None, conv.stride, conv.padding, conv.dilation, conv.groups)
    rng = np.random.default_rng(seed)
    dy = rng.integers(-3, 4, size=y.shape)
    grads = conv2d_backward(
        conv.x, conv.weight, dy, None, conv.stride, conv.padding, conv.dilation, conv.groups
    )
    x2 = rng.integers(-3, 4, size=conv.x.shape)
    w2 = rng.integers(-3, 4, size=conv.weight.shape)
    wi = conv.weight.astype(np.float64)
    xi = conv.x.astype(np.float64)
    args = (conv.stride, conv.padding, conv.dilation, conv.groups)
    lhs_x = float(np.sum(dy * conv2d(x2.astype(np.float64), wi, None, *args)))
    lhs_w = float(np.sum(dy * conv2d(xi, w2.astype(np.float64), None, *args)))
    scale = 1 + float(np.abs(xi).sum() + np.abs(wi).sum()) * 3 * 3 * np.prod(conv.weight.shape)
    assert abs(lhs_x - float(np.sum(grads.grad_input * x2))) <= 1e-9 * scale
    assert abs(lhs_w - float(np.sum(grads.grad_weight * w2))) <= 1e-9 * scale


def test_integer_gradients_are_exact_int64() -> None:
    x = np.full((1, 2, 5, 5), 2**20, dtype=np.int64)
    w = np.full((1, 2, 3, 3), 2**20, dtype=np.int64)
    grads = conv2d_backward(x, w, bias=np.zeros(1, dtype=np.int64), padding=1)
    assert grads.grad_input.dtype == np.int64 and grads.grad_weight.dtype == np.int64
    assert grads.grad_weight[0, 0, 1, 1] == 25 * 2**20  # the centre tap saw every position
    assert grads.grad_input[0, 0, 2, 2] == 9 * 2**20  # nine outputs read the centre cell


def test_grad_output_of_the_wrong_shape_is_refused() -> None:
    with pytest.raises(ShapeError, match=r"grad_output must have the output's shape \(1, 2, 2\)"):
        conv2d_backward(np.ones((1, 3, 3)), np.ones((1, 1, 2, 2)), np.ones((1, 3, 3)))


def test_lesson_shapes_keep_their_ranks() -> None:
    g = conv_grads(np.ones((2, 3, 3)), np.ones((2, 2, 2)), None, ConvOptions(padding=1))
    assert g.grad_input.shape == (2, 3, 3) and g.grad_weight.shape == (2, 2, 2)
    assert g.grad_output.shape == (4, 4)
    # every input cell is read by the four taps: dX = sum of the 2x2 kernel = 4
    assert g.grad_input.tolist() == np.full((2, 3, 3), 4.0).tolist()


def test_max_pool_ties_and_nan_route_like_pytorch() -> None:
    x = np.array([[[1.0, 1.0], [np.nan, 0.0]]])
    assert pool2d_backward(x, PoolOptions("max", kernel_size=2)).tolist() == [
        [[0.0, 0.0], [1.0, 0.0]]
    ]
    # each window's first maximum wins: (0, 0) for the first window, (0, 1) for the second
    ties = np.ones((1, 2, 3))
    assert pool2d_backward(ties, PoolOptions("max", kernel_size=2, stride=1)).tolist() == [
        [[1.0, 1.0, 0.0], [0.0, 0.0, 0.0]]
    ]


def test_window_in_the_padding_has_no_winner() -> None:
    # Two planes of one cell; every window's taps (dilation 2) fall in the padding.
    options = PoolOptions("max", kernel_size=(1, 2), padding=(0, 1), dilation=2)
    x = np.zeros((2, 1, 1))
    assert pool_indices(x, options)[1].reshape(-1).tolist() == [1, 1]  # past each plane
    assert pool2d_backward(x, options).tolist() == [[[0.0]], [[0.0]]]


@pytest.mark.torch
@given(conv=convolutions(dtypes=("complex128",)), seed=st.integers(0, 2**16))
def test_complex_gradients_follow_autograds_conjugate_convention(
    conv: Conv, seed: int, torch_single_thread: Any
) -> None:
    """dX = dY * conj(K), dW = conj(X) * dY, db = sum dY: torch's for complex tensors."""
    torch = torch_single_thread
    args = (conv.stride, conv.padding, conv.dilation, conv.groups)
    y = conv2d(conv.x, conv.weight, conv.bias, *args)
    rng = np.random.default_rng(seed)
    dy = rng.integers(-3, 4, size=y.shape) + 1j * rng.integers(-3, 4, size=y.shape)
    grads = conv2d_backward(conv.x, conv.weight, dy, conv.bias, *args)
    expected = _torch_conv_grads(torch, conv, dy)
    scale = _scale(conv.x, conv.weight, dy) * np.prod(conv.weight.shape) * np.prod(y.shape)
    _close(grads.grad_input, expected[0], scale)  # type: ignore[arg-type]
    _close(grads.grad_weight, expected[1], scale)  # type: ignore[arg-type]
    if conv.bias is not None:
        assert grads.grad_bias is not None
        _close(grads.grad_bias, expected[2], scale)  # type: ignore[arg-type]


@pytest.mark.torch
@given(pool=poolings("max", ("int16", "uint8")), data=st.data())
def test_integer_max_pool_gradients_are_exact(
    pool: Pool, data: Any, torch_single_thread: Any
) -> None:
    """torch refuses integer tensors in autograd: the same values in float64 are the oracle,
    and the int64 gradient must equal it exactly (ties go to the same winner)."""
    options = PoolOptions("max", **pool.options)
    _y, indices = pool_indices(pool.x, options)
    assume(bool(np.all(indices < pool.x.shape[-2] * pool.x.shape[-1])))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    dy = rng.integers(-3, 4, size=indices.shape)
    wide = pool.x.astype(np.float64)
    expected = _torch_pool_grad(
        torch_single_thread, wide, "max_pool2d", pool.options, dy.astype(np.float64)
    )
    out = pool2d_backward(pool.x, options, dy)
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out, expected.astype(np.int64))
