"""The engine protocol and its registry."""
from __future__ import annotations

from typing import Any, Callable, Protocol, Sequence, runtime_checkable

import numpy as np

from ..data.dataset import Dataset
from ..errors import ConfigError
from ..matrix.label_matrix import LabelMatrix
from ..task import Task


@runtime_checkable
class Engine(Protocol):
    """Runs the row-parallel parts of a job.

    ``apply_sources`` gives the same :class:`LabelMatrix` whatever the engine (rows in ``data``'s order,
    failures with 0-based row positions); ``predict_proba`` gives ``model.predict_proba(L, X)`` row blocks
    stacked in order, shape (n, k).
    """

    def apply_sources(self, data: Dataset, sources: Sequence[Any], task: Task, *, fault_tolerant: bool = False,
                      max_failure_share: float = 1.0) -> LabelMatrix: ...

    def predict_proba(self, model: Any, L: np.ndarray | None, X: np.ndarray | None) -> np.ndarray: ...

    def close(self) -> None: ...


ENGINES: dict[str, Callable[..., Engine]] = {}


def register_engine(kind: str, factory: Callable[..., Engine]) -> None:
    """Make ``[engine] kind = "<kind>"`` build ``factory(**options)``."""
    ENGINES[kind] = factory


def make_engine(kind: str = "local", **options: Any) -> Engine:
    """The engine ``kind`` with ``options`` (the ``[engine]`` table less ``kind``).

    Raises:
        ConfigError: an unknown kind or option.
    """
    if kind not in ENGINES:
        raise ConfigError(f"unknown engine kind {kind!r}", column="engine.kind", fix=f"use one of {sorted(ENGINES)}")
    try:
        return ENGINES[kind](**options)
    except TypeError as e:
        raise ConfigError(f"bad [engine] option for kind {kind!r}: {e}", column="engine", fix="see docs/config.md"
                          ) from None
