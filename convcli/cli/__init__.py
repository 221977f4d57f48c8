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


def main() -> None:
    """Entry point of the ``convcli`` script and ``python -m convcli``."""
    try:
        from convcli.cli import compose, draw, grad, learn, net, pool, run, teach, verify  # noqa: F401 - registers
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
