"""Leave-one-source-out pseudo-likelihood: choose a prior weight tau (and a temperature) for
:class:`polarlab.harmonizer.combine.VoteLikelihood` without gold.

The criterion is the mean over rows and sources of ``log P(L_ij | prior_i, L_i,-j)``: how well the model
predicts each source's response (abstain included) from the prior and every *other* source. The token-level
span harmonizer (:mod:`polarlab.spans.harmonize`) chooses its tau this way. The classification harmonizer
chooses among candidate final distributions by held-out *agreement* instead (:mod:`polarlab.harmonizer.select`),
which tracks accuracy better when there are many sparse rules.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy.special import logsumexp

from ..errors import InputError
from .combine import H_ONLY, VoteLikelihood


@dataclass(frozen=True)
class CombineRow:
    """One candidate of the selection: ``candidate`` is ``"h"`` or a temperature tau."""

    candidate: str | float
    pseudo_loglik: float


def pseudo_loglik(vl: VoteLikelihood, L: np.ndarray, log_prior: np.ndarray, temperature: float = 1.0) -> float:
    """Mean over rows and sources of ``log P(L_ij | prior_i, L_i,-j)`` (log_prior: (n, k)), where
    ``P(L_ij | ...) = Σ_y q_-j(y) θ_j(L_ij | y)`` and q_-j is the posterior without source j, its
    log divided by ``temperature``."""
    C = vl.contributions(L)
    s = log_prior + C.sum(axis=1)                                   # (n, k)
    q = (s[:, None, :] - C) / temperature                           # (n, m, k): log q_-j, unnormalised
    # log Σ_y q_-j(y) θ_j(L_ij | y) = logsumexp(q_-j + C_j) - logsumexp(q_-j)
    per = logsumexp(q + C, axis=2) - logsumexp(q, axis=2)          # (n, m)
    return float(per.mean())


def choose_likelihood_temperature(vl: VoteLikelihood, L: np.ndarray, log_prior: np.ndarray,
                       grid: Sequence[float] = (1.0, 1.5, 2.0, 3.0, 4.0)) -> float:
    """Set ``vl.temperature_`` to the T of ``grid`` with the best leave-one-source-out pseudo-likelihood
    (how well the posterior without source j predicts j's response: the same question as the risk of
    j's answer) and return it. Never changes any argmax."""
    scores = [pseudo_loglik(vl, L, log_prior, t) for t in grid]
    vl.temperature_ = float(grid[int(np.argmax(scores))])
    return vl.temperature_


def select_combination(L: np.ndarray, log_h_cf: np.ndarray, n_classes: int, grid: Sequence[float],
                       smoothing: float = 1.0, with_h_only: bool = True, folds: int = 5, seed: int = 0
                       ) -> tuple[str | float, VoteLikelihood, list[CombineRow]]:
    """Choose h alone or a temperature from ``grid`` by the held-out leave-one-source-out pseudo-likelihood.

    Each candidate's response model θ is fitted on K-1 folds of the fit rows and scored on the held-out
    fold (so a candidate that leans on θ cannot win by fitting the rows it is scored on); the chosen
    candidate is then fitted on all rows.

    Args:
        L: shape (n, m), the fit rows' votes.
        log_h_cf: shape (n, k), log of the cross-fitted h on those rows.
        n_classes: k.
        grid: candidate temperatures (each >= 0).
        smoothing: see :class:`VoteLikelihood`.
        with_h_only: also score h alone (the votes unused at prediction time).
        folds, seed: the K folds of the held-out scoring.

    Returns:
        (the choice: ``"h"`` or a tau, the likelihood fitted for it, one :class:`CombineRow` per candidate).
        Ties go to the first listed; ``"h"`` comes last, so it wins only when strictly better.
    """
    if any((not np.isfinite(t)) or t < 0 for t in grid) or not len(grid):
        raise InputError(f"combine_grid={list(grid)}", column="combine_grid",
                         fix="give one or more non-negative temperatures, e.g. [0, 0.5, 1, 2]")
    n = L.shape[0]
    parts = np.array_split(np.random.default_rng(seed).permutation(n), max(2, min(folds, n)))
    scores: dict[str | float, list[float]] = {float(t): [] for t in grid}
    if with_h_only:
        scores[H_ONLY] = []
    for held in parts:
        train = np.setdiff1d(np.arange(n), held)
        for tau in grid:
            vl = VoteLikelihood(n_classes, smoothing=smoothing).fit(L[train], log_h_cf[train], float(tau))
            scores[float(tau)].append(pseudo_loglik(vl, L[held], vl.log_prior(log_h_cf[held], float(tau))))
            if with_h_only and float(tau) == 1.0 or (with_h_only and 1.0 not in grid and tau == grid[-1]):
                # h alone: the prior is h and the votes are unused; its score says how well h alone
                # predicts each source's response (through the response model fitted with h as prior)
                C = vl.contributions(L[held])
                scores[H_ONLY].append(float(logsumexp(log_h_cf[held][:, None, :] + C, axis=2).mean()))
    rows = [CombineRow(c, float(np.mean(v))) for c, v in scores.items()]
    best = max(rows, key=lambda r: r.pseudo_loglik)
    chosen = best.candidate
    tau = 1.0 if chosen == H_ONLY else float(chosen)
    vl = VoteLikelihood(n_classes, smoothing=smoothing).fit(L, log_h_cf, tau)
    if chosen != H_ONLY:
        choose_likelihood_temperature(vl, L, vl.log_prior(log_h_cf, tau))
    return chosen, vl, rows
