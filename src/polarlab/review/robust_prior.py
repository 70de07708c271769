"""A stratum's error rate under a robust mixture prior, updated exactly (Schmidli et al. 2014).

The review estimate (:func:`polarlab.review.estimate.estimate_accuracy`) centres each risk stratum's error
rate p on the recalibrated mean risk m with the weight of ``k`` observations: ``Beta(k m, k (1 - m))``. When
m is too small (the refits grew sure of their own labels), a stratum whose few audits found nothing gets an
interval far narrower than its audits support. The robust prior mixes in a vague component,

    p ~ (1 - w) Beta(k m, k (1 - m)) + w Beta(1, 1),

the robust meta-analytic-predictive prior of Schmidli et al. (Biometrics 70, 2014). Given n audits with e
errors, the posterior is again a mixture of the two updated Betas, ``Beta(k m + e, k (1 - m) + n - e)`` and
``Beta(1 + e, 1 + n - e)``; each component's weight is multiplied by its beta-binomial marginal likelihood
of (n, e), ``B(a + e, b + n - e) / B(a, b)`` (the binomial coefficient is common to both and cancels), so
audits that contradict the informative component shift the weight to the vague one. n and e may be
fractional (Kish effective counts of weighted audits). With w = 0 it is the plain conjugate update.

Measured (``docs/results/review.md``, WRENCH, seeds 0-17): w = 0.2 cuts the rounds whose lower bound is above the
truth, but its vague component (mean 0.5) makes strata with a few errors in a few audits pessimistic and costs
coverage on youtube, so it is opt-in (default 0).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import betaln, expit

from ..errors import ConfigError


@dataclass
class RobustBetaPosterior:
    """Posterior of a stratum's error rate: ``(1 - vague) Beta(a, b) + vague Beta(a_vague, b_vague)``.

    Attributes (arrays of the prior means' shape, or scalars):
        a, b: the informative component, updated (``a + b = size``, the prior's strength plus the audits).
        a_vague, b_vague: the vague component ``Beta(1, 1)``, updated.
        vague: posterior weight of the vague component (0 when the prior's weight w is 0).
    """

    a: np.ndarray
    b: np.ndarray
    size: np.ndarray | float
    a_vague: float
    b_vague: float
    vague: np.ndarray

    def mean(self) -> np.ndarray:
        """Posterior mean of the error rate."""
        return ((1.0 - self.vague) * self.a / self.size
                + self.vague * self.a_vague / (self.a_vague + self.b_vague))

    def sample(self, rng: np.random.Generator) -> np.ndarray:
        """One draw per prior mean: the component by its posterior weight, then p from it. With no vague weight
        this is exactly ``rng.beta(a, b)`` (the same random numbers as the plain conjugate update)."""
        p = rng.beta(self.a, self.b)
        if not np.any(self.vague > 0):
            return p
        shape = np.shape(p)
        pick = rng.random(shape) < self.vague
        return np.where(pick, rng.beta(self.a_vague, self.b_vague, size=shape), p)


def check_robust_weight(robust_weight: float) -> float:
    """``robust_weight`` as a float in [0, 1], or a :class:`ConfigError` naming it."""
    w = float(robust_weight)
    if not 0.0 <= w <= 1.0:
        raise ConfigError(f"robust_weight={robust_weight}", column="robust_weight",
                          fix="use a prior weight of the vague Beta(1, 1) component in [0, 1], e.g. 0.2 (0 = off)")
    return w


def robust_beta_posterior(prior_mean: np.ndarray | float, strength: np.ndarray | float, n: float, errors: float,
                          robust_weight: float) -> RobustBetaPosterior:
    """Exact update of ``(1 - w) Beta(k m, k (1 - m)) + w Beta(1, 1)`` by ``errors`` wrong of ``n`` audits.

    Args:
        prior_mean: m, the informative component's mean, in (0, 1); an array gives one posterior per value
            (the estimate's draws of the recalibration line).
        strength: k, the informative component's weight in observations (a scalar, or an array of the prior
            means' shape: one k per mean).
        n, errors: audits and errors found (may be fractional effective counts, 0 <= errors <= n).
        robust_weight: w, the vague component's prior weight in [0, 1].

    Returns:
        The posterior mixture (arrays of ``prior_mean``'s shape).
    """
    w = check_robust_weight(robust_weight)
    m = np.asarray(prior_mean, dtype=np.float64)
    a0, b0 = strength * m, strength * (1.0 - m)
    a, b = a0 + errors, b0 + (n - errors)
    av, bv = 1.0 + errors, 1.0 + (n - errors)
    if w == 0.0:
        vague = np.zeros_like(m)
    elif w == 1.0:
        vague = np.ones_like(m)
    else:   # log marginal likelihoods (the common binomial coefficient left out); B(1, 1) = 1
        log_informative = np.log1p(-w) + betaln(a, b) - betaln(a0, b0)
        log_vague = np.log(w) + betaln(av, bv)
        vague = expit(log_vague - log_informative)
    return RobustBetaPosterior(a, b, strength + n, float(av), float(bv), vague)
