"""The review queue: which item a person should look at next.

The expected value of a human answer is the chance the current label is wrong, i.e. its
risk ``1 - p(label)`` under the (POLAR-corrected) label distribution. Ties — common when many
items get the same votes — are broken by how much the sources disagree on the item.
"""
from __future__ import annotations

import numpy as np


def label_risk(proba: np.ndarray) -> np.ndarray:
    """Risk of the current label (the argmax): ``1 - max_c proba[i, c]``.

    Args:
        proba: (n, k) label distributions.

    Returns:
        (n,) risks in [0, 1 - 1/k].
    """
    proba = np.asarray(proba, dtype=np.float64)
    return 1.0 - proba.max(axis=1)


def source_disagreement(L: np.ndarray, n_classes: int) -> np.ndarray:
    """Normalised entropy of the non-abstaining votes on each item (0 = unanimous or no votes).

    Args:
        L: (n, m) votes, -1 = abstain.
        n_classes: k.

    Returns:
        (n,) values in [0, 1].
    """
    L = np.asarray(L, dtype=np.int64)
    counts = np.stack([(L == c).sum(axis=1) for c in range(n_classes)], axis=1).astype(np.float64)
    total = counts.sum(axis=1, keepdims=True)
    p = np.divide(counts, total, out=np.zeros_like(counts), where=total > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.where(p > 0, p * np.log(p), 0.0).sum(axis=1)
    return h / np.log(n_classes)


def review_order(risk: np.ndarray, disagreement: np.ndarray | None = None, decimals: int = 6) -> np.ndarray:
    """Item positions, most valuable answer first: risk descending, ties by disagreement descending,
    then by position (stable).

    Args:
        risk: (n,) risk of each item's current label.
        disagreement: (n,) tie-breaker (e.g. :func:`source_disagreement`); None = no tie-breaker.
        decimals: risks equal to this many decimals count as ties.

    Returns:
        (n,) int permutation.
    """
    r = np.round(np.asarray(risk, dtype=np.float64), decimals)
    d = np.zeros_like(r) if disagreement is None else np.asarray(disagreement, dtype=np.float64)
    return np.lexsort((np.arange(len(r)), -d, -r))
