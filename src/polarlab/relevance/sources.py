"""Cheap relevance sources on pool pairs (no LLM): rank votes and lexical-overlap rules.

Each source maps a :class:`Pool` to votes, shape (n,): 1 relevant, 0 not relevant, -1 abstain.
They are looked up by name in :data:`CHEAP_SOURCES` (add one there to add a source).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .pool import Pool

ABSTAIN = -1


def rank_vote(ranks: np.ndarray, pos_max: int = 1, neg_min: int = 11) -> np.ndarray:
    """1 where rank <= ``pos_max``, 0 where rank >= ``neg_min``, else abstain."""
    out = np.full(len(ranks), ABSTAIN, dtype=np.int64)
    out[ranks <= pos_max] = 1
    out[ranks >= neg_min] = 0
    return out


def threshold_vote(x: np.ndarray, hi: float, lo: float) -> np.ndarray:
    """1 where x >= ``hi``, 0 where x < ``lo``, else abstain."""
    out = np.full(len(x), ABSTAIN, dtype=np.int64)
    out[x >= hi] = 1
    out[x < lo] = 0
    return out


CHEAP_SOURCES: dict[str, Callable[[Pool], np.ndarray]] = {
    "bm25_rank": lambda p: rank_vote(p.rank_bm25),
    "dense_rank": lambda p: rank_vote(p.rank_dense),
    "word_overlap": lambda p: threshold_vote(p.overlap, hi=0.7, lo=0.3),
    "title_overlap": lambda p: threshold_vote(p.title_overlap, hi=0.5, lo=0.1),
}


def cheap_votes(pool: Pool, names: tuple[str, ...] = tuple(CHEAP_SOURCES)) -> dict[str, np.ndarray]:
    """Votes of the named cheap sources, each shape (n,)."""
    return {n: CHEAP_SOURCES[n](pool) for n in names}
