"""--input-layout nhwc and --kernel-layout hwio (TensorFlow's layouts), their hints, and
the Python API's ``input_layout``/``kernel_layout``, ``to_nchw`` and ``to_oihw``.

The torch tests give torch the same tensors in its own layout (``permute``) and compare."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from clitools import assert_usage_error, invoke, save
from tracing import peak_allocation

from convcli import OptionError, conv2d, to_nchw, to_oihw
from convcli.shapes.layout import Layouts, input_order, kernel_order, layout_note, permuted

PLAIN = {"COLUMNS": "80", "NO_COLOR": "1", "TERM": "dumb"}
# The layouts' names are code, the same in every language.
LAYOUT_WORDS = {"nchw", "nhwc", "oihw", "hwio", "NCHW", "NHWC", "OIHW", "HWIO"}


def _ints(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.integers(-3, 4, size=shape).astype(np.float64)


def _result(result: Any) -> np.ndarray:
    assert result.exit_code == 0, (result.output, result.exception)
    return np.array(json.loads(result.stdout)["data"])


# --- the shapes, without data ---------------------------------------------------------


@pytest.mark.parametrize("ndim", [3, 4])
def test_orders_invert_numpys_own_transposes(ndim: int) -> None:
    nchw = tuple(range(2, 2 + ndim))
    nhwc = np.zeros(nchw).transpose((1, 2, 0) if ndim == 3 else (0, 2, 3, 1)).shape
    assert permuted(nhwc, input_order(ndim, "nhwc")) == nchw
    assert input_order(ndim, "nchw") is None


def test_kernel_order_reads_hwio() -> None:
    assert permuted((3, 3, 64, 128), kernel_order(4, "hwio")) == (128, 64, 3, 3)
    assert permuted((5, 5, 7), kernel_order(3, "hwio")) == (7, 5, 5)
    assert kernel_order(2, "hwio") is None and input_order(2, "nhwc") is None


def test_layouts_parse_any_case_and_refuse_others() -> None:
    assert Layouts("NHWC", "Hwio") == Layouts("nhwc", "hwio")
    assert Layouts().default and not Layouts(kernel="hwio").default
    with pytest.raises(OptionError, match="input_layout: expected nchw or nhwc, got 'chw'"):
        Layouts("chw")


def test_layout_note_only_for_kernels_that_look_hwio() -> None:
    assert layout_note((3, 32, 32), (3, 3, 3, 16)) is not None
    assert layout_note((3, 32, 32), (16, 3, 3, 3)) is None  # OIHW, square window
    assert layout_note((3, 32, 32), (3, 3, 3, 3)) is None  # cannot tell
    assert layout_note((4, 32, 32), (3, 3, 3, 16)) is None  # c_i 3 does not fit 4 channels
    assert layout_note((32, 32), (3, 3)) is None


# --- the Python API -------------------------------------------------------------------


def test_to_nchw_and_to_oihw_copy_into_pytorch_order() -> None:
    x = np.arange(2 * 3 * 4 * 5).reshape(2, 3, 4, 5)  # n, h, w, c
    moved = to_nchw(x)
    assert moved.shape == (2, 5, 3, 4) and moved.flags.c_contiguous
    assert moved[1, 4, 2, 3] == x[1, 2, 3, 4]
    w = np.arange(3 * 3 * 2 * 4).reshape(3, 3, 2, 4)  # h, w, i, o
    assert to_oihw(w)[3, 1, 2, 0] == w[2, 0, 1, 3]
    assert to_nchw(x, "nchw") is x
    with pytest.raises(OptionError, match="layout: expected oihw or hwio"):
        to_oihw(w, "ohwi")


def test_conv2d_reads_tensorflow_layouts() -> None:
    rng = np.random.default_rng(1)
    x, w = _ints(rng, (2, 6, 6, 4)), _ints(rng, (3, 3, 2, 6))
    expected = conv2d(x.transpose(0, 3, 1, 2), w.transpose(3, 2, 0, 1), stride=2, groups=2)
    got = conv2d(x, w, stride=2, groups=2, input_layout="nhwc", kernel_layout="hwio")
    np.testing.assert_array_equal(got, expected)


# --- against torch ---------------------------------------------------------------------


@pytest.mark.torch
@pytest.mark.parametrize("batched", [False, True])
@pytest.mark.parametrize(
    ("groups", "extra"),
    [(1, []), (1, ["--stride", "2", "--padding", "1"]), (2, ["--dilation", "2", "-p", "same"])],
)
def test_run_nhwc_hwio_matches_torch(
    tmp_path: Path, batched: bool, groups: int, extra: list[str]
) -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    x = _ints(rng, (2, 7, 8, 4) if batched else (7, 8, 4))
    w = _ints(rng, (3, 3, 4 // groups, 6))
    b = _ints(rng, (6,))
    files = [save(tmp_path / "x.npy", x), save(tmp_path / "w.npy", w)]
    args = [*files, "--bias", save(tmp_path / "b.npy", b), "-g", str(groups), *extra]
    result = invoke("run", *args, "--input-layout", "nhwc", "--kernel-layout", "hwio", "--json")
    tx = torch.from_numpy(x).permute(*((0, 3, 1, 2) if batched else (2, 0, 1)))
    tw = torch.from_numpy(w).permute(3, 2, 0, 1)
    stride = 2 if "--stride" in extra else 1
    padding: Any = 1 if "--padding" in extra else ("same" if "same" in extra else 0)
    dilation = 2 if "--dilation" in extra else 1
    expected = torch.nn.functional.conv2d(
        tx if batched else tx[None],
        tw,
        torch.from_numpy(b),
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=groups,
    )
    expected = expected if batched else expected[0]
    np.testing.assert_array_equal(_result(result), expected.numpy())  # NCHW out
    assert "the result is in PyTorch's layout" in result.stderr


@pytest.mark.torch
def test_explain_and_verify_in_tensorflow_layouts_match_torch(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    x, w = _ints(rng, (5, 6, 3)), _ints(rng, (2, 3, 3, 4))
    files = [save(tmp_path / "x.npy", x), save(tmp_path / "w.npy", w)]
    layouts = ["--input-layout", "nhwc", "--kernel-layout", "hwio", "-p", "1"]
    expected = torch.nn.functional.conv2d(
        torch.from_numpy(x).permute(2, 0, 1)[None],
        torch.from_numpy(w).permute(3, 2, 0, 1),
        padding=1,
    )[0]
    explained = invoke("explain", *files, *layouts, "--at", "3,4,5", "--json")
    assert explained.exit_code == 0, explained.output
    assert json.loads(explained.stdout)["value"] == float(expected[3, 4, 5])
    verified = invoke("verify", *files, *layouts, "--json")
    assert verified.exit_code == 0, verified.output


@pytest.mark.torch
def test_pool_nhwc_matches_torch(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    x = _ints(np.random.default_rng(5), (2, 6, 7, 3))
    result = invoke(
        "pool", save(tmp_path / "x.npy", x), "-k", "2", "--input-layout", "nhwc", "--json"
    )
    expected = torch.nn.functional.max_pool2d(torch.from_numpy(x).permute(0, 3, 1, 2), 2)
    np.testing.assert_array_equal(_result(result), expected.numpy())


@pytest.mark.torch
def test_transposed_hwio_is_tensorflows_transposed_filter(tmp_path: Path) -> None:
    """TensorFlow's conv2d_transpose filter is (k_h, k_w, c_out, c_in): the same move."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(9)
    x, w = _ints(rng, (4, 4, 2)), _ints(rng, (3, 3, 5, 2))
    files = [save(tmp_path / "x.npy", x), save(tmp_path / "w.npy", w)]
    result = invoke(
        "run", *files, "--transposed", "-s", "2", "--input-layout", "nhwc",
        "--kernel-layout", "hwio", "--json",
    )  # fmt: skip
    expected = torch.nn.functional.conv_transpose2d(
        torch.from_numpy(x).permute(2, 0, 1)[None],
        torch.from_numpy(w).permute(3, 2, 0, 1),
        stride=2,
    )[0]
    np.testing.assert_array_equal(_result(result), expected.numpy())


# --- the command line: hints, notes, refusals, memory ------------------------------------


def test_the_issues_kernel_is_noted_not_silent(tmp_path: Path) -> None:
    x = save(tmp_path / "img_chw.npy", np.ones((3, 32, 32), np.float32))
    w = save(tmp_path / "w_hwio.npy", np.ones((3, 3, 3, 16), np.float32))
    silent = invoke("run", x, w, "--stats", env=PLAIN)
    assert silent.exit_code == 0
    assert "3x16 window" in silent.stderr and "--kernel-layout hwio" in silent.stderr
    fixed = invoke("run", x, w, "--stats", "--kernel-layout", "hwio", env=PLAIN)
    assert fixed.exit_code == 0 and "16x30x30" in fixed.stdout
    assert "(HWIO)" in fixed.stdout


@pytest.mark.parametrize(
    ("x_shape", "w_shape", "words"),
    [
        ((64, 8, 8), (3, 3, 64, 128), ["input has 64", "HWIO", "use --kernel-layout hwio"]),
        ((8, 8, 64), (3, 3, 64, 128), ["--input-layout nhwc and --kernel-layout hwio"]),
        ((32, 32, 3), (8, 3, 3, 3), ["channels-last", "use --input-layout nhwc"]),
    ],
)
def test_shapes_in_the_other_layout_name_the_option(
    tmp_path: Path, x_shape: tuple[int, ...], w_shape: tuple[int, ...], words: list[str]
) -> None:
    x = save(tmp_path / "x.npy", np.ones(x_shape, np.float32))
    w = save(tmp_path / "w.npy", np.ones(w_shape, np.float32))
    for command in ("run", "verify", "explain"):
        assert_usage_error(invoke(command, x, w, env=PLAIN), *words)


def test_the_python_api_names_its_parameter() -> None:
    with pytest.raises(ValueError, match="use kernel_layout='hwio'"):
        conv2d(np.ones((64, 8, 8)), np.ones((3, 3, 64, 128)))


@pytest.mark.parametrize(
    "args",
    [
        ["run", "X", "W", "--input-layout", "hwc"],
        ["run", "X", "W", "--kernel-layout", "ohwi"],
        ["pool", "X", "-k", "2", "--input-layout", "chw"],
    ],
)
def test_unknown_layouts_are_refused_naming_the_option(tmp_path: Path, args: list[str]) -> None:
    x = save(tmp_path / "x.npy", np.ones((3, 4, 4)))
    w = save(tmp_path / "w.npy", np.ones((1, 3, 2, 2)))
    args = [x if a == "X" else w if a == "W" else a for a in args]
    flag = next(a for a in args if a.endswith("-layout"))
    assert_usage_error(invoke(*args), flag + ": expected")


def test_draw_takes_layouts_for_files_only(tmp_path: Path) -> None:
    x = save(tmp_path / "x.npy", np.arange(18.0).reshape(3, 3, 2))
    w = save(tmp_path / "w.npy", np.ones((2, 2, 2, 1)))
    svg = tmp_path / "a.svg"
    drawn = invoke(
        "draw", x, w, "--input-layout", "nhwc", "--kernel-layout", "hwio", "-o", str(svg)
    )
    assert drawn.exit_code == 0, drawn.output
    assert svg.exists()
    assert_usage_error(
        invoke("draw", "--input-shape", "3x3", "--kernel-shape", "2x2", "--input-layout", "nhwc",
               "-o", str(tmp_path / "b.svg")),
        "for tensor files",
    )  # fmt: skip


def test_the_copy_is_budgeted(tmp_path: Path) -> None:
    """The file and its copy in PyTorch's layout are held at once while moving: both count
    against --max-memory, before anything is read (the same file without a move passes
    that check and is refused only by the larger estimate of the run itself)."""
    x = save(tmp_path / "x.npy", np.ones((64, 64, 32)))  # 1 MiB of float64
    w = save(tmp_path / "w.npy", np.ones((1, 1, 32, 1)))
    moved = assert_usage_error(
        invoke("run", x, w, "--input-layout", "nhwc", "--kernel-layout", "hwio",
               "--max-memory", "1500K", "--stats"),
        "reading the inputs needs about 2.0 MiB", "moved to PyTorch's layout", "--max-memory",
    )  # fmt: skip
    assert "input " in moved
    c = save(tmp_path / "c.npy", np.ones((32, 64, 64)))
    k = save(tmp_path / "k.npy", np.ones((1, 32, 1, 1)))
    plain = assert_usage_error(invoke("run", c, k, "--max-memory", "1500K", "--stats"))
    assert "reading the inputs" not in plain and "this run needs" in plain


def test_loading_with_a_move_holds_the_file_and_its_copy_at_most(tmp_path: Path) -> None:
    from convcli.cli._loading import load_checked

    x = save(tmp_path / "x.npy", np.ones((128, 128, 16)))  # 2 MiB
    w = save(tmp_path / "w.npy", np.ones((3, 3, 16, 4)))
    (moved, kernel, _bias), peak = peak_allocation(
        lambda: load_checked([x, w, None], 2**30, lambda infos: None, Layouts("nhwc", "hwio"))
    )
    assert moved is not None and moved.shape == (16, 128, 128) and moved.flags.c_contiguous
    assert kernel is not None and kernel.shape == (4, 16, 3, 3)
    assert peak <= 2 * moved.nbytes + 2 * kernel.nbytes + 64 * 1024


@pytest.mark.parametrize(
    ("x_shape", "w_shape", "extra"),
    [
        ((64, 8, 8), (3, 3, 64, 128), []),
        ((8, 8, 64), (3, 3, 64, 128), []),
        ((32, 32, 3), (8, 3, 3, 3), []),
        ((3, 8, 8), (1, 3, 2, 2), ["--input-layout", "chw"]),
    ],
)
def test_layout_messages_in_chinese(
    tmp_path: Path, x_shape: tuple[int, ...], w_shape: tuple[int, ...], extra: list[str]
) -> None:
    from test_i18n import english_words, zh

    x = save(tmp_path / "x.npy", np.ones(x_shape, np.float32))
    w = save(tmp_path / "w.npy", np.ones(w_shape, np.float32))
    code, out, err = zh("run", x, w, *extra)
    assert code == 2 and out == "" and "错误" in err
    assert english_words(err) - {*LAYOUT_WORDS, "TensorFlow"} == set(), err


def test_layout_notes_in_chinese(tmp_path: Path) -> None:
    from test_i18n import english_words, zh

    x = save(tmp_path / "x.npy", np.ones((3, 16, 16), np.float32))
    w = save(tmp_path / "w.npy", np.ones((3, 3, 3, 16), np.float32))
    for extra in ([], ["--kernel-layout", "hwio"]):
        code, _out, err = zh("run", x, w, "--stats", *extra)
        assert code == 0 and "注意" in err
        assert english_words(err) - {*LAYOUT_WORDS, "TensorFlow", "PyTorch"} == set(), err


@pytest.mark.parametrize("ext", ["json", "npy"])
@pytest.mark.parametrize("command", ["run", "verify", "explain"])
def test_the_lessons_samples_in_tensorflow_layouts_give_the_lessons_numbers(
    ext: str, command: str
) -> None:
    """samples/lesson_X_nhwc and lesson_K_multi_out_hwio are the lesson's X and K with their
    axes moved: read with the layouts, every command prints what it prints for the lesson."""
    from clitools import SAMPLES

    lesson = [str(SAMPLES / f"lesson_X.{ext}"), str(SAMPLES / f"lesson_K_multi_out.{ext}")]
    moved = [
        str(SAMPLES / f"lesson_X_nhwc.{ext}"),
        str(SAMPLES / f"lesson_K_multi_out_hwio.{ext}"),
    ]
    extra = ["--at", "2,1,0"] if command == "explain" else []
    expected = invoke(command, *lesson, *extra, "--json")
    got = invoke(
        command, *moved, *extra, "--json", "--input-layout", "nhwc", "--kernel-layout", "hwio"
    )
    assert expected.exit_code == 0 and got.exit_code == 0, got.output
    assert json.loads(got.stdout) == json.loads(expected.stdout)


def test_verify_1x1_reads_layouts(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    x, k = _ints(rng, (4, 5, 3)), _ints(rng, (1, 1, 3, 2))  # h, w, c_i and 1, 1, c_i, c_o
    files = [save(tmp_path / "x.npy", x), save(tmp_path / "k.npy", k)]
    moved = [
        save(tmp_path / "xc.npy", x.transpose(2, 0, 1)),
        save(tmp_path / "kc.npy", k.transpose(3, 2, 0, 1)),
    ]
    got = invoke(
        "verify-1x1", *files, "--input-layout", "nhwc", "--kernel-layout", "hwio", "--json"
    )
    expected = invoke("verify-1x1", *moved, "--json")
    assert got.exit_code == 0 and expected.exit_code == 0, got.output
    assert json.loads(got.stdout) == json.loads(expected.stdout)
    assert_usage_error(invoke("verify-1x1", "--input-layout", "nhwc"), "for tensor files")


def test_explain_output_and_verify_im2col_read_tensorflow_layouts() -> None:
    from convcli import explain_output, verify_im2col
    from convcli.shapes.options import ConvOptions

    rng = np.random.default_rng(4)
    x, w = _ints(rng, (5, 6, 4)), _ints(rng, (3, 3, 2, 6))
    x_nchw, w_oihw = x.transpose(2, 0, 1), w.transpose(3, 2, 0, 1)
    options = ConvOptions(padding=1, groups=2)
    got = explain_output(x, w, None, (5, 2, 3), options, input_layout="nhwc", kernel_layout="hwio")
    assert got.value == explain_output(x_nchw, w_oihw, None, (5, 2, 3), options).value
    assert got.value == conv2d(x_nchw, w_oihw, padding=1, groups=2)[5, 2, 3]
    check = verify_im2col(x, w, None, options, input_layout="nhwc", kernel_layout="hwio")
    np.testing.assert_array_equal(check.matrix_product, conv2d(x_nchw, w_oihw, padding=1, groups=2))
