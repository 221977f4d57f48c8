"""Chinese in pictures: the shipped CJK font covers the translations, draws real glyphs in
PNG and plots, joins the SVG font list only when needed, and leaves English untouched."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import matplotlib
import numpy as np
import pytest
from fontTools.ttLib import TTFont
from PIL import Image, ImageChops, ImageDraw, ImageFont

from convcli.draw import raster
from convcli.draw.cjk import CJK_FAMILY, cjk_font_path, font_runs, has_wide
from convcli.draw.plot import plot_result
from convcli.draw.scene import FONT_FAMILY, Rect, Scene, Text
from convcli.draw.svg import scene_to_svg

ROOT = Path(__file__).resolve().parent.parent
FONTS = [cjk_font_path(False), cjk_font_path(True)]
ABSENT = "龘"  # a real character the subset does not carry: it draws as .notdef


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "make_cjk_font", ROOT / "scripts/make_cjk_font.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def fresh_caches() -> Iterator[None]:
    """Text masks and fonts are cached: start and end each test without them."""
    caches: list[Any] = [raster._text_mask, raster._cjk_font, raster._font]
    for cache in caches:
        cache.cache_clear()
    yield
    for cache in caches:
        cache.cache_clear()


def ink(mask: Any) -> np.ndarray[Any, Any]:
    return np.asarray(mask, dtype=np.uint8)


# --- the font covers the translations ------------------------------------------------------


def test_the_shipped_font_has_every_character_the_zh_catalogue_uses() -> None:
    """Fails when a new translation brings a character the font lacks: rebuild the font."""
    assert load_script().check() == []


def test_the_check_names_missing_characters_and_the_rebuild_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    script = load_script()
    monkeypatch.setattr(script, "catalogue_characters", lambda: {"卷", ABSENT})
    [problem] = script.check()
    assert ABSENT in problem and "卷" not in problem.split(":")[1]
    assert "python scripts/make_cjk_font.py" in problem


def test_the_check_command_exits_1_on_a_missing_font(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    script = load_script()
    monkeypatch.setattr(script, "FONTS", tmp_path)
    assert script.main(["--check"]) == 1
    monkeypatch.undo()
    assert script.main(["--check"]) == 0


def test_the_font_holds_what_the_script_asks_for_punctuation_too() -> None:
    script = load_script()
    wanted = script.wanted_characters()
    assert set("，。（）：、") <= wanted  # noqa: RUF001
    assert script.missing_characters(FONTS, wanted) == []


def test_the_font_is_renamed_and_carries_its_licence() -> None:
    """OFL 1.1: a modified font takes a new name (never the reserved "Source") and travels
    with the copyright notice and the licence."""
    for path, style in zip(FONTS, ("Regular", "Bold"), strict=True):
        with TTFont(path) as font:
            tables = set(font.keys())
            names = font["name"]
            postscript = font["CFF "].cff.fontNames[0]
        names = font["name"]
        assert names.getDebugName(1) == CJK_FAMILY
        assert names.getDebugName(2) == style
        for name_id in (1, 3, 4, 6):
            shown = names.getDebugName(name_id)
            assert "Source" not in shown and "Noto" not in shown, shown
        assert postscript == f"convcliCJK-{style}"
        assert "Adobe" in names.getDebugName(0)
        assert not {"GSUB", "GPOS", "vmtx"} & tables  # outlines only
    licence = (FONTS[0].parent / "OFL.txt").read_text(encoding="utf-8")
    assert "Copyright 2014-2021 Adobe" in licence and "Reserved Font Name 'Source'" in licence
    assert "SIL OPEN FONT LICENSE Version 1.1" in licence


# --- PNG and GIF: real glyphs on one baseline ----------------------------------------------


@pytest.mark.usefixtures("fresh_caches")
def test_chinese_draws_real_glyphs_not_notdef_boxes() -> None:
    size = 24
    glyphs = [ink(raster._text_mask(char, size, False, False, "mm")[0]) for char in "卷积核"]
    missing = ink(raster._text_mask(ABSENT, size, False, False, "mm")[0])
    for glyph in glyphs:
        assert glyph.max() == 255 and (glyph > 128).sum() > 40  # drawn, not a speck
        assert glyph.shape != missing.shape or not np.array_equal(glyph, missing)
    # .notdef boxes are all alike; three different characters are not.
    assert not np.array_equal(glyphs[0], glyphs[1]) or glyphs[0].shape != glyphs[1].shape
    word = ink(raster._text_mask("卷积核", size, False, False, "mm")[0])
    boxes = ink(raster._text_mask(ABSENT * 3, size, False, False, "mm")[0])
    assert word.shape != boxes.shape or not np.array_equal(word, boxes)


@pytest.mark.usefixtures("fresh_caches")
def test_without_the_cjk_font_chinese_would_be_boxes(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the shipped font changes: DejaVu alone draws the three characters alike."""
    monkeypatch.setattr(raster, "_cjk_font", lambda size, bold: None)
    masks = [ink(raster._text_mask(char, 24, False, False, "mm")[0]) for char in "卷积核"]
    assert all(np.array_equal(masks[0], mask) for mask in masks)


@pytest.mark.usefixtures("fresh_caches")
def test_mixed_text_keeps_one_baseline_and_its_anchor() -> None:
    size = 24
    latin = ImageFont.truetype(str(raster._font_path(False, False)), size)
    cjk = ImageFont.truetype(str(cjk_font_path(False)), size)
    alone, _, alone_top = raster._text_mask("x", size, False, False, "lm")
    mixed, left, top = raster._text_mask("卷x", size, False, False, "lm")
    start = round(cjk.getlength("卷")) - left  # where "x" begins in the mixed mask
    rows_alone = {row + alone_top for row in np.nonzero(ink(alone).max(axis=1) > 64)[0]}
    rows_mixed = {row + top for row in np.nonzero(ink(mixed)[:, start:].max(axis=1) > 64)[0]}
    assert rows_alone == rows_mixed  # the Latin run sits where it sits alone
    # "middle" centres the whole run: ink as far left of the point as right of it.
    word, left, _ = raster._text_mask("输出 2x2", size, False, False, "mm")
    columns = np.nonzero(ink(word).max(axis=0) > 64)[0]
    assert abs(left + (columns[0] + columns[-1]) / 2) <= 2
    assert latin.getlength("x") > 0


@pytest.mark.usefixtures("fresh_caches")
def test_chinese_bold_is_the_bold_weight_and_italic_leaves_it_upright() -> None:
    regular = ink(raster._text_mask("卷积核", 24, False, False, "mm")[0])
    bold = ink(raster._text_mask("卷积核", 24, True, False, "mm")[0])
    italic = ink(raster._text_mask("卷积核", 24, False, True, "mm")[0])
    assert bold.astype(int).sum() > 1.2 * regular.astype(int).sum()
    assert np.array_equal(italic, regular)


@pytest.mark.usefixtures("fresh_caches")
def test_english_text_is_drawn_as_before_byte_for_byte(monkeypatch: pytest.MonkeyPatch) -> None:
    """ASCII text takes Pillow's one-font path, so the shipped CJK font changes no
    English picture: the same pixels with the font as without it."""
    scene = Scene(260, 80, [Rect(10, 10, 60, 30, "#E1ECF7", "#6B8FB3")])
    scene.items += [
        Text(40, 25, "56", 12, bold=True),
        Text(16, 55, "stride 1, padding 0 -> 2x2", 13, anchor="start"),
        Text(130, 70, "x \u00d7 y \u201cq\u201d \u2026", 12, italic=True),
    ]
    with_font = raster.render_scene(scene, scale=2.0).tobytes()
    raster._text_mask.cache_clear()
    monkeypatch.setattr(raster, "_cjk_font", lambda size, bold: None)
    without_font = raster.render_scene(scene, scale=2.0).tobytes()
    assert with_font == without_font
    # And the one-font path is Pillow's own drawing of the text.
    font = ImageFont.truetype(str(raster._font_path(False, False)), 26)
    mask, left, top = raster._text_mask("stride 1, padding 0 -> 2x2", 26, False, False, "lm")
    direct = Image.new("L", mask.size, 0)
    ImageDraw.Draw(direct).text((-left, -top), "stride 1, padding 0 -> 2x2", 255, font, "lm")
    assert ImageChops.difference(mask, direct).getbbox() is None


def test_only_wide_characters_and_what_dejavu_lacks_change_font() -> None:
    latin = raster._characters_of(raster._font_path(False, False))
    assert latin is not None and ord("x") in latin and ord("卷") not in latin
    # The multiplication sign, quotes and ellipsis are DejaVu's (not wide, DejaVu has them).
    text = "输出 x \u00d7 \u201cy\u201d \u2026"
    runs = font_runs(text, lambda char: ord(char) in latin)
    assert runs == [(True, "输出"), (False, text[2:])]


# --- SVG: the font list grows only for Chinese --------------------------------------------


def test_svg_names_cjk_fonts_only_when_a_text_is_wide() -> None:
    english = scene_to_svg(Scene(100, 30, [Text(50, 15, "output 2x2", 12)]))
    chinese = scene_to_svg(Scene(100, 30, [Text(50, 15, "输出 2x2", 12)]))
    assert f'font-family="{FONT_FAMILY}"' in english and CJK_FAMILY not in english
    family = chinese.split('font-family="')[1].split('"')[0]
    assert family.startswith("DejaVu Sans, ") and family.endswith(", sans-serif")
    for name in (CJK_FAMILY, "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei"):
        assert name in family
    assert "@font-face" not in chinese  # the font is named, not embedded (docs/commands/draw.md)
    assert has_wide(chinese) and not has_wide(english)


# --- plots (matplotlib) --------------------------------------------------------------------


def test_a_chinese_plot_title_finds_its_glyphs_and_leaves_matplotlib_as_it_was(
    tmp_path: Path,
) -> None:
    """matplotlib warns "Glyph ... missing" for a character no font has (an error here)."""
    rc = matplotlib.rcParams
    before = (list(rc["font.family"]), list(rc["font.sans-serif"]), rc["svg.hashsalt"])
    y = np.arange(8.0).reshape(2, 2, 2)
    plot_result(y, ("c_o", "m_h", "m_w"), tmp_path / "y.png", title="输出（互相关运算）")  # noqa: RUF001
    plot_result(y, ("c_o", "m_h", "m_w"), tmp_path / "y.svg", title="输出")
    assert (tmp_path / "y.png").stat().st_size > 0
    assert (list(rc["font.family"]), list(rc["font.sans-serif"]), rc["svg.hashsalt"]) == before


def test_the_same_plot_writes_the_same_svg(tmp_path: Path) -> None:
    y = np.arange(8.0).reshape(2, 2, 2)
    plot_result(y, ("c_o", "m_h", "m_w"), tmp_path / "a.svg")
    plot_result(y, ("c_o", "m_h", "m_w"), tmp_path / "b.svg")
    assert (tmp_path / "a.svg").read_bytes() == (tmp_path / "b.svg").read_bytes()
