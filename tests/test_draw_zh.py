"""convcli draw and --plot in Chinese: the pictures' text translated, English pictures as
they were, and room for wide characters (no caption, title or note overlaps or is cut)."""

from __future__ import annotations

import itertools
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
from clitools import SAMPLES, invoke, save
from test_i18n import NEUTRAL, english_words

from convcli import i18n
from convcli.draw.conv import ConvProblem, conv_figures
from convcli.draw.layout import Figure
from convcli.draw.output import scenes_of
from convcli.draw.pool import PoolProblem, pool_figures
from convcli.draw.scene import Scene, Text, text_width
from convcli.draw.transposed import TransposedProblem, transposed_figures
from convcli.shapes.options import ConvOptions

X = str(SAMPLES / "lesson_X.json")
K_IN = str(SAMPLES / "lesson_K_multi_in.json")
K_OUT = str(SAMPLES / "lesson_K_multi_out.json")
BIAS = str(SAMPLES / "lesson_bias.json")
CJK = re.compile(r"[\u4e00-\u9fff]")
SVG = "{http://www.w3.org/2000/svg}"
# matplotlib cannot draw Chinese without a CJK font and says so for each glyph; the text
# (what these tests read) is written all the same.
NO_GLYPH = "ignore:Glyph .* missing from font"


@pytest.fixture
def chinese() -> Iterator[None]:
    before = i18n.current_language()
    i18n.set_language("zh")
    try:
        yield
    finally:
        i18n.set_language(before)


def picture_text(path: Path) -> list[str]:
    """Every text a person reads in one of convcli's SVGs: its title and <text> elements."""
    root = ET.parse(path).getroot()
    texts = [root.findtext(f"{SVG}title") or ""]
    texts += ["".join(node.itertext()) for node in root.iter(f"{SVG}text")]
    return [text for text in texts if text]


def plot_text(path: Path) -> list[str]:
    """matplotlib's SVG draws text as glyph paths, each text's string in a comment."""
    return re.findall(r"<!-- (.*?) -->", path.read_text(encoding="utf-8"), flags=re.DOTALL)


def zh_draw(tmp_path: Path, name: str, *args: str) -> Path:
    target = tmp_path / name
    result = invoke("--lang", "zh", *args, env={**NEUTRAL, "COLUMNS": "80"})  # type: ignore[dict-item]
    assert result.exit_code == 0, (result.output, result.exception)
    return target


def english_left(texts: list[str]) -> dict[str, set[str]]:
    return {text: english_words(text) for text in texts if english_words(text)}


# --- every kind of picture speaks Chinese --------------------------------------------------

DRAWINGS = {
    "lesson step": ["draw", X, K_IN, "--at", "0,0"],
    "multi-out, bias, reflect, flip": [
        "draw", X, K_OUT, "--bias", BIAS, "-p", "1", "--padding-mode", "reflect", "--flip",
        "--at", "2,1,1",
    ],
    "shapes, stride, padding": [
        "draw", "--input-shape", "5x5", "--kernel-shape", "3x3", "-s", "2", "-p", "1",
    ],
    "groups, dilation, batch": [
        "draw", "--input-shape", "2x4x7x7", "--kernel-shape", "4x2x3x3", "-g", "2",
        "--dilation", "2", "-p", "same", "--at", "1,3,2,2",
    ],
    "transposed": ["draw", "--transposed", "--input-shape", "2x2", "--kernel-shape", "3x3",
                   "-s", "2", "-p", "1", "--output-padding", "1"],
    "transposed scatter": ["draw", "--transposed", "--scatter", "--input-shape", "2x3",
                           "--kernel-shape", "3x3", "-s", "2", "-p", "1", "--at", "1,2"],
    "max pooling": ["draw", "--pool", "max", "--input-shape", "2x4x4", "--kernel-size", "2",
                    "--dilation", "1,2", "-p", "1", "--at", "1,0,1"],
    "avg pooling, ceil mode": ["draw", "--pool", "avg", "--input-shape", "5x5",
                               "--kernel-size", "2", "-p", "1", "--ceil-mode", "--at", "2,2"],
}  # fmt: skip


@pytest.mark.parametrize("args", DRAWINGS.values(), ids=DRAWINGS.keys())
def test_every_kind_of_picture_speaks_chinese(tmp_path: Path, args: list[str]) -> None:
    target = zh_draw(tmp_path, "a.svg", *args, "--output", str(tmp_path / "a.svg"))
    texts = picture_text(target)
    assert CJK.search(texts[0]), texts[0]  # the title (also the SVG's <title>)
    assert english_left(texts) == {}


def test_an_animation_speaks_chinese_in_every_frame(tmp_path: Path) -> None:
    target = zh_draw(
        tmp_path, "a.gif", "draw", "--input-shape", "3x3", "--kernel-shape", "2x2",
        "--output", str(tmp_path / "a.gif"),
    )  # fmt: skip
    assert target.stat().st_size > 0


def _figures_with_values() -> dict[str, Callable[[], Sequence[Figure]]]:
    def rng() -> np.random.Generator:  # each drawing its own numbers, in any test order
        return np.random.default_rng(5)

    x3 = rng().integers(-4, 5, (2, 3, 3))
    return {
        "conv, one channel": lambda: conv_figures(
            ConvProblem((3, 3), (2, 2), ConvOptions(), x3[0], np.ones((2, 2), int)), animate=True
        ),
        "conv, bias below zero": lambda: conv_figures(
            ConvProblem((2, 3, 3), (1, 2, 2, 2), ConvOptions(padding=1), x3,
                        rng().integers(-2, 3, (1, 2, 2, 2)), np.array([-1.5])),
            animate=True,
        ),
        "conv, padding asymmetric": lambda: conv_figures(
            ConvProblem((4, 4), (2, 2), ConvOptions(padding="same")), animate=True
        ),
        "transposed, values and bias": lambda: transposed_figures(
            TransposedProblem((2, 2, 2), (2, 1, 3, 3), stride=(2, 1), padding=1, x=x3[:, :2, :2],
                              weight=rng().integers(-2, 3, (2, 1, 3, 3)), bias=np.array([2])),
            animate=True,
        ),
        "transposed, groups": lambda: transposed_figures(
            TransposedProblem((4, 2, 2), (4, 1, 2, 2), groups=2, dilation=2), animate=True
        ),
        "scatter, values": lambda: transposed_figures(
            TransposedProblem((2, 2, 2), (2, 2, 2, 2), stride=2, x=x3[:, :2, :2],
                              weight=rng().integers(-2, 3, (2, 2, 2, 2))),
            animate=True, scatter=True,
        ),
        "max pooling, batch": lambda: pool_figures(
            PoolProblem("max", (2, 1, 3, 3), 2, ceil_mode=True,
                        x=rng().standard_normal((2, 1, 3, 3))),
            animate=True,
        ),
        "avg pooling, values": lambda: pool_figures(
            PoolProblem("avg", (1, 5, 5), 3, stride=2, padding=1, ceil_mode=True,
                        x=rng().integers(0, 9, (1, 5, 5))),
            animate=True,
        ),
        "avg pooling, shapes": lambda: pool_figures(
            PoolProblem("avg", (5, 5), 2, padding=1, ceil_mode=True), animate=True
        ),
    }  # fmt: skip


FIGURES = _figures_with_values()


def scene_texts(scene: Scene) -> list[Text]:
    return [item for item in scene.items if isinstance(item, Text)]


@pytest.mark.parametrize("make", FIGURES.values(), ids=FIGURES.keys())
def test_every_frame_speaks_chinese(chinese: None, make: Callable[[], Sequence[Figure]]) -> None:
    scenes = scenes_of(make())
    texts = [item.text for scene in scenes for item in scene_texts(scene)]
    assert english_left(texts) == {}
    assert any(CJK.search(text) for text in texts)


@pytest.mark.filterwarnings(NO_GLYPH)
@pytest.mark.parametrize(
    "args",
    [
        ["run", X, K_OUT, "--plot"],
        ["pool", X, "--kind", "avg", "-k", "2", "--plot"],
    ],
)
def test_plots_speak_chinese(tmp_path: Path, args: list[str]) -> None:
    target = zh_draw(tmp_path, "y.svg", *args, str(tmp_path / "y.svg"))
    texts = plot_text(target)
    assert any(CJK.search(text) for text in texts), texts
    assert english_left(texts) == {}


@pytest.mark.filterwarnings(NO_GLYPH)
def test_a_signed_plot_with_gaps_and_many_maps_speaks_chinese(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    values = rng.standard_normal((1, 3, 3))
    values[0, 0, 0] = np.nan
    x = save(tmp_path / "x.npy", values)
    k = save(tmp_path / "k.npy", rng.standard_normal((70, 1, 1, 1)))  # 70 maps, both signs
    target = zh_draw(tmp_path, "y.svg", "run", x, k, "--plot", str(tmp_path / "y.svg"), "--json")
    texts = plot_text(target)
    joined = "\n".join(texts)
    assert "中心为 0" in joined and "NaN/inf" in joined and "70 张图中的前 64 张" in joined
    assert english_left(texts) == {}


# --- English pictures are as they were -----------------------------------------------------


def test_english_pictures_have_no_chinese_and_lang_en_is_the_default(tmp_path: Path) -> None:
    args = ["draw", X, K_IN, "--at", "0,0", "--output"]
    plain = invoke(*args, str(tmp_path / "a.svg"), env=NEUTRAL)  # type: ignore[arg-type]
    english = invoke("--lang", "en", *args, str(tmp_path / "b.svg"), env=NEUTRAL)  # type: ignore[arg-type]
    assert plain.exit_code == english.exit_code == 0
    text = (tmp_path / "a.svg").read_text(encoding="utf-8")
    assert text == (tmp_path / "b.svg").read_text(encoding="utf-8")
    assert not CJK.search(text)
    assert "output[0,0] = 19 + 37 = 56" in text


def test_the_same_picture_in_chinese_says_the_same_numbers(tmp_path: Path) -> None:
    args = ["draw", X, K_IN, "--at", "0,0", "--output"]
    assert invoke(*args, str(tmp_path / "en.svg"), env=NEUTRAL).exit_code == 0  # type: ignore[arg-type]
    zh = zh_draw(tmp_path, "zh.svg", *args, str(tmp_path / "zh.svg"))
    numbers = re.compile(r"-?\d+(?:\.\d+)?")
    en_texts, zh_texts = picture_text(tmp_path / "en.svg"), picture_text(zh)
    assert len(en_texts) == len(zh_texts)
    for english, chinese in zip(en_texts, zh_texts, strict=True):
        assert numbers.findall(english) == numbers.findall(chinese), (english, chinese)
    assert "输出[0,0] = 19 + 37 = 56" in zh_texts


# --- room for wide characters --------------------------------------------------------------


def test_a_wide_character_takes_a_whole_em() -> None:
    assert text_width("输出通道 0", 10) == pytest.approx(4 * 10 + 2 * 6)
    assert text_width("\uff08\uff0c\uff09\uff1a", 12) == pytest.approx(
        4 * 12
    )  # full-width punctuation
    assert text_width("output 0", 10) == pytest.approx(8 * 6)


def text_box(item: Text) -> tuple[float, float, float, float]:
    """(left, top, right, bottom) of a text as the layout estimates it.

    Centred text is centred both ways; text anchored at its start may be drawn with ``y``
    as its baseline (SVG) or its middle (Pillow): the box covers both.
    """
    width = text_width(item.text, item.size)
    if item.anchor == "middle":
        return (item.x - width / 2, item.y - 0.6 * item.size, item.x + width / 2,
                item.y + 0.6 * item.size)  # fmt: skip
    return item.x, item.y - 0.9 * item.size, item.x + width, item.y + 0.5 * item.size


def layout_problems(scene: Scene) -> list[str]:
    boxes = [(item.text, text_box(item)) for item in scene_texts(scene)]
    found = [
        f"{text!r} outside the {scene.width}x{scene.height} canvas"
        for text, (left, top, right, bottom) in boxes
        if left < 0 or top < 0 or right > scene.width or bottom > scene.height
    ]
    for (one, a), (other, b) in itertools.combinations(boxes, 2):
        if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]:
            found.append(f"{one!r} overlaps {other!r}")
    return found


LAYOUTS: dict[str, Callable[[], Sequence[Figure]]] = {
    **FIGURES,
    "conv, groups, dilation, reflect, flip": lambda: conv_figures(
        ConvProblem((2, 4, 6, 6), (4, 2, 3, 3),
                    ConvOptions(groups=2, dilation=2, padding=2, padding_mode="reflect",
                                flip=True)),
        (1, 3, 1, 0),
    ),
    "conv, many channels": lambda: conv_figures(
        ConvProblem((4, 2, 2), (3, 4, 1, 1), ConvOptions()), animate=True
    ),
    "transposed, shapes": lambda: transposed_figures(
        TransposedProblem((2, 2), (3, 3), stride=2, output_padding=1), animate=True
    ),
    "transposed, one value": lambda: transposed_figures(
        TransposedProblem((1, 1, 1), (1, 1, 1, 1), x=np.ones((1, 1, 1)),
                          weight=np.ones((1, 1, 1, 1)))
    ),
    "scatter, shapes": lambda: transposed_figures(
        TransposedProblem((2, 3), (2, 2), padding=1), animate=True, scatter=True
    ),
    "max pooling, dilation, shapes": lambda: pool_figures(
        PoolProblem("max", (3, 5, 5), 2, dilation=(2, 1), padding=1), (2, 0, 0)
    ),
}  # fmt: skip


@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize("make", LAYOUTS.values(), ids=LAYOUTS.keys())
def test_no_text_overlaps_or_leaves_the_canvas(
    language: str, make: Callable[[], Sequence[Figure]]
) -> None:
    before = i18n.current_language()
    i18n.set_language(language)
    try:
        scenes = scenes_of(make())
    finally:
        i18n.set_language(before)
    for number, scene in enumerate(scenes):
        assert layout_problems(scene) == [], f"frame {number}"


def test_the_check_sees_text_laid_out_too_narrow(
    chinese: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Laid out as if every character were 0.6 em wide, a Chinese picture's captions run
    into each other and out of the canvas: the layout check above would fail."""
    import convcli.draw.layout as layout_module

    monkeypatch.setattr(layout_module, "text_width", lambda text, size: 0.6 * size * len(text))
    # A one-cell grid under a long caption: the next item starts inside the caption.
    problems = layout_problems(scenes_of(LAYOUTS["transposed, one value"]())[0])
    assert any("overlaps" in problem for problem in problems), problems
    # A long title line: the canvas ends before it does.
    problems = layout_problems(scenes_of(LAYOUTS["avg pooling, shapes"]())[0])
    assert any("outside" in problem for problem in problems), problems
