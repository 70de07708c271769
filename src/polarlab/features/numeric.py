"""Numeric features of tabular examples (``Dataset.features``), standardised with the fit split's statistics."""
from __future__ import annotations

import numpy as np

from ..data.dataset import Dataset
from ..errors import ConfigError, InputError


def numeric_matrix(data: object) -> np.ndarray:
    """The (n, d) feature vectors of a tabular :class:`Dataset`, or a ConfigError naming the fix."""
    if not isinstance(data, Dataset) or data.features is None:
        raise ConfigError("numeric features need a tabular dataset (examples with data.feature vectors)",
                          column="features", fix='use features = "embedding" or "tfidf" for text data, or "auto"')
    return data.features


class NumericFeatures:
    """Standardised numeric vectors: ``(x - mean) / sd`` with mean and sd of the fit split (sd 0 → 1).

    Attributes (after fit): mean_, scale_: shape (d,).
    """

    def fit(self, data: Dataset) -> "NumericFeatures":
        X = numeric_matrix(data)
        if X.shape[0] == 0:
            raise InputError("no rows to fit numeric features on", fix="pass the fit split")
        self.mean_ = X.mean(axis=0)
        sd = X.std(axis=0)
        self.scale_ = np.where(sd > 1e-12, sd, 1.0)
        return self

    def transform(self, data: Dataset) -> np.ndarray:
        """Shape (n, d), float32."""
        if not hasattr(self, "mean_"):
            raise InputError("numeric features are not fitted", fix="call fit(train) first")
        X = numeric_matrix(data)
        if X.shape[1] != self.mean_.shape[0]:
            raise InputError(f"{X.shape[1]} features, fitted on {self.mean_.shape[0]}", column="features",
                             fix="use splits with the same feature vectors")
        return ((X - self.mean_) / self.scale_).astype(np.float32)

    def fit_transform(self, data: Dataset) -> np.ndarray:
        return self.fit(data).transform(data)
