"""Pooling and transposed-convolution output sizes against PyTorch (shapes only)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from convcli.errors import ConvcliError, OptionError, ShapeError
from convcli.shapes.pooling import (
    adaptive_window,
    ceil_mode_drops,
    pool_output_size,
    resolve_pool_geometry,
)
from convcli.shapes.transposed import (
    output_padding_for,
    resolve_transposed_geometry,
    transposed_output_size,
)


def _torch() -> Any:
    return pytest.importorskip("torch")


def test_ceil_mode_drops_a_window_starting_in_the_padding() -> None:
    # ceil((5 + 2 - 2) / 2) + 1 = 4 windows, but the 4th starts at 6 = n + p: dropped.
    assert pool_output_size(5, 2, stride=2, padding=1, ceil_mode=True) == 3
    assert ceil_mode_drops(5, 2, stride=2, padding=1)
    assert pool_output_size(5, 2, stride=2, ceil_mode=True) == 3
    assert not ceil_mode_drops(5, 2, stride=2)


def test_pool_stride_defaults_to_the_window() -> None:
    assert resolve_pool_geometry((9, 8), (3, 2)).stride == (3, 2)
    assert resolve_pool_geometry((9, 8), (3, 2)).out_size == (3, 4)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"k": 0}, OptionError),
        ({"k": 2, "stride": 0}, OptionError),
        ({"k": 2, "padding": -1}, OptionError),
        ({"k": 2, "padding": 2}, OptionError),
        ({"k": 3, "padding": 2, "dilation": 3}, OptionError),
        ({"k": 2, "dilation": 0}, OptionError),
        ({"k": 6}, ShapeError),
    ],
)
def test_pool_refusals(kwargs: dict[str, Any], error: type[ConvcliError]) -> None:
    with pytest.raises(error):
        pool_output_size(5, **kwargs)


def test_adaptive_windows_cover_the_axis() -> None:
    for n_in in range(1, 12):
        for n_out in range(1, 12):
            windows = [adaptive_window(i, n_in, n_out) for i in range(n_out)]
            assert windows[0][0] == 0
            assert windows[-1][1] == n_in
            assert all(start < end for start, end in windows)


def test_output_padding_rules() -> None:
    assert transposed_output_size(5, 3, stride=1, dilation=2, output_padding=1) == 10
    with pytest.raises(OptionError, match="smaller than either stride or dilation"):
        transposed_output_size(5, 3, stride=2, output_padding=2)
    with pytest.raises(OptionError, match="valid sizes range from"):
        output_padding_for((5, 5), 3, (13, 11), stride=2)
    with pytest.raises(OptionError, match="not both"):
        resolve_transposed_geometry((5, 5), 3, stride=2, output_padding=1, output_size=(12, 12))
    with pytest.raises(ShapeError):
        transposed_output_size(5, 3, padding=4)


@pytest.mark.torch
@given(
    n=st.integers(1, 12),
    k=st.integers(1, 5),
    stride=st.none() | st.integers(1, 4),
    padding=st.integers(0, 3),
    dilation=st.integers(1, 3),
    ceil_mode=st.booleans(),
)
def test_pool_output_size_matches_torch(
    n: int, k: int, stride: int | None, padding: int, dilation: int, ceil_mode: bool
) -> None:
    torch = _torch()
    x = torch.empty(1, 1, n, 1, device="meta")
    try:
        expected = torch.nn.functional.max_pool2d(
            x, (k, 1), (stride or k, 1), (padding, 0), (dilation, 1), ceil_mode
        ).shape[2]
    except RuntimeError:
        expected = None
    if expected is None or expected < 1:
        with pytest.raises(ConvcliError):
            pool_output_size(
                n, k, stride=stride, padding=padding, dilation=dilation, ceil_mode=ceil_mode
            )
    else:
        got = pool_output_size(
            n, k, stride=stride, padding=padding, dilation=dilation, ceil_mode=ceil_mode
        )
        assert got == expected


@pytest.mark.torch
@given(
    n=st.integers(1, 9),
    k=st.integers(1, 5),
    stride=st.integers(1, 4),
    padding=st.integers(0, 4),
    output_padding=st.integers(0, 3),
    dilation=st.integers(1, 3),
)
def test_transposed_output_size_matches_torch(
    n: int, k: int, stride: int, padding: int, output_padding: int, dilation: int
) -> None:
    torch = _torch()
    x = torch.zeros(1, 1, n, 1)
    w = torch.zeros(1, 1, k, 1)
    options = {"stride": stride, "padding": padding, "output_padding": output_padding}
    try:
        expected = torch.nn.functional.conv_transpose2d(
            x,
            w,
            stride=(stride, 1),
            padding=(padding, 0),
            output_padding=(output_padding, 0),
            dilation=(dilation, 1),
        ).shape[2]
    except RuntimeError:
        expected = None
    if expected is None or expected < 1:
        with pytest.raises(ConvcliError):
            transposed_output_size(n, k, dilation=dilation, **options)
    else:
        assert transposed_output_size(n, k, dilation=dilation, **options) == expected


@pytest.mark.torch
@given(
    n=st.integers(1, 9),
    k=st.integers(1, 5),
    stride=st.integers(1, 4),
    padding=st.integers(0, 2),
    dilation=st.integers(1, 3),
    target=st.integers(1, 40),
)
def test_output_padding_for_matches_torch(
    n: int, k: int, stride: int, padding: int, dilation: int, target: int
) -> None:
    torch = _torch()
    layer = torch.nn.ConvTranspose2d(
        1, 1, (k, 1), stride=(stride, 1), padding=(padding, 0), dilation=(dilation, 1)
    ).to("meta")
    x = torch.empty(1, 1, n, 1, device="meta")
    try:
        expected = layer(x, output_size=(target, 1)).shape[2]
    except (ValueError, RuntimeError):
        expected = None
    if expected is None:
        with pytest.raises(ConvcliError):
            output_padding_for(
                (n, 1),
                (k, 1),
                (target, 1),
                stride=(stride, 1),
                padding=(padding, 0),
                dilation=(dilation, 1),
            )
            transposed_output_size(n, k, stride=stride, padding=padding, dilation=dilation)
    else:
        op = output_padding_for(
            (n, 1),
            (k, 1),
            (target, 1),
            stride=(stride, 1),
            padding=(padding, 0),
            dilation=(dilation, 1),
        )
        assert expected == target
        assert op[1] == 0
