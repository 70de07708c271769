"""The estimate's robust mixture prior (Schmidli et al. 2014): exact update, w = 0 as before, wider where over-sure."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import beta as beta_dist

from polarlab.errors import ConfigError
from polarlab.review import estimate_accuracy, risk_strata
from polarlab.review.estimate import _logit, _sigmoid, recalibration
from polarlab.review.robust_prior import robust_beta_posterior


def grid_posterior(m: float, k: float, n: float, e: float, w: float, size: int = 400_000):
    """Brute force: prior density (1 - w) Beta(k m, k (1 - m)) + w on a fine grid of p, times p^e (1 - p)^(n - e),
    normalised; returns the grid, the posterior density and the posterior share of the vague component."""
    p = (np.arange(size) + 0.5) / size
    like = np.exp(e * np.log(p) + (n - e) * np.log1p(-p))
    informative = (1 - w) * beta_dist.pdf(p, k * m, k * (1 - m)) * like
    vague = w * like
    z = (informative + vague).sum()
    return p, (informative + vague) / z, vague.sum() / z


@pytest.mark.parametrize("m, k, n, e, w", [(0.3, 4.0, 10.0, 6.0, 0.2),    # audits contradict the prior
                                           (0.6, 2.0, 7.5, 0.5, 0.2),     # fractional (Kish) counts
                                           (0.1, 3.0, 20.0, 2.0, 0.5)])   # audits agree with it
def test_mixture_posterior_matches_a_brute_force_grid(m, k, n, e, w):
    post = robust_beta_posterior(m, k, n, e, w)
    p, dens, vague_share = grid_posterior(m, k, n, e, w)
    assert float(post.vague) == pytest.approx(vague_share, abs=1e-4)
    assert float(post.mean()) == pytest.approx(float((p * dens).sum()), abs=1e-4)
    draws = robust_beta_posterior(np.full(200_000, m), k, n, e, w).sample(np.random.default_rng(0))
    cdf = np.cumsum(dens)
    for q in (0.05, 0.25, 0.5, 0.75, 0.95):      # the sampler draws the same distribution
        assert np.quantile(draws, q) == pytest.approx(p[np.searchsorted(cdf, q)], abs=0.01)


def reference_estimate(risk, audited, error, n_strata=5, level=0.9, k=2.0, draws=2000, max_rows=400,
                       floor=0.01, seed=0):
    """Today's estimator (one informative Beta per stratum, equal-weight audits), written out step by step."""
    theta, cov = recalibration(risk[audited], error[audited], risk_floor=floor)
    rng = np.random.default_rng(seed)
    ab = rng.multivariate_normal(theta, cov, size=draws)
    ab[:, 1] = np.maximum(ab[:, 1], 0.0)
    z, strata = _logit(risk, floor), risk_strata(risk, n_strata)
    total, point = np.zeros(draws), 0.0
    for h in np.unique(strata):
        m = strata == h
        n_a, e_a = float((m & audited).sum()), float((m & error & audited).sum())
        zh = z[m]
        if len(zh) > max_rows:
            zh = rng.choice(zh, max_rows, replace=False)
        prior = np.clip(_sigmoid(ab[:, :1] + ab[:, 1:] * zh[None, :]).mean(axis=1), 1e-3, 1 - 1e-3)
        m_hat = float(np.clip(_sigmoid(theta[0] + theta[1] * zh).mean(), 1e-3, 1 - 1e-3))
        point += m.sum() * (k * m_hat + e_a) / (k + n_a)
        total += m.sum() * rng.beta(k * prior + e_a, k * (1 - prior) + (n_a - e_a))
    acc = 1.0 - total / len(risk)
    lo, hi = np.quantile(acc, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(np.clip(1.0 - point / len(risk), lo, hi)), float(lo), float(hi)


def test_without_the_vague_component_it_is_todays_estimator_exactly():
    rng = np.random.default_rng(3)
    n = 3000                                   # > max_rows per stratum: the seeded subsample is exercised too
    risk = rng.beta(0.5, 4.0, n)
    audited = np.zeros(n, bool)
    audited[rng.choice(n, 60, replace=False)] = True
    error = audited & (rng.random(n) < 2.0 * risk)
    want = reference_estimate(risk, audited, error, seed=7)
    for kw in ({}, {"robust_weight": 0.0}):
        got = estimate_accuracy(risk, np.ones(n, bool), audited, error, seed=7, estimator="risk_prior", **kw)
        assert (got.accuracy, got.lower, got.upper) == want
        assert all(s["vague_weight"] == 0.0 for s in got.strata)
    robust = estimate_accuracy(risk, np.ones(n, bool), audited, error, seed=7, robust_weight=0.2,
                               estimator="risk_prior")
    assert (robust.lower, robust.upper) != want[1:]


def test_an_over_sure_prior_with_no_error_in_ten_audits_gets_a_wider_upper_error_bound():
    """One stratum whose risk says 1 in 500 labels is wrong; 10 random audits found none. The data alone allow
    far more errors than the over-sure prior does: the robust prior widens the upper error bound."""
    n = 1000
    risk = np.full(n, 0.002)
    audited = np.zeros(n, bool)
    audited[:10] = True
    none_wrong = np.zeros(n, bool)
    args = (risk, np.ones(n, bool), audited, none_wrong)
    today = estimate_accuracy(*args, n_strata=1, seed=0, estimator="risk_prior")
    robust = estimate_accuracy(*args, n_strata=1, seed=0, robust_weight=0.2, estimator="risk_prior")
    assert 1 - robust.lower > 1 - today.lower           # upper error bound
    assert robust.strata[0]["vague_weight"] > 0
    # the exact posteriors: the robust one's 95 % quantile of the error rate is above today's
    plain, mixed = (robust_beta_posterior(np.full(100_000, 0.002), 2.0, 10, 0, w).sample(np.random.default_rng(1))
                    for w in (0.0, 0.2))
    assert np.quantile(mixed, 0.95) > np.quantile(plain, 0.95)
    # no error in 10 is what the prior expects, so it keeps most of its weight; 2 wrong of 10 contradict it and
    # move the weight to the vague component
    assert robust.strata[0]["vague_weight"] < 0.5 < float(robust_beta_posterior(0.002, 2.0, 10, 2, 0.2).vague)


def test_a_robust_weight_outside_zero_one_is_refused_by_name():
    risk = np.full(20, 0.1)
    with pytest.raises(ConfigError, match="robust_weight"):
        estimate_accuracy(risk, np.ones(20, bool), np.zeros(20, bool), np.zeros(20, bool), robust_weight=1.5)
