"""A ranking: top-k documents per query, as arrays, and its TREC run-file form."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..export.atomic import write_text
from .beir import BeirData

Run = dict[str, dict[str, float]]   # query id -> {doc id: score}


@dataclass
class Ranking:
    """Top-k documents per query.

    Attributes:
        qids: query ids, length nq.
        doc_idx: shape (nq, k), document indices, best first.
        scores: shape (nq, k), the retriever's scores (higher = better), aligned with ``doc_idx``.
    """

    qids: list[str]
    doc_idx: np.ndarray
    scores: np.ndarray

    @property
    def depth(self) -> int:
        return int(self.doc_idx.shape[1])

    def to_run(self, data: BeirData) -> Run:
        """``{qid: {doc id: score}}`` (the form ir_measures / pytrec_eval take)."""
        return {q: {data.doc_ids[int(d)]: float(s) for d, s in zip(di, sc)}
                for q, di, sc in zip(self.qids, self.doc_idx, self.scores)}

    def rank_of(self) -> list[dict[int, int]]:
        """Per query, document index -> 1-based rank."""
        return [{int(d): r + 1 for r, d in enumerate(row)} for row in self.doc_idx]

    def subset(self, qids: list[str]) -> "Ranking":
        pos = {q: i for i, q in enumerate(self.qids)}
        rows = [pos[q] for q in qids]
        return Ranking(list(qids), self.doc_idx[rows], self.scores[rows])


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and values of the k largest entries per row of ``scores`` (nq, n), sorted descending."""
    k = min(int(k), scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    vals = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-vals, axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1), np.take_along_axis(vals, order, axis=1)


def write_run(path: str | Path, ranking: Ranking, data: BeirData, tag: str = "polarlab") -> Path:
    """Write a TREC run file (``qid Q0 docid rank score tag``) atomically."""
    lines = []
    for q, di, sc in zip(ranking.qids, ranking.doc_idx, ranking.scores):
        for r, (d, s) in enumerate(zip(di, sc), 1):
            lines.append(f"{q} Q0 {data.doc_ids[int(d)]} {r} {float(s):.6f} {tag}\n")
    write_text(path, "".join(lines))
    return Path(path)
