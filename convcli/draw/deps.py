"""The optional drawing libraries: imported on demand, or a one-line hint naming the extra."""

from __future__ import annotations

import importlib
import json
import shlex
import urllib.parse
from pathlib import Path
from types import ModuleType

from convcli.errors import DependencyError
from convcli.i18n import _

__all__ = ["EXTRA_HINT", "install_hint", "require"]

EXTRA_HINT = "pip install 'convcli[draw]'"
# convcli/draw/deps.py -> the folder holding the convcli package (a checkout's root).
SOURCE_ROOT = Path(__file__).resolve().parents[2]


def install_hint(
    source_root: Path = SOURCE_ROOT, direct_url: str | None = None, cwd: Path | None = None
) -> str:
    """The command that installs the ``[draw]`` extra, for how this convcli was installed.

    From a checkout (the package runs from a folder with ``pyproject.toml``): ``pip
    install -e`` of that folder, as the checkout was installed (``'.[draw]'`` when it is
    the current folder). From a local folder installed as a copy: that folder, as PEP
    610's ``direct_url.json`` records it. Otherwise (an index install): the package name.

    Examples
    --------
    >>> from pathlib import Path
    >>> install_hint(Path("/nowhere"), direct_url="")
    "pip install 'convcli[draw]'"
    >>> install_hint(Path("/src/convcli"), '{"url": "file:///src/convcli", "dir_info": {}}')
    "pip install '/src/convcli[draw]'"
    """
    here = Path.cwd() if cwd is None else cwd
    if _is_checkout(source_root):
        return "pip install -e " + _spec(source_root, here)
    info = _direct_url() if direct_url is None else direct_url
    try:
        record = json.loads(info) if info else {}
    except ValueError:
        record = {}
    url = record.get("url", "") if isinstance(record, dict) else ""
    if isinstance(record, dict) and "dir_info" in record and url.startswith("file://"):
        folder = Path(urllib.parse.unquote(urllib.parse.urlparse(url).path))
        return "pip install " + _spec(folder, here)
    return EXTRA_HINT


def _is_checkout(folder: Path) -> bool:
    try:
        text = (folder / "pyproject.toml").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    return 'name = "convcli"' in text


def _spec(folder: Path, here: Path) -> str:
    return shlex.quote(("." if folder == here else str(folder)) + "[draw]")


def _direct_url() -> str | None:
    import importlib.metadata

    try:
        return importlib.metadata.distribution("convcli").read_text("direct_url.json")
    except importlib.metadata.PackageNotFoundError:
        return None


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
                package=package, EXTRA_HINT=install_hint()
            )
        ) from None
