"""Token tag distributions → BIO tag sequences (Viterbi under BIO constraints) and the
probability that a decoded span is exactly right."""
from __future__ import annotations

import numpy as np

from .types import Span


def allowed_transitions(k: int) -> np.ndarray:
    """shape (k, k) bool: may tag b follow tag a? (I-t only after B-t or I-t.) Row k-index
    ``-1`` is not used; the start state allows everything but I-."""
    ok = np.ones((k, k), dtype=bool)
    for b in range(1, k):
        if (b - 1) % 2 == 1:                 # I-t
            ok[:, b] = False
            ok[b - 1, b] = ok[b, b] = True
    return ok


def viterbi(proba: np.ndarray) -> np.ndarray:
    """Most probable BIO-valid tag sequence of one document. proba: shape (n, k) → (n,) int."""
    n, k = proba.shape
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    lp = np.log(np.clip(proba, 1e-12, 1.0))
    trans = np.where(allowed_transitions(k), 0.0, -np.inf)
    start = np.array([0.0 if (b == 0 or (b - 1) % 2 == 0) else -np.inf for b in range(k)])
    score = start + lp[0]
    back = np.zeros((n, k), dtype=np.int64)
    for i in range(1, n):
        cand = score[:, None] + trans            # (from, to)
        back[i] = cand.argmax(axis=0)
        score = cand.max(axis=0) + lp[i]
    tags = np.zeros(n, dtype=np.int64)
    tags[-1] = int(score.argmax())
    for i in range(n - 1, 0, -1):
        tags[i - 1] = back[i, tags[i]]
    return tags


def span_probability(proba: np.ndarray, offsets: np.ndarray, span: Span, types: tuple[str, ...]) -> float:
    """P(exactly this span) under independent token distributions ``proba`` (n, k) of one document:
    P(B-t at the first token) × Π P(I-t inside) × (1 − P(I-t right after))."""
    t = types.index(span.label)
    i = int(np.searchsorted(offsets[:, 0], span.start))
    j = int(np.searchsorted(offsets[:, 1], span.end)) + 1
    p = float(proba[i, 1 + 2 * t]) * float(np.prod(proba[i + 1:j, 2 + 2 * t]))
    if j < proba.shape[0]:
        p *= 1.0 - float(proba[j, 2 + 2 * t])
    return p
