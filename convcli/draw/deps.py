"""The optional drawing libraries: imported on demand, or a one-line hint naming the extra."""

from __future__ import annotations

import importlib
from types import ModuleType

from convcli.errors import DependencyError
from convcli.i18n import _

__all__ = ["EXTRA_HINT", "require"]

EXTRA_HINT = "pip install 'convcli[draw]'"


def require(module: str, package: str) -> ModuleType:
    """Import ``module`` or raise ``DependencyError`` saying how to install ``package``.

    Examples
    --------
    >>> require("json", "json").__name__
    'json'
    >>> require("no_such_module_xyz", "xyz")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    convcli.errors.DependencyError: drawing needs xyz, which is not installed: pip install ...
    """
    try:
        return importlib.import_module(module)
    except ImportError:
        raise DependencyError(
            _("drawing needs {package}, which is not installed: {EXTRA_HINT}").format(
                package=package, EXTRA_HINT=EXTRA_HINT
            )
        ) from None
