"""The one protocol every label model follows (baselines and the POLAR harmonizer), and the base class that gives
each of them the same ``predict`` and ``score``.

A label model writes ``fit`` and ``predict_proba``; :class:`LabelModelBase` turns the distributions into labels
with the model's tie policy (``tie_break``) and scores them against gold with Snorkel's metrics, so every model's
hard labels follow one rule:

* ``"first"``: the argmax of the distribution (the lowest class index among exact ties): scikit-learn's and
  crowd-kit's ``idxmax``.
* ``"abstain"``: -1 where the top classes tie (within :data:`TIE_TOL`, Snorkel's ``probs_to_preds`` tolerance):
  Snorkel's ``LabelModel.predict`` default.
* ``"random"``: a tied row gets one of its top classes, drawn with the model's ``seed`` (the same draw every run;
  WRENCH's and Snorkel's ``tie_break_policy="random"``, seeded here instead of hashed).
"""
from __future__ import annotations

from typing import Any, Protocol, Sequence, runtime_checkable

import numpy as np

from ..errors import ConfigError, InputError, NotFittedError
from ..validation import check_votes

TIE_BREAKS = ("random", "abstain", "first")
"""The tie policies of :meth:`LabelModelBase.predict`."""

TIE_TOL = 1e-5
"""Classes whose probabilities are within this of the row's top one tie (as in Snorkel's ``probs_to_preds``)."""


@runtime_checkable
class LabelModel(Protocol):
    """Turns a label matrix (and optionally example features) into class distributions.

    ``L`` has shape (n, m), int, -1 = abstain. ``X`` has shape (n, d) (features; ignored by
    models that only look at votes). ``predict_proba`` returns shape (n, k), rows sum to 1.
    """

    n_classes: int

    def fit(self, L: np.ndarray, X: np.ndarray | None = None) -> "LabelModel": ...

    def predict_proba(self, L: np.ndarray, X: np.ndarray | None = None) -> np.ndarray: ...


def check_tie_break(tie_break: str) -> str:
    """``tie_break`` if it is one of :data:`TIE_BREAKS`, else a ``ConfigError`` naming the policies."""
    if tie_break not in TIE_BREAKS:
        raise ConfigError(f"unknown tie_break {tie_break!r}", column="tie_break", fix=f"use one of {list(TIE_BREAKS)}")
    return tie_break


def break_ties(P: np.ndarray, tie_break: str, seed: int = 0) -> np.ndarray:
    """Labels of distributions, with a tie policy (see the module).

    Args:
        P: shape (n, k), rows sum to 1.
        tie_break: ``"first"``, ``"abstain"`` or ``"random"``.
        seed: seed of the ``"random"`` draw: one uniform number per (row, class) from
            ``np.random.default_rng(seed)``; a tied row takes its top class with the largest number.

    Returns:
        shape (n,), int64; -1 on tied rows with ``"abstain"``.
    """
    P = np.asarray(P, dtype=np.float64)
    out = P.argmax(axis=1) if P.size else np.zeros(P.shape[0], dtype=np.int64)
    if check_tie_break(tie_break) == "first" or P.size == 0:
        return out.astype(np.int64)
    top = P >= P.max(axis=1, keepdims=True) - TIE_TOL
    tied = top.sum(axis=1) > 1
    if tie_break == "abstain":
        out[tied] = -1
    else:
        draw = np.random.default_rng(seed).random(P.shape)
        out[tied] = np.argmax(np.where(top, draw, -1.0), axis=1)[tied]
    return out.astype(np.int64)


class LabelModelBase:
    """``predict`` and ``score`` for a label model that defines ``fit`` and ``predict_proba`` (one implementation
    for every model). A model's tie policy is its ``tie_break`` attribute (default ``"first"``: the argmax), the
    ``"random"`` draw's seed its ``seed`` attribute (0 when it has none)."""

    tie_break: str = "first"

    def predict_proba(self, L: Any, X: Any = None) -> np.ndarray:  # pragma: no cover - every model defines it
        raise NotImplementedError

    def _check_fitted_votes(self, L: np.ndarray, fitted: str) -> np.ndarray:
        """``L`` checked for ``predict_proba``: the model fitted (attribute ``fitted`` set by ``fit``), the votes
        valid for ``n_classes`` and as many sources as ``fit`` saw (``n_sources_``); returns the votes, (n, m) int64."""
        name = type(self).__name__
        if not hasattr(self, fitted):
            raise NotFittedError(f"{name} is not fitted yet; call fit(L) first")
        votes = check_votes(L, n_classes=getattr(self, "n_classes"))
        if votes.shape[1] != getattr(self, "n_sources_"):
            raise InputError(f"label matrix has {votes.shape[1]} sources, the model was fitted on "
                             f"{getattr(self, 'n_sources_')}", fix="predict with the same sources, in the same order")
        return votes

    def predict(self, L: np.ndarray | None = None, X: Any = None) -> np.ndarray:
        """Labels, shape (n,): the argmax of :meth:`predict_proba`, ties broken by the model's ``tie_break``
        (-1 on ties with ``"abstain"``)."""
        return break_ties(self.predict_proba(L, X), self.tie_break, int(getattr(self, "seed", 0) or 0))

    def score(self, L: np.ndarray | None, Y: np.ndarray, X: Any = None, *, metrics: Sequence[str] = ("accuracy",),
              tie_break_policy: str = "abstain") -> dict[str, float]:
        """Scores against gold ``Y`` (shape (n,), -1 = no gold) with Snorkel's metric names, as Snorkel's
        ``LabelModel.score`` (same defaults): :func:`polarlab.labelmodels.score.score`."""
        from .score import score

        return score(self, L, Y, X, metrics=metrics, tie_break_policy=tie_break_policy)


def predict(model: LabelModel, L: np.ndarray, X: np.ndarray | None = None) -> np.ndarray:
    """Argmax labels, shape (n,)."""
    return np.asarray(model.predict_proba(L, X)).argmax(axis=1)
