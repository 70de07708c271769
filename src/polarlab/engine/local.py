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
        return predict_in_blocks(model, L, X)

    def close(self) -> None:
        pass


#: Rows per block of :func:`predict_in_blocks` (a block's temporaries stay around 100 MB with 256 features).
BLOCK_ROWS = 100_000


def predict_in_blocks(model: Any, L: np.ndarray | None, X: np.ndarray | None, block_rows: int = BLOCK_ROWS,
                      **kwargs: Any) -> np.ndarray:
    """``model.predict_proba(L, X, **kwargs)`` evaluated ``block_rows`` rows at a time (L: (n, m) or None,
    X: (n, d) or None), stacked in order: shape (n, k). Memory for the model's temporaries stays bounded."""
    n = (L if L is not None else X).shape[0]
    if n <= block_rows:
        return np.asarray(model.predict_proba(L, X, **kwargs))
    return np.vstack([np.asarray(model.predict_proba(None if L is None else L[a:a + block_rows],
                                                     None if X is None else X[a:a + block_rows], **kwargs))
                      for a in range(0, n, block_rows)])
