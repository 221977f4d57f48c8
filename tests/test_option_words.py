"""Flag names only at the command line: the layers below word a refusal in the Python
API's terms and carry each parameter as a field; the CLI words it with its options."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import numpy as np
import pytest
from clitools import assert_usage_error, invoke, save

from convcli.errors import BudgetError, ConvcliError, OptionError, ShapeError, TensorFileError
from convcli.ops.budget import RunEstimate, check_budget, check_inputs_budget
from convcli.shapes.geometry import resolve_geometry
from convcli.shapes.layer import check_conv_shapes
from convcli.shapes.netspec import parse_spec
from convcli.shapes.network import trace_cell, walk_network
from convcli.tensorio.files import check_output_path, save_tensor
from convcli.tensorio.samples import write_samples

ROOT = Path(__file__).resolve().parent.parent
FLAG = re.compile(r"(?<![\w-])--[a-z]")
MARKERS = {"_", "N_", "ngettext", "gettext"}
# The layers below the command line, and draw's limits (a picture has no flags either).
BELOW_CLI = ["convcli/shapes", "convcli/ops", "convcli/tensorio", "convcli/draw/common.py"]


def _marked_strings(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") in MARKERS:
            for arg in node.args:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    found.append((node.lineno, arg.value))
    return found


def test_no_message_below_the_cli_names_a_flag() -> None:
    paths = [p for part in BELOW_CLI for p in sorted((ROOT / part).rglob("*.py"))] + [
        ROOT / part for part in BELOW_CLI if part.endswith(".py")
    ]
    flagged = [
        f"{path.relative_to(ROOT)}:{line} {text!r}"
        for path in paths
        for line, text in _marked_strings(path)
        if FLAG.search(text)
    ]
    assert flagged == []


def test_every_command_words_its_refusals_in_option_names() -> None:
    """Each command runs inside option_words(), the CLI's one place for flag names."""
    for path in sorted((ROOT / "convcli" / "cli").glob("*.py")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if "with guard()" in line:
                assert "option_words()" in line, f"{path.name}: {line.strip()}"


# --- the Python API's words, with the parameter as a field ----------------------------------


def _fails(
    error: type[ConvcliError], call: object, *args: object, **kwargs: object
) -> ConvcliError:
    with pytest.raises(error) as caught:
        call(*args, **kwargs)  # type: ignore[operator]
    return caught.value


def test_an_existing_output_names_force(tmp_path: Path) -> None:
    target = tmp_path / "y.npy"
    save_tensor(target, np.ones(2))
    err = _fails(TensorFileError, save_tensor, target, np.ones(2))
    assert str(err) == f"{target}: already exists; use force=True to replace it"
    assert err.parameters == ("force",)
    source = tmp_path / "x.npy"
    save_tensor(source, np.ones(2))
    err = _fails(TensorFileError, check_output_path, source, force=True, inputs=[source])
    assert str(err).endswith("never overwriting an input, even with force=True")


def test_existing_samples_name_force(tmp_path: Path) -> None:
    write_samples(tmp_path)
    err = _fails(OptionError, write_samples, tmp_path)
    assert "use force=True to overwrite them" in str(err) and "--" not in str(err)


def test_over_the_budget_names_max_memory_and_carries_the_numbers() -> None:
    err = _fails(BudgetError, check_budget, RunEstimate((("output", 5000),)), 4096)
    words = "over the max_memory budget of 4.0 KiB: make the run smaller or raise max_memory"
    assert str(err).endswith(words)
    assert (err.fields["needed"], err.fields["budget"]) == (5000, 4096)
    assert err.parameters == ("max_memory",)
    err = _fails(BudgetError, check_inputs_budget, [("input x.npy", 5000)], 4096)
    assert "raise max_memory" in str(err) and err.fields["needed"] == 5000


def test_the_groups_hint_names_groups_with_its_value() -> None:
    err = _fails(ShapeError, check_conv_shapes, (2, 9, 9), (4, 1, 3, 3), None, 1)
    assert str(err).endswith("a kernel made for groups=2? try groups=2")
    assert err.parameters == ("groups",)


def test_the_same_with_stride_hint_names_padding_with_its_value() -> None:
    err = _fails(OptionError, resolve_geometry, (28, 27), (3, 4), stride=2, padding="same")
    assert str(err).endswith("pad 0+1 rows, 1+2 columns: padding=(1, 2) gives 14x14")
    assert err.parameters == ("padding",) and "--" not in str(err)


def test_a_network_names_input_shape_and_its_trace_names_no_flag() -> None:
    net = walk_network(parse_spec("flatten > conv(2, k=3)"), (1, 1, 5, 5))
    assert net.error is not None and "give input_shape as NxCxHxW" in str(net.error)
    assert net.error.parameters == ("input_shape",)
    net = walk_network(parse_spec("conv(2, k=3)"), (1, 1, 5, 5))
    err = _fails(OptionError, trace_cell, net, (0, 0), 9)
    assert str(err) == "there is no layer 9 (layers 1 to 1)"


def test_a_drawing_of_too_many_frames_names_position() -> None:
    from convcli.draw.common import check_size

    err = _fails(BudgetError, check_size, 10**6, 1, still=False)
    assert "draw one step with position," in str(err) and err.parameters == ("position",)


# --- the command line's words: its option names ---------------------------------------------


def ones(folder: Path, name: str, *shape: int) -> str:
    return save(folder / f"{name}.npy", np.ones(shape, dtype=np.float32))


def test_the_cli_says_force(tmp_path: Path) -> None:
    x, k = ones(tmp_path, "x", 1, 3, 3), ones(tmp_path, "k", 1, 1, 2, 2)
    out = ones(tmp_path, "y", 1)
    assert_usage_error(invoke("run", x, k, "-o", out), "already exists; use --force to replace")
    assert_usage_error(invoke("run", x, k, "-o", x, "--force"), "even with --force")
    assert_usage_error(invoke("pool", x, "-k", "2", "-o", out), "use --force to replace it")
    assert invoke("demo", "--write", str(tmp_path / "s")).exit_code == 0
    assert_usage_error(invoke("demo", "--write", str(tmp_path / "s")), "use --force to overwrite")


def test_the_cli_says_max_memory(tmp_path: Path) -> None:
    x, k = ones(tmp_path, "x", 1, 64, 64), ones(tmp_path, "k", 8, 1, 3, 3)
    result = invoke("run", x, k, "--max-memory", "4K")
    assert_usage_error(result, "over the --max-memory budget of 4.0 KiB", "raise --max-memory")
    assert "raise max_memory" not in result.stderr


def test_the_cli_says_groups_padding_input_shape_and_at(tmp_path: Path) -> None:
    x, k = ones(tmp_path, "x", 2, 9, 9), ones(tmp_path, "k", 4, 1, 3, 3)
    assert_usage_error(invoke("run", x, k), "a kernel made for --groups 2? try --groups 2")
    x, k = ones(tmp_path, "x", 1, 28, 27), ones(tmp_path, "k", 1, 1, 3, 4)
    result = invoke("run", x, k, "-p", "same", "-s", "2")
    assert_usage_error(result, "--padding 1,2 gives 14x14")
    spec = "flatten > conv(2, k=3)"
    assert_usage_error(
        invoke("net", spec, "--input-shape", "1x1x5x5", "--json"), "give --input-shape as"
    )
    result = invoke("net", "--preset", "lenet", "--at", "99:0,0")
    assert_usage_error(result, "--at: there is no layer 99")


def test_the_cli_says_at_for_a_drawing_of_too_many_frames(tmp_path: Path) -> None:
    pytest.importorskip("PIL")
    gif = str(tmp_path / "a.gif")
    result = invoke("draw", "--input-shape", "99x99", "--kernel-shape", "1x1", "-o", gif)
    assert_usage_error(result, "draw one step with --at POS")


def test_the_option_names_survive_translation(tmp_path: Path) -> None:
    x, k = ones(tmp_path, "x", 1, 3, 3), ones(tmp_path, "k", 1, 1, 2, 2)
    out = ones(tmp_path, "y", 1)
    assert_usage_error(invoke("--lang", "zh", "run", x, k, "-o", out), "用 --force 替换它")
    x, k = ones(tmp_path, "x", 2, 9, 9), ones(tmp_path, "k", 4, 1, 3, 3)
    assert_usage_error(invoke("--lang", "zh", "run", x, k), "试试 --groups 2")
