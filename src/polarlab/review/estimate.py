"""Gold-free accuracy of the labels accepted without review, and the stopping rule.

Two corrections of the calibrated risk by what people found:

1. Recalibration: ``P(wrong) = sigmoid(a + b logit(risk))``, a logistic regression on every reviewed
   item (risk-ordered reviews and audits alike), with the machine label and risk it had when a
   person answered; prior a ~ N(0, 0.5²), b ~ N(1, 0.5²) ("the risk is calibrated"), posterior by
   Laplace's approximation. Items chosen *by* their risk do not bias a regression *on* the risk.
   The risk enters clipped to ``[risk_floor, 1 - risk_floor]`` (1 %): a combined posterior (majority vote,
   Dawid–Skene) calls many labels 1e-6 risky, and one such label found wrong would otherwise, at the
   logit's old clip of -9.2, tilt the whole line (measured on youtube: the slope turned negative and every near-certain label
   was estimated wrong); the slope is kept >= 0 (more risk never means fewer errors).
2. Stratified random audits: in stratum h (a risk quantile bin of the population: N_h items) the
   error rate gets a Beta prior centred on the recalibrated mean risk m_h with the weight of
   ``prior_strength`` observations, updated by the audits drawn at random from that stratum (n_h
   checked, e_h wrong): ``p_h ~ Beta(k m_h + e_h, k (1 - m_h) + n_h - e_h)``. Only random audits
   enter here: the risk-ordered reviews are the riskiest items of their stratum. When the audits were drawn with
   unequal chances ``pi_i`` (``audit_weight = 1 / pi_i``), a stratum's audits enter as Hajek-weighted effective
   counts: the error rate ``sum w e / sum w`` over ``n_eff = (sum w)² / sum w²`` audits (Kish), so an item type
   the design over-drew does not speak for its whole stratum; with equal weights these are n_h and e_h.
   With ``robust_weight`` w > 0 the prior is robust (Schmidli et al. 2014; :mod:`.robust_prior`):
   ``p_h ~ (1 - w) Beta(k m_h, k (1 - m_h)) + w Beta(1, 1)``, updated exactly (each component reweighted by its
   beta-binomial marginal likelihood of (n_h, e_h)), so audits that contradict an over-sure m_h lean on the
   vague component; w = 0 is the single Beta above.

How k is set and whether the audits floor the lower bound is the ``estimator`` (:data:`ESTIMATORS`):
``"risk_prior"`` (k = ``prior_strength``, the sampled interval as it is), ``"evidence"`` (k weighed by the
audits, empirical Bayes on a grid, and an interval never narrower than the live audits' own Jeffreys interval:
:mod:`.evidence`) or ``"audit_floor"`` (``"risk_prior"``'s k, draws and point estimate, ``"evidence"``'s interval
floor: with no audits only the budget stops a review). ``"evidence"`` is the default (:data:`DEFAULT_ESTIMATOR`,
together with ``SelfPacedReview(accepted="source")``; why, with its measurements: :mod:`.evidence`);
``"risk_prior"`` (the default before) and ``"audit_floor"`` are opt-in (``docs/results/review.md``).

The population error is ``sum_h N_h p_h / N``; (a, b) and the p_h are sampled together and the
interval is the central ``level`` part; the point estimate uses the most probable (a, b) and the
posterior mean of each p_h (of the mixture, with a robust prior). With no reviews it is the calibrated risk with a
wide interval; as answers come in, the reviewed sample corrects a miscalibrated risk (also one that is
off by more than a factor, e.g. labels with risk 0.01 that are wrong a quarter of the time).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np

from ..errors import ConfigError
from .evidence import audit_interval, effective_counts, fixed_strength, model_interval_only, strength_posterior
from .robust_prior import check_robust_weight, robust_beta_posterior


@dataclass
class AccuracyEstimate:
    """Estimated accuracy of a population of machine labels.

    Attributes:
        accuracy: posterior mean accuracy.
        lower, upper: the central ``level`` interval.
        level: e.g. 0.9.
        n: items in the population.
        n_audited: of them, randomly audited.
        errors_found: audited items whose machine label was wrong.
        strata: per stratum: n, risk_mean, audited, errors, error_mean, vague_weight (the posterior weight of
            the robust prior's vague component at the most probable (a, b); 0 without one).
        prior_strength: the k the strata's priors were given (under ``"evidence"``: its posterior mean given the
            audits).
        bound: what set ``lower``: ``"model"`` (the sampled interval) or ``"audits"`` (the audits alone support no
            more: not enough evidence for the model's bound).
    """

    accuracy: float
    lower: float
    upper: float
    level: float
    n: int
    n_audited: int
    errors_found: int
    strata: list[dict[str, float]] = field(default_factory=list)
    prior_strength: float = float("nan")
    bound: str = "model"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Estimator:
    """One way of reading the audits: how the strata's prior strength is set and what the interval must contain.

    Attributes:
        strength: ``(prior_mean (s,), audits (s,), errors (s,), prior_strength) -> (k (g,), weights (g,))`` over
            the strata: the strengths and their posterior weights.
        interval: ``(weight (n,), error (n,), level) -> (lower, upper)``: the estimate's interval contains it
            (``(1, 0)``: nothing).
    """

    strength: Callable[[np.ndarray, np.ndarray, np.ndarray, float], tuple[np.ndarray, np.ndarray]]
    interval: Callable[[np.ndarray, np.ndarray, float], tuple[float, float]]


ESTIMATORS: dict[str, Estimator] = {
    "risk_prior": Estimator(fixed_strength, model_interval_only),     # k = prior_strength; the sampled interval
    "evidence": Estimator(strength_posterior, audit_interval),        # k weighed by the audits; the audits' floor
    "audit_floor": Estimator(fixed_strength, audit_interval),         # k = prior_strength; the audits' floor
}
"""Estimators of :func:`estimate_accuracy` by name (``SelfPacedReview(estimator=...)``)."""

DEFAULT_ESTIMATOR = "evidence"
"""The estimator of :func:`estimate_accuracy`, :class:`~.rounds.SelfPacedReview`, the review app and ``review status``
when none is named (before 2026-12-03: ``"risk_prior"``; the switch and its rule R42: ``docs/results/review.md``)."""


def check_estimator(name: str) -> Estimator:
    """The :data:`ESTIMATORS` entry, or a :class:`ConfigError` naming the choices."""
    if name not in ESTIMATORS:
        raise ConfigError(f"estimator={name!r}", column="estimator", fix=f"use one of {sorted(ESTIMATORS)}")
    return ESTIMATORS[name]


def risk_strata(risk: np.ndarray, n_strata: int) -> np.ndarray:
    """Stratum index (0 = least risky) of each value: quantile bins, ties kept together.

    Args:
        risk: (n,) risks.
        n_strata: at most this many strata.

    Returns:
        (n,) ints in 0..n_strata-1.
    """
    risk = np.asarray(risk, dtype=np.float64)
    if risk.size == 0:
        return np.zeros(0, dtype=np.int64)
    edges = np.unique(np.quantile(risk, np.linspace(0, 1, n_strata + 1)[1:-1]))
    return np.searchsorted(edges, risk, side="right").astype(np.int64)


def recalibration(risk: np.ndarray, error: np.ndarray, prior_sd: float = 0.5, iters: int = 25,
                  risk_floor: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """MAP and covariance of (a, b) in ``P(wrong) = sigmoid(a + b logit(risk))``, prior a ~ N(0, sd²), b ~ N(1, sd²),
    b >= 0 (when the unconstrained mode has b < 0, b = 0 and a is fitted alone).

    Args:
        risk: (r,) risks of reviewed labels when answered.  error: (r,) 0/1, the label was wrong.
        risk_floor: risks are clipped to ``[risk_floor, 1 - risk_floor]`` before the logit.

    Returns:
        (theta (2,), covariance (2, 2)).
    """
    z = _logit(np.asarray(risk, dtype=np.float64), risk_floor)
    y = np.asarray(error, dtype=np.float64)
    A = np.column_stack([np.ones_like(z), z])
    prior = np.array([0.0, 1.0])
    P = np.eye(2) / prior_sd ** 2
    theta = _newton(A, y, prior, P, prior.copy(), free=np.array([True, True]), iters=iters)
    if theta[1] < 0:
        theta = _newton(A, y, prior, P, np.array([theta[0], 0.0]), free=np.array([True, False]), iters=iters)
    p = _sigmoid(A @ theta)
    return theta, np.linalg.inv((A * (p * (1 - p))[:, None]).T @ A + P)


def _newton(A: np.ndarray, y: np.ndarray, prior: np.ndarray, P: np.ndarray, theta: np.ndarray, free: np.ndarray,
            iters: int) -> np.ndarray:
    """Newton's method on the log posterior of the logistic regression, over the ``free`` coordinates."""
    f = np.flatnonzero(free)
    for _ in range(iters):
        p = _sigmoid(A @ theta)
        H = (A * (p * (1 - p))[:, None]).T @ A + P
        g = A.T @ (y - p) - P @ (theta - prior)
        step = np.linalg.solve(H[np.ix_(f, f)], g[f])
        theta = theta.copy()
        theta[f] += step
        if np.abs(step).max() < 1e-8:
            break
    return theta


def _logit(r: np.ndarray, floor: float = 1e-4) -> np.ndarray:
    r = np.clip(r, floor, 1 - floor)
    return np.log(r) - np.log1p(-r)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def estimate_accuracy(risk: np.ndarray, population: np.ndarray, audited: np.ndarray, audit_error: np.ndarray,
                      *, audit_weight: np.ndarray | None = None, calib_risk: np.ndarray | None = None,
                      calib_error: np.ndarray | None = None,
                      n_strata: int = 5, level: float = 0.9, prior_strength: float = 2.0,
                      draws: int = 2000, max_rows: int = 400, risk_floor: float = 0.01,
                      robust_weight: float = 0.0, estimator: str = DEFAULT_ESTIMATOR,
                      seed: int = 0) -> AccuracyEstimate:
    """Stratified, risk-informed estimate of the accuracy of the population's machine labels.

    Args:
        risk: (n,) calibrated risk of each item's current machine label.
        population: (n,) bool, the items whose labels are estimated (audited ones included).
        audited: (n,) bool, population items a person checked, drawn at random within strata.
        audit_error: (n,) bool, machine label != the person's answer (read where ``audited``).
        audit_weight: (n,) design weights of the audits, ``1 / P(audited)`` (read where ``audited``; positive);
            None = an equal-probability sample within each stratum.
        calib_risk, calib_error: (r,) risk and error (0/1) of every reviewed item's machine label when it
            was answered (the recalibration); None = the audited items' ``risk``/``audit_error``.
        n_strata: risk strata.
        level: interval probability.
        prior_strength: weight of the calibrated risk, in observations per stratum (under ``"evidence"``: the
            weight when there is no audit yet).
        draws: posterior samples.
        max_rows: a stratum's recalibrated mean risk is taken over at most this many of its items (seeded).
        risk_floor: the recalibration reads risks clipped to ``[risk_floor, 1 - risk_floor]``.
        robust_weight: prior weight w of the vague ``Beta(1, 1)`` component of each stratum's prior, in [0, 1];
            0 = the single informative Beta.
        estimator: a name in :data:`ESTIMATORS`: ``"evidence"`` (the default, :data:`DEFAULT_ESTIMATOR`: k weighed
            by the audits; the interval never narrower than what the audits alone support), ``"risk_prior"``
            (k = ``prior_strength``) or
            ``"audit_floor"`` (k = ``prior_strength``; the interval never narrower than the audits').
        seed: seeds the sampling.
    """
    if not 0.0 < level < 1.0:
        raise ConfigError(f"level={level}", column="level", fix="use 0 < level < 1, e.g. 0.9")
    if prior_strength <= 0:
        raise ConfigError(f"prior_strength={prior_strength}", column="prior_strength", fix="use a positive number")
    robust_weight = check_robust_weight(robust_weight)
    how = check_estimator(estimator)
    risk = np.clip(np.asarray(risk, dtype=np.float64), 0.0, 1.0)
    pop = np.asarray(population, dtype=bool)
    aud = np.asarray(audited, dtype=bool) & pop
    err = np.asarray(audit_error, dtype=bool) & aud
    if audit_weight is None:
        wt = np.ones(len(pop))
    else:
        wt = np.asarray(audit_weight, dtype=np.float64)
        if wt.shape != pop.shape or not (np.isfinite(wt[aud]).all() and (wt[aud] > 0).all()):
            raise ConfigError(f"audit_weight: {wt.shape} values, positive and finite on the audits expected",
                              column="audit_weight", fix="give 1 / P(audited) for every item (n,)")
    N = int(pop.sum())
    if N == 0:
        return AccuracyEstimate(float("nan"), float("nan"), float("nan"), level, 0, 0, 0, [], float(prior_strength))
    strata = risk_strata(risk[pop], n_strata)
    r, a, e, w = risk[pop], aud[pop], err[pop], wt[pop]
    rng = np.random.default_rng(seed)
    if calib_risk is None:
        cr, ce = r[a], e[a]
    else:
        cr, ce = np.asarray(calib_risk, dtype=np.float64), np.asarray(calib_error, dtype=np.float64)
    theta, cov = recalibration(cr, ce, risk_floor=risk_floor)
    ab = rng.multivariate_normal(theta, cov, size=draws)          # (draws, 2) samples of (a, b)
    ab[:, 1] = np.maximum(ab[:, 1], 0.0)                          # the slope is >= 0
    z = _logit(r, risk_floor)
    eps = 1e-3
    levels = np.unique(strata)
    # the audits weigh k (or not) before any draw, from each stratum's recalibrated mean risk over all its items;
    # one k per draw from its posterior (no draw when there is one k: the fixed estimator's random numbers)
    m_all = np.array([np.clip(_sigmoid(theta[0] + theta[1] * z[strata == h]).mean(), eps, 1.0 - eps) for h in levels])
    counts = np.array([effective_counts(w[(strata == h) & a], e[(strata == h) & a]) for h in levels]).reshape(-1, 2)
    ks, k_weight = how.strength(m_all, counts[:, 0], counts[:, 1], prior_strength)
    k_draws = ks[0] if len(ks) == 1 else ks[rng.choice(len(ks), size=draws, p=k_weight)]
    total = np.zeros(draws)
    point = 0.0
    rows = []
    for h, (k_h, e_h) in zip(levels, counts):
        m = strata == h
        n_h, rbar = int(m.sum()), float(r[m].mean())
        zh = z[m]
        if len(zh) > max_rows:
            zh = rng.choice(zh, max_rows, replace=False)
        prior = np.clip(_sigmoid(ab[:, :1] + ab[:, 1:] * zh[None, :]).mean(axis=1), eps, 1.0 - eps)
        m_hat = float(np.clip(_sigmoid(theta[0] + theta[1] * zh).mean(), eps, 1.0 - eps))
        at_mode = robust_beta_posterior(np.full(len(ks), m_hat), ks, k_h, e_h, robust_weight)   # one per k
        p_hat = float(k_weight @ at_mode.mean())
        point += n_h * p_hat
        total += n_h * robust_beta_posterior(prior, k_draws, k_h, e_h, robust_weight).sample(rng)
        rows.append({"n": n_h, "risk_mean": rbar, "audited": int(a[m].sum()), "errors": int(e[m].sum()),
                     "error_mean": p_hat, "vague_weight": float(k_weight @ at_mode.vague)})
    acc = 1.0 - total / N
    tail = (1.0 - level) / 2.0
    lo, hi = np.quantile(acc, [tail, 1.0 - tail])
    # the point estimate (most probable (a, b)) is kept inside the sampled interval: with a few answers that
    # contradict very confident labels the Laplace posterior is far from symmetric and its mode can fall outside.
    # The sampled one, not the audits' widening of it: so "audit_floor" has "risk_prior"'s point by construction
    point_acc = float(np.clip(1.0 - point / N, lo, hi))
    audit_lo, audit_hi = how.interval(w[a], e[a], level)
    bound = "audits" if audit_lo < lo else "model"
    lo, hi = min(float(lo), audit_lo), max(float(hi), audit_hi)
    return AccuracyEstimate(point_acc, lo, hi, level, N, int(a.sum()), int(e.sum()), rows, float(k_weight @ ks), bound)


@dataclass
class StoppingRule:
    """Stop when the estimate's lower bound reaches ``target`` or the review budget is spent.

    Args:
        target: accuracy the lower bound must reach, e.g. 0.95.
        budget: reviews allowed: a count (>= 1) or a fraction of the items (< 1).
    """

    target: float = 0.95
    budget: float = 0.05

    def __post_init__(self) -> None:
        if not 0.0 < self.target <= 1.0:
            raise ConfigError(f"target={self.target}", column="review.target", fix="use an accuracy in (0, 1]")
        if self.budget <= 0:
            raise ConfigError(f"budget={self.budget}", column="review.budget",
                              fix="give a count of reviews (e.g. 200) or a fraction of the items (e.g. 0.05)")

    def allowed(self, n_items: int) -> int:
        """The review budget in items."""
        return int(self.budget) if self.budget >= 1 else int(np.ceil(self.budget * n_items))

    def check(self, estimate: AccuracyEstimate, reviewed: int, n_items: int) -> str | None:
        """Why to stop (``"target"`` or ``"budget"``), or None to go on."""
        if estimate.n == 0 or (np.isfinite(estimate.lower) and estimate.lower >= self.target):
            return "target"
        if reviewed >= self.allowed(n_items):
            return "budget"
        return None
