"""``score``: any label model (the POLAR harmonizer included) against gold, with Snorkel's metric names."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..errors import InputError
from .base import LabelModel

#: Metric names understood by ``snorkel.analysis.metric_score``.
METRICS = ("accuracy", "coverage", "precision", "recall", "f1", "f1_micro", "f1_macro", "fbeta",
           "matthews_corrcoef", "roc_auc")


def score(model: LabelModel, L: np.ndarray, gold: np.ndarray, X: np.ndarray | None = None, *,
          metrics: Sequence[str] = ("accuracy",), tie_break_policy: str = "abstain") -> dict[str, float]:
    """Scores of ``model``'s labels on rows with gold, like Snorkel's ``LabelModel.score`` (same ``Scorer``).

    Args:
        model: a fitted label model (``predict_proba(L, X)``), or Snorkel's own ``LabelModel`` (``predict_proba(L)``:
            called without ``X`` when ``X`` is None).
        L: votes, shape (n, m), -1 = abstain.
        gold: shape (n,), class index, -1 = no gold (the row is skipped).
        X: features, shape (n, d), for models that use them (the harmonizer).
        metrics: names from ``METRICS`` (Snorkel's ``metric_score``).
        tie_break_policy: ``"abstain"`` (a row whose top classes tie gets -1: as in Snorkel it is left out of
            every metric but ``coverage``), ``"random"`` (seeded by the row) or ``"true-random"``.

    Returns:
        ``{metric: value}``.

    Raises:
        InputError: an unknown metric or tie-break policy, or shapes that disagree.
    """
    from snorkel.analysis import Scorer
    from snorkel.utils import probs_to_preds

    bad = [m for m in metrics if m not in METRICS]
    if bad:
        raise InputError(f"unknown metric(s) {bad}", fix=f"use {list(METRICS)}")
    if tie_break_policy not in ("abstain", "random", "true-random"):
        raise InputError(f"unknown tie_break_policy {tie_break_policy!r}", fix='use "abstain", "random", "true-random"')
    y = np.asarray(gold).astype(np.int64).ravel()
    probs = np.asarray(model.predict_proba(L) if X is None else model.predict_proba(L, X))
    if probs.shape[0] != y.shape[0]:
        raise InputError(f"{probs.shape[0]} predictions but {y.shape[0]} gold labels", fix="one gold label per row")
    preds = probs_to_preds(probs, tie_break_policy=tie_break_policy)
    ok = y >= 0     # Snorkel's Scorer drops gold -1 rows as well; done here so an all-unlabelled split says so
    if not ok.any():
        raise InputError("no row has a gold label", fix="score on a split with gold labels")
    return {k: float(v) for k, v in Scorer(metrics=list(metrics)).score(y[ok], preds[ok], probs[ok]).items()}
