"""The ``convcli`` command line: parse options, call the core and I/O, hand results to rendering.

A thin layer: ``_app`` holds the application and its error contract, ``_common`` what
the commands share, and each command module registers its commands on import. Heavy
modules (numpy, rich) are imported inside the commands that need them, so
``convcli --help`` starts fast.

This package imports nothing at first: ``main`` imports the application inside its
own Ctrl-C handling, so an interrupt while Python is still importing is one line and
exit 130, not a traceback.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from convcli.cli import compose, draw, grad, learn, net, pool, run, teach, verify
    from convcli.cli._app import app

__all__ = [
    "app",
    "compose",
    "draw",
    "grad",
    "learn",
    "main",
    "net",
    "pool",
    "run",
    "teach",
    "verify",
]
COMMANDS = ("compose", "draw", "grad", "learn", "net", "pool", "run", "teach", "verify")


# The module that registers each command. A line that names one of them loads only that
# module, so typer builds that command's options alone (building all twelve took 20-35 ms
# of a lesson's run; benchmarks/README.md). Help, completion, a misspelt name: all of them.
COMMAND_MODULES = {
    "compose": "compose",
    "demo": "run",
    "draw": "draw",
    "explain": "teach",
    "grad": "grad",
    "learn": "learn",
    "net": "net",
    "pool": "pool",
    "run": "run",
    "shapes": "teach",
    "verify": "verify",
    "verify-1x1": "verify",
}


def command_modules(argv: list[str]) -> tuple[str, ...]:
    """The command modules a command line needs: the named command's, else all.

    The command is the first word that is not an option (``--lang`` takes the next
    word as its value, as the root option does).

    >>> command_modules(["--lang", "zh", "run", "x.json", "k.json"])
    ('run',)
    >>> command_modules(["--help"]) == COMMANDS
    True
    """
    if any(n.startswith("_") and n.endswith("_COMPLETE") for n in os.environ):  # completion
        return COMMANDS
    words = iter(argv)
    for word in words:
        if word == "--lang":
            next(words, None)
        elif word == "--":
            break
        elif not word.startswith("-"):
            module = COMMAND_MODULES.get(word)
            return COMMANDS if module is None else (module,)
    return COMMANDS


def main() -> None:
    """Entry point of the ``convcli`` script and ``python -m convcli``."""
    try:
        import importlib

        for module in command_modules(sys.argv[1:]):
            importlib.import_module(f"convcli.cli.{module}")  # registers its commands
        from convcli.cli._app import catch_signals
        from convcli.cli._app import main as run_app
    except KeyboardInterrupt:
        sys.stderr.write("convcli: interrupted\n")
        raise SystemExit(130) from None
    catch_signals()
    run_app()


def __getattr__(name: str) -> Any:
    if name in (*COMMANDS, "app"):
        import importlib

        for module in COMMANDS:
            importlib.import_module(f"convcli.cli.{module}")
        if name == "app":
            from convcli.cli._app import app

            return app
        return importlib.import_module(f"convcli.cli.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
