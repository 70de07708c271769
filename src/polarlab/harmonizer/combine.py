"""The final distribution: h(x) as a per-example prior, combined with the example's own votes.

h(x) is a model of the features alone. When the rules are precise and the features do not carry
what the rules test (the relation between two entities, a keyword), using h(x) alone at prediction
time throws the best evidence away. The combined posterior is

    q(y | x, L) ∝ prior_tau(x)[y] · Π_j θ_j(L_j | y)

where ``θ_j(r | y)`` is source j's response distribution (r = abstain or a class, abstain kept as a
response as in WRENCH's Dawid–Skene, because a one-sided rule's silence is evidence) learnt by EM with
the per-example prior held fixed (Dawid–Skene with a feature-based prior), and

    log prior_tau(x) = tau · log h(x) + max(0, 1 - tau) · log π     (π: class balance, learnt too).

tau = 0 is Dawid–Skene (the votes alone), tau = 1 a plain feature prior, tau > 1 trusts h more.
On the fit rows h is cross-fitted (each row scored by an h that never saw it), so the prior does
not already hold the row's own votes.

The posterior's sharpness (a temperature T >= 1 on its log, see :func:`choose_temperature`) is chosen
the same way; it never changes a label, only the risk.

Which candidate to use (h alone, or each tau of a grid) is chosen per dataset without gold by the
leave-one-source-out pseudo-likelihood on the fit rows: the mean over rows and sources of
``log P(L_ij | x_i, L_i,-j)``, how well the model predicts each source's response from the features
and every *other* source. A candidate that double-counts (h already imitates a rule) or ignores
evidence predicts the held-out responses worse.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy.special import logsumexp

from ..errors import InputError

H_ONLY = "h"
"""The candidate that ignores the votes at prediction time (the original POLAR output)."""


@dataclass(frozen=True)
class CombineRow:
    """One candidate of the selection: ``candidate`` is ``"h"`` or a temperature tau."""

    candidate: str | float
    pseudo_loglik: float


def _softmax(s: np.ndarray) -> np.ndarray:
    e = np.exp(s - s.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


class VoteLikelihood:
    """Per-source response distributions θ_j(r | y), learnt by EM around a fixed per-example prior.

    Args:
        n_classes: k.
        smoothing: Dirichlet pseudo-count spread over the k + 1 responses of every (source, class).
        iterations: maximum EM iterations.
        tol: stop when no posterior entry moves more than this.

    Attributes (after fit):
        log_theta_: shape (m, k, k + 1), log θ_j(r | y); response 0 = abstain, r = c + 1 = class c.
        temperature_: T >= 1 dividing the log-posterior (1 after fit; :func:`choose_temperature` sets it).
            It never changes the argmax, only how sure the posterior is: a product over many sources
            that are not independent given the class is over-confident, which a risk must not be.
        class_prior_: shape (k,), π.
        n_sources_: m.
    """

    def __init__(self, n_classes: int, smoothing: float = 1.0, iterations: int = 100, tol: float = 1e-5) -> None:
        self.n_classes = int(n_classes)
        self.smoothing = float(smoothing)
        self.iterations = int(iterations)
        self.tol = float(tol)

    def log_prior(self, log_h: np.ndarray | None, tau: float) -> np.ndarray:
        """``tau · log h + max(0, 1 - tau) · log π``, shape (n, k) (log h: (n, k); None = π alone)."""
        lp = np.log(self.class_prior_)[None, :]
        if log_h is None or tau == 0:
            return np.repeat(lp, 1 if log_h is None else log_h.shape[0], axis=0)
        return tau * log_h + max(0.0, 1.0 - tau) * lp

    def contributions(self, L: np.ndarray) -> np.ndarray:
        """``log θ_j(L_ij | y)``, shape (n, m, k)."""
        R = L + 1
        m = L.shape[1]
        return np.stack([self.log_theta_[j][:, R[:, j]].T for j in range(m)], axis=1)

    def fit(self, L: np.ndarray, log_h: np.ndarray | None, tau: float) -> "VoteLikelihood":
        """EM on votes ``L`` (n, m) with the prior ``tau · log h + (1 - tau)+ · log π`` (log_h: (n, k))."""
        n, m = L.shape
        k = self.n_classes
        counts = np.zeros((n, k))
        for j in range(m):
            ok = L[:, j] >= 0
            counts[np.flatnonzero(ok), L[ok, j]] += 1.0
        self.class_prior_ = np.full(k, 1.0 / k)
        # start from majority vote (ties split evenly, as the Dawid–Skene baseline starts); rows without
        # any vote start from the prior
        top = counts == counts.max(axis=1, keepdims=True)
        q = top / top.sum(axis=1, keepdims=True)
        none = counts.sum(axis=1) == 0
        q[none] = _softmax(np.broadcast_to(self.log_prior(log_h, tau), (n, k)))[none]
        onehots = [np.eye(k + 1)[L[:, j] + 1] for j in range(m)]            # (n, k + 1) per source
        for _ in range(self.iterations):
            theta = np.stack([q.T @ oh for oh in onehots]) + self.smoothing / (k + 1)   # (m, k, k + 1)
            self.log_theta_ = np.log(theta / theta.sum(axis=2, keepdims=True))
            self.class_prior_ = np.clip(q.mean(axis=0), 1e-6, None)
            self.class_prior_ /= self.class_prior_.sum()
            new = _softmax(self.log_prior(log_h, tau) + self.contributions(L).sum(axis=1))
            done = np.abs(new - q).max() < self.tol
            q = new
            if done:
                break
        self.n_sources_ = m
        self.temperature_ = 1.0
        return self

    def posterior(self, L: np.ndarray, log_h: np.ndarray | None, tau: float,
                  exclude: Sequence[int] = ()) -> np.ndarray:
        """q(y | x, L) with the sources in ``exclude`` left out; shape (n, k)."""
        C = self.contributions(L)
        if exclude:
            C[:, list(exclude), :] = 0.0
        return _softmax((self.log_prior(log_h, tau) + C.sum(axis=1)) / self.temperature_)

    def pseudo_loglik(self, L: np.ndarray, log_prior: np.ndarray, temperature: float = 1.0) -> float:
        """Mean over rows and sources of ``log P(L_ij | prior_i, L_i,-j)`` (log_prior: (n, k)), where
        ``P(L_ij | ...) = Σ_y q_-j(y) θ_j(L_ij | y)`` and q_-j is the posterior without source j, its
        log divided by ``temperature``."""
        C = self.contributions(L)
        s = log_prior + C.sum(axis=1)                                   # (n, k)
        q = (s[:, None, :] - C) / temperature                           # (n, m, k): log q_-j, unnormalised
        # log Σ_y q_-j(y) θ_j(L_ij | y) = logsumexp(q_-j + C_j) - logsumexp(q_-j)
        per = logsumexp(q + C, axis=2) - logsumexp(q, axis=2)          # (n, m)
        return float(per.mean())


def choose_temperature(vl: VoteLikelihood, L: np.ndarray, log_prior: np.ndarray,
                       grid: Sequence[float] = (1.0, 1.5, 2.0, 3.0, 4.0)) -> float:
    """Set ``vl.temperature_`` to the T of ``grid`` with the best leave-one-source-out pseudo-likelihood
    (how well the posterior without source j predicts j's response: the same question as the risk of
    j's answer) and return it. Never changes any argmax."""
    scores = [vl.pseudo_loglik(L, log_prior, t) for t in grid]
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
            scores[float(tau)].append(vl.pseudo_loglik(L[held], vl.log_prior(log_h_cf[held], float(tau))))
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
        choose_temperature(vl, L, vl.log_prior(log_h_cf, tau))
    return chosen, vl, rows
