"""Retrieval: the nearest confident pool rows of each row to correct (cosine on the features)."""
from __future__ import annotations

import numpy as np

from ..data.dataset import Example
from ..task import Task
from .config import CorrectionConfig
from .pool import DemoPool, clip


def _unit(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=np.float32)
    norm = np.linalg.norm(X, axis=1, keepdims=True)
    return X / np.maximum(norm, 1e-12)


def nearest_confident(pool: DemoPool, X_query: np.ndarray, k: int, confident: float,
                      exclude: np.ndarray | None = None, chunk: int = 1024) -> np.ndarray:
    """Indices of the k nearest confident pool rows per query row, nearest first.

    Parameters:
        pool: the pool (confident rows: h's top probability >= ``confident``, else the most
            confident ones).
        X_query: shape (q, d), same features as ``pool.X``.
        k: neighbours per row (fewer when the pool has fewer confident rows).
        exclude: shape (q,), a pool position per query row that is never its neighbour (the
            query row itself, when correcting the pool's own rows); -1 = none.

    Returns:
        shape (q, k'), int64 pool row positions, k' = min(k, confident rows).
    """
    cand = pool.confident_rows(confident, at_least=k + (exclude is not None))
    P = _unit(pool.X[cand])
    Q = _unit(X_query)
    kk = min(k, cand.shape[0])
    if exclude is not None:
        exclude = np.asarray(exclude, dtype=np.int64).reshape(-1)
        kk = min(k, cand.shape[0] - 1) if np.isin(exclude, cand).any() else kk
    out = np.zeros((Q.shape[0], kk), dtype=np.int64)
    for s in range(0, Q.shape[0], chunk):
        sims = Q[s:s + chunk] @ P.T                               # (c, r)
        if exclude is not None:
            sims[exclude[s:s + chunk, None] == cand[None, :]] = -np.inf
        for r, row in enumerate(sims):
            idx = np.argsort(-row, kind="stable")[:kk]
            out[s + r] = cand[idx]
    return out


def retrieved_few_shot(pool: DemoPool, neighbours: np.ndarray, config: CorrectionConfig
                       ) -> tuple[tuple[Example, int], ...]:
    """One row's neighbours (nearest first) as demonstrations, nearest *last* (next to the
    example), labelled by the harmonizer."""
    h = pool.hlabel
    return tuple((pool.demo(i, config.max_demo_chars), int(h[i])) for i in neighbours[::-1])


def retrieved_evidence(pool: DemoPool, neighbours: np.ndarray, task: Task, config: CorrectionConfig
                       ) -> tuple[str, ...]:
    """One row's neighbours (nearest first) as context lines:
    ``A similar text labelled <answer word>: "<text>"``."""
    h = pool.hlabel
    return tuple(f"A similar text labelled {task.answer_words[int(h[i])]}: "
                 f"\"{clip(pool.data.frame['text'].iat[int(i)], config.max_demo_chars)}\""
                 for i in neighbours)
