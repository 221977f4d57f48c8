"""run --plot: heatmaps of the result, written only when everything else succeeded."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pytest
from clitools import SAMPLES, assert_usage_error, invoke, save
from PIL import Image

from convcli.draw.deps import install_hint
from convcli.draw.plot import MAX_PANELS, panels_of, plot_result

LESSON_X = str(SAMPLES / "lesson_X.json")
LESSON_K_OUT = str(SAMPLES / "lesson_K_multi_out.json")


def test_run_plot_png_is_written_beside_the_usual_report(tmp_path: Path) -> None:
    target = tmp_path / "y.png"
    result = invoke("run", LESSON_X, LESSON_K_OUT, "--plot", str(target))
    assert result.exit_code == 0, result.output
    assert "computed with" in result.stdout
    assert f"wrote {target}" in result.stderr
    with Image.open(target) as image:
        assert image.format == "PNG"
        assert image.size[0] > 300 and image.size[1] > 200


def test_run_plot_svg_has_one_panel_per_channel_and_the_range_in_the_title(
    tmp_path: Path,
) -> None:
    target = tmp_path / "y.svg"
    assert invoke("run", LESSON_X, LESSON_K_OUT, "--plot", str(target)).exit_code == 0
    text = target.read_text(encoding="utf-8")
    # matplotlib writes text as glyph paths with the string in a comment.
    assert "output 3x2x2 float32: min 56  max 224" in text
    for channel in range(3):
        assert f"c_o={channel}" in text
    assert "c_o=3" not in text


def test_signed_results_use_a_scale_centred_on_zero(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = save(tmp_path / "x.npy", rng.standard_normal((2, 6, 7)))
    w = save(tmp_path / "w.npy", rng.standard_normal((4, 2, 3, 3)))
    target = tmp_path / "y.svg"
    assert invoke("run", x, w, "--plot", str(target), "--json").exit_code == 0
    text = target.read_text(encoding="utf-8")
    assert "(0 at the centre)" in text
    assert re.search(r"min -\d", text)


def test_panels_are_the_leading_axes_in_row_major_order() -> None:
    y = np.arange(2 * 3 * 2 * 2).reshape(2, 3, 2, 2)
    panels = panels_of(y, ("n", "c_o", "m_h", "m_w"))
    assert [label for label, _ in panels][:4] == [
        "n=0  c_o=0",
        "n=0  c_o=1",
        "n=0  c_o=2",
        "n=1  c_o=0",
    ]
    assert np.array_equal(panels[4][1], y[1, 1])


def test_many_channels_draw_the_first_ones_and_say_so(tmp_path: Path) -> None:
    y = np.arange((MAX_PANELS + 6) * 4, dtype=np.float32).reshape(MAX_PANELS + 6, 2, 2)
    target = tmp_path / "y.svg"
    assert plot_result(y, ("c_o", "m_h", "m_w"), target) == MAX_PANELS
    assert f"the first {MAX_PANELS} of {MAX_PANELS + 6} maps" in target.read_text(encoding="utf-8")


def test_plot_refusals_come_before_any_work_and_write_nothing(tmp_path: Path) -> None:
    out, plot = tmp_path / "y.npy", tmp_path / "y.jpg"
    result = invoke("run", LESSON_X, LESSON_K_OUT, "--output", str(out), "--plot", str(plot))
    assert_usage_error(result, "--plot", "unsupported output type", ".png")
    assert list(tmp_path.iterdir()) == []
    existing = tmp_path / "y.png"
    existing.write_bytes(b"old")
    result = invoke("run", LESSON_X, LESSON_K_OUT, "--plot", str(existing))
    assert_usage_error(result, "--plot", "already exists")
    assert existing.read_bytes() == b"old"


def test_complex_results_are_refused(tmp_path: Path) -> None:
    x = save(tmp_path / "x.npy", np.ones((1, 3, 3), dtype=np.complex128))
    w = save(tmp_path / "w.npy", np.ones((1, 1, 2, 2), dtype=np.complex128))
    target = tmp_path / "y.png"
    result = invoke("run", x, w, "--plot", str(target))
    assert result.exit_code == 2
    assert "complex" in result.stderr
    assert not target.exists()


def test_plot_without_matplotlib_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    target = tmp_path / "y.png"
    result = invoke("run", LESSON_X, LESSON_K_OUT, "--plot", str(target))
    assert_usage_error(result, "matplotlib", install_hint())
    assert not target.exists()
