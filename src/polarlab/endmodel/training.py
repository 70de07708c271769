"""Which rows the end model trains on: filtering (Snorkel's ``filter_unlabeled_dataframe``) and augmentation
(Snorkel's transformation functions under a policy), with the augmented rows' provenance kept.

- ``filter_unlabeled`` (default on): drop the fit split's rows that no source voted on
  (:func:`polarlab.matrix.buckets.filter_unlabeled`); they become the self-training pool. Off: train on every row
  (the final model's distribution of an uncovered row is its label).
- ``min_proba``: also drop rows whose most likely class has a lower probability. Reviewed rows are always kept.
- ``augment``: a Python file of transformation functions applied to the training rows under ``policy``
  (``mean_field`` or ``random``, Snorkel's policies, ``n_per_original`` new rows per original, sequences of
  ``sequence_length`` functions, seeded); an augmented row copies its original's soft label, weight and review.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ConfigError
from .targets import Targets


def _mean_field(n_tfs: int, sequence_length: int, n_per_original: int):
    from snorkel.augmentation import MeanFieldPolicy

    return MeanFieldPolicy(n_tfs, sequence_length=sequence_length, n_per_original=n_per_original,
                           keep_original=False)


def _random(n_tfs: int, sequence_length: int, n_per_original: int):
    from snorkel.augmentation import RandomPolicy

    return RandomPolicy(n_tfs, sequence_length=sequence_length, n_per_original=n_per_original,
                        keep_original=False)


#: policy name -> builder ``(n_tfs, sequence_length, n_per_original) -> Snorkel policy``
POLICIES = {"mean_field": _mean_field, "random": _random}


@dataclass
class TrainingRows:
    """Options choosing (and adding to) the end model's training rows; see the module docstring."""

    filter_unlabeled: bool = True
    min_proba: float | None = None
    augment: str | Path | None = None
    policy: str = "mean_field"
    n_per_original: int = 2
    sequence_length: int = 2
    seed: int = 0

    def __post_init__(self) -> None:
        if self.min_proba is not None and not 0.0 <= float(self.min_proba) <= 1.0:
            raise ConfigError(f"min_proba = {self.min_proba} is outside [0, 1]", column="--min-proba",
                              fix="use a probability, e.g. 0.7")
        if self.policy not in POLICIES:
            raise ConfigError(f"unknown augmentation policy {self.policy!r}", column="--policy",
                              fix=f"use one of {sorted(POLICIES)}")
        if self.n_per_original < 1 or self.sequence_length < 1:
            raise ConfigError(f"n_per_original = {self.n_per_original}, sequence_length = {self.sequence_length}",
                              column="--n-per-original", fix="use 1 or more for both")
        self.tfs_ = None if self.augment is None else self._load()

    def _load(self) -> list[Any]:
        from ..augment import load_transformation_functions

        return load_transformation_functions(Path(self.augment))

    def config(self) -> dict[str, Any]:
        """What decides the rows (the stage re-runs when it changes; the file by its content)."""
        out: dict[str, Any] = {"filter_unlabeled": self.filter_unlabeled, "min_proba": self.min_proba}
        if self.augment is not None:
            from ..state import content_hash

            out.update(augment=content_hash(Path(self.augment).read_bytes()), policy=self.policy,
                       n_per_original=self.n_per_original, sequence_length=self.sequence_length, seed=self.seed)
        return out

    def select(self, ids: list[str], texts: list[str], L: np.ndarray | None, proba: np.ndarray,
               reviewed: np.ndarray) -> np.ndarray:
        """Which of n rows to train on.

        Args:
            ids, texts: n ids and texts.  L: (n, m) votes, -1 = abstain (None = every row counts as covered).
            proba: (n, k) final distributions.  reviewed: (n,) the people's label, -1 = none.

        Returns:
            (n,) bool, True = a training row.
        """
        from ..data.dataset import Dataset
        from ..matrix.buckets import filter_unlabeled

        n = len(ids)
        if L is None or not L.shape[1] or not self.filter_unlabeled:
            L = np.zeros((n, 1), dtype=np.int64)             # every row counts as covered
        frame = pd.DataFrame({"id": ids, "text": texts, "label": -1})
        _, keep = filter_unlabeled(Dataset(frame=frame, name="fit"), L, proba, min_proba=self.min_proba)
        return keep | (reviewed >= 0)

    def augment_rows(self, ids: list[str], texts: list[str], targets: Targets) -> tuple[pd.DataFrame, Targets]:
        """New rows made from the n training rows by the transformation functions.

        Returns:
            (frame of the new rows: ``id``, ``text``, ``augmented_from``, ``transforms``; their targets, copied
            from each row's original).
        """
        from ..augment import augment
        from ..data.dataset import Dataset

        policy = POLICIES[self.policy](len(self.tfs_), self.sequence_length, self.n_per_original)
        data = Dataset(frame=pd.DataFrame({"id": ids, "text": texts, "label": -1}), name="train")
        frame = augment(data, self.tfs_, policy, seed=self.seed).frame
        frame = frame[frame["augmented_from"] != ""].reset_index(drop=True)
        position = {i: p for p, i in enumerate(ids)}
        return (frame[["id", "text", "augmented_from", "transforms"]],
                targets.subset(np.array([position[i] for i in frame["augmented_from"]], dtype=np.int64)))
