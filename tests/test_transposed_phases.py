"""conv_transpose2d's three paths agree with torch: the phases stacked into one conv2d
(k % s == 0, few output channels), one conv2d per phase, and col2im (dilation).

Exact on integer-valued float64 operands, so any misplaced tap shows as a wrong value.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from convcli import conv_transpose2d
from convcli.ops.transposed import _STACK_BELOW_CHANNELS, _stacks
from convcli.shapes.transposed import resolve_transposed_geometry

torch = pytest.importorskip("torch")

Case = tuple[tuple[int, ...], tuple[int, ...], dict[str, Any]]
CASES: list[Case] = [
    # (x shape, weight shape, options): the path each one takes is asserted below
    ((2, 4, 5, 6), (4, 3, 4, 4), {"stride": 2, "padding": 1}),
    ((1, 4, 3, 7), (4, 2, 6, 3), {"stride": (3, 1), "padding": (4, 0), "groups": 2}),
    ((2, 2, 4, 4), (2, 3, 4, 2), {"stride": 2, "padding": 3, "output_padding": 1}),
    ((1, 3, 5, 5), (3, 2, 3, 5), {"stride": 2, "padding": (1, 2), "output_padding": (1, 0)}),
    ((1, 2, 1, 2), (2, 1, 5, 3), {"stride": (3, 2), "padding": (0, 2)}),
    ((2, 4, 4, 3), (4, 2, 3, 3), {"stride": 2, "dilation": 2, "groups": 2}),
    ((1, 2, 6, 6), (2, 130, 2, 2), {"stride": 2}),
]


def _reference(x: Any, w: Any, b: Any, options: dict[str, Any]) -> Any:
    tb = None if b is None else torch.from_numpy(b)
    return torch.nn.functional.conv_transpose2d(
        torch.from_numpy(x), torch.from_numpy(w), tb, **options
    ).numpy()


@pytest.mark.parametrize(("x_shape", "w_shape", "options"), CASES)
@pytest.mark.parametrize("bias", [False, True])
def test_every_path_matches_torch_exactly(
    x_shape: tuple[int, ...], w_shape: tuple[int, ...], options: dict[str, Any], bias: bool
) -> None:
    rng = np.random.default_rng(len(x_shape) + sum(w_shape))
    x = rng.integers(-4, 5, x_shape).astype(np.float64)
    w = rng.integers(-4, 5, w_shape).astype(np.float64)
    values = rng.integers(-4, 5, (w_shape[1] * options.get("groups", 1),)).astype(np.float64)
    b = values if bias else None
    np.testing.assert_array_equal(
        conv_transpose2d(x, w, b, **options), _reference(x, w, b, options)
    )


def test_the_cases_cover_each_path() -> None:
    paths = set()
    for x_shape, w_shape, options in CASES:
        geom = resolve_transposed_geometry(
            (x_shape[-2], x_shape[-1]),
            (w_shape[2], w_shape[3]),
            stride=options.get("stride", 1),
            padding=options.get("padding", 0),
            output_padding=options.get("output_padding", 0),
            dilation=options.get("dilation", 1),
        )
        if geom.dilation != (1, 1):
            paths.add("col2im")
        elif _stacks(geom, w_shape[1]) is not None:
            paths.add("stacked")
        else:
            paths.add("per phase")
    assert paths == {"col2im", "stacked", "per phase"}
    assert CASES[-1][1][1] >= _STACK_BELOW_CHANNELS  # many channels: per phase


def test_stacked_path_reports_progress_per_block_of_samples() -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 4, 6, 6))
    w = rng.standard_normal((4, 2, 4, 4))
    seen: list[tuple[int, int]] = []
    y = conv_transpose2d(
        x, w, stride=2, padding=1, workspace_bytes=4096,
        progress=lambda done, total: seen.append((done, total)),
    )  # fmt: skip
    assert seen == [(0, 3), (1, 3), (2, 3), (3, 3)]
    np.testing.assert_allclose(y, _reference(x, w, None, {"stride": 2, "padding": 1}), atol=1e-12)
