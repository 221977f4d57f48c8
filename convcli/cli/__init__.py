"""The ``convcli`` command line: parse options, call the core and I/O, hand results to rendering.

A thin layer: ``_app`` holds the application and its error contract, ``_common`` what
the commands share, and each command module registers its commands on import. Heavy
modules (numpy, rich) are imported inside the commands that need them, so
``convcli --help`` starts fast.
"""

from convcli.cli import draw, net, pool, run, teach, verify
from convcli.cli._app import app, main

__all__ = ["app", "draw", "main", "net", "pool", "run", "teach", "verify"]
