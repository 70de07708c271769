"""The two-stage weak-supervision pipeline: a label model, then a classifier on the example features.

The fair comparison for the POLAR harmonizer (itself a classifier on the features) is not a label
model alone but a label model followed by an end model on the same features: the label model's
labels of the covered fit rows (rows where some source voted) train a logistic regression, which
then labels any row from its features alone (as in WRENCH and the Snorkel tutorials).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InputError
from ..harmonizer.stage2 import FeatureClassifier
from ..validation import check_votes
from .base import LabelModelBase
from .majority import check_n_classes


class TwoStage(LabelModelBase):
    """Label model → logistic regression on the features (scikit-learn style).

    Args:
        n_classes: k.
        label_model: a name in :data:`polarlab.labelmodels.LABEL_MODELS` (``"mv"``, ``"snorkel"``,
            ``"dawid_skene"``).
        Cs: candidate inverse L2 strengths of the logistic regression (chosen by cross-validated
            log-loss against the label model's labels; one value = no choice).
        max_iter: its solver's iteration cap.
        seed: seed of the label model (where it takes one).
        label_model_options: keyword settings of the label model.

    :meth:`predict` is the end model's argmax (``tie_break = "first"``, as scikit-learn's ``predict``).

    Attributes (after fit):
        label_model_: the fitted label model.  end_model_: the fitted end model, a
        :class:`polarlab.harmonizer.stage2.FeatureClassifier` (standardisation on every fit row, C by 3-fold
        log-loss; when the label model gave every covered row the same class, that class is predicted everywhere).
    """

    def __init__(self, n_classes: int, label_model: str = "snorkel",
                 Cs: tuple[float, ...] = (0.001, 0.01, 0.1, 1.0), max_iter: int = 1000,
                 seed: int = 0, label_model_options: dict[str, Any] | None = None) -> None:
        self.n_classes = check_n_classes(n_classes)
        self.label_model = label_model
        self.Cs = tuple(float(c) for c in Cs)
        self.max_iter = int(max_iter)
        self.seed = int(seed)
        self.label_model_options = dict(label_model_options or {})

    def fit(self, L: np.ndarray, X: np.ndarray | None = None) -> "TwoStage":
        """Fit on votes ``L`` (n, m) and features ``X`` (n, d) of the same rows."""
        from .registry import make_label_model

        votes = check_votes(L, n_classes=self.n_classes)
        X = self._check_X(X, votes.shape[0])
        opts = dict(self.label_model_options)
        if self.label_model in ("snorkel", "mv") and "seed" not in opts:
            opts["seed"] = self.seed
        self.label_model_ = make_label_model(self.label_model, self.n_classes, **opts).fit(votes)
        covered = (votes >= 0).any(axis=1)
        if not covered.any():
            raise InputError("no fit row has a vote", column="L", fix="check the sources: every one abstained")
        y = np.full(votes.shape[0], -1)
        y[covered] = np.asarray(self.label_model_.predict_proba(votes[covered])).argmax(axis=1)
        self.end_model_ = FeatureClassifier(self.n_classes, self.Cs, cv=3, max_iter=self.max_iter,
                                            fallback_C=self.Cs[0]).fit(y, X, scale_all_rows=True)
        return self

    def predict_proba(self, L: np.ndarray | None = None, X: np.ndarray | None = None) -> np.ndarray:
        """The end model's distributions from the features, shape (n, k); ``L`` is ignored."""
        if not hasattr(self, "end_model_"):
            raise InputError("the two-stage model is not fitted", fix="call fit(L, X) first")
        return self.end_model_.proba(self._check_X(X, None))

    @staticmethod
    def _check_X(X: np.ndarray | None, n: int | None) -> np.ndarray:
        if X is None:
            raise InputError("the two-stage model needs example features", column="X",
                             fix="compute features with polarlab.features.make_features and pass X")
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or (n is not None and X.shape[0] != n) or not np.all(np.isfinite(X)):
            raise InputError(f"X has shape {X.shape} (finite values, one row per example of L needed)",
                             column="X", fix="pass one finite feature row per example")
        return X
