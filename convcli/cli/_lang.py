"""The command line's language: ``--lang``, ``CONVCLI_LANG``, the locale; help in that language.

Precedence: ``--lang`` (a global option), then ``CONVCLI_LANG``, then the locale as
gettext reads it (``LANGUAGE``, ``LC_ALL``, ``LC_MESSAGES``, ``LANG``); English otherwise.

Help texts stay in English in the source (typer reads them from docstrings and
``help=``); when another language is selected, the click command tree is given their
translations before anything is printed. typer's own words ("Options", "Arguments",
"Commands", "[default: ...]", "[required]") go through ``gettext.gettext`` in
``typer.core``: they are routed to convcli's catalogue for the run. The vendored click
writes "Usage:" and "Show this message and exit." without gettext: the formatter and the
help option are given ours. Help is wrapped by terminal cells, so Chinese lines (two
cells a character) stay within the width.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
import typer.core
from typer import _click

from convcli import i18n
from convcli.errors import OptionError
from convcli.i18n import N_, _
from convcli.i18n.typeset import punctuate
from convcli.i18n.wrap import cells, has_wide, join_lines, wrap_cells

__all__ = ["LANG_ENV", "language_scope", "localize_command", "select_language", "use_language"]

LANG_ENV = "CONVCLI_LANG"
USAGE = N_("Usage: ")
HELP_OPTION = N_("Show this message and exit.")


def select_language(option: str | None, environ: dict[str, str] | None = None) -> str:
    """The language code for this run: ``--lang``, then ``CONVCLI_LANG``, then the locale.

    An unknown ``--lang`` or ``CONVCLI_LANG`` is an ``OptionError`` naming it.
    """
    env = dict(os.environ) if environ is None else environ
    for name, value in (("--lang", option), (LANG_ENV, env.get(LANG_ENV))):
        if value:
            code = i18n.normalize_language(value)
            if code is None:
                raise OptionError(
                    _("{name}: unknown language {value!r}: expected one of {choices}").format(
                        name=name, value=value, choices=", ".join(i18n.LANGUAGES)
                    )
                )
            return code
    return i18n.language_from_environment(env)


def use_language(code: str) -> None:
    """Select ``code`` for convcli's messages and typer's own help words."""
    i18n.set_language(code)
    # typer.core does ``from gettext import gettext as _``: its words follow ours for the run.
    typer.core._ = i18n.gettext if code != "en" else _stdlib_gettext  # type: ignore[attr-defined]


def _stdlib_gettext(message: str) -> str:
    import gettext

    return gettext.gettext(message)


@contextmanager
def language_scope() -> Iterator[None]:
    """Restore the language in force before (in-process callers: tests, library users)."""
    before = i18n.current_language()
    try:
        yield
    finally:
        use_language(before)


def localize_command(command: _click.Command) -> None:
    """Give ``command`` and its subcommands their help in the selected language."""
    if i18n.current_language() == "en":
        return
    for cmd in [command, *getattr(command, "commands", {}).values()]:
        if cmd.help:
            cmd.help = _(cmd.help)
            cmd.short_help = _short_help(cmd.help)
        for param in cmd.params:
            text = getattr(param, "help", None)
            if text:
                param.help = _(text)
        cmd.context_class = _LocalizedContext


def click_message(err: Exception, root: _click.Command | None = None) -> str:
    """A click usage error's message, in the selected language where click's error says
    what it is (its class and fields); click's own English text otherwise.

    ``root`` (the application's group) tells a flag given a value (``--json=1``) from an
    option given none: click's error does not say which.
    """
    english: str = err.format_message()  # type: ignore[attr-defined]
    if i18n.current_language() == "en":
        return english
    exceptions = _click.exceptions
    if isinstance(err, exceptions.NoSuchOption):
        text = _("No such option: {name}").format(name=err.option_name)
        if err.possibilities:
            options = ", ".join(sorted(err.possibilities))
            text += " " + _("(Possible options: {options})").format(options=options)
        return text
    param = getattr(err, "param", None)
    hint = ""
    if isinstance(err, exceptions.BadParameter):
        names = err.param_hint if err.param_hint is not None else None
        if names is None and param is not None:
            names = param.get_error_hint(err.ctx)
        hint = names if isinstance(names, str) else " / ".join(names or ())
    if isinstance(err, exceptions.MissingParameter):
        kind = err.param_type or (param.param_type_name if param is not None else "")
        if kind == "argument":
            return _("Missing argument {name}.").format(name=hint)
        if kind == "option":
            return _("Missing option {name}.").format(name=hint)
        return english
    if isinstance(err, exceptions.BadParameter) and hint:
        return _("Invalid value for {name}: {message}").format(name=hint, message=err.message)
    if isinstance(err, exceptions.BadOptionUsage) and root is not None:
        option = err.option_name
        commands = [root, *getattr(root, "commands", {}).values()]
        takes_value = any(
            option in param.opts and not getattr(param, "is_flag", False)
            for command in commands
            for param in command.params
        )
        if takes_value:
            return _("Option {name!r} requires an argument.").format(name=option)
        return _("Option {name!r} does not take a value.").format(name=option)
    suggested = _SUGGESTIONS.fullmatch(english)
    if isinstance(err, exceptions.UsageError) and suggested is not None:
        # typer appends its English suggestion to the (already translated) "no such command".
        return punctuate(
            suggested["problem"] + " " + _("Did you mean {names}?").format(names=suggested["names"])
        )
    extra = _EXTRA_ARGUMENTS.fullmatch(english)
    if isinstance(err, exceptions.UsageError) and extra is not None:
        return _("Got unexpected extra arguments: {args}").format(args=extra["args"])
    return english


# typer's suggestion for a mistyped command, added in English after click's message:
# ``{message}. Did you mean 'run'?`` (the message's own full stop stripped, if ASCII).
_SUGGESTIONS = re.compile(r"(?P<problem>.*?)\.? Did you mean (?P<names>.*)\?", re.DOTALL)

# The one usage error the vendored click writes as a plain English f-string with nothing
# structured on the exception: the extra arguments are read back from its text (click's
# own ngettext wording is matched too, should typer use click itself again).
_EXTRA_ARGUMENTS = re.compile(
    r"Got unexpected extra arguments?(?:\(s\))? \((?P<args>.*)\)", re.DOTALL
)


def _localize_help_option(ctx: _click.Context) -> None:
    option = ctx.command.get_help_option(ctx)
    if option is not None:
        option.help = _(HELP_OPTION)


class _LocalizedContext(typer.Context):
    formatter_class: Any = None  # set below: the class is defined after this one

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _localize_help_option(self)


def _short_help(text: str) -> str:
    """The first sentence of a help text, for the list of commands."""
    first = text.strip().split("\n\n")[0]
    first = join_lines(first.splitlines())
    for end in ("。", ". "):
        if end in first:
            return first.split(end)[0] + end.strip()
    return first


def wrap_paragraphs(
    text: str, width: int, initial_indent: str = "", subsequent_indent: str = ""
) -> str:
    """click's ``wrap_text(preserve_paragraphs=True)``, by cells: ``\\b`` blocks kept as written."""
    paragraphs: list[tuple[int, bool, list[str]]] = []
    block: list[str] = []
    indent = 0
    for line in [*text.expandtabs().splitlines(), ""]:
        if line:
            if not block:
                indent = len(line) - len(line.lstrip())
            block.append(line)
            continue
        if block:
            raw = block[0].strip() == "\b"
            paragraphs.append((indent, raw, block[1:] if raw else block))
            block = []
    out = []
    for extra, raw, lines in paragraphs:
        pad = " " * extra
        if raw:
            out.append("\n".join(_kept_lines(lines, width, initial_indent + pad)))
        else:
            out.append(
                wrap_cells(join_lines(lines), width, initial_indent + pad, subsequent_indent + pad)
            )
    return "\n\n".join(out)


def _kept_lines(lines: list[str], width: int, indent: str) -> list[str]:
    """A ``\\b`` block's lines as written, except Chinese prose that does not fit: a
    translation breaks its lines for 80 columns, so a run of its lines too wide for this
    width is joined and wrapped to it (code and examples, without wide characters, stay
    line by line, as in English).

    >>> _kept_lines(["x: one line", "y: two"], 10, "")
    ['x: one line', 'y: two']
    >>> [cells(row) <= 10 for row in _kept_lines(["\u8bf4\u660e" * 4, "\u884c" * 2], 10, "")]
    [True, True]
    """
    out: list[str] = []
    prose: list[str] = []
    for row in [*lines, None]:
        if row is not None and has_wide(row):
            prose.append(row)
            continue
        if any(cells(indent + line) > width for line in prose):
            lead = indent + " " * (len(prose[0]) - len(prose[0].lstrip()))
            out += wrap_cells(join_lines(prose), width, lead, lead).splitlines()
        else:
            out += [indent + line for line in prose]
        prose = []
        if row is not None:
            out.append(indent + row)
    return out


class _CellFormatter(_click.HelpFormatter):
    """click's help formatter, measuring by terminal cells and saying "Usage" in our words."""

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        prefix = _(USAGE) if prefix is None else prefix
        usage_prefix = f"{' ' * max(self.current_indent - cells(prefix), 0)}{prefix}{prog} "
        indent = " " * cells(usage_prefix)
        self.write(wrap_cells(args, self.width - self.current_indent, usage_prefix, indent))
        self.write("\n")

    def write_heading(self, heading: str) -> None:
        self.write(f"{'':>{self.current_indent}}{punctuate(heading + ':')}\n")

    def write_text(self, text: str) -> None:
        indent = " " * self.current_indent
        self.write(wrap_paragraphs(punctuate(text), self.width, indent, indent))
        self.write("\n")

    def write_dl(self, rows: Any, col_max: int = 30, col_spacing: int = 2) -> None:
        rows = list(rows)
        first_col = min(max((cells(first) for first, _second in rows), default=0), col_max)
        first_col += col_spacing
        for first, second in rows:
            self.write(f"{'':>{self.current_indent}}{first}")
            if not second:
                self.write("\n")
                continue
            if cells(first) <= first_col - col_spacing:
                self.write(" " * (first_col - cells(first)))
            else:
                self.write("\n" + " " * (first_col + self.current_indent))
            text_width = max(self.width - first_col - 2, 10)
            lines = wrap_paragraphs(punctuate(second), text_width).splitlines() or [""]
            self.write(f"{lines[0]}\n")
            for line in lines[1:]:
                self.write(f"{'':>{first_col + self.current_indent}}{line}\n")


_LocalizedContext.formatter_class = _CellFormatter
