"""The typer application: exit codes, one-line errors, the root options.

Errors become exit codes here and only here: 0 success, 1 a check disagreed, 2 a usage
or input error, 70 an internal error (traceback with ``--debug``), 130 interrupted.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Annotated, Any, NoReturn

import typer
from typer.core import TyperGroup

from convcli import __version__
from convcli.cli._lang import (
    click_message,
    language_scope,
    localize_command,
    select_language,
    use_language,
)
from convcli.errors import ConvcliError, OptionError
from convcli.i18n import _, language_from_environment

__all__ = [
    "EXIT_DISAGREE",
    "EXIT_INTERNAL",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "app",
    "fail",
    "guard",
    "main",
    "say",
    "shown",
]

EXIT_OK, EXIT_DISAGREE, EXIT_USAGE, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 70, 130
STATE = {"debug": False}


class _OneLineErrors(TyperGroup):
    """Click's usage errors as one line on stderr, exit 2; everything else as typer does."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        with language_scope():
            # The locale's language first, so that a bad --lang is refused in its words.
            use_language(language_from_environment())
            try:
                language = select_language(_lang_option(argv))
            except OptionError as err:
                say(_("error: {message}").format(message=err))
                code: Any = EXIT_USAGE
            else:
                use_language(language)
                localize_command(self)
                code = self._run(argv, prog_name, complete_var, windows_expand_args, **extra)
        if not standalone_mode:
            return code
        sys.exit(code if isinstance(code, int) else EXIT_OK)

    def _run(
        self,
        args: list[str],
        prog_name: str | None,
        complete_var: str | None,
        windows_expand_args: bool,
        **extra: Any,
    ) -> Any:
        try:
            return super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        except Exception as err:
            if not (hasattr(err, "format_message") and hasattr(err, "exit_code")):
                raise
            ctx = getattr(err, "ctx", None)
            hint = ""
            if ctx is not None:
                hint = " " + _("(see '{command} --help')").format(command=ctx.command_path)
            say(_("error: {message}").format(message=click_message(err, self) + hint))
            return err.exit_code


def _lang_option(argv: Sequence[str]) -> str | None:
    """The value of the global ``--lang``: read before parsing, so help and errors speak it.

    Only the root's options come before the command name, and all but ``--lang`` are flags.
    """
    for index, arg in enumerate(argv):
        if arg.startswith("--lang="):
            return arg.partition("=")[2]
        if arg == "--lang":
            return argv[index + 1] if index + 1 < len(argv) else None
        if not arg.startswith("-"):
            return None
    return None


app = typer.Typer(
    cls=_OneLineErrors,
    name="convcli",
    help="A calculator for multi-channel 2-D convolution with PyTorch's exact semantics.",
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def say(message: str) -> None:
    """One line on stderr: messages never spread over several lines."""
    sys.stderr.write("convcli: " + " ".join(message.split()) + "\n")
    sys.stderr.flush()


def shown(name: str) -> str:
    """A file name as printed: quoted when it holds line breaks or other control characters."""
    return name if name.isprintable() else repr(name)


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    say(message)
    raise typer.Exit(code)


@contextmanager
def guard() -> Iterator[None]:
    """Turn convcli's domain errors into their exit codes and anything else into 70.

    Routed by type, never by message: a ``ConvcliError`` is a refusal (its class's exit
    code); any other exception, ``ValueError`` included, is a bug. Tracebacks only with
    ``--debug``.
    """
    try:
        yield
    except typer.Exit:
        raise
    except ConvcliError as err:
        fail(_("error: {message}").format(message=err), err.exit_code)
    except KeyboardInterrupt:
        fail(_("interrupted"), EXIT_INTERRUPTED)
    except MemoryError:
        fail(_("error: {message}").format(message=_("not enough memory for this run")))
    except Exception as err:
        if STATE["debug"]:
            traceback.print_exc()
        fail(
            _(
                "internal error ({kind}: {detail}); please report it with the command "
                "you ran (rerun with --debug for the traceback)"
            ).format(kind=type(err).__name__, detail=err),
            EXIT_INTERNAL,
        )


def _version(value: bool) -> None:
    if value:
        typer.echo(f"convcli {__version__}")
        raise typer.Exit(EXIT_OK)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the traceback of an internal error.")
    ] = False,
    lang: Annotated[
        str | None,
        typer.Option(
            "--lang",
            metavar="LANG",
            help="Language of the output: en or zh (default: CONVCLI_LANG, else the locale's "
            "LANGUAGE, LC_ALL, LC_MESSAGES or LANG; else en). --json output is never translated.",
        ),
    ] = None,
) -> None:
    """Compute, check and explain multi-channel 2-D convolutions.

    \b
    Examples:
      convcli demo
      convcli run samples/lesson_X.json samples/lesson_K_multi_out.json
      convcli shapes --input-shape 1x28x28 --kernel-shape 10x1x5x5
      convcli --lang zh demo
    """
    STATE["debug"] = debug or os.environ.get("CONVCLI_DEBUG", "") not in ("", "0")


def main() -> None:
    """Entry point of the ``convcli`` script and ``python -m convcli``."""
    app()
