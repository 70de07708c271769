"""Label buckets and unlabeled filtering: pull examples by (true, predicted) pairs; drop what nothing labels."""
from __future__ import annotations

import numpy as np

from ..data.dataset import Dataset
from ..errors import InputError


def label_buckets(*labels: np.ndarray) -> dict[tuple[int, ...], np.ndarray]:
    """Row indices grouped by their tuple of labels, e.g. ``label_buckets(gold, preds)[(1, 0)]`` = the rows of
    class 1 predicted as 0 (the false negatives of a binary task).

    Args:
        *labels: one or more arrays, each shape (n,), class indices (-1 = abstain / no gold counts as a value).
            2-D arrays of shape (n, k) are turned into labels by argmax.

    Returns:
        ``{(a, b, ...): indices}``, indices shape (n_bucket,), int, ascending. Same buckets as Snorkel's
        ``snorkel.analysis.get_label_buckets``, which it calls.

    Raises:
        InputError: no array, or arrays of different lengths.
    """
    from snorkel.analysis import get_label_buckets

    if not labels:
        raise InputError("label_buckets needs at least one array of labels", fix="pass e.g. gold and predictions")
    arrays = [np.asarray(a) for a in labels]
    arrays = [a.argmax(axis=1) if a.ndim == 2 else a.ravel() for a in arrays]
    sizes = {a.shape[0] for a in arrays}
    if len(sizes) != 1:
        raise InputError(f"label arrays have different lengths {sorted(sizes)}", fix="pass one label per example each")
    return {tuple(int(v) for v in k): np.sort(np.asarray(v, dtype=np.int64))
            for k, v in get_label_buckets(*[a.astype(np.int64) for a in arrays]).items()}


def filter_unlabeled(data: Dataset, L: np.ndarray, proba: np.ndarray | None = None, *,
                     min_proba: float | None = None) -> tuple[Dataset, np.ndarray]:
    """The rows worth training an end model on.

    A row is dropped when no source voted on it (all of ``L``'s row is -1), as Snorkel's
    ``filter_unlabeled_dataframe`` does, and, with ``min_proba``, when its label's probability
    (``proba.max(axis=1)``) is below ``min_proba``.

    Args:
        data: the examples, n rows.
        L: votes, shape (n, m), -1 = abstain.
        proba: label distributions, shape (n, k); needed with ``min_proba``.
        min_proba: keep only rows whose most likely class has at least this probability, in [0, 1].

    Returns:
        ``(kept rows as a Dataset, mask)``; ``mask`` shape (n,), bool, True = kept.

    Raises:
        InputError: shapes disagree, ``min_proba`` outside [0, 1] or given without ``proba``.
    """
    L = np.asarray(L)
    n = len(data)
    if L.ndim != 2 or L.shape[0] != n:
        raise InputError(f"L has shape {L.shape}, the data has {n} rows", fix="pass the label matrix of this data")
    keep = (L >= 0).any(axis=1)
    if min_proba is not None:
        if not 0.0 <= float(min_proba) <= 1.0:
            raise InputError(f"min_proba = {min_proba} is outside [0, 1]", fix="use a probability, e.g. 0.7")
        if proba is None or np.asarray(proba).shape[0] != n:
            raise InputError("min_proba needs proba with one row per example", fix="pass predict_proba(...) output")
        keep &= np.asarray(proba).max(axis=1) >= float(min_proba)
    return data.subset(np.flatnonzero(keep), name=data.name), keep
