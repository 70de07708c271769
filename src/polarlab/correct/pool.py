"""The demonstration pool: training rows with their features, h(x), LLM votes and risk."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..data.dataset import Dataset, Example
from ..errors import InputError
from ..risk import risk_score


@dataclass
class DemoPool:
    """Where auto few-shot demonstrations and retrieved neighbours come from (the fit split).

    Gold labels of the pool are never read: demonstrations carry the harmonizer's label.

    Attributes:
        data: the pool's examples, n_p rows.
        X: features, shape (n_p, d) (same extractor as the rows being corrected).
        proba: harmonizer distributions h(x), shape (n_p, k).
        votes: the LLM's votes, shape (n_p,), -1 = abstain.
        risk: POLAR risk of the LLM's votes, shape (n_p,) (NaN where it abstained);
            computed as ``1 - proba[votes]`` when None.
    """

    data: Dataset
    X: np.ndarray
    proba: np.ndarray
    votes: np.ndarray
    risk: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.data)
        self.X = np.asarray(self.X, dtype=np.float32)
        self.proba = np.asarray(self.proba, dtype=np.float64)
        self.votes = np.asarray(self.votes, dtype=np.int64).reshape(-1)
        for name, arr, want in (("X", self.X, 2), ("proba", self.proba, 2), ("votes", self.votes, 1)):
            if arr.ndim != want or arr.shape[0] != n:
                raise InputError(f"pool {name} has shape {arr.shape} for {n} pool rows", column=f"pool.{name}",
                                 fix="give one row per example of the pool dataset")
        if self.risk is None:
            self.risk = risk_score(self.proba, self.votes)
        self.risk = np.asarray(self.risk, dtype=np.float64).reshape(-1)
        if self.risk.shape[0] != n:
            raise InputError(f"pool risk has {self.risk.shape[0]} rows for {n}", column="pool.risk",
                             fix="give one risk per pool row")

    def __len__(self) -> int:
        return len(self.data)

    @property
    def hlabel(self) -> np.ndarray:
        """The harmonizer's label argmax h(x), shape (n_p,)."""
        return self.proba.argmax(axis=1)

    @property
    def hconf(self) -> np.ndarray:
        """The harmonizer's top probability, shape (n_p,)."""
        return self.proba.max(axis=1)

    def confident_rows(self, threshold: float, at_least: int = 1) -> np.ndarray:
        """Rows where h's top probability >= threshold; when fewer than ``at_least`` are,
        the ``at_least`` most confident rows instead. Shape (r,), positions ascending."""
        conf = self.hconf
        rows = np.flatnonzero(conf >= threshold)
        if rows.shape[0] < at_least:
            rows = np.sort(np.argsort(-conf, kind="stable")[:at_least])
        return rows

    def demo(self, i: int, max_chars: int) -> Example:
        """Pool row ``i`` as a demonstration example (text cut to ``max_chars``; no gold, no meta)."""
        ex = self.data.example(int(i))
        return Example(id=ex.id, text=clip(ex.text, max_chars), entity1=ex.entity1, entity2=ex.entity2)


def clip(text: str, max_chars: int) -> str:
    """Whitespace-collapsed ``text``, cut at ``max_chars`` (on a word boundary when possible) + ``…``."""
    s = " ".join(str(text).split())
    if len(s) <= max_chars:
        return s
    cut = s[:max_chars]
    sp = cut.rfind(" ")
    if sp > max_chars // 2:
        cut = cut[:sp]
    return cut.rstrip() + " …"
