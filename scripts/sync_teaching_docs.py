"""Keep docs/teaching.md's example output true, as scripts/sync_readme.py does for README.

python scripts/sync_teaching_docs.py          # rewrite docs/teaching.md in place
python scripts/sync_teaching_docs.py --check  # exit 1 if it is out of date
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "teaching.md"


def load_sync() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sync_readme", ROOT / "scripts/sync_readme.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str]) -> int:
    text = DOC.read_text(encoding="utf-8")
    fresh: str = load_sync().synced(text)
    if "--check" in argv:
        if fresh != text:
            print(
                "docs/teaching.md is out of date: run scripts/sync_teaching_docs.py",
                file=sys.stderr,
            )
            return 1
        return 0
    DOC.write_text(fresh, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
