"""Issue 19 defect 11: shapes as people paste them, read by the one shape parser everywhere."""

from __future__ import annotations

from pathlib import Path

import pytest
from clitools import assert_usage_error, invoke
from hypothesis import given
from hypothesis import strategies as st

from convcli.shapes.parsing import parse_shape


def _pasted(shape: tuple[int, ...]) -> list[str]:
    """``shape`` as Python prints it: a tuple, a list, a torch.Size, with and without spaces."""
    listed = ", ".join(map(str, shape))
    tight = ",".join(map(str, shape))
    one = "," if len(shape) == 1 else ""
    return [
        f"({listed}{one})",
        f"({tight})" if len(shape) > 1 else f"({tight},)",
        f"[{listed}]",
        f"[{tight}]",
        f"torch.Size([{listed}])",
        f" torch.Size( [{tight}] ) ",
    ]


@given(st.lists(st.integers(1, 10**6), min_size=1, max_size=5))
def test_every_pasted_form_reads_as_the_x_form(sizes: list[int]) -> None:
    shape = tuple(sizes)
    ndims = (len(shape),)
    assert parse_shape("x".join(map(str, shape)), ndims=ndims) == shape
    for text in _pasted(shape):
        assert parse_shape(text, ndims=ndims) == shape, text


def test_torch_size_is_what_torch_prints() -> None:
    torch = pytest.importorskip("torch")
    for shape in ((1, 64, 56, 56), (3, 32, 32), (8, 4)):
        size = torch.zeros(shape).shape
        assert parse_shape(str(size), ndims=(len(shape),)) == shape
        assert parse_shape(str(tuple(size)), ndims=(len(shape),)) == shape
        assert parse_shape(str(list(size)), ndims=(len(shape),)) == shape


@pytest.mark.parametrize(
    "text",
    ["()", "[]", "torch.Size([])", "(1,,2)", "(1, 2.0, 3)", "[1, -2, 3]", "((1, 2), 3)", "(1x2)",
     "torch.Size((1, 2, 3))", "[1, 2, 3", "(0, 2, 3)"],
)  # fmt: skip
def test_malformed_pasted_shapes_are_refused_by_the_option(text: str) -> None:
    assert_usage_error(
        invoke("shapes", "--input-shape", text, "--kernel-shape", "2x3x3x3"), "--input-shape"
    )


# Each command with a shape option, with the x form of its shapes: (args before, option, shape).
COMMANDS = {
    "shapes": (["shapes", "--kernel-shape", "8x3x3x3"], "--input-shape", (1, 3, 32, 32)),
    "shapes-kernel": (["shapes", "--input-shape", "3x32x32"], "--kernel-shape", (8, 3, 3, 3)),
    "shapes --transposed": (
        ["shapes", "--transposed", "--kernel-shape", "4x2x3x3", "-s", "2"],
        "--input-shape",
        (1, 4, 7, 7),
    ),
    "shapes --pool": (
        ["shapes", "--pool", "max", "--kernel-size", "2"],
        "--input-shape",
        (1, 3, 8, 8),
    ),
    "net": (["net", "conv(4, k=3) > relu"], "--input-shape", (1, 3, 16, 16)),
    "verify-1x1": (["verify-1x1", "--seed", "1"], "--input-shape", (3, 5, 5)),
}


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_shape_option_takes_pasted_shapes(name: str) -> None:
    before, flag, shape = COMMANDS[name]
    expected = invoke(*before, flag, "x".join(map(str, shape)), "--json")
    assert expected.exit_code == 0, expected.output
    for text in _pasted(shape):
        result = invoke(*before, flag, text, "--json")
        assert result.exit_code == 0, (text, result.output)
        assert result.stdout == expected.stdout, text


def test_draw_takes_pasted_shapes(tmp_path: Path) -> None:
    written = []
    for number, (input_shape, kernel_shape) in enumerate(
        (
            ("5x5", "3x3"),
            ("(5, 5)", "torch.Size([3, 3])"),
            ("1x1x5x5", "1x1x3x3"),
            ("[1, 1, 5, 5]", "(1, 1, 3, 3)"),
        )
    ):
        out = tmp_path / f"d{number}.svg"
        result = invoke(
            "draw", "--input-shape", input_shape, "--kernel-shape", kernel_shape,
            "-p", "1", "--output", str(out),
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        written.append(out.read_text(encoding="utf-8"))
    assert written[1] == written[0]
    assert written[3] == written[2]


@pytest.mark.parametrize("option", ["--output-size", "--want-output"])
def test_sizes_take_a_pasted_output_shape(option: str) -> None:
    """--output-size (as nn.ConvTranspose2d's output_size) and --want-output read a pasted
    shape's last two sizes, and H,W, HxW or N, all the same."""
    args = ["shapes", "--transposed", "--input-shape", "8x28x28", "--kernel-shape", "8x4x3x3",
            "-s", "2", "-p", "1"]  # fmt: skip
    outputs = {
        text: invoke(*args, option, text, "--json").stdout
        for text in ("56", "56,56", "56x56", "(56, 56)", "torch.Size([1, 4, 56, 56])", "4x56x56")
    }
    assert len(set(outputs.values())) == 1, outputs
    assert '"output_padding": [1, 1]' in outputs["56"] or '"output_padding": 1' in outputs["56"]
