"""Keep convcli's translations in step with its English: extract, merge, compile, check.

    python scripts/i18n.py            # extract, merge into every .po, compile every .mo
    python scripts/i18n.py --check    # exit 1 if a .po lacks a string or a translation,
                                      # or a .mo is not the compiled .po

Needs Babel (in the test extra: ``pip install -e '.[test]'``); convcli itself only reads
the compiled ``.mo`` files, with the standard library's gettext.

What is extracted:
- every ``_()``, ``N_()``, ``gettext()`` and ``ngettext()`` in ``convcli/`` (Babel);
- typer's own words, which ``typer.core`` writes through ``gettext`` ("Options", ...);
- every help text of the command line as typer builds it (docstrings and ``help=``),
  read from the click command tree: help stays plain English in the source.
A new English string lands in each ``.po`` untranslated; a changed one keeps its old
translation marked fuzzy (Babel's merge), which the check refuses until it is reviewed.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir, extract_from_file
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "convcli"
LOCALE = PACKAGE / "i18n" / "locale"
DOMAIN = "convcli"
KEYWORDS = {"_": None, "N_": None, "gettext": None, "ngettext": (1, 2)}
# Dates in the header would change the .po on every run: one fixed date instead.
FIXED_DATE = datetime(2026, 1, 1, tzinfo=timezone.utc)
HEADER = "Translations of convcli's messages: see scripts/i18n.py and README.md."


def _help_texts() -> Iterator[tuple[str, str]]:
    """(where, text) for every command's and option's help, as the command line shows it."""
    from typer.main import get_command

    from convcli.cli import app
    from convcli.cli._lang import HELP_OPTION

    group: Any = get_command(app)
    yield "--help", HELP_OPTION
    for name, command in [("convcli", group), *sorted(group.commands.items())]:
        path = "convcli" if command is group else f"convcli-{name}"
        if command.help:
            yield path, command.help
        for param in command.params:
            text = getattr(param, "help", None)
            if text:
                yield f"{path}:{param.opts[0] if param.opts else param.name}", text


def template() -> Catalog:
    """Every string convcli can show, in English: the catalogue's template."""
    import typer.core

    catalog = Catalog(
        project="convcli",
        domain=DOMAIN,
        header_comment=HEADER,
        fuzzy=False,
        creation_date=FIXED_DATE,
        revision_date=FIXED_DATE,
    )

    def add(message: Any, where: str, line: int) -> None:
        existing = catalog.get(message[0] if isinstance(message, tuple) else message)
        location = (where, line)
        if existing is not None:
            existing.locations.append(location)
            return
        catalog.add(message, locations=[location])

    found = extract_from_dir(str(PACKAGE), keywords=KEYWORDS, comment_tags=("i18n:",))
    for filename, lineno, message, _comments, _context in sorted(found, key=lambda m: m[:2]):
        add(message, f"convcli/{filename}", lineno)
    typer_core = Path(typer.core.__file__)
    for lineno, message, _comments, _context in extract_from_file(
        "python", str(typer_core), keywords={"_": None}
    ):
        add(message, "typer/core.py", lineno)
    for where, text in _help_texts():
        add(text, f"help:{where}", 0)
    return catalog


def po_path(language: str) -> Path:
    return LOCALE / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def languages() -> list[str]:
    return sorted(path.name for path in LOCALE.iterdir() if po_path(path.name).is_file())


def read(language: str) -> Catalog:
    with po_path(language).open("rb") as file:
        return read_po(file, locale=language, domain=DOMAIN)


def merged(language: str, fresh: Catalog) -> Catalog:
    """The language's catalogue with the template's strings: new ones empty, changed ones fuzzy."""
    catalog = read(language)
    catalog.update(fresh, update_header_comment=False, update_creation_date=False)
    catalog.obsolete.clear()
    catalog.revision_date = FIXED_DATE
    return catalog


def po_text(catalog: Catalog) -> bytes:
    out = io.BytesIO()
    write_po(out, catalog, width=100, include_previous=True, include_lineno=False)
    return out.getvalue()


def mo_bytes(catalog: Catalog) -> bytes:
    out = io.BytesIO()
    write_mo(out, catalog, use_fuzzy=False)
    return out.getvalue()


def mo_content(data: bytes) -> dict[Any, str]:
    """What a compiled catalogue says, as gettext reads it: independent of the compiler."""
    import gettext

    return dict(gettext.GNUTranslations(io.BytesIO(data))._catalog)  # type: ignore[attr-defined]


def problems(language: str, fresh: Catalog) -> list[str]:
    """What keeps ``language`` from being complete and compiled: one line per problem."""
    found: list[str] = []
    catalog = read(language)
    known = {message.id if isinstance(message.id, str) else message.id[0] for message in catalog}
    for message in fresh:
        key = message.id if isinstance(message.id, str) else message.id[0]
        if key and key not in known:
            found.append(f"{language}: not in the .po (run scripts/i18n.py): {key!r}")
    for message in catalog:
        if not message.id:
            continue
        if message.fuzzy:
            found.append(f"{language}: fuzzy (review the translation): {message.id!r}")
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if not all(strings):
            found.append(f"{language}: untranslated: {message.id!r}")
    mo = po_path(language).with_suffix(".mo")
    if not mo.is_file() or mo_content(mo.read_bytes()) != mo_content(mo_bytes(catalog)):
        found.append(
            f"{language}: {mo.relative_to(ROOT)} is not the compiled .po (run scripts/i18n.py)"
        )
    return found


def main(argv: list[str]) -> int:
    fresh = template()
    if "--check" in argv:
        found = [line for language in languages() for line in problems(language, fresh)]
        for line in found:
            print(line, file=sys.stderr)
        return 1 if found else 0
    for language in languages():
        catalog = merged(language, fresh)
        po_path(language).write_bytes(po_text(catalog))
        po_path(language).with_suffix(".mo").write_bytes(mo_bytes(read(language)))
        print(f"{language}: {len(catalog)} messages")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
