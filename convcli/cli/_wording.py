"""The command line's words for the parameters a refusal names: its option names.

The layers below word a refusal in the Python API's terms (``force=True``, ``groups=2``,
``max_memory``) and carry each parameter as a ``convcli.errors.Param``; every command runs
inside ``option_words()``, which respells them as the options a user types (``--force``,
``--groups 2``, ``--max-memory``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from convcli.errors import ConvcliError, Param

__all__ = ["OPTION_NAMES", "option_spelling", "option_words"]

# Parameters whose option is not the name with dashes (``max_memory`` -> ``--max-memory``).
OPTION_NAMES = {"position": "--at POS"}


def option_spelling(param: Param) -> str:
    """``param`` as the command line's option, with its value where one is suggested.

    Examples
    --------
    >>> option_spelling(Param("max_memory")), option_spelling(Param("force", True))
    ('--max-memory', '--force')
    >>> option_spelling(Param("groups", 2)), option_spelling(Param("padding", (0, 1)))
    ('--groups 2', '--padding 0,1')
    """
    flag = OPTION_NAMES.get(param.name, "--" + param.name.replace("_", "-"))
    value = param.value
    if value is None or value is True:
        return flag
    if isinstance(value, tuple):
        value = ",".join(str(part) for part in value)
    return f"{flag} {value}"


@contextmanager
def option_words() -> Iterator[None]:
    """Re-raise a refusal that names parameters with their option names."""
    try:
        yield
    except ConvcliError as err:
        if not err.parameters:
            raise
        raise err.respelled(option_spelling) from None
