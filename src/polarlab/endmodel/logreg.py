"""Logistic regression on sentence embeddings (all-MiniLM-L6-v2): the fast end model.

Soft labels are fitted exactly by expanding each row into one weighted row per class:
row i, class c gets sample weight ``w_i * P[i, c]``; scikit-learn's multinomial logistic
regression then minimises the weighted soft cross-entropy ``-sum_i w_i sum_c P[i,c] log p(c|x_i)``
plus its L2 penalty.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import InputError, NotFittedError
from ..task import Task
from .base import EndModel, register


@register("logreg")
class EmbeddingLogReg(EndModel):
    """Multinomial logistic regression on 384-d sentence embeddings.

    Args:
        task: the task.
        C: inverse L2 strength (scikit-learn's default 1.0).
        max_iter: L-BFGS iterations.
        cache_dir: where embeddings of the training texts are cached (None = no cache).
        batch_size: texts per encoder pass.

    Attributes (after fit): ``coef_`` (k, 384), ``intercept_`` (k,).
    """

    def __init__(self, task: Task, C: float = 1.0, max_iter: int = 1000, cache_dir: str | os.PathLike | None = None,
                 batch_size: int = 64) -> None:
        super().__init__(task)
        if C <= 0 or max_iter < 1:
            raise InputError(f"C={C}, max_iter={max_iter}", column="endmodel.C", fix="use C > 0 and max_iter >= 1")
        self.C, self.max_iter, self.batch_size = float(C), int(max_iter), int(batch_size)
        self.cache_dir = cache_dir
        self._embedder = None

    @property
    def embedder(self):
        if self._embedder is None:
            from ..features.embedding import Embedder

            self._embedder = Embedder(batch_size=self.batch_size)
        return self._embedder

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(n, 384) float32 embeddings."""
        from ..features.embedding import cached_encode

        return cached_encode(list(texts), self.embedder, self.cache_dir)

    def fit_encoded(self, F: np.ndarray, P: np.ndarray, w: np.ndarray) -> "EmbeddingLogReg":
        from sklearn.linear_model import LogisticRegression

        F, P, w = np.asarray(F, dtype=np.float64), np.asarray(P, dtype=np.float64), np.asarray(w, dtype=np.float64)
        n, k = P.shape
        if F.shape[0] != n or k != self.task.n_classes:
            raise InputError(f"{F.shape[0]} inputs, targets {P.shape}", column="targets",
                             fix=f"pass one row of {self.task.n_classes} probabilities per input")
        rows, cls = np.nonzero(P * w[:, None] > 1e-9)
        if rows.size == 0:
            raise InputError("no training row has a positive weight", column="weight",
                             fix="check the labels: every risk is 1 or every row was dropped")
        sw = (P * w[:, None])[rows, cls]
        present = np.unique(cls)
        self.coef_ = np.zeros((k, F.shape[1]))
        self.intercept_ = np.full(k, -30.0)   # a class never seen in training gets ~0 probability
        if present.size == 1:
            self.intercept_[present[0]] = 0.0
            return self
        lr = LogisticRegression(C=self.C, max_iter=self.max_iter)
        lr.fit(F[rows], cls, sample_weight=sw)
        coef, icpt = lr.coef_, lr.intercept_
        if present.size == 2:              # scikit-learn keeps one row for two classes
            coef = np.vstack([-coef[0] / 2, coef[0] / 2])
            icpt = np.array([-icpt[0] / 2, icpt[0] / 2])
        self.coef_[lr.classes_] = coef
        self.intercept_[lr.classes_] = icpt
        return self

    def predict_proba_encoded(self, F: np.ndarray) -> np.ndarray:
        if not hasattr(self, "coef_"):
            raise NotFittedError("the end model is not fitted", fix="call fit(...) or load a saved model")
        z = np.asarray(F, dtype=np.float64) @ self.coef_.T + self.intercept_
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def params(self) -> dict[str, Any]:
        return {"C": self.C, "max_iter": self.max_iter, "batch_size": self.batch_size}

    def _save_weights(self, directory: Path) -> None:
        with open(directory / "weights.npz", "wb") as fh:
            np.savez(fh, coef=self.coef_, intercept=self.intercept_)

    def _load_weights(self, directory: Path) -> None:
        with np.load(directory / "weights.npz", allow_pickle=False) as z:
            self.coef_, self.intercept_ = z["coef"], z["intercept"]
