"""Learnability of a candidate's labels: how well a classifier on the features reproduces them, out of fold.

A gold-free criterion for choosing among the candidate final distributions (:mod:`polarlab.harmonizer.select`),
different in kind from held-out agreement with left-out sources: a logistic regression (standardised features,
fixed C, as the features-only fallback) is fitted on K-1 folds of the covered fit rows with the candidate's labels
and predicts the K-th; the score is the class-balanced agreement of those out-of-fold predictions with the
candidate's own labels (the mean over all k classes of the share of a class's rows predicted as that class). The
idea: labels that follow the true class are partly predictable from the features; errors that do not depend on
the features (a rule firing at random) are not, so a candidate that copies them scores lower. Errors that the
features do predict (keyword rules erring on the same words) are learnable too, which is why this is measured,
not assumed (``benchmarks/combine_selection.py``, docs/results/label_quality.md).

The mean runs over all k classes, and a class the candidate never gives scores 0, so a degenerate candidate
(one class everywhere, trivially learnable) cannot win.

Measured and rejected as the selection's criterion (rule fixed in advance; docs/results/label_quality.md,
"Learnability of a candidate's labels"): its Spearman with the candidates' valid accuracy was −0.60, −0.70, −0.10,
−0.70, −0.10 on WRENCH youtube, sms, trec, chemprot, census (mean −0.44, today's held-out agreement −0.14), and the
mean of the two criteria's ranks −0.39. It stays a column of ``benchmarks/combine_selection.py``; nothing else
reads it.
"""
from __future__ import annotations

import numpy as np
from sklearn.metrics import recall_score

from .stage2 import cross_fitted_proba

LEARNABILITY_C = 0.1
"""Inverse L2 strength of the classifier (fixed, as the fallback's)."""

LEARNABILITY_FOLDS = 5
"""Folds of the cross-fit."""


def balanced_agreement(pred: np.ndarray, labels: np.ndarray, n_classes: int) -> float:
    """Mean over all ``n_classes`` classes of the share of rows labelled c that ``pred`` puts in c (0 for a
    class no row is labelled with): scikit-learn's macro recall over every class.

    Args:
        pred: shape (n,), predicted classes.
        labels: shape (n,), the labels they are scored against.
        n_classes: k.
    """
    return float(recall_score(labels, pred, labels=np.arange(n_classes), average="macro", zero_division=0))


def learnability(labels: np.ndarray, X: np.ndarray, n_classes: int, rows: np.ndarray | None = None,
                 C: float = LEARNABILITY_C, folds: int = LEARNABILITY_FOLDS, seed: int = 0) -> dict[str, float]:
    """How learnable ``labels`` are from the features ``X``, by K-fold cross-fitting.

    Args:
        labels: shape (n,), a candidate's hard labels of the fit rows (-1: none).
        X: shape (n, d), the fit rows' features.
        n_classes: k.
        rows: indices of the rows to use (the covered fit rows: some source voted); None = every labelled row.
        C: the logistic regression's inverse L2 strength.
        folds: K.
        seed: seeds the folds.

    Returns:
        ``{"balanced": ..., "loglik": ...}``: the class-balanced agreement of the out-of-fold predictions with
        ``labels`` (:func:`balanced_agreement`), and the mean out-of-fold log-probability of each row's label.
    """
    y = np.asarray(labels, dtype=np.int64).reshape(-1)
    if rows is None:
        rows = np.flatnonzero(y >= 0)
    rows = np.asarray(rows, dtype=np.int64)
    y = y[rows]
    keep = y >= 0
    y, Xr = y[keep], X[rows][keep]
    if len(np.unique(y)) < 2:
        return {"balanced": balanced_agreement(y, y, n_classes), "loglik": 0.0}
    P = cross_fitted_proba(n_classes, y, Xr, None, folds, seed, C=C)
    loglik = float(np.log(np.clip(P[np.arange(len(y)), y], 1e-9, 1.0)).mean())
    return {"balanced": balanced_agreement(P.argmax(axis=1), y, n_classes), "loglik": loglik}
