"""Choose the weight of the source under scrutiny (the LLM) without gold labels.

With equal weights, an LLM that votes on every row pulls h towards its own answers, so
``1 - h(x)[answer]`` underestimates its errors, most of all when the LLM is weak (a 10-class
relation task answered near chance). The weight it deserves is the one with which h best
predicts the *other* sources on rows it was not fitted on: if the LLM carries signal the rules
also see, giving it weight helps h generalise; if it is noise, any weight hurts.

:func:`tune_source_weight` scores each multiplier of a grid by K-fold cross-fitting: fit h on
K-1 folds with the scrutinized sources' weights multiplied by g, then measure on the held-out
fold how often h's label disagrees with the votes of every *other* source (weighted by their
weights). The multiplier with the lowest mean held-out disagreement wins. No gold label is read.

Why disagreement and not cross-entropy: cross-entropy against noisy votes is lowest for an h
whose confidence matches the *rules'* accuracy, so it penalises an h sharpened by an accurate
LLM (on a synthetic task with a 95 %-accurate LLM it chose weight 0; disagreement chooses 1).
Known bias: keyword rules are functions of the text, so an h fitted to the rules alone can learn
to imitate them, which this criterion rewards; it leans towards small LLM weights.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol, Sequence

import numpy as np

from ..errors import InputError
from .diagnostics import warn


class FoldModel(Protocol):
    """What the tuning fits on each fold: an unfitted harmonizer with fixed source weights."""

    def fit(self, L: np.ndarray, X: np.ndarray) -> "FoldModel": ...

    def predict_proba(self, L: np.ndarray | None, X: np.ndarray) -> np.ndarray: ...


FoldFactory = Callable[[np.ndarray, int], FoldModel]
"""``make(weights (m,), seed) -> FoldModel``: e.g. a harmonizer's ``fold_copy``."""


@dataclass(frozen=True)
class TuningRow:
    """Held-out loss of one multiplier: mean over folds and its standard error."""

    multiplier: float
    loss: float
    stderr: float


def heldout_loss(proba: np.ndarray, L: np.ndarray, weights: np.ndarray, exclude: Sequence[int]) -> float:
    """Weighted share of votes in ``L`` (n, m) that differ from the argmax of ``proba`` (n, k).

    Columns in ``exclude`` and columns with weight 0 are left out; each vote of source j counts
    with weight ``weights[j]``. NaN when no vote is left.
    """
    keep = np.ones(L.shape[1], dtype=bool)
    keep[list(exclude)] = False
    keep &= weights > 0
    label = proba.argmax(axis=1)
    total, mass = 0.0, 0.0
    for j in np.flatnonzero(keep):
        ok = L[:, j] >= 0
        if ok.any():
            total += weights[j] * int((label[ok] != L[ok, j]).sum())
            mass += weights[j] * int(ok.sum())
    return total / mass if mass > 0 else float("nan")


def tune_source_weight(make: FoldFactory, X: np.ndarray, L: np.ndarray, weights: np.ndarray,
                       sources: Sequence[int], grid: Sequence[float], folds: int, *, seed: int = 0,
                       warnings_sink: list[str] | None = None) -> tuple[float, list[TuningRow]]:
    """Pick the multiplier of ``weights[sources]`` from ``grid`` by K-fold held-out agreement.

    Args:
        make: ``make(weights, seed)`` gives the unfitted model of one fold (e.g.
            :meth:`~polarlab.harmonizer.PolarHarmonizer.fold_copy`: the same model, scalarization, epochs...).
        X: shape (n, d).  L: shape (n, m).  weights: shape (m,), the base weights.
        sources: column indices under scrutiny (e.g. the LLM's).
        grid: candidate multipliers, each >= 0.
        folds: K.
        seed: the folds' permutation (fold f's model gets ``seed + f``).
        warnings_sink: texts of the warnings raised are appended here.

    Returns:
        (the chosen multiplier, one :class:`TuningRow` per grid value).

    When the criterion cannot tell the multipliers apart (every loss within the best one's standard
    error, e.g. all 0 because the other sources are one-sided and h agrees with all of them), a
    :class:`~polarlab.harmonizer.diagnostics.SupervisionWarning` is emitted; among exactly tied
    multipliers the one closest to 1 (no change of the base weights) is kept, not the first of the grid.
    """
    n, m = L.shape
    others = [j for j in range(m) if j not in set(sources)]
    if not others or not (L[:, others] >= 0).any():
        raise InputError("tuning a source's weight needs votes from other sources", column="tune_sources",
                         fix="add rules or other sources, or drop tune_sources")
    if n < 2 * folds:
        raise InputError(f"{n} rows are too few for {folds}-fold weight tuning", column="tune_folds",
                         fix="use fewer folds or drop tune_sources")
    order = np.random.default_rng(seed).permutation(n)
    parts = np.array_split(order, folds)
    rows: list[TuningRow] = []
    for g in grid:
        w = weights.astype(np.float64).copy()
        w[list(sources)] *= g
        losses = []
        for f, held in enumerate(parts):
            train = np.sort(np.concatenate([p for i, p in enumerate(parts) if i != f]))
            sub = make(w, seed + f).fit(L[train], X[train])
            losses.append(heldout_loss(sub.predict_proba(None, X[held]), L[held], weights, sources))
        arr = np.asarray(losses, dtype=np.float64)
        arr = arr[np.isfinite(arr)]
        mean = float(arr.mean()) if arr.size else float("inf")
        se = float(arr.std(ddof=1) / np.sqrt(arr.size)) if arr.size > 1 else 0.0
        rows.append(TuningRow(float(g), mean, se))
    best = min(rows, key=lambda r: r.loss)
    tied = [r for r in rows if r.loss - best.loss <= 1e-12]
    keep = min(tied, key=lambda r: abs(r.multiplier - 1.0))     # exact ties: leave the weights unchanged
    if len(rows) > 1 and all(r.loss - best.loss <= max(best.stderr, 1e-12) for r in rows):
        warn(f"the source-weight tuning cannot tell the multipliers {[r.multiplier for r in rows]} apart "
             f"(held-out disagreement {best.loss:.3f} ± {best.stderr:.3f} or within it for all); keeping "
             f"x{keep.multiplier:g}. The other sources may be too few or one-sided to judge this source",
             warnings_sink)
    return keep.multiplier, rows
