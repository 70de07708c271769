"""The calibrated link: a candidate-level combination and a probability fitted on the pseudo-dev set.

POLAR's h(x) over the K candidate slots is fitted to the linkers' top-1 votes without gold. Two
things are fitted on top of it on the self-supervised pseudo-dev set
(:mod:`polarlab.linking.pseudodev`, no gold):

* :class:`ConditionalLogit`: a score ``w · f(candidate)`` shared by all slots, softmax over a
  mention's candidates. ``f`` holds every linker's score and reciprocal rank of the candidate (not
  only its top-1 vote), whether the candidate is named elsewhere in the document, and POLAR's
  ``log h(x)[slot]``. Fitted by maximum likelihood of the pseudo-dev targets (L2 penalty).
* :class:`Platt`: ``P(link correct) = sigmoid(a · logit(p) + b)`` of the chosen candidate's
  probability ``p``, fitted on (cross-fitted) pseudo-dev links; it is monotone, so it changes how
  sure the links are, not which link is chosen nor their risk order.

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


@dataclass
class Platt:
    """``sigmoid(a · logit(p) + b)``; a = 1, b = 0 is the identity."""

    a: float = 1.0
    b: float = 0.0

    @staticmethod
    def _logit(p: np.ndarray) -> np.ndarray:
        p = np.clip(p, EPS, 1 - EPS)
        return np.log(p) - np.log1p(-p)

    def fit(self, p: np.ndarray, correct: np.ndarray, l2: float = 1e-3) -> "Platt":
        x, y = self._logit(np.asarray(p, dtype=np.float64)), np.asarray(correct, dtype=np.float64)

        def loss(v: np.ndarray) -> tuple[float, np.ndarray]:
            z = v[0] * x + v[1]
            q = 1.0 / (1.0 + np.exp(-z))
            nll = np.mean(np.logaddexp(0.0, z) - y * z)
            g = q - y
            return nll + l2 * (v[0] - 1) ** 2, np.array([np.mean(g * x) + 2 * l2 * (v[0] - 1), np.mean(g)])

        self.a, self.b = (float(v) for v in minimize(loss, np.array([1.0, 0.0]), jac=True, method="L-BFGS-B").x)
        return self

    def __call__(self, p: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(self.a * self._logit(np.asarray(p, dtype=np.float64)) + self.b)))


@dataclass
class LinkModel:
    """What the pseudo-dev set decided.

    Attributes:
        ranker: the combination (None: POLAR's h ranks the candidates).
        platt: the link probability's calibration.
        dev: pseudo-dev figures: ``n``, ``n_hidden``, ``target_in_slots``, ``acc_polar``,
            ``acc_combined_cv`` (5-fold), ``chosen``, ``platt_a``, ``platt_b``.
        dev_proba_h: POLAR's h(x) on the pseudo-dev slots (kept for reports).
    """

    ranker: ConditionalLogit | None
    platt: Platt
    dev: dict
    dev_proba_h: np.ndarray | None = None

    def proba(self, slots: CandidateSlots, proba_h: np.ndarray) -> np.ndarray:
        """shape (n, K): the chosen ranking's distribution, its top slot's probability calibrated
        and the other slots sharing the rest in their proportions."""
        valid = slots.entities >= 0
        P = proba_h if self.ranker is None else self.ranker.predict_proba(slot_features(slots, proba_h), valid)
        P = np.where(valid, P, 0.0)
        P = P / np.maximum(P.sum(axis=1, keepdims=True), 1e-12)
        top = P.argmax(axis=1)
        rows = np.arange(len(P))
        p_top = P[rows, top]
        cal = self.platt(p_top)
        rest = np.where(p_top < 1.0, (1.0 - cal) / np.maximum(1.0 - p_top, 1e-12), 0.0)
        out = P * rest[:, None]
        out[rows, top] = cal
        return np.where(valid, out, 0.0)


def fit_link_model(dev_slots: CandidateSlots, dev_proba_h: np.ndarray, targets: np.ndarray, folds: int = 5,
                   seed: int = 0, l2: float = 1e-2) -> LinkModel:
    """Fit the combination and the calibration on the pseudo-dev set (targets: entity positions).

    The combination is kept when its ``folds``-fold cross-validated accuracy on the pseudo-dev set
    is above that of POLAR's h by more than one standard error of the paired difference (a gain
    the pseudo-dev set cannot tell from noise keeps the simpler h); the calibration is fitted on the kept ranking's cross-fitted top
    probabilities (all pseudo-dev mentions, also those whose target is in no slot: their link is
    wrong whatever is chosen).
    """
    valid = dev_slots.entities >= 0
    tslot = target_slots(dev_slots, targets)
    n = len(tslot)
    if int((tslot >= 0).sum()) < max(MIN_DEV, 2 * folds):
        return LinkModel(None, Platt(), {"n": n, "target_in_slots": float(np.mean(tslot >= 0)) if n else 0.0,
                                         "chosen": "polar", "calibrated": False,
                                         "why": f"fewer than {max(MIN_DEV, 2 * folds)} pseudo-dev mentions "
                                                "with their term among the candidates"})
    F = slot_features(dev_slots, dev_proba_h)
    Ph = np.where(valid, dev_proba_h, 0.0)
    acc_h = float(np.mean(Ph.argmax(axis=1) == tslot))
    rng = np.random.default_rng(seed)
    fold = rng.permutation(n) % folds
    P_cv = np.zeros_like(Ph)
    for k in range(folds):
        tr, te = fold != k, fold == k
        P_cv[te] = ConditionalLogit(l2).fit(F[tr], valid[tr], tslot[tr]).predict_proba(F[te], valid[te])
    hit_c = (P_cv.argmax(axis=1) == tslot).astype(float)
    diff = hit_c - (Ph.argmax(axis=1) == tslot)
    acc_c, se = float(hit_c.mean()), float(diff.std(ddof=1) / np.sqrt(n))
    use = float(diff.mean()) > se
    P = P_cv if use else Ph / np.maximum(Ph.sum(axis=1, keepdims=True), 1e-12)
    top = P.argmax(axis=1)
    platt = Platt().fit(P[np.arange(n), top], top == tslot)
    ranker = ConditionalLogit(l2).fit(F, valid, tslot) if use else None
    dev = {"n": n, "target_in_slots": float(np.mean(tslot >= 0)), "acc_polar": acc_h, "acc_combined_cv": acc_c,
           "gain_se": se, "chosen": "combined" if use else "polar", "calibrated": True, "platt_a": platt.a,
           "platt_b": platt.b, "n_target_in_slots": int((tslot >= 0).sum()),
           "acc_linkers": {name: float(np.mean(dev_slots.L[:, j] == np.where(tslot >= 0, tslot, -2)))
                           for j, name in enumerate(dev_slots.linkers)}}
    return LinkModel(ranker, platt, dev)
