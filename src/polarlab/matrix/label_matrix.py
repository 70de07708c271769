"""The label matrix: every source's vote on every example."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from ..sources.base import ABSTAIN, SourceFailure  # noqa: F401  (ABSTAIN re-exported)
from ..validation import check_votes


@dataclass
class LabelMatrix:
    """Votes of m sources on n examples.

    Attributes:
        L: shape (n, m), int64, class index or -1 (abstain).
        names: the m source names, column order.
        ids: the n example ids, row order.
        n_classes: k, number of classes.
        probas: per-class distributions some sources give besides their vote
            (LLM sources), name -> array (n, k); rows where the source gave none are NaN.
        failures: every (source, row) where a source raised.
    """

    L: np.ndarray
    names: list[str]
    ids: list[str]
    n_classes: int
    probas: dict[str, np.ndarray] = field(default_factory=dict)
    failures: list[SourceFailure] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.L = np.asarray(self.L, dtype=np.int64).reshape(len(self.ids), len(self.names))
        if len(set(self.names)) != len(self.names):
            raise ValueError(f"duplicate source names: {self.names}")
        self.L = check_votes(self.L, n_classes=self.n_classes, names=self.names)

    @property
    def shape(self) -> tuple[int, int]:
        return self.L.shape  # type: ignore[return-value]

    def column(self, name: str) -> np.ndarray:
        """Votes of source ``name``, shape (n,)."""
        return self.L[:, self.names.index(name)]

    def with_column(self, name: str, votes: np.ndarray, proba: np.ndarray | None = None) -> "LabelMatrix":
        """A copy with source ``name``'s votes replaced (or appended when new)."""
        votes = np.asarray(votes, dtype=np.int64)
        names = list(self.names)
        if name in names:
            L = self.L.copy()
            L[:, names.index(name)] = votes
        else:
            names.append(name)
            L = np.column_stack([self.L, votes])
        probas = dict(self.probas)
        if proba is not None:
            probas[name] = np.asarray(proba, dtype=np.float64)
        return replace(self, L=L, names=names, probas=probas)

    def drop(self, names: list[str]) -> "LabelMatrix":
        """A copy without the sources ``names``."""
        keep = [j for j, n in enumerate(self.names) if n not in names]
        return replace(self, L=self.L[:, keep], names=[self.names[j] for j in keep],
                       probas={k: v for k, v in self.probas.items() if k not in names},
                       failures=[f for f in self.failures if f.source not in names])

    def rows(self, index: np.ndarray | list[int]) -> "LabelMatrix":
        """A copy restricted to rows ``index`` (positions, or a boolean mask of length n);
        failures keep only those rows, renumbered to their new positions."""
        index = np.asarray(index)
        index = np.flatnonzero(index) if index.dtype == bool else index.astype(np.int64)
        new_row: dict[int, int] = {}
        for new, old in enumerate(index.tolist()):
            new_row.setdefault(old, new)
        return replace(self, L=self.L[index], ids=[self.ids[i] for i in index],
                       probas={k: v[index] for k, v in self.probas.items()},
                       failures=[replace(f, row=new_row[f.row]) for f in self.failures if f.row in new_row])
