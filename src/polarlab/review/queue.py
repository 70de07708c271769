"""The review queue: which item a person should look at next.

The expected value of a human answer is the chance the current label is wrong. Before any answer
that is its risk ``1 - p(label)`` under the (POLAR-corrected) label distribution. That risk is
often calibrated differently per label: on WRENCH sms, h(x)'s "spam" labels with risk 0.2–0.5 were
wrong 35–72 % of the time, its "ham" labels at the same risk 8–15 %. So once people have answered,
the risk is recalibrated on their answers per current label (:func:`class_recalibrated_risk`,
``P(wrong) = sigmoid(a + b logit(risk) + d_label)``, shrunk towards the plain risk): answers that
keep finding one label wrong move that label's items up the queue. Ties — common when many items
get the same votes — are broken by how much the sources disagree on the item.
"""
from __future__ import annotations

import numpy as np

from .estimate import _logit, _newton, _sigmoid, risk_strata


def label_risk(proba: np.ndarray) -> np.ndarray:
    """Risk of the current label (the argmax): ``1 - max_c proba[i, c]``.

    Args:
        proba: (n, k) label distributions.

    Returns:
        (n,) risks in [0, 1 - 1/k].
    """
    proba = np.asarray(proba, dtype=np.float64)
    return 1.0 - proba.max(axis=1)


def source_disagreement(L: np.ndarray, n_classes: int) -> np.ndarray:
    """Normalised entropy of the non-abstaining votes on each item (0 = unanimous or no votes).

    Args:
        L: (n, m) votes, -1 = abstain.
        n_classes: k.

    Returns:
        (n,) values in [0, 1].
    """
    L = np.asarray(L, dtype=np.int64)
    counts = np.stack([(L == c).sum(axis=1) for c in range(n_classes)], axis=1).astype(np.float64)
    total = counts.sum(axis=1, keepdims=True)
    p = np.divide(counts, total, out=np.zeros_like(counts), where=total > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.where(p > 0, p * np.log(p), 0.0).sum(axis=1)
    return h / np.log(n_classes)


def tie_key(risk: np.ndarray, decimals: int = 6) -> np.ndarray:
    """What :func:`review_order` sorts on: ``log(risk)`` rounded to ``decimals`` decimals, so two risks tie when they
    are equal but for float noise (a relative difference under about ``10**-decimals``), at every scale.

    Before, the risk itself was rounded to 6 decimals, which made float noise a tie (items with the same votes) but
    also made every risk below 5e-7 one tie: measured on trec, from some round on every open item's POLAR priority
    (1e-48 to 1e-13, :func:`class_recalibrated_risk` keeps the order among the near-certain labels) rounded to 0, and
    the POLAR order became a source-disagreement order (``docs/results/review.md``). A relative rule keeps that order
    and still ties 0.3 and 0.3 + 1e-12; near 1 it ties what the old rule tied (an absolute 1e-6).

    Args:
        risk: (n,) values in [0, 1] (0 is ``-inf``: all zeros tie).
        decimals: decimals of ``log(risk)`` that must agree.

    Returns:
        (n,) keys, higher = riskier.
    """
    with np.errstate(divide="ignore"):
        return np.round(np.log(np.asarray(risk, dtype=np.float64)), decimals)


def review_order(risk: np.ndarray, disagreement: np.ndarray | None = None, decimals: int = 6) -> np.ndarray:
    """Item positions, most valuable answer first: risk descending, ties by disagreement descending,
    then by position (stable).

    Args:
        risk: (n,) risk of each item's current label, in [0, 1].
        disagreement: (n,) tie-breaker (e.g. :func:`source_disagreement`); None = no tie-breaker.
        decimals: risks whose logs are equal to this many decimals count as ties (:func:`tie_key`).

    Returns:
        (n,) int permutation.
    """
    r = tie_key(risk, decimals)
    d = np.zeros_like(r) if disagreement is None else np.asarray(disagreement, dtype=np.float64)
    return np.lexsort((np.arange(len(r)), -d, -r))


def draw_probability(pool_size: int, size: int) -> float:
    """Each pool item's chance of being drawn by :func:`stratified_sample`: ``quota_h / N_h = size / pool_size``,
    the same for every item and stratum (an equal-probability design); 0 for an empty pool."""
    return min(size, pool_size) / pool_size if pool_size else 0.0


def stratified_sample(risk: np.ndarray, pool: np.ndarray, size: int, rng: np.random.Generator,
                      n_strata: int = 5) -> np.ndarray:
    """``size`` random items of ``pool`` (the random checks the accuracy estimate reads), spread over the risk
    strata of ``risk[pool]`` in proportion to their sizes, every item with the same chance ``size / len(pool)``.

    Stratum h's quota ``q_h = size N_h / len(pool)`` is rarely whole: it gets ``floor(q_h)`` items and one more
    with probability ``q_h - floor(q_h)`` (systematic sampling over the fractional parts, so the total is exactly
    ``size``). Before, the extra items went to the largest fractional parts, ties to the least risky stratum: with
    1-2 audits a round (youtube, chemprot) three of the five strata were never audited in a round, and over a
    review 61 % of the pool had no chance to be drawn in a round (youtube, seed 0), so the audits were not a
    random sample of the labels they stand for (``benchmarks/review_audit_inclusion.py``).

    Args:
        risk: (n,) risks of all items.  pool: item positions to draw from.  rng: the random generator.
        n_strata: at most this many risk strata (:func:`polarlab.review.estimate.risk_strata`).

    Returns:
        (min(size, len(pool)),) sorted item positions.
    """
    pool = np.asarray(pool, dtype=np.int64)
    k = min(size, len(pool))
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    strata = risk_strata(np.asarray(risk)[pool], n_strata)
    sizes = np.bincount(strata, minlength=strata.max() + 1)
    quota = k * sizes / sizes.sum()
    take = np.floor(quota).astype(int)
    frac = quota - take
    extra = int(round(frac.sum()))
    if extra:       # systematic sampling: stratum h gets one more with probability frac_h (each frac_h < 1)
        bounds = np.r_[0.0, np.cumsum(frac)]
        bounds[-1] = extra
        take += np.diff(np.searchsorted(rng.random() + np.arange(extra), bounds, side="left"))
    out = [rng.choice(pool[strata == h], size=t, replace=False) for h, t in enumerate(take) if t > 0]
    return np.sort(np.concatenate(out)).astype(np.int64)


def class_recalibration(risk: np.ndarray, label: np.ndarray, error: np.ndarray, n_classes: int,
                        prior_sd: float = 0.5, class_sd: float = 1.0, risk_floor: float = 0.01,
                        iters: int = 25) -> np.ndarray:
    """MAP of theta = (a, b, d_0..d_{k-1}) in ``P(wrong) = sigmoid(a + b logit(risk) + d_label)``.

    A logistic regression on the reviewed items (their machine label and its risk when a person
    answered, and whether it was wrong). Priors: a ~ N(0, prior_sd²), b ~ N(1, prior_sd²) and each
    d_c ~ N(0, class_sd²), i.e. "the risk is calibrated, the same for every label" until answers say
    otherwise; b >= 0 (when the mode has b < 0, b = 0 and the rest is fitted alone), as in
    :func:`polarlab.review.estimate.recalibration`.

    Args:
        risk: (r,) risks when answered.  label: (r,) machine labels then.  error: (r,) 0/1 wrong.
        n_classes: k.

    Returns:
        (2 + k,) theta.
    """
    z = _logit(np.asarray(risk, dtype=np.float64), risk_floor)
    A = np.column_stack([np.ones_like(z), z, np.eye(n_classes)[np.asarray(label, dtype=np.int64)]])
    y = np.asarray(error, dtype=np.float64)
    prior = np.r_[0.0, 1.0, np.zeros(n_classes)]
    P = np.diag(np.r_[1 / prior_sd ** 2, 1 / prior_sd ** 2, np.full(n_classes, 1 / class_sd ** 2)])
    free = np.ones(len(prior), dtype=bool)
    theta = _newton(A, y, prior, P, prior.copy(), free=free, iters=iters)
    if theta[1] < 0:
        start = theta.copy()
        start[1] = 0.0
        free[1] = False
        theta = _newton(A, y, prior, P, start, free=free, iters=iters)
    return theta


def class_recalibrated_risk(risk: np.ndarray, labels: np.ndarray, answered_risk: np.ndarray,
                            answered_label: np.ndarray, answered_error: np.ndarray, n_classes: int,
                            risk_floor: float = 0.01) -> np.ndarray:
    """The current labels' chance of being wrong, read from the answers so far (:func:`class_recalibration`).

    Args:
        risk: (n,) risks of the current labels.  labels: (n,) the current labels.
        answered_risk, answered_label, answered_error: (r,) what the reviewed items had when answered.
        n_classes: k.

    Returns:
        (n,) probabilities; ``risk`` itself when nobody has answered yet.
    """
    risk = np.asarray(risk, dtype=np.float64)
    if len(answered_risk) == 0:
        return risk
    theta = class_recalibration(answered_risk, answered_label, answered_error, n_classes, risk_floor=risk_floor)
    z = _logit(risk, 1e-6)      # read finely: the order among the near-certain labels is kept
    return _sigmoid(theta[0] + theta[1] * z + theta[2:][np.asarray(labels, dtype=np.int64)])
