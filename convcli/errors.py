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

A refusal that names a parameter carries it as a field, a ``Param``, so each caller
words it in its own terms: ``str(err)`` in the Python API's (``force=True``,
``groups=2``, ``max_memory``), the command line in its option names (``--force``,
``--groups 2``, ``--max-memory``, by ``err.worded``):

>>> err = TensorFileError("already exists; use {force} to replace it", force=Param("force", True))
>>> str(err), err.parameters
('already exists; use force=True to replace it', ('force',))
>>> err.worded(lambda param: "--" + param.name)
'already exists; use --force to replace it'
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import ClassVar

__all__ = [
    "BudgetError",
    "ConvcliError",
    "DependencyError",
    "EnvironmentFailureError",
    "FileProblem",
    "NumericError",
    "OptionError",
    "Param",
    "PositionError",
    "ShapeError",
    "TensorFileError",
    "Words",
]


@dataclass(frozen=True)
class Param:
    """A parameter a message names, by its Python-API name (PyTorch's where it has one):
    ``force``, ``groups``, ``max_memory``; with ``value``, the value the message suggests.

    ``str()`` is the Python spelling; the command line spells it as its option.

    >>> str(Param("max_memory")), str(Param("groups", 2)), str(Param("force", True))
    ('max_memory', 'groups=2', 'force=True')
    """

    name: str
    value: object = None

    def __str__(self) -> str:
        return self.name if self.value is None else f"{self.name}={self.value!r}"


Spelling = Callable[[Param], str]


class Words:
    """A sentence with named fields, some of them ``Param`` (or nested ``Words`` or
    ``ConvcliError``), so the parameters it names can be spelled by whoever shows it.

    >>> hint = Words(": try {groups}", groups=Param("groups", 2))
    >>> str(hint), hint.spelled(lambda p: f"--{p.name} {p.value}")
    (': try groups=2', ': try --groups 2')
    >>> str(Words("")), str(Words("{x}"))  # no fields: the text as it is
    ('', '{x}')
    """

    def __init__(self, template: str, /, **fields: object) -> None:
        self.template = template
        self.fields: Mapping[str, object] = fields

    def spelled(self, spell: Spelling = str) -> str:
        """The text, each ``Param`` spelled by ``spell``."""
        if not self.fields:
            return self.template
        return self.template.format(
            **{name: _spell(value, spell) for name, value in self.fields.items()}
        )

    @property
    def parameters(self) -> tuple[str, ...]:
        """The names of the parameters the sentence names, nested ones included."""
        names: list[str] = []
        for value in self.fields.values():
            if isinstance(value, Param):
                names.append(value.name)
            elif isinstance(value, Words | ConvcliError):
                names.extend(value.parameters)
        return tuple(names)

    def __str__(self) -> str:
        return self.spelled()

    def __repr__(self) -> str:
        return f"Words({self.spelled()!r})"


def _spell(value: object, spell: Spelling) -> object:
    if isinstance(value, Param):
        return spell(value)
    if isinstance(value, Words):
        return value.spelled(spell)
    if isinstance(value, ConvcliError):
        return value.worded(spell)
    return value


class ConvcliError(ValueError):
    """A deliberate refusal: one line saying what is wrong and, where knowable, the fix.

    ``message`` is the sentence; with ``fields`` it is a template, its fields filled in
    when shown (a ``Param`` field spelled by the one who shows it: see ``worded``).
    """

    exit_code: ClassVar[int] = 2

    def __init__(self, message: str | Words = "", /, **fields: object) -> None:
        self.words = message if isinstance(message, Words) else Words(message, **fields)
        self.prefix = ""
        self.suffix = ""
        self.spelling: Spelling = str
        super().__init__(self.worded())

    @property
    def fields(self) -> Mapping[str, object]:
        """The message's fields: the values it was built from (a ``Param`` for a parameter)."""
        return self.words.fields

    @property
    def parameters(self) -> tuple[str, ...]:
        """The Python-API names of the parameters the message names (``force``, ``groups``)."""
        return self.words.parameters

    def worded(self, spell: Spelling | None = None) -> str:
        """The message, its parameters spelled by ``spell`` (default: as it is shown now)."""
        return self.prefix + self.words.spelled(spell or self.spelling) + self.suffix

    def respelled(self, spell: Spelling) -> ConvcliError:
        """The same error, its parameters spelled by ``spell`` from now on (``str`` too)."""
        return self._changed(spelling=spell)

    def with_context(self, prefix: str, separator: str = ": ") -> ConvcliError:
        """The same kind of error, its message after ``prefix`` (an option or a file)."""
        return self._changed(prefix=f"{prefix}{separator}{self.prefix}")

    def with_suffix(self, suffix: str) -> ConvcliError:
        """The same kind of error, ``suffix`` appended (the files it comes from)."""
        return self._changed(suffix=f"{self.suffix} {suffix}")

    def as_kind(self, kind: type[ConvcliError]) -> ConvcliError:
        """The same message and fields as an error of class ``kind``."""
        changed = kind(self.words)
        changed.prefix, changed.suffix, changed.spelling = self.prefix, self.suffix, self.spelling
        changed.args = (changed.worded(),)
        return changed

    def _changed(self, **attributes: object) -> ConvcliError:
        changed = copy.copy(self)
        for name, value in attributes.items():
            setattr(changed, name, value)
        changed.args = (changed.worded(),)
        return changed


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
