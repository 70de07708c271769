"""Exceptions raised by polarlab.

Every error a user can cause carries *where* (file, row, column) and *what to do*,
so the message alone is enough to fix the input.
"""
from __future__ import annotations

from dataclasses import dataclass

from sklearn.exceptions import NotFittedError as _SklearnNotFitted


class PolarlabError(Exception):
    """Base class of every error polarlab raises on purpose."""


@dataclass
class InputError(PolarlabError):
    """Bad user input: a data file, a project file, a source's output.

    Attributes:
        message: what is wrong.
        file: the file concerned, if any.
        row: the 0-based row (or example id) concerned, if any.
        column: the column / field concerned, if any.
        fix: what the user should do about it.
    """

    message: str
    file: str | None = None
    row: int | str | None = None
    column: str | None = None
    fix: str | None = None

    WHERE = "column"   # how ``column`` is named in the message

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        where = []
        if self.file is not None:
            where.append(f"file {self.file}")
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"{self.WHERE} {self.column!r}")
        text = self.message
        if where:
            text = f"{', '.join(where)}: {text}"
        if self.fix:
            text = f"{text}. Fix: {self.fix}"
        return text


class DataError(InputError):
    """A dataset file or frame that cannot be loaded as asked."""


class ConfigError(InputError):
    """A project file (polarlab.toml) that is malformed or names unknown things.

    ``column`` holds the key path (``labelmodel.methods``, ``sources[2].keywords``) and is shown as ``key``.
    """

    WHERE = "key"


class SourceError(InputError):
    """A supervision source that returned something that is not a label."""


class StateError(InputError):
    """A project state folder that cannot be used (newer schema, corrupted database, missing artifact)."""


class NotFittedError(InputError, _SklearnNotFitted):
    """A model's ``predict_proba``/``transform`` was called before ``fit`` (every polarlab model raises this one).

    A subclass of scikit-learn's ``NotFittedError`` (itself a ``ValueError``), so code catching either works.
    """
