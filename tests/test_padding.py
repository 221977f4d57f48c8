"""Padding modes and true convolution: against PyTorch, an independent numpy construction
and small examples worked by hand."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from reference import conv2d_reference

from convcli import conv2d
from convcli.ops.padding import (
    PADDING_MODES,
    check_padding_mode,
    flip_kernel,
    pad_for_conv,
    pad_input,
    source_index,
)

Array = npt.NDArray[Any]


def pad_by_slices(x: Array, pads: tuple[int, int, int, int], mode: str) -> Array:
    """Padding built from slices and concatenations, one axis at a time (no np.pad)."""

    def along(a: Array, before: int, after: int, axis: int) -> Array:
        n = a.shape[axis]

        def take(idx: list[int]) -> Array:
            return np.take(a, idx, axis=axis)

        if mode == "zeros":
            shape = list(a.shape)
            shape[axis] = before
            head = np.zeros(shape, a.dtype)
            shape[axis] = after
            tail = np.zeros(shape, a.dtype)
        elif mode == "replicate":
            head, tail = take([0] * before), take([n - 1] * after)
        elif mode == "circular":
            head, tail = take(list(range(n - before, n))), take(list(range(after)))
        else:  # reflect: mirror at the edge cell, which is not repeated
            head = take(list(range(before, 0, -1)))
            tail = take(list(range(n - 2, n - 2 - after, -1)))
        return np.concatenate([head, a, tail], axis=axis)

    top, bottom, left, right = pads
    return along(along(x, top, bottom, x.ndim - 2), left, right, x.ndim - 1)


@pytest.mark.parametrize("mode", PADDING_MODES)
@pytest.mark.parametrize("pads", [(0, 0, 0, 0), (1, 1, 1, 1), (2, 0, 1, 2), (3, 3, 2, 2)])
def test_pad_input_matches_slices_and_source_index(
    mode: str, pads: tuple[int, int, int, int]
) -> None:
    x = np.arange(1, 1 + 2 * 4 * 3).reshape(2, 4, 3)
    padded = pad_input(x, pads, mode)
    np.testing.assert_array_equal(padded, pad_by_slices(x, pads, mode))
    for i in range(padded.shape[1]):
        for j in range(padded.shape[2]):
            r, c = source_index(i, 4, pads[0], mode), source_index(j, 3, pads[2], mode)
            expected = 0 if r is None or c is None else x[:, r, c]
            np.testing.assert_array_equal(padded[:, i, j], expected)


@pytest.mark.parametrize(
    ("mode", "in_size", "pads", "words"),
    [
        ("reflect", (3, 3), (3, 0, 0, 0), "reflect padding 3 must be < input height 3"),
        ("reflect", (5, 2), (0, 0, 0, 2), "reflect padding 2 must be < input width 2"),
        ("circular", (3, 3), (0, 4, 0, 0), "circular padding 4 must be <= input height 3"),
        ("mirror", (3, 3), (0, 0, 0, 0), "padding mode must be one of"),
    ],
)
def test_check_padding_mode_errors(
    mode: str, in_size: tuple[int, int], pads: tuple[int, int, int, int], words: str
) -> None:
    with pytest.raises(ValueError, match=words):
        check_padding_mode(mode, in_size, pads)


def test_replicate_and_circular_limits() -> None:
    check_padding_mode("replicate", (1, 1), (9, 9, 9, 9))
    check_padding_mode("circular", (3, 3), (3, 3, 3, 3))


CONFIGS = [
    {"padding": 1},
    {"padding": (2, 1), "stride": (2, 1)},
    {"padding": "same", "dilation": (2, 1)},
    {"padding": "same", "groups": 2},
    {"padding": (1, 2), "stride": 2, "dilation": 2, "groups": 2},
]


@pytest.mark.parametrize("mode", PADDING_MODES)
@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("flip", [False, True])
def test_conv2d_padding_mode_matches_an_independent_construction(
    mode: str, config: dict[str, Any], flip: bool
) -> None:
    rng = np.random.default_rng(11)
    groups = int(config.get("groups", 1))
    x = rng.integers(-9, 10, (2, 4, 6, 7))
    w = rng.integers(-9, 10, (6, 4 // groups, 3, 2))
    b = rng.integers(-9, 10, 6)
    pads = _pads(config, w.shape[2:])
    padded = pad_by_slices(x, pads, mode)
    kernel = np.rot90(w, 2, axes=(2, 3)) if flip else w
    rest = {k: v for k, v in config.items() if k != "padding"}
    expected = conv2d_reference(padded, kernel, b, **rest)
    actual = conv2d(x, w, b, padding_mode=mode, flip=flip, **config)
    np.testing.assert_array_equal(actual, expected)


def _pads(config: dict[str, Any], kernel: tuple[int, ...]) -> tuple[int, int, int, int]:
    padding = config["padding"]
    if padding == "same":
        d = config.get("dilation", 1)
        d_h, d_w = (d, d) if isinstance(d, int) else d
        t_h, t_w = d_h * (kernel[0] - 1), d_w * (kernel[1] - 1)
        return (t_h // 2, t_h - t_h // 2, t_w // 2, t_w - t_w // 2)
    p_h, p_w = (padding, padding) if isinstance(padding, int) else padding
    return (p_h, p_h, p_w, p_w)


@pytest.mark.torch
@pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")
@pytest.mark.parametrize("mode", PADDING_MODES)
@pytest.mark.parametrize("config", CONFIGS)
def test_conv2d_padding_mode_matches_pytorch(mode: str, config: dict[str, Any]) -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    groups = int(config.get("groups", 1))
    x = rng.standard_normal((2, 4, 6, 7))
    w = rng.standard_normal((6, 4 // groups, 3, 2))
    b = rng.standard_normal(6)
    layer = torch.nn.Conv2d(4, 6, (3, 2), padding_mode=mode, **config).double()
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(w))
        layer.bias.copy_(torch.from_numpy(b))
        expected = layer(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(conv2d(x, w, b, padding_mode=mode, **config), expected, atol=1e-12)


@pytest.mark.torch
@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_pad_input_matches_torch_pad(mode: str) -> None:
    torch = pytest.importorskip("torch")
    functional = pytest.importorskip("torch.nn.functional")
    x = np.arange(24.0).reshape(1, 2, 3, 4)
    pads = (2, 1, 3, 0)  # top, bottom, left, right; F.pad takes (left, right, top, bottom)
    expected = functional.pad(torch.from_numpy(x), (3, 0, 2, 1), mode=mode).numpy()
    np.testing.assert_array_equal(pad_input(x, pads, mode), expected)


def test_reflect_padding_too_large_is_refused_as_pytorch_does() -> None:
    with pytest.raises(ValueError, match="reflect padding 3 must be < input height 3"):
        conv2d(np.ones((1, 3, 3)), np.ones((1, 1, 2, 2)), padding=3, padding_mode="reflect")


def test_unknown_padding_mode() -> None:
    with pytest.raises(ValueError, match="padding mode must be one of"):
        conv2d(np.ones((1, 3, 3)), np.ones((1, 1, 2, 2)), padding_mode="mirror")


def test_padding_mode_without_padding_changes_nothing() -> None:
    x, w = np.arange(18).reshape(2, 3, 3), np.arange(8).reshape(1, 2, 2, 2)
    for mode in PADDING_MODES:
        np.testing.assert_array_equal(conv2d(x, w, padding_mode=mode), conv2d(x, w))


def test_pad_for_conv_validates_shapes_first() -> None:
    with pytest.raises(ValueError, match="kernel expects 3 input channels"):
        pad_for_conv(np.ones((2, 3, 3)), np.ones((1, 3, 2, 2)), padding=1, mode="reflect")


# --- flip: true convolution ----------------------------------------------------


def test_flip_kernel_rotates_180_degrees() -> None:
    w = np.arange(2 * 2 * 3).reshape(1, 2, 2, 3)
    np.testing.assert_array_equal(flip_kernel(w), np.rot90(w, 2, axes=(2, 3)))


def test_full_convolution_worked_by_hand() -> None:
    # convolve2d([[1, 2], [3, 4]], [[0, 1], [1, 0]]) (mode "full"), summed by hand:
    # y[i, j] = sum over m, n of x[m, n] * k[i - m, j - n].
    x = np.array([[[1, 2], [3, 4]]])
    k = np.array([[[[0, 1], [1, 0]]]])
    full = conv2d(x, k, padding=1, flip=True)
    assert full[0].tolist() == [[0, 1, 2], [1, 5, 4], [3, 4, 0]]


def test_convolving_an_impulse_gives_back_the_kernel() -> None:
    # The impulse response of a convolution is its kernel; cross-correlation gives
    # the kernel rotated 180 degrees. This is what --flip changes.
    impulse = np.zeros((1, 3, 3), dtype=int)
    impulse[0, 1, 1] = 1
    k = np.array([[[[1, 2], [3, 4]]]])
    assert conv2d(impulse, k, padding=1, flip=True)[0, 1:3, 1:3].tolist() == [[1, 2], [3, 4]]
    assert conv2d(impulse, k, padding=1)[0, 1:3, 1:3].tolist() == [[4, 3], [2, 1]]


@pytest.mark.parametrize("mode", PADDING_MODES)
@pytest.mark.parametrize("groups", [1, 2])
def test_chunked_runs_pad_and_flip_as_conv2d_does(mode: str, groups: int) -> None:
    from convcli.ops.chunked import conv2d_chunked

    rng = np.random.default_rng(groups)
    x = rng.integers(-3, 4, (3, 8, 10, 9))
    w = rng.integers(-3, 4, (8, 8 // groups, 3, 2))
    b = rng.integers(-3, 4, 8)
    for flip in (False, True):
        chunked = conv2d_chunked(
            x,
            w,
            b,
            padding=(2, 1),
            groups=groups,
            progress=lambda done, total: None,
            chunk_macs=50,
            padding_mode=mode,
            flip=flip,
        )
        whole = conv2d(x, w, b, padding=(2, 1), groups=groups, padding_mode=mode, flip=flip)
        np.testing.assert_array_equal(chunked, whole)
