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

This is one kind of candidate final distribution (``ds:tau`` in :mod:`polarlab.harmonizer.combiners`,
beside h alone, majority vote with h as the tie-break and a one-coin weighted vote); which one is used is
chosen per dataset without gold by :mod:`polarlab.harmonizer.select`.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np


H_ONLY = "h"
"""The candidate that ignores the votes at prediction time (the original POLAR output)."""


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
        temperature_: T >= 1 dividing the log-posterior (1 after fit; the combiner sets its own, see
            :func:`polarlab.harmonizer.combiners.choose_temperature`).
            It never changes the argmax, only how sure the posterior is.
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
            self.log_theta_ = np.log(self._constrain(theta / theta.sum(axis=2, keepdims=True)))
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

    def _constrain(self, theta: np.ndarray) -> np.ndarray:
        """The response distributions ``theta`` (m, k, k + 1) of one EM step as the model allows them (here:
        unchanged; a subclass may impose what it assumes about the sources)."""
        return theta

    def posterior(self, L: np.ndarray, log_h: np.ndarray | None, tau: float,
                  exclude: Sequence[int] = ()) -> np.ndarray:
        """q(y | x, L) with the sources in ``exclude`` left out; shape (n, k)."""
        C = self.contributions(L)
        if exclude:
            C[:, list(exclude), :] = 0.0
        return _softmax((self.log_prior(log_h, tau) + C.sum(axis=1)) / self.temperature_)
