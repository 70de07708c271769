"""Warnings about supervision a run cannot learn well from (printed by the CLI, kept on the model)."""
from __future__ import annotations

import warnings

import numpy as np


class SupervisionWarning(UserWarning):
    """The sources leave something unlearnable or undecidable; the message says what and what to do."""


class NoVoteWarning(SupervisionWarning):
    """Some classes get no vote from any source (a caller whose classes are not the user's, e.g. the linking
    task's candidate slots, can silence this one kind by its category)."""


def warn(message: str, sink: list[str] | None = None, category: type[SupervisionWarning] = SupervisionWarning) -> None:
    """Emit a :class:`SupervisionWarning` (or the subclass ``category``) and append its text to ``sink`` (a model's
    ``warnings_``)."""
    if sink is not None:
        sink.append(message)
    warnings.warn(message, category, stacklevel=3)


def classes_without_votes(L: np.ndarray, n_classes: int) -> list[int]:
    """Classes that no source voted for on any row of ``L`` (n, m)."""
    voted = np.zeros(n_classes, dtype=bool)
    v = L[L >= 0]
    voted[np.unique(v)] = True
    return [c for c in range(n_classes) if not voted[c]]
