"""Build the CJK font convcli draws Chinese with: a small subset of Noto Sans CJK SC.

    python scripts/make_cjk_font.py ROOT     # write convcli/draw/fonts/*.otf and OFL.txt
    python scripts/make_cjk_font.py --check  # exit 1 if the shipped font lacks a character
                                             # that a translation uses (no source font needed)

Pictures are drawn with DejaVu Sans, which has no Chinese; many machines have no CJK font
at all. So convcli ships the glyphs its translations use, and only those: every non-ASCII
character of every ``msgstr`` in the zh catalogue (``convcli/i18n/locale/zh/LC_MESSAGES/
convcli.po``) plus CJK punctuation, cut out of Noto Sans CJK SC (Adobe's design, SIL Open
Font License 1.1), in two weights. Run this script again whenever a new translation brings
a new character: ``--check`` (and tests/test_draw_fonts.py) says which ones are missing.

ROOT is a folder holding Debian's ``fonts-noto-cjk`` package unpacked (or ``/`` where that
package is installed)::

    apt-get download fonts-noto-cjk && dpkg -x fonts-noto-cjk_*.deb x
    python scripts/make_cjk_font.py x

The script reads ``ROOT/usr/share/fonts/opentype/noto/NotoSansCJK-{Regular,Bold}.ttc``
(the "Noto Sans CJK SC" face of each collection) and the licence text in
``ROOT/usr/share/doc/fonts-noto-cjk/copyright``. What it writes:

- the family renamed "convcli CJK" (the OFL keeps a modified font from the original's
  names, and its Reserved Font Name "Source"; the new name also never shadows a full
  Noto font a user has installed);
- outlines only: no hinting, no layout tables (GSUB/GPOS/BASE: convcli lays out glyphs one
  by one), no vertical metrics;
- the source's timestamps, so the same inputs (and fontTools version) give the same bytes;
- ``OFL.txt``: the copyright line and the licence, which must travel with the font.

Needs fontTools (it comes with matplotlib: ``pip install -e '.[test]'``) and Babel.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from babel.messages.pofile import read_po
from fontTools import subset
from fontTools.ttLib import TTCollection, TTFont

ROOT = Path(__file__).resolve().parent.parent
FONTS = ROOT / "convcli" / "draw" / "fonts"
CATALOGUE = ROOT / "convcli" / "i18n" / "locale" / "zh" / "LC_MESSAGES" / "convcli.po"
FACE = "Noto Sans CJK SC"
SOURCES = {"Regular": "NotoSansCJK-Regular.ttc", "Bold": "NotoSansCJK-Bold.ttc"}
SOURCE_FONTS = Path("usr/share/fonts/opentype/noto")
SOURCE_LICENCE = Path("usr/share/doc/fonts-noto-cjk/copyright")
FAMILY = "convcli CJK"
POSTSCRIPT = "convcliCJK"
# The upstream notice (the fonts' LICENSE file; the font's own name table drops the part
# after the year range).
COPYRIGHT = "Copyright 2014-2021 Adobe (http://www.adobe.com/), with Reserved Font Name 'Source'."
# CJK punctuation beyond what the catalogue uses today: the CJK Symbols and Punctuation
# block, the full-width forms of ASCII punctuation, and the quotes, dashes and dots that
# Chinese text sets. A translator reaches for these first; they cost little.
PUNCTUATION = (
    "".join(map(chr, range(0x3000, 0x3040)))
    + "".join(chr(c) for c in range(0xFF01, 0xFF5F) if not chr(c).isalnum())
    + "\uff5f\uff60\uff61\uff62\uff63\uff64\uff65"
    + "\u00b7\u2014\u2015\u2018\u2019\u201c\u201d\u2026\u2027\u2030\u203b"
)


def output_path(style: str) -> Path:
    return FONTS / f"convcli-cjk-{style.lower()}.otf"


def catalogue_characters(path: Path = CATALOGUE) -> set[str]:
    """Every non-ASCII character in the catalogue's translations (msgstr, plurals too)."""
    with path.open("rb") as file:
        catalog = read_po(file)
    found: set[str] = set()
    for message in catalog:
        if not message.id:
            continue  # the header
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for text in strings:
            found.update(c for c in text or "" if not c.isascii() and c.isprintable())
    return found


def wanted_characters() -> set[str]:
    """What the shipped font must hold: the translations' characters and CJK punctuation."""
    return catalogue_characters() | {c for c in PUNCTUATION if c.isprintable()}


def missing_characters(fonts: Iterable[Path], needed: Iterable[str]) -> list[str]:
    """The characters of ``needed`` that one of ``fonts`` lacks (a missing file lacks all)."""
    needed = sorted(set(needed))
    missing: set[str] = set()
    for path in fonts:
        if not path.is_file():
            return needed
        with TTFont(path, lazy=True) as font:
            cmap = font["cmap"].getBestCmap()
        missing.update(c for c in needed if ord(c) not in cmap)
    return sorted(missing)


def check() -> list[str]:
    """Problems with the shipped fonts, one line each (none: they cover the catalogue)."""
    fonts = [output_path(style) for style in SOURCES]
    missing = missing_characters(fonts, catalogue_characters())
    if not missing:
        return []
    return [
        f"the drawing font lacks {len(missing)} character(s) that the zh catalogue uses: "
        f"{''.join(missing)}; rebuild it: python scripts/make_cjk_font.py ROOT "
        "(see that script's docstring for ROOT)"
    ]


def _sc_face(collection: Path) -> TTFont:
    fonts: list[Any] = TTCollection(collection).fonts
    for font in fonts:
        if font["name"].getDebugName(1) == FACE:
            return font
    raise SystemExit(f"{collection}: no {FACE!r} face in this collection")


def _rename(font: Any, style: str, version: str) -> None:
    """Name the subset "convcli CJK" everywhere a name is stored: name table and CFF."""
    postscript = f"{POSTSCRIPT}-{style}"
    names = font["name"]
    names.names = []
    description = (
        f"A subset of {FACE} {version} (the characters convcli's translations use), "
        "made by convcli's scripts/make_cjk_font.py."
    )
    for name_id, text in (
        (0, COPYRIGHT),
        (1, FAMILY),
        (2, style),
        (3, f"{version};{postscript}"),
        (4, f"{FAMILY} {style}"),
        (5, f"Version {version}"),
        (6, postscript),
        (10, description),
        (13, "This Font Software is licensed under the SIL Open Font License, Version 1.1."),
        (14, "https://openfontlicense.org"),
    ):
        names.setName(text, name_id, 3, 1, 0x409)
    cff = font["CFF "].cff
    cff.fontNames = [postscript]
    top = cff.topDictIndex[0]
    top.FullName = f"{FAMILY} {style}"
    top.FamilyName = FAMILY
    top.Notice = COPYRIGHT
    for fd in getattr(top, "FDArray", []):
        part = fd.FontName.rsplit("-", 1)[-1]
        fd.FontName = f"{postscript}-{part}"


def build(collection: Path, style: str, characters: set[str]) -> TTFont:
    font = _sc_face(collection)
    version = f"{font['head'].fontRevision:.3f}"
    options = subset.Options()
    options.layout_features = []
    options.hinting = False
    options.notdef_outline = True
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.drop_tables += ["BASE", "GDEF", "GPOS", "GSUB", "VORG", "vhea", "vmtx", "DSIG"]
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=sorted(ord(c) for c in characters))
    subsetter.subset(font)
    _rename(font, style, version)
    font.recalcTimestamp = False  # the source's dates: the same inputs, the same bytes
    return font


def licence_text(root: Path) -> str:
    """The OFL 1.1 from Debian's copyright file, preceded by the copyright line."""
    lines = (root / SOURCE_LICENCE).read_text(encoding="utf-8").splitlines()
    # The licence's own paragraph, not the "Files: *" paragraph that names it.
    start = len(lines) - lines[::-1].index("License: SIL-1.1")
    body: list[str] = []
    for line in lines[start:]:
        if not line.startswith(" "):
            break
        body.append("" if line == " ." else line[1:])
    return (
        f"{COPYRIGHT}\n\n"
        f'convcli/draw/fonts/convcli-cjk-*.otf are a subset of {FACE} (renamed "{FAMILY}"),\n'
        "made by scripts/make_cjk_font.py; they are distributed under this licence:\n\n"
        + "\n".join(body).strip("\n")
        + "\n"
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", nargs="?", type=Path, help="the unpacked fonts-noto-cjk package")
    parser.add_argument("--check", action="store_true", help="only check the shipped fonts")
    args = parser.parse_args(argv)
    if args.check:
        problems = check()
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1 if problems else 0
    if args.root is None:
        parser.error("give ROOT (the unpacked fonts-noto-cjk package) or --check")
    needed = [args.root / SOURCE_FONTS / name for name in SOURCES.values()]
    needed.append(args.root / SOURCE_LICENCE)
    absent = [str(path) for path in needed if not path.is_file()]
    if absent:
        parser.error(f"not found: {', '.join(absent)} (ROOT is the unpacked fonts-noto-cjk)")
    characters = wanted_characters()
    FONTS.mkdir(parents=True, exist_ok=True)
    for style, name in SOURCES.items():
        font = build(args.root / SOURCE_FONTS / name, style, characters)
        font.save(output_path(style))
        size = output_path(style).stat().st_size
        print(f"{output_path(style).relative_to(ROOT)}: {len(characters)} characters, {size} bytes")
    (FONTS / "OFL.txt").write_text(licence_text(args.root), encoding="utf-8")
    print(f"{(FONTS / 'OFL.txt').relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
