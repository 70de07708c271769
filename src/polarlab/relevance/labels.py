"""Training triplets from pair labels: soft labels, LLM votes, or qrels (the supervised bound)."""
from __future__ import annotations

import numpy as np

from .beir import Qrels
from .pool import Pool
from .trainer import Triplet


def triplets_from_scores(pool: Pool, p: np.ndarray, pos_min: float = 0.5, neg_max: float = 0.1,
                         max_pos: int = 2, n_neg: int = 1) -> list[Triplet]:
    """Per query: its pairs with P(relevant) >= ``pos_min`` (best first, at most ``max_pos``) as
    positives, each with the ``n_neg`` highest-ranked pairs of P <= ``neg_max`` as hard negatives.

    Parameters:
        p: shape (n,), P(relevant) per pool pair; NaN = unknown (neither positive nor negative).
    """
    out = []
    for q, rows in pool.by_query().items():
        pq = p[rows]
        known = np.isfinite(pq)
        pos = [rows[i] for i in np.argsort(-np.where(known, pq, -1), kind="stable")
               if known[i] and pq[i] >= pos_min][:max_pos]
        negs = [r for r, ok, v in zip(rows, known, pq) if ok and v <= neg_max]
        out.extend(_triplet(q, int(pool.doc_idx[r]), [int(pool.doc_idx[x]) for x in negs[:n_neg]]) for r in pos)
    return out


def _triplet(q: str, pos: int, negs: list[int]) -> Triplet:
    return Triplet(q, pos, negs[0] if negs else None, tuple(negs[1:]))


def triplets_from_qrels(pool: Pool, qrels: Qrels, doc_index: dict[str, int], max_pos: int = 2,
                        n_neg: int = 1) -> list[Triplet]:
    """Supervised triplets: qrels documents as positives, the best-ranked non-relevant pool pair as
    hard negative (SciFact's qrels are sparse: an unjudged document counts as not relevant)."""
    out = []
    rows = pool.by_query()
    for q, rel in qrels.items():
        pos = [doc_index[d] for d, g in rel.items() if g > 0][:max_pos]
        relevant = {doc_index[x] for x in rel}
        negs = [int(pool.doc_idx[r]) for r in rows.get(q, []) if int(pool.doc_idx[r]) not in relevant]
        out.extend(_triplet(q, d, negs[:n_neg]) for d in pos)
    return out


def gold_of_pairs(pool: Pool, qrels: Qrels, doc_ids: list[str]) -> np.ndarray:
    """shape (n,), 1 where the pair is in ``qrels`` (relevance > 0), else 0 — for measuring only."""
    return np.array([int(qrels.get(q, {}).get(doc_ids[int(d)], 0) > 0)
                     for q, d in zip(pool.qids, pool.doc_idx)], dtype=np.int64)
