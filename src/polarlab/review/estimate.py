"""Gold-free accuracy of the labels accepted without review, and the stopping rule.

The estimate is stratified by risk. First the calibrated risk is corrected by the audits as a
whole: a scale ``c`` (errors found / risk expected on the audited items) with posterior
``c ~ Gamma(1 + E, 1 + R)`` (E errors found, R the audited items' summed risk; prior mean 1 = the
risk is calibrated). In stratum h (a risk quantile bin of the population: N_h items, mean risk
r_h) the error rate then gets a Beta prior centred on ``c r_h`` with the weight of
``prior_strength`` observations, updated by the random audits drawn from that stratum (n_h
checked, e_h wrong): ``p_h ~ Beta(k c r_h + e_h, k (1 - c r_h) + n_h - e_h)``. The population
error is ``sum_h N_h p_h / N``; its posterior is sampled and the interval is its central
``level`` part. With no audits the estimate is the calibrated risk (wide interval); with many
audits they dominate, so a miscalibrated risk is corrected by the reviewed sample.

Only *random* audits update the strata: the risk-ordered reviews are a biased sample (the
riskiest items), which would make the accepted labels look worse than they are.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..errors import ConfigError


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
        strata: per stratum: n, risk_mean, audited, errors, error_mean.
    """

    accuracy: float
    lower: float
    upper: float
    level: float
    n: int
    n_audited: int
    errors_found: int
    strata: list[dict[str, float]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


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


def estimate_accuracy(risk: np.ndarray, population: np.ndarray, audited: np.ndarray, audit_error: np.ndarray,
                      *, n_strata: int = 5, level: float = 0.9, prior_strength: float = 10.0,
                      draws: int = 4000, seed: int = 0) -> AccuracyEstimate:
    """Stratified, risk-informed estimate of the accuracy of the population's machine labels.

    Args:
        risk: (n,) calibrated risk of each item's current machine label.
        population: (n,) bool, the items whose labels are estimated (audited ones included).
        audited: (n,) bool, population items a person checked, drawn at random within strata.
        audit_error: (n,) bool, machine label != the person's answer (read where ``audited``).
        n_strata: risk strata.
        level: interval probability.
        prior_strength: weight of the calibrated risk, in observations per stratum.
        draws: posterior samples.
        seed: seeds the sampling.
    """
    if not 0.0 < level < 1.0:
        raise ConfigError(f"level={level}", column="level", fix="use 0 < level < 1, e.g. 0.9")
    if prior_strength <= 0:
        raise ConfigError(f"prior_strength={prior_strength}", column="prior_strength", fix="use a positive number")
    risk = np.clip(np.asarray(risk, dtype=np.float64), 0.0, 1.0)
    pop = np.asarray(population, dtype=bool)
    aud = np.asarray(audited, dtype=bool) & pop
    err = np.asarray(audit_error, dtype=bool) & aud
    N = int(pop.sum())
    if N == 0:
        return AccuracyEstimate(float("nan"), float("nan"), float("nan"), level, 0, 0, 0, [])
    strata = risk_strata(risk[pop], n_strata)
    r, a, e = risk[pop], aud[pop], err[pop]
    rng = np.random.default_rng(seed)
    scale = rng.gamma(1.0 + e.sum(), 1.0 / (1.0 + r[a].sum()), size=draws)   # (draws,) risk correction c
    total = np.zeros(draws)
    rows = []
    eps = 1e-3
    for h in np.unique(strata):
        m = strata == h
        n_h, rbar = int(m.sum()), float(r[m].mean())
        k_h, e_h = int(a[m].sum()), int(e[m].sum())
        prior = np.clip(scale * rbar, eps, 1.0 - eps)
        alpha = prior_strength * prior + e_h
        beta = prior_strength * (1.0 - prior) + (k_h - e_h)
        p = rng.beta(alpha, beta)
        total += n_h * p
        rows.append({"n": n_h, "risk_mean": rbar, "audited": k_h, "errors": e_h, "error_mean": float(p.mean())})
    acc = 1.0 - total / N
    tail = (1.0 - level) / 2.0
    lo, hi = np.quantile(acc, [tail, 1.0 - tail])
    return AccuracyEstimate(float(acc.mean()), float(lo), float(hi), level, N, int(a.sum()), int(e.sum()), rows)


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
