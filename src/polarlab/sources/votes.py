"""Precomputed votes: a column of the data, or WRENCH's ``weak_labels``."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..data.dataset import Dataset
from ..errors import DataError
from ..task import Task
from .base import ABSTAIN, SourceOutput
from .lf import check_vote


@dataclass
class VoteColumn:
    """Votes already stored in a data column (label index, label name, or empty/-1 = abstain)."""

    name: str
    column: str
    explain: str | None = None

    def apply(self, data: Dataset, task: Task) -> SourceOutput:
        data = data.without_gold()  # sources never see gold: column = "label" is "no such column"
        if self.column not in data.frame.columns:
            raise DataError(f"no vote column {self.column!r}; the columns are {list(data.frame.columns)}",
                            file=data.source, column=self.column, fix="name an existing column")
        votes = np.full(len(data), ABSTAIN, dtype=np.int64)
        for i, v in enumerate(data.frame[self.column].tolist()):
            if v is None or (isinstance(v, float) and np.isnan(v)) or v == "":
                continue
            if isinstance(v, float) and v.is_integer():
                v = int(v)
            if isinstance(v, str) and v.lstrip("-").isdigit():
                v = int(v)
            votes[i] = check_vote(v, task, self.name, i, str(data.frame["id"].iat[i]), file=data.source)
        return SourceOutput(votes=votes)

    def describe(self, task: Task, label: int) -> str:
        return self.explain or f"Precomputed source '{self.name}' says {task.labels[label]}."


@dataclass
class WeakLabelColumn:
    """Column ``index`` of the dataset's precomputed ``weak_labels`` (e.g. a WRENCH labeling function)."""

    name: str
    index: int
    explain: str | None = None

    def apply(self, data: Dataset, task: Task) -> SourceOutput:
        if data.weak_labels is None or self.index >= data.weak_labels.shape[1]:
            raise DataError(f"dataset has no weak label column {self.index}", file=data.source,
                            column="weak_labels", fix="load a WRENCH directory, or drop this source")
        return SourceOutput(votes=data.weak_labels[:, self.index].astype(np.int64))

    def describe(self, task: Task, label: int) -> str:
        return self.explain or f"Labeling function '{self.name}' says {task.labels[label]}."


def weak_label_sources(data: Dataset) -> list[WeakLabelColumn]:
    """One source per precomputed weak-label column of ``data`` (named by ``weak_label_names``)."""
    if data.weak_labels is None:
        return []
    names = data.weak_label_names or [f"weak_{j}" for j in range(data.weak_labels.shape[1])]
    return [WeakLabelColumn(name=n, index=j) for j, n in enumerate(names)]
