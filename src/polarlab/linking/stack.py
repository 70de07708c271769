"""The calibrated link: a candidate-level combination and a probability fitted on the pseudo-dev set.

POLAR's h(x) over the K candidate slots is fitted to the linkers' top-1 votes without gold. Two
things are fitted on top of it on the self-supervised pseudo-dev set
(:mod:`polarlab.linking.pseudodev`, no gold):

* :class:`ConditionalLogit`: a score ``w · f(candidate)`` shared by all slots, softmax over a
  mention's candidates. ``f`` holds every linker's score and reciprocal rank of the candidate (not
  only its top-1 vote), whether the candidate is named elsewhere in the document, and POLAR's
  ``log h(x)[slot]``. Fitted by maximum likelihood of the pseudo-dev targets (L2 penalty).
* a risk model: ``P(link correct) = sigmoid(a · logit h(x)[chosen] (+ c · logit p_comb[chosen]) + b)``,
  logistic regression on the pseudo-dev links (the combination's probabilities cross-fitted). With
  h alone it is Platt scaling (monotone: only how sure the links are changes); with the
  combination's probability too, the risk order can change. The one with the lower cross-validated
  log loss on the pseudo-dev set is kept.

Which ranking is kept (POLAR's h alone or the combination) is decided on the pseudo-dev set too:
the combination only when its cross-validated accuracy there is higher by more than one standard
error (:func:`fit_link_model`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from .harmonize import CandidateSlots

EPS = 1e-6
MIN_DEV = 30
"""Fewer pseudo-dev mentions with their term among the candidates than this: nothing is fitted."""


def slot_features(slots: CandidateSlots, proba_h: np.ndarray) -> np.ndarray:
    """shape (n, K, f + 1): the slots' per-candidate features and ``log h(x)[slot]``."""
    n, K = slots.entities.shape
    X = slots.X.reshape(n, K, -1)
    return np.concatenate([X, np.log(np.clip(proba_h, EPS, 1.0))[:, :, None]], axis=2).astype(np.float64)


def target_slots(slots: CandidateSlots, targets: np.ndarray) -> np.ndarray:
    """shape (n,): the slot holding each target entity, -1 when no slot does."""
    hit = slots.entities == np.asarray(targets)[:, None]
    return np.where(hit.any(axis=1), hit.argmax(axis=1), -1)


def _masked_softmax(z: np.ndarray, valid: np.ndarray) -> np.ndarray:
    z = np.where(valid, z, -np.inf)
    z = z - z.max(axis=1, keepdims=True)
    e = np.where(valid, np.exp(z), 0.0)
    return e / np.maximum(e.sum(axis=1, keepdims=True), 1e-300)


class ConditionalLogit:
    """Softmax over a mention's candidates of ``w · standardised f(candidate)``.

    Args:
        l2: penalty on ``w`` (per mention, features standardised).
    """

    def __init__(self, l2: float = 1e-2) -> None:
        self.l2 = float(l2)

    def fit(self, F: np.ndarray, valid: np.ndarray, target: np.ndarray) -> "ConditionalLogit":
        """F shape (n, K, f); valid (n, K) bool (a candidate is there); target (n,) slot (rows with
        -1 are left out: no candidate is right)."""
        keep = target >= 0
        F, valid, target = F[keep], valid[keep], target[keep]
        flat = F[valid]
        self.mean_ = flat.mean(axis=0)
        self.std_ = np.where(flat.std(axis=0) > 1e-9, flat.std(axis=0), 1.0)
        Z = (F - self.mean_) / self.std_
        n, _, f = Z.shape
        rows = np.arange(n)

        def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
            P = _masked_softmax(Z @ w, valid)
            nll = -np.log(np.maximum(P[rows, target], 1e-300)).sum() / n
            grad = (np.einsum("nk,nkf->f", P, Z) - Z[rows, target].sum(axis=0)) / n
            return nll + self.l2 * w @ w, grad + 2 * self.l2 * w

        res = minimize(loss, np.zeros(f), jac=True, method="L-BFGS-B")
        self.w_ = res.x
        return self

    def predict_proba(self, F: np.ndarray, valid: np.ndarray) -> np.ndarray:
        return _masked_softmax(((F - self.mean_) / self.std_) @ self.w_, valid)


RISK_FEATURES: dict[str, tuple[int, ...]] = {"h": (0,), "h+combination": (0, 1)}
"""Risk models compared on the pseudo-dev set: columns of :func:`link_features` they read (``"h"`` is
Platt scaling of POLAR's probability; ``"h+combination"`` adds the combination's probability)."""


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), EPS, 1 - EPS)
    return np.log(p) - np.log1p(-p)


def link_features(chosen: np.ndarray, proba_h: np.ndarray, proba_c: np.ndarray) -> np.ndarray:
    """shape (n, 2): logit of h(x) and of the combination's probability at the chosen slot."""
    rows = np.arange(len(chosen))
    return np.column_stack([_logit(proba_h[rows, chosen]), _logit(proba_c[rows, chosen])])


def _cv_logloss(X: np.ndarray, y: np.ndarray, fold: np.ndarray) -> float:
    from sklearn.linear_model import LogisticRegression

    p = np.zeros(len(y))
    for k in np.unique(fold):
        tr, te = fold != k, fold == k
        if len(np.unique(y[tr])) < 2:
            p[te] = y[tr].mean()
        else:
            p[te] = LogisticRegression(max_iter=1000).fit(X[tr], y[tr]).predict_proba(X[te])[:, 1]
    p = np.clip(p, EPS, 1 - EPS)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


@dataclass
class LinkModel:
    """What the pseudo-dev set decided.

    Attributes:
        combiner: the candidate-level combination fitted on the whole pseudo-dev set.
        use_combiner: it ranks the candidates (else POLAR's h does).
        risk_model: logistic regression of "the chosen link is right" on :func:`link_features`
            columns ``risk_columns`` (None: no calibration, the ranking's probability stands).
        dev: pseudo-dev figures: ``n``, ``target_in_slots``, ``acc_polar``, ``acc_combined_cv``
            (``folds``-fold), ``gain_se``, ``chosen``, ``risk_model``, ``risk_logloss_cv`` (per
            candidate risk model), ``acc_linkers``.
        dev_proba_h: POLAR's h(x) on the pseudo-dev slots (kept for reports).
    """

    combiner: ConditionalLogit | None
    use_combiner: bool
    risk_model: object | None
    risk_columns: tuple[int, ...]
    dev: dict
    dev_proba_h: np.ndarray | None = None

    def _combined(self, slots: CandidateSlots, proba_h: np.ndarray) -> np.ndarray:
        return self.combiner.predict_proba(slot_features(slots, proba_h), slots.entities >= 0)

    def rank_proba(self, slots: CandidateSlots, proba_h: np.ndarray) -> np.ndarray:
        """shape (n, K): the kept ranking's distribution over the slots (h(x) or the combination's)."""
        P = self._combined(slots, proba_h) if self.use_combiner else proba_h
        P = np.where(slots.entities >= 0, P, 0.0)
        return P / np.maximum(P.sum(axis=1, keepdims=True), 1e-12)

    def link_probability(self, slots: CandidateSlots, proba_h: np.ndarray, P: np.ndarray) -> np.ndarray:
        """shape (n,): the calibrated probability that the top slot of ``P`` is the right link."""
        return self.slot_probability(slots, proba_h, P, P.argmax(axis=1))

    def slot_probability(self, slots: CandidateSlots, proba_h: np.ndarray, P: np.ndarray,
                         slot: np.ndarray) -> np.ndarray:
        """shape (n,): the calibrated probability that slot ``slot[i]`` (shape (n,)) holds mention i's right link,
        the risk model read at that slot (``P``'s own value there without a risk model). At ``P``'s top slot this
        is :meth:`link_probability`; at another slot it is what the same fit says of that candidate (used to judge
        a later pass's link by this pass: :func:`polarlab.linking.selftrain.first_pass_risk`)."""
        slot = np.asarray(slot)
        if self.risk_model is None:
            return P[np.arange(len(P)), slot]
        X = link_features(slot, proba_h, self._combined(slots, proba_h))
        return self.risk_model.predict_proba(X[:, list(self.risk_columns)])[:, 1]


def fit_link_model(dev_slots: CandidateSlots, dev_proba_h: np.ndarray, targets: np.ndarray, folds: int = 5,
                   seed: int = 0, l2: float = 1e-2) -> LinkModel:
    """Fit the combination and the link's risk model on the pseudo-dev set (targets: entity positions).

    The combination ranks the candidates when its ``folds``-fold cross-validated accuracy on the
    pseudo-dev set is above that of POLAR's h by more than one standard error of the paired
    difference (a gain the pseudo-dev set cannot tell from noise keeps the simpler h). The risk
    model is the one of :data:`RISK_FEATURES` with the lowest cross-validated log loss on the
    pseudo-dev links (the combination's probabilities cross-fitted; all pseudo-dev mentions count,
    also those whose target is in no slot: their link is wrong whatever is chosen).
    """
    from sklearn.linear_model import LogisticRegression

    valid = dev_slots.entities >= 0
    tslot = target_slots(dev_slots, targets)
    n = len(tslot)
    if int((tslot >= 0).sum()) < max(MIN_DEV, 2 * folds):
        return LinkModel(None, False, None, (), {
            "n": n, "target_in_slots": float(np.mean(tslot >= 0)) if n else 0.0, "chosen": "polar",
            "calibrated": False, "why": f"fewer than {max(MIN_DEV, 2 * folds)} pseudo-dev mentions with their "
                                        "term among the candidates"})
    F = slot_features(dev_slots, dev_proba_h)
    Ph = np.where(valid, dev_proba_h, 0.0)
    Ph = Ph / np.maximum(Ph.sum(axis=1, keepdims=True), 1e-12)
    fold = np.random.default_rng(seed).permutation(n) % folds
    P_cv = np.zeros_like(Ph)
    for k in range(folds):
        tr, te = fold != k, fold == k
        P_cv[te] = ConditionalLogit(l2).fit(F[tr], valid[tr], tslot[tr]).predict_proba(F[te], valid[te])
    hit_c = (P_cv.argmax(axis=1) == tslot).astype(float)
    hit_h = (Ph.argmax(axis=1) == tslot).astype(float)
    diff = hit_c - hit_h
    se = float(diff.std(ddof=1) / np.sqrt(n))
    use = float(diff.mean()) > se
    chosen = (P_cv if use else Ph).argmax(axis=1)
    y = (chosen == tslot).astype(int)
    X = link_features(chosen, Ph, P_cv)
    losses = {name: _cv_logloss(X[:, list(cols)], y, fold) for name, cols in RISK_FEATURES.items()}
    best = min(losses, key=lambda k: (losses[k], len(RISK_FEATURES[k])))
    cols = RISK_FEATURES[best]
    risk_model = LogisticRegression(max_iter=1000).fit(X[:, list(cols)], y) if len(np.unique(y)) == 2 else None
    dev = {"n": n, "target_in_slots": float(np.mean(tslot >= 0)), "n_target_in_slots": int((tslot >= 0).sum()),
           "acc_polar": float(hit_h.mean()), "acc_combined_cv": float(hit_c.mean()), "gain_se": se,
           "chosen": "combined" if use else "polar", "calibrated": risk_model is not None, "risk_model": best,
           "risk_logloss_cv": losses,
           "acc_linkers": {name: float(np.mean(dev_slots.L[:, j] == np.where(tslot >= 0, tslot, -2)))
                           for j, name in enumerate(dev_slots.linkers)}}
    return LinkModel(ConditionalLogit(l2).fit(F, valid, tslot), use, risk_model, cols, dev)
