"""convcli's one family of domain errors: the deliberate refusals.

Every refusal raises a ``ConvcliError`` subclass; its ``exit_code`` belongs to the class, as
click's ``ClickException.exit_code`` does. The command line turns only these into their exit
code (2) and anything else into 70, a bug. They subclass ``ValueError``, so library users'
``except ValueError`` keeps working.

>>> from convcli.errors import ConvcliError, ShapeError
>>> err = ShapeError("kernel expects 2 input channels, input has 1")
>>> isinstance(err, ValueError), err.exit_code
(True, 2)
>>> str(err.with_context("--groups"))
'--groups: kernel expects 2 input channels, input has 1'
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "BudgetError",
    "ConvcliError",
    "DependencyError",
    "EnvironmentFailureError",
    "FileProblem",
    "NumericError",
    "OptionError",
    "PositionError",
    "ShapeError",
    "TensorFileError",
]


class ConvcliError(ValueError):
    """A deliberate refusal: one line saying what is wrong and, where knowable, the fix."""

    exit_code: ClassVar[int] = 2

    def with_context(self, prefix: str) -> ConvcliError:
        """The same kind of error, its message after ``prefix`` (an option or a file)."""
        return type(self)(f"{prefix}: {self}")

    def with_suffix(self, suffix: str) -> ConvcliError:
        """The same kind of error, ``suffix`` appended (the files it comes from)."""
        return type(self)(f"{self} {suffix}")


class OptionError(ConvcliError):
    """An argument or option value that is malformed or out of range."""


class ShapeError(ConvcliError):
    """Shapes that do not fit together: channels, ranks, kernel larger than the input."""


class PositionError(ConvcliError):
    """An output position outside the output, or of the wrong length."""


class NumericError(ConvcliError):
    """A dtype convcli does not compute with, or a result that would not be exact."""


class BudgetError(ConvcliError):
    """A computation that would need more memory than the budget allows."""


class TensorFileError(ConvcliError):
    """An input or output file problem; ``str(err)`` is one line naming the file."""


class FileProblem(TensorFileError):
    """A file problem not yet named: the file layer adds the file's name."""


class EnvironmentFailureError(ConvcliError):
    """The environment failed the run, not the input: stdout full or closed, stdin closed.

    Exit 74 (sysexits' ``EX_IOERR``), beside the 70 of an internal error: nothing is
    wrong with convcli or with what was asked, the machine could not carry it out.
    """

    exit_code: ClassVar[int] = 74


def shown_name(name: str) -> str:
    """A file name or key as convcli prints it everywhere: quoted (``repr``) when it holds
    a line break, an escape or any other non-printable character, else as it is.

    >>> shown_name("x.npy"), shown_name("red\\x1b[31m.npy"), shown_name("a\\nb")
    ('x.npy', "'red\\\\x1b[31m.npy'", "'a\\\\nb'")
    """
    return name if name.isprintable() else repr(name)


class DependencyError(ConvcliError):
    """An optional library that a command needs is not installed (the message names the extra)."""
