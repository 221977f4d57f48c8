"""Solve backwards (issue 19): ``shapes --want-output``. Every answer is worked forward
again by the forward formulas (and, for a sample, by torch); every refusal is checked by
searching the options it says cannot work."""

from __future__ import annotations

import pytest
from clitools import assert_usage_error, invoke, json_of
from hypothesis import given
from hypothesis import strategies as st

from convcli.shapes.geometry import output_size, resolve_geometry
from convcli.shapes.pooling import pool_output_size
from convcli.shapes.solve import (
    NoAnswer,
    solve_conv_axis,
    solve_pool_axis,
    solve_transposed_axis,
)
from convcli.shapes.transposed import check_output_padding, transposed_output_size

SIZES = st.integers(1, 64)
KERNELS = st.integers(1, 7)
STRIDES = st.integers(1, 5)
DILATIONS = st.integers(1, 3)


@given(SIZES, KERNELS, SIZES, st.none() | STRIDES, DILATIONS)
def test_conv_answers_give_the_size_and_refusals_are_true(
    n: int, k: int, want: int, stride: int | None, d: int
) -> None:
    span = d * (k - 1) + 1
    try:
        answers = solve_conv_axis(n, k, want, stride=stride, dilation=d)
    except NoAnswer as refusal:
        strides = [stride] if stride is not None else range(1, span + 1)
        limit = 4 * (n + span + want * 5) if stride is not None else span
        for s in strides:
            for p in range(limit):
                if n + 2 * p >= span:
                    assert output_size(n, k, stride=s, padding=p, dilation=d) != want
        assert refusal.nearest and want not in refusal.nearest
        return
    assert answers
    for answer in answers:
        assert answer.output == want
        if answer.padding == "same":
            assert answer.stride == 1 and want == n
            geometry = resolve_geometry((n, n), (k, k), padding="same", dilation=d)
            assert geometry.out_size == (want, want)
            continue
        assert isinstance(answer.padding, int) and answer.padding >= 0
        if stride is not None:
            assert answer.stride == stride
        got = output_size(n, k, stride=answer.stride, padding=answer.padding, dilation=d)
        assert got == want
        assert 0 <= answer.leftover < answer.stride
        # The leftover is what one more window would need: the input ends before it.
        last_end = (want - 1) * answer.stride + span
        assert n + 2 * answer.padding - last_end == answer.leftover


@given(SIZES, KERNELS, st.integers(1, 140), STRIDES, st.integers(0, 6), DILATIONS)
def test_transposed_answers_give_the_size_and_refusals_are_true(
    n: int, k: int, want: int, s: int, p: int, d: int
) -> None:
    span = d * (k - 1) + 1
    try:
        answers = solve_transposed_axis(n, k, want, stride=s, padding=p, dilation=d)
    except NoAnswer as refusal:
        for pad in range(span):
            for op in range(max(s, d)):
                size = (n - 1) * s - 2 * pad + d * (k - 1) + op + 1
                assert size != want or size < 1
        assert want not in refusal.nearest
        return
    for answer in answers:
        assert answer.output_padding is not None and isinstance(answer.padding, int)
        check_output_padding(answer.output_padding, stride=s, dilation=d)
        got = transposed_output_size(
            n, k, stride=s, padding=answer.padding, output_padding=answer.output_padding,
            dilation=d,
        )  # fmt: skip
        assert got == want
        back = output_size(want, k, stride=s, padding=answer.padding, dilation=d)
        assert answer.undoes == (back == n)
    # The given padding is kept whenever it can reach the size.
    if answers[0].padding != p:
        base = (n - 1) * s - 2 * p + d * (k - 1) + 1
        assert not 0 <= want - base < max(s, d)


@given(SIZES, st.integers(1, 6), SIZES, st.none() | STRIDES, DILATIONS)
def test_pool_answers_give_the_size_and_refusals_are_true(
    n: int, k: int, want: int, stride: int | None, d: int
) -> None:
    s = k if stride is None else stride
    try:
        answers = solve_pool_axis(n, k, want, stride=stride, dilation=d)
    except NoAnswer:
        for p in range(k // 2 + 1):
            for ceil in (False, True):
                try:
                    got = pool_output_size(n, k, stride=s, padding=p, dilation=d, ceil_mode=ceil)
                except ValueError:
                    continue
                assert got != want
        return
    for answer in answers:
        assert isinstance(answer.padding, int) and answer.ceil_mode is not None
        got = pool_output_size(
            n, k, stride=s, padding=answer.padding, dilation=d, ceil_mode=answer.ceil_mode
        )
        assert got == want
        if answer.ceil_mode:
            # ceil_mode is said to be needed only when rounding down does not give the size.
            try:
                floor = pool_output_size(n, k, stride=s, padding=answer.padding, dilation=d)
            except ValueError:
                continue
            assert floor != want


def test_the_issue_example_transposed_28_to_56() -> None:
    args = ["shapes", "--transposed", "--input-shape", "1x64x28x28", "--kernel-shape",
            "64x64x3x3", "-s", "2", "-p", "1"]  # fmt: skip
    assert json_of(invoke(*args, "--json"))["output_shape"] == [1, 64, 55, 55]
    text = " ".join(invoke(*args, "--want-output", "56").stdout.split())
    assert "--output-padding 1 gives 56x56, the size the convolution started from" in text
    payload = json_of(invoke(*args, "--want-output", "56,56", "--json"))
    assert payload["suggested"]["output_padding"] == [1, 1]
    assert payload["answers"]["h"][0]["undoes"] is True
    # The suggestion, given back to shapes, gives the size.
    forward = json_of(invoke(*args, "--output-padding", "1", "--json"))
    assert forward["output_shape"][-2:] == [56, 56]


def test_same_is_named_and_the_stride_search_finds_stride_2() -> None:
    args = ["shapes", "--input-shape", "64x56x56", "--kernel-shape", "128x64x4x4"]
    same = json_of(invoke(*args, "--want-output", "56x56", "--json"))
    assert same["suggested"]["padding"] == "same"
    assert "same" in invoke(*args, "--want-output", "56x56").stdout
    halved = json_of(invoke(*args, "--want-output", "28", "--json"))
    assert [(a["stride"], a["padding"]) for a in halved["answers"]["h"]] == [(2, 1)]
    forward = json_of(invoke(*args, "-s", "2", "-p", "1", "--json"))
    assert forward["output_shape"][-2:] == [28, 28]


def test_pool_says_whether_ceil_mode_is_needed() -> None:
    args = ["shapes", "--pool", "max", "--input-shape", "3x5x5", "--kernel-size", "2"]
    needed = json_of(invoke(*args, "--want-output", "3", "--json"))
    assert needed["suggested"]["ceil_mode"] is True
    assert "--ceil-mode is needed" in invoke(*args, "--want-output", "3").stdout
    floor = json_of(invoke(*args, "--want-output", "2", "--json"))
    assert floor["suggested"]["ceil_mode"] is False


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--input-shape", "64x56x56", "--kernel-shape", "8x64x3x3", "--want-output", "57"],
         "nearest reachable sizes are 56 or 58"),
        (["--input-shape", "64x56x56", "--kernel-shape", "8x64x3x3", "--want-output", "57",
          "-p", "1"], "give no --padding"),
        (["--transposed", "--input-shape", "4x28x28", "--kernel-shape", "4x4x3x3", "-s", "2",
          "-p", "1", "--want-output", "60"], "nearest reachable sizes are 58"),
        (["--pool", "max", "--input-shape", "3x5x5", "--kernel-size", "2", "--want-output",
          "9"], "nearest reachable sizes are 3"),
        (["--pool", "adaptive-avg", "--input-shape", "3x5x5", "--want-output", "2"],
         "--output-size"),
        (["--pool", "max", "--input-shape", "3x5x5", "--kernel-size", "2", "--ceil-mode",
          "--want-output", "3"], "--ceil-mode"),
        (["--input-shape", "3x8x8", "--kernel-shape", "4x3x3x3", "--want-output", "0"],
         "--want-output"),
        (["--input-shape", "3x8x8", "--kernel-shape", "4x3x3x3", "--want-output", "2x3x4x5x6"],
         "--want-output"),
    ],
)  # fmt: skip
def test_refusals_name_the_option_and_the_nearest_sizes(args: list[str], words: str) -> None:
    assert_usage_error(invoke("shapes", *args), words)


CASES = [
    ("conv", (1, 3, 56, 56), (8, 3, 3, 3), ["--want-output", "28"]),
    ("conv", (1, 3, 31, 20), (8, 3, 5, 3), ["--want-output", "16,10", "-d", "2"]),
    ("conv", (1, 3, 32, 32), (8, 3, 4, 4), ["--want-output", "32"]),
    ("convT", (1, 4, 28, 28), (4, 6, 3, 3), ["--want-output", "56", "-s", "2", "-p", "1"]),
    ("convT", (1, 4, 7, 9), (4, 6, 4, 4), ["--want-output", "15,19", "-s", "2", "-p", "1"]),
    ("max", (1, 3, 5, 5), (2, 2), ["--want-output", "3"]),
    ("avg", (1, 3, 112, 112), (3, 3), ["--want-output", "56", "-s", "2"]),
]


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize(("kind", "x_shape", "k_shape", "flags"), CASES)
def test_suggestions_give_the_size_in_torch(
    kind: str, x_shape: tuple[int, ...], k_shape: tuple[int, ...], flags: list[str]
) -> None:
    torch = pytest.importorskip("torch")
    shape = "x".join(map(str, x_shape))
    if kind in ("max", "avg"):
        args = ["--pool", kind, "--input-shape", shape, "--kernel-size", str(k_shape[0])]
    else:
        args = ["--input-shape", shape, "--kernel-shape", "x".join(map(str, k_shape))]
        if kind == "convT":
            args.insert(0, "--transposed")
    payload = json_of(invoke("shapes", *args, *flags, "--json"))
    chosen = payload["suggested"]
    padding = chosen["padding"] if chosen["padding"] == "same" else tuple(chosen["padding"])
    x = torch.zeros(x_shape)
    dilation = int(flags[flags.index("-d") + 1]) if "-d" in flags else 1
    if kind == "conv":
        layer = torch.nn.Conv2d(
            x_shape[1], k_shape[0], k_shape[2:], stride=tuple(chosen["stride"]),
            padding=padding, dilation=dilation,
        )  # fmt: skip
    elif kind == "convT":
        layer = torch.nn.ConvTranspose2d(
            x_shape[1], k_shape[1], k_shape[2:], stride=tuple(chosen["stride"]),
            padding=padding, output_padding=tuple(chosen["output_padding"]),
        )  # fmt: skip
    else:
        pool = torch.nn.MaxPool2d if kind == "max" else torch.nn.AvgPool2d
        layer = pool(
            k_shape, stride=tuple(chosen["stride"]), padding=padding,
            ceil_mode=chosen["ceil_mode"],
        )  # fmt: skip
    assert list(layer(x).shape[-2:]) == payload["want_output"]


@pytest.mark.parametrize(
    "args",
    [
        ["--transposed", "--input-shape", "1x5x5", "--kernel-shape", "1x1x3x3", "-d",
         "1000000000000", "--want-output", "5"],
        ["--transposed", "--input-shape", "1x5x5", "--kernel-shape", "1x1x3x3", "-s",
         "1000000000000", "--want-output", "7"],
        ["--pool", "max", "--input-shape", "1x5x5", "--kernel-size", "100000000000",
         "--want-output", "5"],
        ["--input-shape", "1x5x5", "--kernel-shape", "1x1x3x3", "-d", "1000000000000",
         "--want-output", "5"],
        ["--input-shape", "1x5x5", "--kernel-shape", "1x1x3x3", "-s", "1000000000000",
         "--want-output", "999999999999999999"],
    ],
)  # fmt: skip
def test_huge_sizes_are_answered_at_once_and_printed_whole(args: list[str]) -> None:
    """Hostile input: strides, dilations, windows and sizes of 12 to 18 digits are solved
    by arithmetic (no loop over them), answered or refused in one line, nothing cut."""
    import time

    started = time.monotonic()
    result = invoke("shapes", *args, env={"COLUMNS": "80", "NO_COLOR": "1"})
    assert time.monotonic() - started < 5
    assert result.exit_code in (0, 2), result.output
    assert "…" not in result.output
    if result.exit_code == 0:
        payload = json_of(invoke("shapes", *args, "--json"))
        assert payload["answers"]["h"]
