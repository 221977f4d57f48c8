"""convcli's words in other languages: gettext catalogues, loaded only when asked for.

English is the source language and the default. Strings are marked where they are
written: ``_()`` translates now, ``ngettext()`` chooses a plural, ``N_()`` only marks a
constant for extraction (translate it with ``_()`` where it is shown). The catalogues
live in ``convcli/i18n/locale/<lang>/LC_MESSAGES/convcli.po`` (the source) and
``convcli.mo`` (compiled by ``scripts/i18n.py``, shipped in the package).

The bottom layer: stdlib only, importable by every other layer. With English nothing is
loaded; ``gettext`` reads a catalogue the first time another language is selected.

>>> from convcli.i18n import _, language_from_environment
>>> _("output")
'output'
>>> language_from_environment({"LANG": "zh_CN.UTF-8"})
'zh'
>>> language_from_environment({"LANGUAGE": "fr:zh", "LANG": "C"})
'zh'
>>> language_from_environment({"LANG": "C"})
'en'
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from convcli.errors import OptionError

if TYPE_CHECKING:
    from gettext import GNUTranslations

__all__ = [
    "DOMAIN",
    "LANGUAGES",
    "LOCALE_DIR",
    "N_",
    "_",
    "current_language",
    "gettext",
    "language_from_environment",
    "ngettext",
    "normalize_language",
    "set_language",
]

DOMAIN = "convcli"
LOCALE_DIR = Path(__file__).parent / "locale"
# The languages convcli speaks: English (the source) and those with a catalogue.
LANGUAGES = ("en", "zh")
# What gettext reads, in its order: the first one set decides (LANGUAGE may list several).
LOCALE_VARIABLES = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")


_state: dict[str, str] = {"language": "en"}
_catalogue: list[GNUTranslations] = []  # empty for English; the loaded catalogue otherwise


def N_(message: str) -> str:
    """Mark ``message`` for extraction without translating it (module constants)."""
    return message


def gettext(message: str) -> str:
    """``message`` in the selected language (itself in English or when untranslated)."""
    return _catalogue[0].gettext(message) if _catalogue else message


_ = gettext


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural of a message for ``n``, in the selected language.

    >>> ngettext("{n} channel", "{n} channels", 2).format(n=2)
    '2 channels'
    """
    if _catalogue:
        return _catalogue[0].ngettext(singular, plural, n)
    return singular if n == 1 else plural


def current_language() -> str:
    """The selected language's code: ``"en"`` or one of ``LANGUAGES``."""
    return _state["language"]


def normalize_language(name: str) -> str | None:
    """The catalogue for a language name as gettext expands it, or ``None`` if there is none.

    ``zh_CN.UTF-8``, ``zh-CN`` and ``zh`` all read the ``zh`` catalogue; ``C`` and
    ``POSIX`` mean English.

    >>> normalize_language("zh_CN.UTF-8"), normalize_language("en_GB"), normalize_language("fr")
    ('zh', 'en', None)
    """
    text = name.strip().replace("-", "_")
    text = text.partition(".")[0].partition("@")[0]
    if text in ("C", "POSIX"):
        return "en"
    code = text.partition("_")[0].lower()
    return code if code in LANGUAGES else None


def language_from_environment(environ: Mapping[str, str] | None = None) -> str:
    """The language the locale asks for, read as gettext reads it; English otherwise.

    The first of ``LANGUAGE``, ``LC_ALL``, ``LC_MESSAGES``, ``LANG`` that is set decides;
    ``LANGUAGE`` may list several (``fr:zh``), the first with a catalogue is used and
    ``C`` stops the search. ``CONVCLI_LANG`` is read by the command line, before these.
    """
    env = os.environ if environ is None else environ
    for variable in LOCALE_VARIABLES:
        value = env.get(variable, "")
        if not value:
            continue
        for name in value.split(":"):
            if name in ("C", "POSIX"):
                return "en"
            found = normalize_language(name) if name else None
            if found is not None:
                return found
        return "en"
    return "en"


def set_language(name: str) -> str:
    """Select the language every later ``_()`` answers in; returns its code.

    Loads the catalogue on first use. An unknown language is an ``OptionError``.

    >>> set_language("en")
    'en'
    """
    code = normalize_language(name)
    if code is None:
        raise OptionError(
            _("unknown language {name!r}: expected one of {choices}").format(
                name=name, choices=", ".join(LANGUAGES)
            )
        )
    _catalogue.clear()
    if code != "en":
        import gettext as stdlib_gettext

        with (LOCALE_DIR / code / "LC_MESSAGES" / f"{DOMAIN}.mo").open("rb") as file:
            _catalogue.append(stdlib_gettext.GNUTranslations(file))
    _state["language"] = code
    return code
