"""The local engine: this process, Python labeling functions optionally in forked worker processes."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..data.dataset import Dataset
from ..matrix.apply import apply_sources
from ..matrix.label_matrix import LabelMatrix
from ..task import Task


class LocalEngine:
    """Runs everything in this process.

    Parameters:
        workers: processes for Python labeling functions (1 = none; 0 = one per available CPU).
        progress: progress bars.
    """

    def __init__(self, workers: int = 1, progress: bool = True) -> None:
        self.workers = int(workers)
        self.progress = bool(progress)

    def apply_sources(self, data: Dataset, sources: Sequence[Any], task: Task, *, fault_tolerant: bool = False,
                      max_failure_share: float = 1.0) -> LabelMatrix:
        return apply_sources(data, sources, task, progress=self.progress, workers=self.workers,
                             fault_tolerant=fault_tolerant, max_failure_share=max_failure_share)

    def predict_proba(self, model: Any, L: np.ndarray | None, X: np.ndarray | None) -> np.ndarray:
        return np.asarray(model.predict_proba(L, X))

    def close(self) -> None:
        pass
