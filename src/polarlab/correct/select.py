"""Which rows to re-ask: the riskiest, above a threshold, within the budget."""
from __future__ import annotations

import math

import numpy as np

from .config import CorrectionConfig


def resolve_budget(budget: int | float | None, n: int) -> int:
    """The budget as a count of re-asks for n rows.

    ``int`` → itself (capped at n); ``float`` in (0, 1] → ``floor(budget * n)``; None → n.
    """
    if budget is None:
        return n
    if isinstance(budget, float):
        return min(n, int(math.floor(budget * n + 1e-9)))
    return min(n, int(budget))


def ranking_risk(risk: np.ndarray, include_abstains: bool = True) -> np.ndarray:
    """Risk used for ranking, shape (n,): NaN (the LLM abstained) becomes 1.0, or -inf
    (never selected) when ``include_abstains`` is False."""
    r = np.asarray(risk, dtype=np.float64).copy()
    r[np.isnan(r)] = 1.0 if include_abstains else -np.inf
    return r


def select_rows(risk: np.ndarray, config: CorrectionConfig) -> np.ndarray:
    """Rows to re-ask, riskiest first.

    Parameters:
        risk: shape (n,), POLAR risk of the LLM's answer (NaN where it abstained).
        config: threshold, top_fraction, budget, include_abstains.

    Returns:
        shape (b,), int64 row positions, sorted by risk descending (ties: lower position
        first), with ``b = min(resolved budget, number of candidates)`` — exactly.
    """
    r = ranking_risk(risk, config.include_abstains)
    n = r.shape[0]
    order = np.lexsort((np.arange(n), -r))          # risk desc, then position asc
    order = order[np.isfinite(r[order])]
    if config.threshold is not None:
        order = order[r[order] > config.threshold]
    if config.top_fraction is not None:
        order = order[:int(math.ceil(config.top_fraction * n - 1e-9))]
    return order[:resolve_budget(config.budget, n)].astype(np.int64)
