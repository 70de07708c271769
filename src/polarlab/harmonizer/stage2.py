"""The second stage: a regularised classifier on the features, trained on the combined labels.

After the final distribution is chosen, its labels of the covered fit rows (rows some source voted on) train a
logistic regression on the standardised features whose L2 strength is chosen by cross-validated log-loss
against those labels (no gold): the "label model → classifier" step of the two-stage pipeline. It then serves
as the per-row prior of the same candidate. Its regularisation matters: on WRENCH sms the harmonizer's own
early-stopped, unpenalised h trained on the same labels scored F1 0.739 on valid, this classifier 0.872.

With ``soft`` (the label model's distributions instead of its argmax), every labelled row enters once per class,
weighted by that class's probability (the noise-aware loss Snorkel and WRENCH train end models with), and the
folds that choose C keep a row's copies together. A tie or an unsure row then pulls the classifier both ways
instead of by a tie-break: on WRENCH sms ~10 of 1,852 training labels (the 8 majority-vote ties and 2 rows a
weighted vote overturns) moved test F1 between 0.79 and 0.83, the spread of majority vote's own tie-break seeds.
"""
from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np
from scipy.optimize import minimize_scalar
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import StandardScaler

from ..errors import InputError
from .combine import _softmax

STAGE2_CS = (0.001, 0.01, 0.1, 1.0)
"""Candidate inverse L2 strengths (the two-stage baseline's, :class:`polarlab.labelmodels.TwoStage`)."""


class FeatureClassifier:
    """Standardise → logistic regression with C chosen by ``cv``-fold log-loss on the given labels.

    Args:
        n_classes: k.
        Cs: candidate inverse L2 strengths.
        cv: folds of the choice (fewer when a class has fewer labelled rows).
        max_iter: the solver's iteration cap.
        fallback_C: the C used when there is no choice to make (one candidate, or a class with fewer than two
            labelled rows); None = the last of ``Cs``.
    """

    def __init__(self, n_classes: int, Cs: Sequence[float] = STAGE2_CS, cv: int = 3, max_iter: int = 1000,
                 fallback_C: float | None = None) -> None:
        self.n_classes = int(n_classes)
        self.Cs = tuple(float(c) for c in Cs)
        self.cv = int(cv)
        self.max_iter = int(max_iter)
        self.fallback_C = fallback_C

    def fit(self, y: np.ndarray, X: np.ndarray, *, scale_all_rows: bool = False,
            soft: np.ndarray | None = None) -> "FeatureClassifier":
        """Fit on labels ``y`` (n,), -1 = unlabelled (left out), and features ``X`` (n, d); the standardisation
        is fitted on the labelled rows, or on every row of ``X`` with ``scale_all_rows``. ``soft`` (n, k): the
        labelled rows' class distributions, used as per-class weights instead of the hard labels (``y`` then
        only says which rows are labelled and stratifies the folds)."""
        y = np.asarray(y).reshape(-1)
        keep = y >= 0
        self.scaler_ = StandardScaler().fit(X if scale_all_rows else X[keep])
        self.classes_ = np.unique(y[keep])
        self.model_ = None
        if len(self.classes_) > 1:
            Z = self.scaler_.transform(X[keep])
            counts = np.bincount(y[keep], minlength=self.n_classes)[self.classes_]
            folds = int(min(self.cv, counts.min()))
            Z, target, weight, cv = self._expand(Z, y[keep], None if soft is None else np.asarray(soft)[keep], folds)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if len(self.Cs) > 1 and folds >= 2:
                    self.model_ = LogisticRegressionCV(Cs=list(self.Cs), cv=cv, scoring="neg_log_loss",
                                                       max_iter=self.max_iter).fit(Z, target, sample_weight=weight)
                else:
                    C = self.Cs[-1] if self.fallback_C is None else float(self.fallback_C)
                    self.model_ = LogisticRegression(C=C, max_iter=self.max_iter).fit(Z, target, sample_weight=weight)
        return self

    @property
    def chosen_C_(self) -> float:
        """The inverse L2 strength the fit used (chosen by ``cv`` among ``Cs``, or the fixed one)."""
        if self.model_ is None:
            return self.Cs[-1] if self.fallback_C is None else float(self.fallback_C)
        C = getattr(self.model_, "C_", None)
        return float(np.ravel(C)[0]) if C is not None else float(self.model_.C)

    def _expand(self, Z: np.ndarray, y: np.ndarray, soft: np.ndarray | None, folds: int):
        """Hard labels: ``(Z, y, None, folds)``. Soft: each row once per class it has weight on, the weights, and
        ``folds`` stratified folds (by ``y``) that keep a row's copies in the same fold."""
        if soft is None:
            return Z, y, None, folds
        if soft.shape != (len(y), self.n_classes) or not np.all(np.isfinite(soft)):
            raise InputError(f"soft labels of shape {soft.shape}, expected ({len(y)}, {self.n_classes})", column="soft",
                             fix="give one finite class distribution per labelled row")
        rows, cls = np.nonzero(soft > 1e-6)
        split = None
        if folds >= 2:
            fold_of = np.empty(len(y), dtype=np.int64)
            for f, (_, test) in enumerate(StratifiedKFold(n_splits=folds).split(Z, y)):
                fold_of[test] = f
            split = [(np.flatnonzero(fold_of[rows] != f), np.flatnonzero(fold_of[rows] == f)) for f in range(folds)]
        return Z[rows], cls, soft[rows, cls], split

    def proba(self, X: np.ndarray) -> np.ndarray:
        """Class distributions, shape (n, k) (a class never labelled gets 0, then clipped by the caller)."""
        P = np.zeros((X.shape[0], self.n_classes))
        if self.model_ is None:
            P[:, self.classes_[0]] = 1.0
        else:
            P[:, self.model_.classes_] = self.model_.predict_proba(self.scaler_.transform(X))
        return P


def cross_fitted_proba(n_classes: int, y: np.ndarray, X: np.ndarray, soft: np.ndarray | None,
                       folds: int, seed: int, C: float | None = None) -> np.ndarray:
    """Each row's class distribution (n, k) from a :class:`FeatureClassifier` fitted as the fallback is (labels
    ``y`` with -1 = unlabelled, ``soft`` distributions, standardised on every row) on the other ``folds``;
    ``C``: the inverse L2 strength every fold uses (the whole fit's :attr:`FeatureClassifier.chosen_C_`, which
    spares a cross-validated choice per fold); None = chosen again in each fold."""
    n = X.shape[0]
    out = np.empty((n, int(n_classes)))
    order = np.random.default_rng(seed).permutation(n)
    for held in np.array_split(order, max(2, min(int(folds), n))):
        y_train = np.asarray(y).copy()
        y_train[held] = -1
        if not (y_train >= 0).any():
            out[held] = 1.0 / n_classes
            continue
        clf = FeatureClassifier(n_classes) if C is None else FeatureClassifier(n_classes, Cs=(float(C),))
        out[held] = clf.fit(y_train, X, scale_all_rows=True, soft=soft).proba(X[held])
    return out


def sharpen(P: np.ndarray, temperature: float) -> np.ndarray:
    """``softmax(log P / T)`` row-wise: T < 1 sharpens, T > 1 flattens; never changes a row's argmax."""
    return _softmax(np.log(np.clip(P, 1e-9, 1.0)) / float(temperature))


def fit_temperature(P: np.ndarray, target: np.ndarray, bounds: tuple[float, float] = (0.1, 10.0)) -> float:
    """The T in ``bounds`` that minimises the mean cross-entropy of the ``target`` distributions (n, k) under
    :func:`sharpen` ``(P, T)`` (P: (n, k) held-out predictions); 1.0 when there is no row."""
    if not len(P):
        return 1.0
    logp = np.log(np.clip(P, 1e-9, 1.0))

    def loss(log_t: float) -> float:
        s = logp / np.exp(log_t)
        s = s - s.max(axis=1, keepdims=True)
        ls = s - np.log(np.exp(s).sum(axis=1, keepdims=True))
        return float(-(target * ls).sum(axis=1).mean())

    res = minimize_scalar(loss, bounds=(np.log(bounds[0]), np.log(bounds[1])), method="bounded")
    return float(np.exp(res.x))
