"""What an end model is trained on: soft labels, sample weights, hard labels from review."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..validation import check_votes


@dataclass
class Targets:
    """Training targets of n examples over k classes.

    Attributes:
        soft: (n, k) class distributions (the harmonizer's / a label model's posteriors).
        weight: (n,) sample weights, e.g. ``1 - risk``; None = all 1.
        hard: (n,) class index from human review, -1 where not reviewed; a reviewed row is
            trained on its one-hot label with weight 1, whatever ``soft`` and ``weight`` say.
    """

    soft: np.ndarray
    weight: np.ndarray | None = None
    hard: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.soft = np.asarray(self.soft, dtype=np.float64)
        if self.soft.ndim != 2 or self.soft.shape[1] < 2:
            raise InputError(f"soft labels have shape {self.soft.shape}", column="soft",
                             fix="pass an (n, k) array of class distributions, k >= 2")
        n, k = self.soft.shape
        if not np.isfinite(self.soft).all() or (self.soft < 0).any():
            raise InputError("soft labels hold negative or non-finite values", column="soft",
                             fix="pass probabilities (predict_proba output)")
        if self.weight is not None:
            self.weight = np.asarray(self.weight, dtype=np.float64).reshape(-1)
            if self.weight.shape[0] != n or not np.isfinite(self.weight).all() or (self.weight < 0).any():
                raise InputError(f"weight must be {n} finite non-negative numbers", column="weight",
                                 fix="use 1 - risk (values in [0, 1])")
        if self.hard is not None:
            self.hard = check_votes(np.asarray(self.hard).reshape(-1), n_classes=k, n_rows=n, ndim=1,
                                    what="hard labels")

    @classmethod
    def from_risk(cls, soft: np.ndarray, risk: np.ndarray | None = None, hard: np.ndarray | None = None
                  ) -> "Targets":
        """Targets with weight ``1 - risk`` (risk clipped to [0, 1]; NaN risk = weight 1)."""
        weight = None
        if risk is not None:
            r = np.asarray(risk, dtype=np.float64)
            weight = 1.0 - np.clip(np.nan_to_num(r, nan=0.0), 0.0, 1.0)
        return cls(soft, weight, hard)

    @property
    def n_classes(self) -> int:
        return int(self.soft.shape[1])

    def __len__(self) -> int:
        return int(self.soft.shape[0])

    def resolved(self) -> tuple[np.ndarray, np.ndarray]:
        """(P, w): (n, k) distributions normalised per row, reviewed rows one-hot; (n,) weights."""
        P = self.soft.copy()
        s = P.sum(axis=1, keepdims=True)
        P = np.where(s > 0, P / np.where(s > 0, s, 1.0), 1.0 / P.shape[1])
        w = np.ones(len(P)) if self.weight is None else self.weight.copy()
        if self.hard is not None:
            rev = self.hard >= 0
            P[rev] = 0.0
            P[np.flatnonzero(rev), self.hard[rev]] = 1.0
            w[rev] = 1.0
        return P, w

    def subset(self, index: np.ndarray) -> "Targets":
        index = np.asarray(index, dtype=np.int64)
        return Targets(self.soft[index], None if self.weight is None else self.weight[index],
                       None if self.hard is None else self.hard[index])

    def concat(self, other: "Targets") -> "Targets":
        """These n rows followed by ``other``'s (weights / reviews of 1 / -1 where one side has none)."""
        def both(a: np.ndarray | None, b: np.ndarray | None, fill: float, n: int, m: int) -> np.ndarray | None:
            if a is None and b is None:
                return None
            return np.concatenate([np.full(n, fill) if a is None else a, np.full(m, fill) if b is None else b])

        n, m = len(self), len(other)
        return Targets(np.vstack([self.soft, other.soft]), both(self.weight, other.weight, 1.0, n, m),
                       both(self.hard, other.hard, -1, n, m))
