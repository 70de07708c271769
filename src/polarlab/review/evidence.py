"""What the audits themselves support: a prior strength weighed by the audits, and an interval the model cannot narrow.

The review estimate (:func:`polarlab.review.estimate.estimate_accuracy`) gives each risk stratum's error rate the
prior ``Beta(k m_h, k (1 - m_h))``: centred on the recalibrated mean risk m_h with the weight of k observations.
Two ways it can claim more than its evidence:

* **A fixed k.** With k = 2 and m_h ≈ 0.01 the prior's first parameter is 0.02: after 0 errors in 12 audits the
  stratum's 95th percentile is 0.004, although a stratum whose labels are 10 % wrong shows 0 errors in 12 audits
  28 % of the time. :func:`strength_posterior` lets the audits weigh k instead (empirical Bayes on a grid): each k
  of :data:`STRENGTH_GRID` gets the beta-binomial marginal likelihood of every stratum's (n_h, e_h) given its m_h,
  ``sum_h log B(k m_h + e_h, k (1 - m_h) + n_h - e_h) - log B(k m_h, k (1 - m_h))`` (the binomial coefficients do
  not depend on k), and with equal prior weights on the grid these are k's posterior weights. Audits that agree
  with the m_h favour a large k: the risk model speaks; audits that contradict it favour a small k: the audits
  take over. With no audits the likelihood is flat and the caller's k stays. The estimate averages over k (a draw
  of k per posterior sample), not only at the most likely k: that one alone (tried on WRENCH seeds 0-8,
  ``docs/results/review.md``) made the interval too narrow on youtube and the point estimate worse on trec, and so
  did a grid up to 64 (the model then speaks too loud on trec).
* **Borrowed strength.** :func:`audit_interval` is the central Jeffreys interval (``Beta(e + 1/2, n - e + 1/2)``,
  Brown, Cai & DasGupta 2001) of the accuracy of the live audits alone, read as Hajek-weighted Kish effective counts
  when their design weights differ (the loop's audits are an equal-probability sample of the open items, so there
  the plain counts). The estimate's interval is never narrower than it on either side: its lower bound is the
  smaller of the model's and this one, its upper bound the larger. So the stopping rule never reads a lower bound
  tighter than the audits alone support; with no audits the lower bound is about 0 ("not enough evidence"), and
  only the budget can stop a review.

The default estimator since 2026-12-03, together with ``accepted="source"`` (rule R42, ``docs/results/review.md``):
with kept labels, on WRENCH youtube / sms / trec / chemprot over seeds 0-26, its interval covered the truth in
0.95 / 0.97 / 0.96 / 0.96 of the rounds and its lower bound was above the truth in at most 0.026 of them
(``"risk_prior"``: 0.93 / 0.82 / 0.88 / 0.87 and up to 0.16), its mean |error| at most 0.006 above the ``free``
loop's with ``"risk_prior"`` (the defaults before). Under ``accepted="free"`` it was not adopted on its own: on trec the
audits weighed k up towards a risk model that is pessimistic there, and the point estimate's mean |error| rose
0.060 → 0.067 on seeds 9-17, past the bound fixed beforehand.
"""
from __future__ import annotations

import numpy as np
from scipy.special import betaln
from scipy.stats import beta as beta_dist

STRENGTH_GRID: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0, 8.0)
"""Prior strengths (observations per stratum) that :func:`strength_posterior` weighs."""


def effective_counts(weight: np.ndarray, error: np.ndarray) -> tuple[float, float]:
    """(audits, errors) as Hajek-weighted effective counts: ``n_eff = (sum w)² / sum w²`` audits,
    ``n_eff × sum w e / sum w`` errors; (n, e) themselves when the weights are equal."""
    weight, error = np.asarray(weight, dtype=np.float64), np.asarray(error, dtype=np.float64)
    if len(weight) == 0:
        return 0.0, 0.0
    n_eff = float(weight.sum() ** 2 / (weight ** 2).sum())
    return n_eff, n_eff * float((weight * error).sum() / weight.sum())


def strength_posterior(prior_mean: np.ndarray, audits: np.ndarray, errors: np.ndarray, default: float,
                       grid: tuple[float, ...] = STRENGTH_GRID) -> tuple[np.ndarray, np.ndarray]:
    """The prior strengths k on ``grid`` and their posterior weights given the strata's audit results.

    Args:
        prior_mean: (s,) each stratum's prior mean error m_h, in (0, 1).
        audits, errors: (s,) each stratum's audits n_h and errors e_h (may be fractional effective counts).
        default: the only k when no stratum has an audit (the likelihood is flat).
        grid: candidate strengths, equal prior weights.

    Returns:
        (k (g,), weights (g,) summing to 1).
    """
    m = np.asarray(prior_mean, dtype=np.float64)
    n, e = np.asarray(audits, dtype=np.float64), np.asarray(errors, dtype=np.float64)
    if not (n > 0).any():
        return np.array([float(default)]), np.ones(1)
    k = np.asarray(grid, dtype=np.float64)
    loglik = (betaln(k[:, None] * m + e, k[:, None] * (1.0 - m) + n - e)
              - betaln(k[:, None] * m, k[:, None] * (1.0 - m))).sum(axis=1)
    weight = np.exp(loglik - loglik.max())
    return k, weight / weight.sum()


def fixed_strength(prior_mean: np.ndarray, audits: np.ndarray, errors: np.ndarray,
                   default: float) -> tuple[np.ndarray, np.ndarray]:
    """The caller's k alone, whatever the audits say (the estimate before the audits weighed k)."""
    return np.array([float(default)]), np.ones(1)


def audit_interval(weight: np.ndarray, error: np.ndarray, level: float) -> tuple[float, float]:
    """The central ``level`` Jeffreys interval of the accuracy, from the audits alone.

    Args:
        weight: (n,) design weights ``1 / P(audited)`` of the live audits (equal: plain counts).
        error: (n,) 0/1, the audited machine label is wrong.
        level: interval probability, e.g. 0.9.

    Returns:
        (lower, upper) accuracy; about (0, 1) with no audits.
    """
    n, e = effective_counts(weight, error)
    tail = (1.0 - level) / 2.0
    hi_err, lo_err = beta_dist.ppf([1.0 - tail, tail], e + 0.5, n - e + 0.5)
    return float(1.0 - hi_err), float(1.0 - lo_err)


def model_interval_only(weight: np.ndarray, error: np.ndarray, level: float) -> tuple[float, float]:
    """No audit interval: the estimate's interval is the model's alone (the estimate before it); (1, 0) is the
    empty interval, which widens nothing."""
    return 1.0, 0.0
