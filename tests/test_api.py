"""The public API: ``convcli/__init__.py`` names each public name once, and loads it lazily.

The lazy table (``_EXPORTS``), the ``TYPE_CHECKING`` imports type checkers read, and
``__all__`` must agree; each name must resolve to the object its module defines.
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import convcli

INIT = Path(convcli.__file__)


def type_checking_imports() -> set[tuple[str, str]]:
    """(module, name) of every import under ``if TYPE_CHECKING:`` in convcli/__init__.py."""
    tree = ast.parse(INIT.read_text(encoding="utf-8"))
    found: set[tuple[str, str]] = set()
    for node in tree.body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for statement in node.body:
                assert isinstance(statement, ast.ImportFrom) and statement.module, (
                    "only `from module import name as name` under TYPE_CHECKING"
                )
                for alias in statement.names:
                    # `name as name`: the form mypy --strict takes as an explicit re-export.
                    assert alias.asname == alias.name, ast.unparse(statement)
                    found.add((statement.module, alias.name))
    return found


def lazy_exports() -> set[tuple[str, str]]:
    return {(module, name) for module, names in convcli._EXPORTS.items() for name in names}


def test_lazy_exports_type_checking_imports_and_all_agree() -> None:
    lazy = lazy_exports()
    assert lazy, "no public names"
    assert type_checking_imports() == lazy
    names = [name for _, name in lazy]
    assert len(names) == len(set(names)), "a public name listed under two modules"
    assert sorted(convcli.__all__) == sorted(["__version__", *names])
    assert len(convcli.__all__) == len(set(convcli.__all__))
    assert dir(convcli) == sorted(convcli.__all__)


@pytest.mark.parametrize(("module", "name"), sorted(lazy_exports()))
def test_each_public_name_is_its_module_s_own(module: str, name: str) -> None:
    value = getattr(convcli, name)
    assert value is getattr(importlib.import_module(module), name)
    # Listed under the module that defines it, not one that re-imports it.
    assert value.__module__ == module
    assert name in importlib.import_module(module).__all__


def test_the_error_family_is_public() -> None:
    from convcli.errors import ConvcliError

    exported = {name for name in convcli.__all__ if name.endswith("Error")}
    errors = {n for n in importlib.import_module("convcli.errors").__all__ if n.endswith("Error")}
    # FileProblem is the file layer's internal step before a file is named. (Param and Words,
    # the parts of a message, stay in convcli.errors.)
    assert exported == errors - {"FileProblem"}
    for name in exported:
        assert issubclass(getattr(convcli, name), ConvcliError)
        assert issubclass(getattr(convcli, name), ValueError)


def test_unknown_names_raise_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'conv3d'"):
        convcli.conv3d  # noqa: B018


def test_import_convcli_loads_no_numpy_and_star_import_resolves_every_name() -> None:
    code = (
        "import sys, convcli; assert 'numpy' not in sys.modules, 'numpy loaded eagerly'; "
        "ns = {}; exec('from convcli import *', ns); "
        "missing = set(convcli.__all__) - set(ns); assert not missing, missing"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
