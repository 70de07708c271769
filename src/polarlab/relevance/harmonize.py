"""POLAR over relevance sources: P(relevant) per pool pair and the risk of every LLM judgement."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..harmonizer.polar import PolarHarmonizer
from ..risk.score import risk_score


@dataclass
class Harmonized:
    """The harmonizer's view of the pool.

    Attributes:
        p_relevant: shape (n,), h(x)[relevant].
        L: shape (n, m), the votes it was fitted to; ``names`` its columns.
        llm_risk: shape (n,), POLAR risk 1 - h(x)[LLM's answer]; NaN where the LLM was not asked.
        llm_weight: the LLM source's weight multiplier chosen without gold.
    """

    p_relevant: np.ndarray
    L: np.ndarray
    names: list[str]
    llm_risk: np.ndarray
    llm_weight: float


def harmonize(X: np.ndarray, votes: dict[str, np.ndarray], llm: str = "llm", seed: int = 0,
              tune_llm: bool = True) -> Harmonized:
    """Fit the POLAR harmonizer (logistic h(x)) to every source's votes.

    Parameters:
        X: shape (n, d), pair features (:func:`polarlab.relevance.pool.pair_features`).
        votes: source name -> votes shape (n,) (1 / 0 / -1); must contain ``llm``.
        tune_llm: choose the LLM's weight without gold (held-out agreement with the other sources).
    """
    names = list(votes)
    L = np.column_stack([votes[n] for n in names]).astype(np.int64)
    j = names.index(llm)
    h = PolarHarmonizer(2, model="lr", weight_decay=1e-3, seed=seed, combine="h",
                        tune_sources=[j] if tune_llm and (L[:, j] >= 0).sum() >= 20 else None)
    h.fit(L, X)
    proba = h.predict_proba(X=X)
    return Harmonized(proba[:, 1], L, names, risk_score(proba, L[:, j]), float(h.tuned_multiplier_))
