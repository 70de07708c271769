"""A bounded, seeded subsample of a label matrix's rows, stratified by vote pattern.

Fitting a model to the votes (the harmonizer's h(x) and its cross-fitted combination) costs time that grows with
the rows, while what it learns (how the sources agree, given the features) stops changing long before a million
rows. Above ``max_rows`` rows the fit therefore sees a subsample: every distinct vote pattern (the row's tuple of
votes, abstains included) keeps its share of the rows, and a pattern too rare for its share to round to one row
keeps one row anyway, so a rare combination of sources is never lost. Prediction still covers every row.
"""
from __future__ import annotations

import numpy as np

from ..errors import ConfigError

#: The default ``[harmonizer] max_fit_rows``: rows above this are subsampled for fitting (features and h).
DEFAULT_MAX_FIT_ROWS = 50_000


def stratified_rows(L: np.ndarray, max_rows: int | None, seed: int = 0) -> np.ndarray | None:
    """Row indices (sorted, shape (n_sub,)) of a vote-pattern-stratified subsample of ``L`` (shape (n, m)),
    or None when ``L`` has at most ``max_rows`` rows (or ``max_rows`` is None): then every row is used.

    Each pattern p with n_p rows gets ``max(1, round(max_rows * n_p / n))`` rows drawn without replacement
    (seeded); when the rare patterns' minimum of one row pushes the total above ``max_rows``, the largest
    patterns give rows back (and with more patterns than ``max_rows``, rare patterns are drawn at random), so
    ``n_sub == max_rows``.
    """
    if max_rows is None:
        return None
    if int(max_rows) < 1:
        raise ConfigError(f"max_fit_rows = {max_rows}", column="harmonizer.max_fit_rows",
                          fix="use a positive number of rows (or leave it out for the default)")
    L = np.asarray(L)
    n = L.shape[0]
    if n <= max_rows:
        return None
    _, pattern, counts = np.unique(_pattern_codes(L), axis=0, return_inverse=True, return_counts=True)
    pattern = pattern.reshape(-1)
    rng = np.random.default_rng(seed)
    quota = np.maximum(1, np.round(max_rows * counts / n)).astype(np.int64)
    quota = np.minimum(quota, counts)
    excess = int(quota.sum()) - int(max_rows)
    for p in np.argsort(-quota, kind="stable"):          # the largest patterns give back the excess
        if excess <= 0:
            break
        give = min(excess, int(quota[p]) - 1)
        quota[p] -= give
        excess -= give
    if excess > 0:                                         # more patterns than rows: rare ones drawn at random
        ones = np.flatnonzero(quota == 1)
        quota[rng.choice(ones, size=excess, replace=False)] = 0
    key = rng.random(n)                                    # a seeded random order within each pattern
    order = np.lexsort((key, pattern))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.arange(n) - starts[pattern[order]]          # position of the row within its pattern
    return np.sort(order[rank < quota[pattern[order]]])


def _pattern_codes(L: np.ndarray) -> np.ndarray:
    """One integer per row naming its vote pattern, shape (n,) (the rows themselves, (n, m), when the patterns
    do not fit in 63 bits)."""
    L = L.astype(np.int64)
    base = int(L.max(initial=-1)) + 2                      # votes -1..k-1 -> digits 0..k
    if L.shape[1] * np.log2(base) >= 62:
        return L
    return (L + 1) @ (base ** np.arange(L.shape[1], dtype=np.int64))
