"""The mistakes learners make: each refusal says what is wrong and the likely fix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from clitools import assert_usage_error, invoke, save


def ones(folder: Path, name: str, *shape: int) -> str:
    return save(folder / f"{name}.npy", np.ones(shape, dtype=np.float32))


@pytest.mark.parametrize(
    ("input_shape", "kernel_shape", "extra", "words"),
    [
        # a kernel made for -g 2, run without it
        ((2, 9, 9), (4, 1, 3, 3), [], ["expects 1 input channel,", "try --groups 2"]),
        # a channels-last image
        ((32, 32, 3), (8, 3, 3, 3), [], ["input has 32", "channels-last", "--input-layout nhwc"]),
        # a 3-D kernel meant as 10 filters
        ((1, 28, 28), (10, 5, 5), [], ["(c_i, k_h, k_w)", "use (10, 1, 5, 5)"]),
        # INPUT and KERNEL swapped
        ((2, 2), (5, 5), [], ["did you swap INPUT and KERNEL?"]),
        # 'same' with a stride: the padding that gives ceil(n/s)
        (
            (1, 28, 28),
            (1, 1, 3, 3),
            ["-p", "same", "-s", "2"],
            ["PyTorch", "--padding 1 gives 14x14"],
        ),
    ],
)
def test_run_refusals_carry_the_likely_fix(
    tmp_path: Path,
    input_shape: tuple[int, ...],
    kernel_shape: tuple[int, ...],
    extra: list[str],
    words: list[str],
) -> None:
    x, k = ones(tmp_path, "x", *input_shape), ones(tmp_path, "k", *kernel_shape)
    assert_usage_error(invoke("run", x, k, *extra), *words)


def test_no_hint_where_none_is_likely(tmp_path: Path) -> None:
    x, k = ones(tmp_path, "x", 2, 3, 3), ones(tmp_path, "k", 3, 3, 2, 2)
    result = invoke("run", x, k)
    assert_usage_error(result, "kernel expects 3 input channels, input has 2")
    assert "channels-last" not in result.stderr and "--groups" not in result.stderr


def test_the_suggested_padding_gives_ceil_n_over_s(tmp_path: Path) -> None:
    x, k = ones(tmp_path, "x", 1, 28, 28), ones(tmp_path, "k", 1, 1, 3, 3)
    result = invoke("run", x, k, "-p", "1", "-s", "2", "--json")
    assert result.exit_code == 0, result.output
    assert '"shape": [1, 14, 14]' in result.stdout


def test_a_torch_file_gets_the_numpy_save_hint(tmp_path: Path) -> None:
    (tmp_path / "w.pt").write_bytes(b"\x80\x02")
    x = ones(tmp_path, "x", 1, 4, 4)
    assert_usage_error(invoke("run", x, str(tmp_path / "w.pt")), "'.pt'", "numpy.save")


def test_comma_shapes_get_the_x_hint() -> None:
    assert_usage_error(invoke("shapes", "--input-shape", "1,28,28"), "written with x", "1x28x28")


def test_shapes_says_when_the_lessons_kernel_is_assumed() -> None:
    refused = invoke("shapes", "--input-shape", "1x28x28")
    assert_usage_error(refused, "lesson's 3x2x2x2 kernel was assumed", "give --kernel-shape")
    fits = invoke("shapes", "--input-shape", "2x28x28")
    assert fits.exit_code == 0, fits.output
    assert "the lesson's 3x2x2x2 kernel was assumed" in fits.stderr


def test_one_channel_is_singular(tmp_path: Path) -> None:
    x, k = ones(tmp_path, "x", 2, 5, 5), ones(tmp_path, "k", 1, 1, 3, 3)
    assert_usage_error(invoke("run", x, k), "kernel expects 1 input channel, input has 2")
    lesson = invoke("run", x, ones(tmp_path, "k3", 1, 3, 3), "--mode", "multi-in")
    assert_usage_error(lesson, "kernel expects 1 input channel, input has 2")
