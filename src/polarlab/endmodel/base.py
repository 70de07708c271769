"""The end-model interface and its registry.

An end model is a classifier trained on the final labels (:class:`Targets`) that labels new text.
Every kind works in two steps so self-training can reuse one encoding of the data:
``encode(texts)`` gives model inputs (embeddings for :class:`~.logreg.EmbeddingLogReg`, the
texts themselves for :class:`~.transformer.MiniLMClassifier`), then ``fit_encoded`` /
``predict_proba_encoded`` work on rows of them.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ..data.dataset import Dataset
from ..errors import ConfigError, InputError
from ..task import Task
from .targets import Targets


class EndModel:
    """Base class: ``fit(data, targets)``, ``predict_proba(data)``, ``save(dir)``.

    Subclasses set ``kind`` and implement ``encode``, ``fit_encoded``, ``predict_proba_encoded``,
    ``params`` (JSON-able constructor options), ``_save_weights(dir)`` and ``_load_weights(dir)``.

    Args:
        task: the task (label names are saved with the model).
    """

    kind: str = ""

    def __init__(self, task: Task) -> None:
        self.task = task

    # --- to implement -------------------------------------------------------------------
    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Model inputs for ``texts``: an array with one row per text."""
        raise NotImplementedError

    def fit_encoded(self, F: np.ndarray, P: np.ndarray, w: np.ndarray) -> "EndModel":
        """Fit on inputs F (n, ...), distributions P (n, k), weights w (n,)."""
        raise NotImplementedError

    def predict_proba_encoded(self, F: np.ndarray) -> np.ndarray:
        """(n, k) class probabilities of the inputs F."""
        raise NotImplementedError

    def params(self) -> dict[str, Any]:
        raise NotImplementedError

    def _save_weights(self, directory: Path) -> None:
        raise NotImplementedError

    def _load_weights(self, directory: Path) -> None:
        raise NotImplementedError

    # --- shared -------------------------------------------------------------------------
    def fit(self, data: Dataset | Sequence[str], targets: Targets) -> "EndModel":
        """Fit on the examples of ``data`` (n) and their ``targets`` (n rows)."""
        texts = texts_of(data)
        if len(texts) != len(targets):
            raise InputError(f"{len(texts)} examples but {len(targets)} targets", column="targets",
                             fix="pass one target row per example")
        if targets.n_classes != self.task.n_classes:
            raise InputError(f"targets have {targets.n_classes} classes, the task {self.task.n_classes}",
                             column="targets", fix="use the task the labels were made for")
        P, w = targets.resolved()
        return self.fit_encoded(self.encode(texts), P, w)

    def predict_proba(self, data: Dataset | Sequence[str]) -> np.ndarray:
        """(n, k) class probabilities of the examples of ``data``."""
        return self.predict_proba_encoded(self.encode(texts_of(data)))

    def predict(self, data: Dataset | Sequence[str]) -> np.ndarray:
        """(n,) predicted class indices."""
        return self.predict_proba(data).argmax(axis=1)

    def save(self, directory: str | Path, extra: dict[str, Any] | None = None) -> Path:
        """Write the model (weights + ``endmodel.json`` with task and label names) to ``directory``."""
        from .io import save_end_model

        return save_end_model(self, directory, extra)


def texts_of(data: Dataset | Sequence[str]) -> list[str]:
    """Input texts (relation datasets get their entities marked, as for the features)."""
    from ..features.embedding import texts_of as _texts

    return _texts(data)


END_MODELS: dict[str, Callable[..., EndModel]] = {}


def register(kind: str) -> Callable[[type], type]:
    """Class decorator adding an end-model kind to :data:`END_MODELS`."""
    def deco(cls: type) -> type:
        cls.kind = kind
        END_MODELS[kind] = cls
        return cls
    return deco


def make_end_model(kind: str, task: Task, **options: Any) -> EndModel:
    """An end model of the registered ``kind`` (``"logreg"`` or ``"transformer"``)."""
    from . import logreg, transformer  # noqa: F401  (registers the kinds)

    if kind not in END_MODELS:
        raise ConfigError(f"unknown end model {kind!r}", column="endmodel.model",
                          fix=f"use one of {sorted(END_MODELS)}")
    try:
        return END_MODELS[kind](task, **options)
    except TypeError as e:
        raise ConfigError(f"bad option for end model {kind!r}: {e}", column="endmodel",
                          fix="see the model's docstring for its options") from None
