"""samples/ holds the lesson's tensors, as JSON and .npy, equal to convcli.ops.lesson's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from clitools import SAMPLES

from convcli.ops.lesson import (
    lesson_1x1_input,
    lesson_1x1_kernel,
    lesson_input,
    lesson_kernel_multi_in,
    lesson_kernel_multi_out,
)
from convcli.tensorio.files import load_tensor

LESSON: dict[str, Callable[[], npt.NDArray[Any]]] = {
    "lesson_X": lesson_input,
    "lesson_K_multi_in": lesson_kernel_multi_in,
    "lesson_K_multi_out": lesson_kernel_multi_out,
    "lesson_1x1_X": lesson_1x1_input,
    "lesson_1x1_K": lesson_1x1_kernel,
    "lesson_X_nhwc": lambda: lesson_input().transpose(1, 2, 0),
    "lesson_K_multi_out_hwio": lambda: lesson_kernel_multi_out().transpose(2, 3, 1, 0),
}


@pytest.mark.parametrize("ext", ["json", "npy"])
@pytest.mark.parametrize("name", sorted(LESSON))
def test_sample_is_the_lessons_tensor(name: str, ext: str) -> None:
    loaded = load_tensor(str(SAMPLES / f"{name}.{ext}"))
    expected = LESSON[name]()
    assert loaded.dtype == expected.dtype == np.float32
    np.testing.assert_array_equal(loaded, expected)


def test_every_sample_comes_in_both_formats() -> None:
    json_names = {path.stem for path in SAMPLES.glob("*.json")}
    npy_names = {path.stem for path in SAMPLES.glob("*.npy")}
    assert json_names == npy_names
    assert set(LESSON) <= json_names
