"""The one protocol every label model follows: baselines and the POLAR harmonizer."""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class LabelModel(Protocol):
    """Turns a label matrix (and optionally example features) into class distributions.

    ``L`` has shape (n, m), int, -1 = abstain. ``X`` has shape (n, d) (features; ignored by
    models that only look at votes). ``predict_proba`` returns shape (n, k), rows sum to 1.
    """

    n_classes: int

    def fit(self, L: np.ndarray, X: np.ndarray | None = None) -> "LabelModel": ...

    def predict_proba(self, L: np.ndarray, X: np.ndarray | None = None) -> np.ndarray: ...


def predict(model: LabelModel, L: np.ndarray, X: np.ndarray | None = None) -> np.ndarray:
    """Argmax labels, shape (n,)."""
    return np.asarray(model.predict_proba(L, X)).argmax(axis=1)
