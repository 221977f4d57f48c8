"""Keep README's example output true: rerun every ``$ convcli ...`` block and paste its output.

    python scripts/sync_readme.py          # rewrite README.md in place
    python scripts/sync_readme.py --check  # exit 1 if README.md is out of date

The README-only form of scripts/sync_docs.py (which also syncs every page of docs/, and
describes the blocks). tests/test_readme.py runs the check.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "sync_docs", Path(__file__).resolve().parent / "sync_docs.py"
)
assert _spec is not None and _spec.loader is not None
sync_docs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sync_docs)

ROOT = sync_docs.ROOT
README = sync_docs.README
BLOCK = sync_docs.BLOCK
ENV = sync_docs.ENV
command_output = sync_docs.command_output
synced = sync_docs.synced


def main(argv: list[str]) -> int:
    return int(sync_docs.main([arg for arg in argv if arg == "--check"], default=[README]))


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
