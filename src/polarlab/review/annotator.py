"""A simulated reviewer for measurements and tests: answers with the gold label, optionally noisy."""
from __future__ import annotations

import numpy as np

from ..errors import InputError


class SimulatedAnnotator:
    """Answers ``gold[i]``; with probability ``noise`` a different label chosen uniformly.

    Args:
        gold: (n,) gold label indices (>= 0 wherever it will be asked).
        n_classes: k.
        noise: error rate in [0, 1).
        seed: seeds the noise.
    """

    def __init__(self, gold: np.ndarray, n_classes: int, noise: float = 0.0, seed: int = 0) -> None:
        if not 0.0 <= noise < 1.0:
            raise InputError(f"noise={noise}", column="noise", fix="use 0 <= noise < 1")
        self.gold = np.asarray(gold, dtype=np.int64)
        self.n_classes = int(n_classes)
        self.noise = float(noise)
        self.rng = np.random.default_rng(seed)

    def answer(self, rows: np.ndarray) -> np.ndarray:
        """Labels for item positions ``rows`` (shape (b,)); (b,) ints."""
        rows = np.asarray(rows, dtype=np.int64)
        y = self.gold[rows].copy()
        if (y < 0).any():
            raise InputError("the simulated annotator was asked about an item without gold",
                             row=int(rows[np.argmax(y < 0)]), fix="simulate only on labelled data")
        flip = self.rng.random(len(rows)) < self.noise
        if flip.any():
            shift = self.rng.integers(1, self.n_classes, size=int(flip.sum()))
            y[flip] = (y[flip] + shift) % self.n_classes
        return y
