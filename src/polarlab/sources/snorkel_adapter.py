"""Use Snorkel ``LabelingFunction`` objects unchanged."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..data.dataset import Dataset
from ..task import Task
from .base import ABSTAIN, SourceFailure, SourceOutput
from .lf import check_vote, source_file


@dataclass
class SnorkelSource:
    """Wraps a ``snorkel.labeling.LabelingFunction``; each row is passed as a pandas Series,
    exactly as Snorkel's ``PandasLFApplier`` does, so preprocessors and resources work as before."""

    lf: Any
    explain: str | None = None

    @property
    def name(self) -> str:
        return self.lf.name

    def apply(self, data: Dataset, task: Task) -> SourceOutput:
        votes = np.full(len(data), ABSTAIN, dtype=np.int64)
        failures: list[SourceFailure] = []
        frame = data.without_gold().frame  # each row as Snorkel sees it, minus the gold column
        for i, (_, row) in enumerate(frame.iterrows()):
            try:
                value = self.lf(row)
            except Exception as e:  # noqa: BLE001 - recorded per row, see LabelMatrix.failures
                failures.append(SourceFailure(self.name, i, str(row["id"]), f"{type(e).__name__}: {e}"))
                continue
            votes[i] = check_vote(value, task, self.name, i, str(row["id"]),
                                  file=source_file(getattr(self.lf, "_f", None)))
        return SourceOutput(votes=votes, failures=failures)

    def describe(self, task: Task, label: int) -> str:
        f = getattr(self.lf, "_f", None)  # the wrapped Python function of a Snorkel LF
        doc = (getattr(f, "__doc__", None) or "").strip()
        why = self.explain or doc.split("\n")[0]
        return f"Rule '{self.name}' says {task.labels[label]}" + (f": {why}" if why else ".")


def from_snorkel(lfs: list[Any]) -> list[SnorkelSource]:
    """Wrap Snorkel labeling functions as polarlab sources."""
    return [SnorkelSource(lf) for lf in lfs]


def is_snorkel_lf(obj: Any) -> bool:
    try:
        from snorkel.labeling import LabelingFunction as SnorkelLF
    except ImportError:  # pragma: no cover - snorkel is a dependency
        return False
    return isinstance(obj, SnorkelLF)
