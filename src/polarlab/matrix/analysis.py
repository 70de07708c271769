"""Per-source and overall statistics of a label matrix (Snorkel's ``LFAnalysis`` numbers)."""
from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pandas as pd
from snorkel.labeling import LFAnalysis

from ..errors import InputError
from .label_matrix import ABSTAIN, LabelMatrix

COLUMNS = ["polarity", "coverage", "overlap", "conflict", "correct", "incorrect", "emp_acc", "failures"]


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence scipy's dtype FutureWarning inside Snorkel and 0/0 on empty matrices."""
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", FutureWarning)
        yield


def _check_gold(gold: np.ndarray, lm: LabelMatrix) -> np.ndarray:
    """Gold labels as int64 shape (n,), or ``InputError`` naming the first bad row."""
    y = np.asarray(gold)
    if y.ndim != 1 or y.shape[0] != lm.shape[0]:
        raise InputError(f"gold has shape {y.shape}, the label matrix has {lm.shape[0]} rows",
                         fix="pass one gold label per example (-1 where there is none)")
    if y.size and y.dtype.kind not in "iu":
        raise InputError(f"gold labels must be integers, got dtype {y.dtype}",
                         fix="encode gold as class indices, -1 where there is none")
    y = y.astype(np.int64)
    bad = np.flatnonzero((y < ABSTAIN) | (y >= lm.n_classes))
    if bad.size:
        i = int(bad[0])
        raise InputError(f"gold label {y[i]} of example {lm.ids[i]!r} is outside -1..{lm.n_classes - 1}",
                         row=i, column="label",
                         fix=f"use class indices 0..{lm.n_classes - 1}, -1 for no gold")
    return y


def analyze(lm: LabelMatrix, gold: np.ndarray | None = None) -> pd.DataFrame:
    """One row of statistics per source.

    Fractions are over all n rows of ``lm``:

    * ``polarity``: sorted list of the labels the source emits.
    * ``coverage``: fraction of rows where it does not abstain.
    * ``overlap``: fraction of rows where it votes and at least one other source votes.
    * ``conflict``: fraction of rows where it votes and another source votes a different label.

    Counted on the rows with gold (``gold >= 0``) where the source votes:

    * ``correct`` / ``incorrect``: votes equal / not equal to gold.
    * ``emp_acc``: correct / (correct + incorrect); NaN when there are no such rows (always,
      when ``gold`` is None: then correct = incorrect = 0).

    And ``failures``: number of ``SourceFailure`` records of the source in ``lm.failures``.

    Args:
        lm: the label matrix, ``lm.L`` shape (n, m).
        gold: shape (n,), int, gold class or -1 (no gold); None = no gold at all.

    Returns:
        DataFrame indexed by source name (index name ``"source"``), m rows, ``COLUMNS``.

    Raises:
        InputError: ``gold`` has the wrong length or holds labels outside ``-1..k-1``.
    """
    L = lm.L
    n, m = L.shape
    y = _check_gold(gold, lm) if gold is not None else np.full(n, ABSTAIN, dtype=np.int64)
    index = pd.Index(lm.names, name="source")
    if m == 0:
        return pd.DataFrame({c: pd.Series(dtype=object if c == "polarity" else float) for c in COLUMNS},
                            index=index)
    with _quiet():
        a = LFAnalysis(L)
        coverage, overlap, conflict = a.lf_coverages(), a.lf_overlaps(), a.lf_conflicts()
        polarity = [[int(v) for v in p] for p in a.lf_polarities()]
    if n == 0:  # Snorkel divides by n
        coverage = overlap = conflict = np.full(m, np.nan)
    # Snorkel's lf_empirical_accuracies counts gold == -1 rows as wrong and returns 0 for no
    # votes, so correct / incorrect / emp_acc are counted here on rows with gold.
    voted_with_gold = (L != ABSTAIN) & (y >= 0)[:, None]
    correct = (voted_with_gold & (L == y[:, None])).sum(axis=0)
    incorrect = (voted_with_gold & (L != y[:, None])).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        emp_acc = np.where(correct + incorrect > 0, correct / (correct + incorrect), np.nan)
    failures = Counter(f.source for f in lm.failures)
    return pd.DataFrame({
        "polarity": polarity,
        "coverage": np.asarray(coverage, dtype=np.float64),
        "overlap": np.asarray(overlap, dtype=np.float64),
        "conflict": np.asarray(conflict, dtype=np.float64),
        "correct": correct.astype(np.int64),
        "incorrect": incorrect.astype(np.int64),
        "emp_acc": emp_acc.astype(np.float64),
        "failures": np.array([failures.get(name, 0) for name in lm.names], dtype=np.int64),
    }, index=index)


def summary(lm: LabelMatrix) -> dict[str, float | int]:
    """Whole-matrix statistics.

    Returns:
        ``{"n", "m", "coverage", "overlap", "conflict", "failures"}``: n rows, m sources;
        coverage = fraction of rows with at least one vote; overlap = fraction with at least
        two votes; conflict = fraction with two votes that differ; failures =
        ``len(lm.failures)``. Fractions are NaN when n = 0 and 0.0 when m = 0.
    """
    n, m = lm.shape
    if n == 0:
        coverage = overlap = conflict = float("nan")
    elif m == 0:
        coverage = overlap = conflict = 0.0
    else:
        with _quiet():
            a = LFAnalysis(lm.L)
            coverage, overlap, conflict = (float(a.label_coverage()), float(a.label_overlap()),
                                           float(a.label_conflict()))
    return {"n": int(n), "m": int(m), "coverage": coverage, "overlap": overlap,
            "conflict": conflict, "failures": len(lm.failures)}
