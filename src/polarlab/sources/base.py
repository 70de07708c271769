"""What a supervision source is: anything that votes a label (or abstains) on each example."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from ..data.dataset import Dataset
from ..task import Task

from ..constants import ABSTAIN  # noqa: E402  (defined once)


@dataclass(frozen=True)
class SourceFailure:
    """A source raised on one example; its vote there is recorded as abstain."""

    source: str
    row: int
    example_id: str
    error: str


@dataclass
class SourceOutput:
    """One source's output on a dataset.

    Attributes:
        votes: shape (n,), int64, class index or -1 (abstain).
        proba: optional per-class distribution, shape (n, k) (LLM sources); NaN rows = none.
        failures: rows where the source raised (their votes are -1).
    """

    votes: np.ndarray
    proba: np.ndarray | None = None
    failures: list[SourceFailure] = field(default_factory=list)


@runtime_checkable
class Source(Protocol):
    """A supervision source.

    ``name`` must be unique in a project. ``apply`` must return one vote per example.
    ``describe`` gives one readable sentence that explains a vote of ``label`` by this
    source (used as evidence in correction prompts and in reports).
    """

    name: str

    def apply(self, data: Dataset, task: Task) -> SourceOutput: ...

    def describe(self, task: Task, label: int) -> str: ...
