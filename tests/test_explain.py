"""explain_output: every number of one output value, and that value is run's value."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from convcli.ops.explain import explain_output
from convcli.ops.lesson import lesson_input, lesson_kernel_multi_in, lesson_kernel_multi_out
from convcli.ops.modes import run_convolution
from convcli.ops.padding import PADDING_MODES
from convcli.shapes.options import ConvOptions


def test_lesson_output_0_0_is_19_plus_37() -> None:
    e = explain_output(lesson_input(), lesson_kernel_multi_in(), None, (0, 0))
    assert [float(t.total) for t in e.terms] == [19.0, 37.0]
    assert float(e.total) == 56.0 and e.bias is None and float(e.value) == 56.0
    assert e.terms[0].window.tolist() == [[0, 1], [3, 4]]
    assert e.terms[1].window.tolist() == [[1, 2], [4, 5]]
    assert e.terms[0].kernel.tolist() == [[0, 1], [2, 3]]
    assert e.terms[1].products.tolist() == [[1, 4], [12, 20]]
    assert e.input_rows == (0, 1) and e.input_cols == (0, 1)


def test_lesson_multi_out_picks_the_output_channels_kernel() -> None:
    bias = np.array([0.5, -1.0, 2.0], dtype=np.float32)
    e = explain_output(lesson_input(), lesson_kernel_multi_out(), bias, (2, 1, 1))
    assert e.out_channel == 2 and e.terms[0].kernel_index == (2, 0)
    assert float(e.value) == 224.0 + 2.0
    assert float(e.bias) == 2.0


def test_padding_cells_are_marked_and_copied_by_the_padding_mode() -> None:
    x = np.arange(9).reshape(1, 3, 3)
    k = np.ones((1, 1, 3, 3), dtype=int)
    zeros = explain_output(x, k, None, (0, 0, 0), ConvOptions(padding=1))
    assert zeros.input_rows == (-1, 0, 1)
    assert zeros.terms[0].padding.tolist() == [
        [True, True, True],
        [True, False, False],
        [True, False, False],
    ]
    assert zeros.terms[0].window.tolist() == [[0, 0, 0], [0, 0, 1], [0, 3, 4]]
    assert zeros.padded_taps == 5
    reflect = explain_output(x, k, None, (0, 0, 0), ConvOptions(padding=1, padding_mode="reflect"))
    assert reflect.terms[0].window.tolist() == [[4, 3, 4], [1, 0, 1], [4, 3, 4]]
    assert reflect.terms[0].source_rows == (1, 0, 1)


def test_dilation_takes_every_dth_cell_and_groups_only_their_channels() -> None:
    x = np.arange(4 * 5 * 5).reshape(4, 5, 5)
    w = np.ones((4, 2, 2, 2), dtype=int)
    e = explain_output(x, w, None, (3, 0, 1), ConvOptions(dilation=2, groups=2))
    assert e.group == 1 and [t.channel for t in e.terms] == [2, 3]
    assert e.input_rows == (0, 2) and e.input_cols == (1, 3)
    assert e.terms[0].window.tolist() == [[51, 53], [61, 63]]


def test_flip_uses_the_rotated_kernel() -> None:
    x = np.arange(9).reshape(3, 3)
    k = np.array([[1, 2], [3, 4]])
    e = explain_output(x, k, None, (0, 0), ConvOptions(flip=True))
    assert e.terms[0].kernel.tolist() == [[4, 3], [2, 1]]
    assert int(e.value) == 0 * 4 + 1 * 3 + 3 * 2 + 4 * 1


@pytest.mark.parametrize(
    ("position", "words"),
    [
        ((0, 0), "needs 3 indices o,i,j"),
        ((3, 0, 0), "c_o=3 but the output has c_o in 0..2"),
        ((0, 2, 0), "m_h=2"),
        ((0, 0, -1), "m_w=-1"),
    ],
)
def test_out_of_range_positions(position: tuple[int, ...], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        explain_output(lesson_input(), lesson_kernel_multi_out(), None, position)


def random_case(seed: int) -> tuple[Any, Any, Any, ConvOptions, tuple[int, ...]]:
    """A random run: kernel rank 2/3/4, batched or not, every option, any padding mode."""
    rng = np.random.default_rng(seed)
    kernel_ndim = int(rng.choice([2, 3, 4]))
    groups = int(rng.choice([1, 2])) if kernel_ndim == 4 else 1
    c_i = 2 * int(rng.integers(1, 3)) if kernel_ndim > 2 else 1
    c_o = groups * int(rng.integers(1, 3))
    k_h, k_w = (int(v) for v in rng.integers(1, 4, 2))
    h, w = (int(v) for v in rng.integers(4, 8, 2))
    batched = kernel_ndim > 2 and bool(rng.integers(0, 2))
    x_shape: tuple[int, ...] = (h, w) if kernel_ndim == 2 else (c_i, h, w)
    if batched:
        x_shape = (2, *x_shape)
    k_shape = {2: (k_h, k_w), 3: (c_i, k_h, k_w), 4: (c_o, c_i // groups, k_h, k_w)}[kernel_ndim]
    x: npt.NDArray[Any]
    k: npt.NDArray[Any]
    if rng.integers(0, 2):
        x, k = rng.integers(-9, 10, x_shape), rng.integers(-9, 10, k_shape)
    else:
        x, k = rng.standard_normal(x_shape), rng.standard_normal(k_shape).astype(np.float32)
    bias = rng.integers(-5, 6, c_o if kernel_ndim == 4 else 1) if rng.integers(0, 2) else None
    same = bool(rng.integers(0, 4) == 0)
    options = ConvOptions(
        stride=1 if same else (int(rng.integers(1, 3)), int(rng.integers(1, 3))),
        padding="same" if same else (int(rng.integers(0, 2)), int(rng.integers(0, 2))),
        dilation=(int(rng.integers(1, 3)), 1),
        groups=groups,
        padding_mode=str(rng.choice(PADDING_MODES)),
        flip=bool(rng.integers(0, 2)),
    )
    return x, k, bias, options, x_shape


@pytest.mark.parametrize("seed", range(150))
def test_explained_value_is_runs_value(seed: int) -> None:
    x, k, bias, options, _ = random_case(seed)
    try:
        result = run_convolution(x, k, bias, options=options).output
    except ValueError:
        with pytest.raises(ValueError):
            explain_output(x, k, bias, (0,) * (x.ndim - (k.ndim < 4) + (k.ndim == 2)), options)
        return
    rng = np.random.default_rng(seed + 1000)
    for _ in range(4):
        position = tuple(int(rng.integers(0, size)) for size in result.shape)
        e = explain_output(x, k, bias, position, options)
        assert e.output_shape == result.shape
        assert e.value.dtype == result.dtype
        if result.dtype.kind in "iu":
            assert e.value == result[position]
        else:
            np.testing.assert_allclose(e.value, result[position], rtol=1e-5, atol=1e-5)
        # the value is the sum of the channel sums plus the bias, which are sums of products
        for term in e.terms:
            np.testing.assert_allclose(term.total, term.products.sum(), rtol=1e-6, atol=1e-6)
            np.testing.assert_array_equal(term.products, term.window * term.kernel)
