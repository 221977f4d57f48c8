"""convcli in Chinese: selection, completeness of the catalogue and of what commands print,
compiled catalogue in step with its source, JSON unchanged, 80-column layout."""

from __future__ import annotations

import ast
import importlib.util
import re
import unicodedata
from pathlib import Path
from types import ModuleType

import pytest
from clitools import SAMPLES, invoke, save
from typer.main import get_command

from convcli import errors, i18n
from convcli.cli import app
from convcli.cli._lang import select_language
from convcli.errors import OptionError
from convcli.i18n.wrap import wrap_cells

ROOT = Path(__file__).resolve().parent.parent
X = str(SAMPLES / "lesson_X.json")
K_IN = str(SAMPLES / "lesson_K_multi_in.json")
K_OUT = str(SAMPLES / "lesson_K_multi_out.json")
BIAS = str(SAMPLES / "lesson_bias.json")
LOCALE_VARS = ("CONVCLI_LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")
# Nothing of the machine's locale: each test says which language it asks for.
NEUTRAL: dict[str, str | None] = dict.fromkeys(LOCALE_VARS)
WIDTH = {"COLUMNS": "80", "NO_COLOR": "1", "TERM": "dumb"}


def load_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("i18n_tool", ROOT / "scripts/i18n.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def zh(*args: str) -> tuple[int, str, str]:
    """``convcli --lang zh ARGS`` at 80 columns: exit code, stdout, stderr."""
    result = invoke("--lang", "zh", *args, env={**NEUTRAL, **WIDTH})  # type: ignore[dict-item]
    return result.exit_code, result.stdout, result.stderr


# --- the catalogue -------------------------------------------------------------------------


def test_catalogue_has_every_string_translated_and_compiled() -> None:
    """Every marked string, typer word and help text is in the .po, translated, not fuzzy;
    the shipped .mo says what compiling the .po says (content, not file times)."""
    tool = load_tool()
    assert tool.problems("zh", tool.template()) == []


def test_translations_keep_every_placeholder() -> None:
    tool = load_tool()
    field = re.compile(r"\{(\w*)[^{}]*\}")
    for message in tool.read("zh"):
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        wanted = set(field.findall(ids[-1]))
        for string in strings:
            assert set(field.findall(string)) == wanted, (message.id, string)


def test_a_stale_mo_is_caught(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The check compares compiled content: a .mo from an older .po fails it."""
    tool = load_tool()
    fresh = tool.template()
    po = tool.po_path("zh")
    copy = tmp_path / "zh" / "LC_MESSAGES"
    copy.mkdir(parents=True)
    text = po.read_text(encoding="utf-8")
    (copy / "convcli.po").write_text(text, encoding="utf-8")
    (copy / "convcli.mo").write_bytes(po.with_suffix(".mo").read_bytes())
    monkeypatch.setattr(tool, "LOCALE", tmp_path)
    monkeypatch.setattr(tool, "ROOT", tmp_path)
    assert tool.problems("zh", fresh) == []
    changed = text.replace('msgstr "已中断"', 'msgstr "中断了"')
    assert changed != text
    (copy / "convcli.po").write_text(changed, encoding="utf-8")
    assert any("not the compiled .po" in line for line in tool.problems("zh", fresh))


# The error classes, and Words: the sentence of a message (Param only names a parameter).
DOMAIN_ERRORS = {
    name
    for name, value in vars(errors).items()
    if isinstance(value, type) and issubclass(value, BaseException) and name[0] != "_"
} | {"Words"}
# Calls whose text argument a person reads (the render layer's widgets and rich's tables).
SHOWN = re.compile(r"render_\w+|add_column|add_row|Table|Text|append|add_task")
# ... and in pictures: grids' captions and notes, figures' lines, matplotlib's labels.
DRAWN = re.compile(r"Grid|Figure|Text|set_title|set_label|set_xlabel|set_ylabel|suptitle")
TEXT_KEYWORDS = {"title", "name", "label", "description", "caption", "header", "note"}
WORD = re.compile(r"(?<![\w/.-])[A-Za-z]{3,}(?![\w/.(-])")


def _unmarked(node: ast.expr) -> bool:
    """A literal (or f-string) holding English words, not inside ``_()`` or ``N_()``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return bool(english_words(node.value) & set(WORD.findall(node.value)))
    if isinstance(node, ast.JoinedStr):
        return any(_unmarked(part) for part in node.values if isinstance(part, ast.Constant))
    if isinstance(node, ast.Tuple):  # a figure's title or footer lines
        return any(_unmarked(element) for element in node.elts)
    return False


def test_source_marks_what_people_read() -> None:
    """Refusals raised with a literal message, and literal text handed to the widgets or
    drawn in a picture, go through ``_()``: a new English string cannot skip the catalogue
    unnoticed."""
    found = []
    for path in sorted((ROOT / "convcli").rglob("*.py")):
        where = path.relative_to(ROOT)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            shown = (
                name in DOMAIN_ERRORS
                or (where.parts[1] == "render" and SHOWN.fullmatch(name))
                or (where.parts[1] == "draw" and DRAWN.fullmatch(name))
            )
            texts = [*node.args, *(k.value for k in node.keywords if k.arg in TEXT_KEYWORDS)]
            if shown and any(_unmarked(text) for text in texts):
                found.append(f"{where}:{node.lineno} {name}")
    assert found == []


# --- choosing the language -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "env", "expected"),
    [
        (None, {}, "en"),
        (None, {"LANG": "C"}, "en"),
        (None, {"LANG": "fr_FR.UTF-8"}, "en"),
        (None, {"LANG": "zh_CN.UTF-8"}, "zh"),
        (None, {"LC_MESSAGES": "zh_CN", "LANG": "en_US.UTF-8"}, "zh"),
        (None, {"LC_ALL": "en_US.UTF-8", "LC_MESSAGES": "zh_CN"}, "en"),
        (None, {"LANGUAGE": "fr:zh_CN", "LC_ALL": "en_US.UTF-8"}, "zh"),
        (None, {"LANGUAGE": "C:zh", "LANG": "zh_CN.UTF-8"}, "en"),
        (None, {"CONVCLI_LANG": "zh", "LANG": "C"}, "zh"),
        (None, {"CONVCLI_LANG": "en", "LANG": "zh_CN.UTF-8"}, "en"),
        (None, {"CONVCLI_LANG": "", "LANG": "zh_CN.UTF-8"}, "zh"),
        ("zh", {"LANG": "C"}, "zh"),
        ("zh-CN", {}, "zh"),
        ("en", {"CONVCLI_LANG": "zh", "LANG": "zh_CN.UTF-8"}, "en"),
        ("zh", {"CONVCLI_LANG": "xx"}, "zh"),
    ],
)
def test_selection_precedence(option: str | None, env: dict[str, str], expected: str) -> None:
    assert select_language(option, env) == expected


@pytest.mark.parametrize(("option", "env"), [("fr", {}), (None, {"CONVCLI_LANG": "klingon"})])
def test_unknown_language_is_refused(option: str | None, env: dict[str, str]) -> None:
    with pytest.raises(OptionError, match="unknown language"):
        select_language(option, env)


@pytest.mark.parametrize(
    ("args", "env", "named"),
    [
        (["--lang", "fr", "demo"], {}, "--lang"),
        (["--lang=fr", "demo"], {}, "--lang"),
        (["demo"], {"CONVCLI_LANG": "fr"}, "CONVCLI_LANG"),
    ],
)
def test_unknown_language_one_line_exit_2(args: list[str], env: dict[str, str], named: str) -> None:
    result = invoke(*args, env={**NEUTRAL, **env})  # type: ignore[dict-item]
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and named in lines[0] and "en, zh" in lines[0], result.stderr


@pytest.mark.parametrize(
    "env",
    [
        {"LANG": "zh_CN.UTF-8"},
        {"LANGUAGE": "zh"},
        {"LC_ALL": "zh_CN.UTF-8"},
        {"CONVCLI_LANG": "zh"},
    ],
)
def test_locale_and_environment_select_chinese(env: dict[str, str]) -> None:
    result = invoke("demo", env={**NEUTRAL, **env})  # type: ignore[dict-item]
    assert result.exit_code == 0
    assert "多输入通道" in result.stdout


@pytest.mark.parametrize("env", [{}, {"LANG": "C"}, {"LANG": "de_DE.UTF-8"}])
def test_english_is_the_default(env: dict[str, str]) -> None:
    result = invoke("demo", env={**NEUTRAL, **env})  # type: ignore[dict-item]
    assert "Multiple input channels" in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["demo", "--lang", "zh"],
        ["demo", "--lang=zh"],
        ["--lang", "en", "demo", "--lang", "zh"],
        ["run", X, "--lang", "zh", K_IN],
    ],
)
def test_lang_may_follow_the_command(args: list[str]) -> None:
    """``--lang`` is global: after the command name too, the last one winning."""
    result = invoke(*args, env=NEUTRAL)  # type: ignore[arg-type]
    assert result.exit_code == 0, result.stderr
    assert re.search(r"[\u4e00-\u9fff]", result.stdout), result.stdout


def test_lang_after_the_command_translates_its_help() -> None:
    english = invoke("shapes", "--help", env=NEUTRAL).stdout  # type: ignore[arg-type]
    chinese = invoke("shapes", "--help", "--lang", "zh", env=NEUTRAL).stdout  # type: ignore[arg-type]
    assert "Usage" in english and "用法" in chinese and "Usage" not in chinese


def test_lang_after_double_dash_is_not_read() -> None:
    """After ``--`` every word is an argument, ``--lang`` too (a file may have that name)."""
    result = invoke("run", X, "--", "--lang", env=NEUTRAL)  # type: ignore[arg-type]
    assert result.exit_code == 2
    assert "--lang" in result.stderr and "en, zh" not in result.stderr


def test_lang_option_beats_the_environment() -> None:
    env = {**NEUTRAL, "CONVCLI_LANG": "zh", "LANG": "zh_CN.UTF-8"}
    result = invoke("--lang", "en", "demo", env=env)  # type: ignore[arg-type]
    assert "Multiple input channels" in result.stdout


def test_english_reads_no_catalogue(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Catalogues load lazily: English runs never open one (here there is none to open)."""
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    assert invoke("demo", env=NEUTRAL).exit_code == 0  # type: ignore[arg-type]
    assert invoke("--help", env=NEUTRAL).exit_code == 0  # type: ignore[arg-type]


def test_the_language_is_restored_after_a_run() -> None:
    before = i18n.current_language()
    zh("demo")
    assert i18n.current_language() == before
    assert i18n._("output") == "output"


# --- what the commands print ---------------------------------------------------------------

# Words that stay as they are in Chinese output: code and function names, option values,
# metavars, units and file formats (numbers, axis symbols, options and paths are removed first).
SYMBOLS = {
    "convcli", "run", "demo", "shapes", "explain", "verify", "floor", "reshape", "im2col",
    "MACs", "FLOPs", "zeros", "reflect", "replicate", "circular", "auto", "multi", "in",
    "out", "same", "valid", "atol", "rtol", "PyTorch", "scipy", "convolve2d", "json", "npy",
    "npz", "JSON", "NaN", "Infinity", "en", "zh", "NxCxHxW", "INPUT", "KERNEL", "OPTIONS",
    "COMMAND", "ARGS", "SHAPE", "MODE", "FILE", "SIZE", "POS", "LANG", "LANGUAGE", "NAME",
    "bias", "KiB", "MiB", "GiB", "GB", "int", "uint", "float", "complex", "bool",
    "row", "col", "top", "left",  # the variables of explain's index formulas
    "inf", "nan", "groups", "data", "separable", "shell", "samples",  # values, keys, names
    "svg", "png", "gif", "py", "txt", "pip", "install", "Pillow", "max", "avg", "torch",
    "nchw", "nhwc", "oihw", "hwio",  # the layouts' names, as --input-layout takes them
    # net's layers as a spec writes them, and the citation of its receptive-field arithmetic
    "conv", "convT", "bn", "relu", "sigmoid", "tanh", "gelu", "silu", "leakyrelu", "flatten",
    "linear", "residual", "maxpool", "avgpool", "adaptiveavgpool", "adaptivemaxpool", "gap",
    "lenet", "alexnet", "nin", "Araujo", "Distill", "nn", "adaptive", "ceil",
    "all", "torchinfo",  # net --depth all, and the package whose depth it follows
    # the backward's gradients, learn's and verify-1x1's symbols, values and libraries
    "dX", "dW", "db", "dY", "dL", "dK", "lr", "edges", "random", "numpy", "optim", "SGD",
    "ULP", "FlopCounterMode", "K", "X", "Y", "b", "L", "sum", "hat", "sgd", "momentum", "adam",
    "ReLU", "BatchNorm",
    # net's newer layers and presets, PyTorch's forward and the class names a printout shows
    "elu", "mish", "prelu", "hardswish", "hardsigmoid", "instancenorm", "googlenet",
    "densenet", "unet", "torchvision", "forward", "Net",
    "cols", "autograd",
}  # fmt: skip
_REMOVED = re.compile(
    r"'[^']*'|\"[^\"]*\""  # quoted values: what the user typed
    r"|--?[A-Za-z][\w-]*"  # options
    r"|\S*[/\\]\S*"  # paths
    r"|\S+\.(?:json|npy|npz)\b"  # file names
    r"|\b\w*[\d_]\w*\b"  # symbols with digits or underscores: c_i, corr2d, float32, k_h
)


_CODE = re.compile(
    r"^\s*convcli .*$"  # help's example command lines
    r"|\b\w+\((?:[^()]|\([^()]*\))*\)"  # calls and signatures: conv(6, k=5), print(model)
    r"|\b\w*[A-Z]\w*[A-Z]\w*"  # metavars, shapes and acronyms: SHAPE, CxHxW, ReLU
    r"|\S+\.(?:svg|png|gif|py|txt)\b"  # file names
    r"|\b\w+=\w*"  # keyword arguments: padding=, bias=True
    r"|\b\w+(?:-\w+)+",  # option values: no-bias, adaptive-max, multi-in
    re.MULTILINE,
)


def english_words(text: str) -> set[str]:
    """Latin words of two letters or more that are not symbols, options, paths or code.

    >>> sorted(english_words("张量 c_i=2 --full samples/x.json floor stride 用法 conv(6, k=5)"))
    ['stride']
    """
    text = _CODE.sub(" ", _CODE.sub(" ", text))
    return set(re.findall(r"[A-Za-z]{2,}", _REMOVED.sub(" ", text))) - SYMBOLS


def _npy_cases(tmp: Path) -> list[list[str]]:
    import numpy as np

    rng = np.random.default_rng(3)
    (tmp / "b4.json").write_text('{"data": [1, 2, 3, 4]}', encoding="utf-8")
    x8 = save(tmp / "x8.npy", rng.standard_normal((2, 8, 5, 5)))
    k8 = save(tmp / "k8.npy", rng.standard_normal((4, 4, 3, 3)))
    inf = save(tmp / "inf.npy", np.array([[[np.inf, 1.0], [2.0, 3.0]]]))
    k1 = save(tmp / "k1.npy", np.ones((1, 1, 1, 1)))
    kt = save(tmp / "kt.npy", rng.standard_normal((8, 2, 3, 3)))
    return [
        ["run", x8, kt, "--transposed", "-s", "2", "-g", "2", "--bias", str(tmp / "b4.json")],
        ["explain", x8, kt, "--transposed", "--at", "1,3,4,2", "-s", "2", "-g", "2"],
        [
            "verify",
            x8,
            kt,
            "--transposed",
            "-s",
            "2",
            "-p",
            "1",
            "--output-padding",
            "1",
            "-g",
            "2",
        ],
        ["explain", x8, k8, "--at", "1,3,1,1", "--groups", "2", "-p", "1"],
        ["explain", x8, k8, "--at", "0,1,0,0", "--groups", "2", "--full"],
        ["verify", x8, k8, "--groups", "2", "-s", "2", "--flip", "--padding-mode", "circular"],
        ["run", inf, k1],
        ["run", x8, k8, "--groups", "2", "--heatmap", "-o", str(tmp / "y.npy")],
        ["run", str(tmp / "k1.npy"), k1, "-o", str(tmp / "y2.json")],
    ]


def _commands(tmp: Path) -> list[list[str]]:
    return [
        ["demo"],
        ["shapes"],
        ["shapes", "--input-shape", "8x64x56x56", "--kernel-shape", "128x32x3x3", "-g", "2"],
        ["shapes", "--input-shape", "3x5x5", "--kernel-shape", "8x3x3x3", "-p", "2,1", "-s", "2"],
        ["shapes", "--input-shape", "1x7x7", "--kernel-shape", "1x1x3x3", "--dilation", "2"],
        ["shapes", "--input-shape", "3x5x5", "--kernel-shape", "8x3x1x1", "--no-bias"],
        ["shapes", "--input-shape", "3x5x5", "--kernel-shape", "8x3x3x3",
         "--padding-mode", "reflect", "-p", "1"],
        ["shapes", X, K_IN],
        ["run", X, K_OUT, "--bias", BIAS, "-p", "1", "--padding-mode", "reflect", "--flip"],
        ["run", X, K_IN, "--mode", "multi-in"],
        ["run", X, K_OUT, "--mode", "multi-out"],
        ["run", X, K_OUT, "--heatmap"],
        ["explain", X, K_IN, "--at", "0,0"],
        ["explain", X, K_OUT, "--at", "2,1,1", "--bias", BIAS, "-p", "1",
         "--padding-mode", "reflect", "--flip"],
        ["explain", X, K_OUT, "--at", "0,0,0", "-p", "1"],
        ["verify", X, K_IN],
        ["verify", X, K_OUT, "-p", "1", "-s", "2", "--flip"],
        ["verify-1x1"],
        ["verify-1x1", "--input-shape", "4x3x3", "--out-channels", "3", "--seed", "7"],
        ["shapes", "--input-shape", "4x9x9", "--kernel-shape", "6x2x3x3", "-g", "2", "-p", "1",
         "--bias", "--backward"],
        ["shapes", "--input-shape", "64x32x32", "--kernel-shape", "64x64x3x3", "--vary", "p=1,2"],
        ["compose", str(SAMPLES / "sobel_column.json"), str(SAMPLES / "sobel_row.json"),
         "--check", str(SAMPLES / "edges_X.json"), "--padding2", "1"],
        ["learn", "--example", "edges"],
        ["net", "--preset", "resnet18", "--training", "--optimizer", "adam"],
        ["pool", X, "--kind", "max", "--kernel-size", "2", "--stride", "1"],
        ["pool", X, "--kind", "avg", "-k", "2", "-p", "1", "--ceil-mode", "--at", "0,0,0"],
        ["pool", X, "--kind", "max", "-k", "2", "-p", "1", "--at", "1,1,1"],
        ["pool", X, "--kind", "adaptive-avg", "--output-size", "1", "--at", "0,0,0"],
        ["pool", X, "--kind", "avg", "-k", "2", "-p", "1", "--grad"],
        ["grad", X, K_OUT, "--bias", BIAS, "-p", "1", "--padding-mode", "reflect"],
        ["grad", X, K_IN, "--at", "input:0,1,1", "-p", "1"],
        ["grad", X, K_OUT, "--at", "weight:1,0,1,1", "-p", "1", "--padding-mode", "circular"],
        ["verify", X, K_OUT, "--bias", BIAS, "-p", "1", "--grad"],
        ["draw", X, K_OUT, "--grad", "--at", "1,1,1", "-p", "1", "-o", str(tmp / "g.svg")],
        ["shapes", "--pool", "max", "--input-shape", "64x112x112", "--kernel-size", "3", "-s", "2",
         "-p", "1", "--ceil-mode"],
        ["shapes", "--transposed", "--input-shape", "4x16x16", "--kernel-shape", "4x2x4x4",
         "-s", "2", "-p", "1", "--output-padding", "1", "-g", "2"],
        ["net", "--preset", "lenet", "--at", "6:0,0"],
        ["net", "--preset", "resnet18"],
        ["net", "conv(8, k=3, s=2) > bn > relu > flatten > linear(10)", "--input-shape", "1x3x9x9"],
        ["net", "convT(4, k=4, s=2, p=1) > adaptiveavgpool(3)", "--input-shape", "1x2x5x5",
         "--at", "1,1"],
        ["draw", "--input-shape", "5x5", "--kernel-shape", "3x3", "-o", str(tmp / "d.svg")],
        ["draw", "--input-shape", "3x3", "--kernel-shape", "2x2", "--transposed", "-s", "2",
         "-o", str(tmp / "t.gif")],
        *_npy_cases(tmp),
    ]  # fmt: skip


def _errors(tmp: Path) -> list[list[str]]:
    (tmp / "bad.json").write_text('{"data": [[1, 2], [3]]}', encoding="utf-8")
    (tmp / "exists.npy").write_bytes(b"")
    return [
        ["run"],
        ["run", X],
        ["run", X, K_IN, "--bogus"],
        ["run", X, K_IN, "--stride"],
        ["run", X, K_IN, "--json=1"],
        ["bogus"],
        ["run", X, str(tmp / "missing.json")],
        ["run", X, str(tmp / "bad.json")],
        ["run", X, K_IN, "--stride", "0"],
        ["run", X, K_IN, "--padding", "x"],
        ["run", X, K_IN, "--padding-mode", "mirror"],
        ["run", X, K_IN, "--mode", "fast"],
        ["run", X, K_OUT, "--groups", "2"],
        ["run", X, K_IN, "-o", str(tmp / "exists.npy")],
        ["run", X, K_IN, "-o", str(tmp / "y.txt")],
        ["run", X, K_IN, "--max-memory", "10 apples"],
        ["run", X, K_IN, "--max-memory", "1"],
        ["run", X, K_IN, "-p", "3", "--padding-mode", "reflect"],
        ["run", "-", "-"],
        ["shapes", "--input-shape", "2x3"],
        ["shapes", "--input-shape", "2x3x3", "--kernel-shape", "3x2x9x9"],
        ["shapes", X],
        ["explain", X, K_OUT, "--at", "9,9,9"],
        ["explain", X, K_OUT, "--at", "1,1"],
        ["verify", X, K_IN, "--atol", "-1"],
        ["verify-1x1", "--out-channels", "0"],
        ["verify-1x1", "--input-shape", "2x2"],
        ["net", "conv(8) > nonsense", "--input-shape", "1x3x9x9"],
        ["net", "conv(8, k=3)", "--input-shape", "1x3x2x2"],
        ["net", "--preset", "lenet", "--at", "99:0,0"],
        ["net", "conv(8, k=3"],
        ["draw", "--input-shape", "5x5", "--kernel-shape", "3x3"],
        ["draw", "--pool", "max", "--input-shape", "4x4", "-o", str(tmp / "p.svg")],
        ["run", X, K_IN, "7", "8"],
        ["pool", X, "--kind", "avg", "--kernel-size", "2", "--divisor-override", "x"],
        ["pool", X, "--kind", "avg", "--kernel-size", "2", "--divisor-override", "0"],
        ["demo", "--lang"],
    ]


COMMANDS = sorted(get_command(app).commands)  # type: ignore[attr-defined]
SYMBOLS |= set(COMMANDS)


def _help() -> list[list[str]]:
    return [["--help"], *([name, "--help"] for name in COMMANDS)]


def test_every_command_speaks_chinese(tmp_path: Path) -> None:
    leftovers = {}
    for args in [*_commands(tmp_path), *_help()]:
        code, out, err = zh(*args)
        assert code == 0, (args, err)
        words = english_words(out + err)
        if words:
            leftovers[" ".join(args)] = sorted(words)
    assert leftovers == {}


def test_every_error_speaks_chinese(tmp_path: Path) -> None:
    leftovers = {}
    for args in _errors(tmp_path):
        code, out, err = zh(*args)
        assert code == 2 and out == "" and len(err.splitlines()) == 1, (args, out, err)
        assert "错误" in err, err
        words = english_words(err)
        if words:
            leftovers[" ".join(args)] = sorted(words)
    assert leftovers == {}


def cells(line: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line)


def test_chinese_output_fits_80_columns(tmp_path: Path) -> None:
    """Tables and help stay within 80 terminal cells with double-width characters (lines
    without any are as the English ones: help's examples, stderr's one-line messages)."""
    for args in [*_commands(tmp_path), *_help()]:
        _, out, _err = zh(*args)
        for line in out.splitlines():
            if cells(line) != len(line):
                assert cells(line) <= 80, (args, line)


def test_tables_stay_aligned_with_wide_characters() -> None:
    """Under wide-character headings and roles, the right-aligned shapes end in one terminal
    column and the axes start in one, as in English; no row is wider than the rule."""
    for args in (
        ["shapes", "--input-shape", "1x28x28", "--kernel-shape", "10x1x5x5"],
        ["run", X, K_IN],
    ):
        _, out, _ = zh(*args)
        lines = out.splitlines()
        rule = next(i for i, line in enumerate(lines) if "───" in line)
        roles = ("输入", "卷积核", "偏置", "输出")
        rows = [line for line in lines[rule + 1 :] if line.strip().startswith(roles)][:4]
        assert [row.split()[0] for row in rows] == list(roles), rows
        ends, starts = set(), set()
        for row in rows:
            shape = re.search(r"(?<=\s)(?:\d+(?:x\d+)*|-)(?=\s)", row)
            assert shape is not None, row
            ends.add(cells(row[: shape.end()]))
            starts.add(
                cells(row[: shape.end()])
                + len(row[shape.end() :])
                - len(row[shape.end() :].lstrip())
            )
            assert cells(row.rstrip()) <= cells(lines[rule]), row
        assert len(ends) == 1 and len(starts) == 1, rows


@pytest.mark.parametrize("width", [6, 11, 20, 37])
def test_wrap_cells_fits_the_width_and_keeps_every_character(width: int) -> None:
    text = _zh_help_paragraph()
    wrapped = wrap_cells(text, width)
    for line in wrapped.splitlines():
        assert cells(line) <= width or " " not in line.strip(), line
    assert "".join(wrapped.split()) == "".join(text.split())


def _zh_help_paragraph() -> str:
    code, out, _ = zh("verify", "--help")
    assert code == 0
    return out.split("\n\n")[2]


# --- JSON is an interface ------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["run", X, K_OUT, "--bias", BIAS, "-p", "1", "--json"],
        ["shapes", "--input-shape", "8x64x56x56", "--kernel-shape", "128x64x3x3", "--json"],
        ["explain", X, K_OUT, "--at", "2,1,1", "--padding-mode", "reflect", "-p", "1", "--json"],
        ["verify", X, K_OUT, "-p", "1", "--json"],
        ["verify-1x1", "--json"],
    ],
)
def test_json_is_byte_identical_in_every_language(args: list[str]) -> None:
    english = invoke(*args, env=NEUTRAL)  # type: ignore[arg-type]
    assert english.exit_code == 0
    for env in ({"LANG": "zh_CN.UTF-8"}, {"CONVCLI_LANG": "zh"}):
        chinese = invoke(*args, env={**NEUTRAL, **env})  # type: ignore[dict-item]
        assert chinese.stdout_bytes == english.stdout_bytes
    assert invoke("--lang", "zh", *args, env=NEUTRAL).stdout_bytes == english.stdout_bytes  # type: ignore[arg-type]


@pytest.mark.parametrize("width", [40, 60])
def test_narrow_layouts_speak_chinese_too(width: int) -> None:
    """The layouts a narrow terminal falls back to (net's layers listed one by one) say
    their column names in Chinese, as the table does."""
    for args in (["net", "--preset", "resnet18"], ["net", "--preset", "lenet"]):
        result = invoke("--lang", "zh", *args, env={**NEUTRAL, "COLUMNS": str(width)})  # type: ignore[dict-item]
        assert result.exit_code == 0, result.output
        assert english_words(result.stdout) == set(), (args, width)


def test_net_memory_notes_use_chinese_brackets() -> None:
    """Both memory lines of net's totals bracket their dtype the same way in Chinese."""
    code, out, _err = zh("net", "--preset", "lenet", "--dtype", "float16")
    assert code == 0
    memory = [line for line in out.splitlines() if "内存" in line]
    assert len(memory) == 2 and all("（float16" in line for line in memory), memory  # noqa: RUF001
