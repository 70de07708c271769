"""The candidate pool: the query–document pairs that get labels, with their cheap signals.

Pairs are the top ``depth`` documents of the fused ranking for every training query. For each
pair the pool keeps its BM25, dense and fused ranks (101 = not retrieved in the top 100), BM25
score and cosine similarity, and the lexical overlap of the query's stemmed content words with
the document's title and text.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .beir import BeirData
from .ranking import Ranking

NOT_RANKED = 101
_WORD = re.compile(r"(?u)\b\w\w+\b")


def content_words(text: str, stem=None) -> set[str]:
    """Lower-cased words of 2+ characters, English stop words removed, stemmed when ``stem`` given."""
    from bm25s.stopwords import STOPWORDS_EN
    words = [w for w in _WORD.findall(text.lower()) if w not in STOPWORDS_EN]
    return set(stem(words)) if stem else set(words)


@dataclass
class Pool:
    """Pairs and their signals; every array has shape (n,).

    Attributes:
        qids: query id per pair.  doc_idx: document index per pair.
        rank_bm25, rank_dense, rank_fused: 1-based ranks (101 = outside the top 100).
        bm25: BM25 score (0 when not retrieved).  cosine: MiniLM cosine similarity.
        overlap: share of the query's content words found in the document.
        title_overlap: share of the query's content words found in the title.
    """

    qids: list[str]
    doc_idx: np.ndarray
    rank_bm25: np.ndarray
    rank_dense: np.ndarray
    rank_fused: np.ndarray
    bm25: np.ndarray
    cosine: np.ndarray
    overlap: np.ndarray
    title_overlap: np.ndarray

    def __len__(self) -> int:
        return len(self.qids)

    def pairs(self) -> list[tuple[str, int]]:
        return [(q, int(d)) for q, d in zip(self.qids, self.doc_idx)]

    def index(self) -> dict[tuple[str, int], int]:
        return {p: i for i, p in enumerate(self.pairs())}

    def by_query(self) -> dict[str, np.ndarray]:
        """Query id -> row indices of its pairs (in pool order = fused rank order)."""
        out: dict[str, list[int]] = {}
        for i, q in enumerate(self.qids):
            out.setdefault(q, []).append(i)
        return {q: np.array(v) for q, v in out.items()}


def _ranks(r: Ranking) -> tuple[list[dict[int, int]], list[dict[int, float]]]:
    return r.rank_of(), [{int(d): float(s) for d, s in zip(di, sc)} for di, sc in zip(r.doc_idx, r.scores)]


def build_pool(data: BeirData, bm25: Ranking, dense: Ranking, fused: Ranking, depth: int,
               q_emb: np.ndarray, d_emb: np.ndarray, stem=None) -> Pool:
    """Pool of the fused top ``depth`` per query.

    Parameters:
        bm25, dense, fused: rankings of the same queries (same order).
        q_emb: shape (nq, dim), query embeddings (rows aligned with ``fused.qids``).
        d_emb: shape (n_docs, dim), document embeddings.
        stem: a stemmer for the lexical overlap (list of words -> list of stems), or None.
    """
    rb, sb = _ranks(bm25)
    rd, _ = _ranks(dense)
    qids, docs, r_b, r_d, r_f, s_b, cos, ov, tov = [], [], [], [], [], [], [], [], []
    for qi, q in enumerate(fused.qids):
        qw = content_words(data.queries[q], stem)
        for r, d in enumerate(fused.doc_idx[qi][:depth], 1):
            d = int(d)
            qids.append(q)
            docs.append(d)
            r_b.append(rb[qi].get(d, NOT_RANKED))
            r_d.append(rd[qi].get(d, NOT_RANKED))
            r_f.append(r)
            s_b.append(sb[qi].get(d, 0.0))
            cos.append(float(q_emb[qi] @ d_emb[d]))
            dw = content_words(data.doc_text(d), stem)
            tw = content_words(data.titles[d], stem)
            ov.append(len(qw & dw) / max(len(qw), 1))
            tov.append(len(qw & tw) / max(len(qw), 1))
    f = lambda v, t=np.float64: np.asarray(v, dtype=t)  # noqa: E731
    return Pool(qids, f(docs, np.int64), f(r_b, np.int64), f(r_d, np.int64), f(r_f, np.int64), f(s_b),
                f(cos), f(ov), f(tov))


def pair_features(pool: Pool, q_emb: dict[str, np.ndarray], d_emb: np.ndarray) -> np.ndarray:
    """Features of every pair for the harmonizer h(x), shape (n, dim + 7).

    ``q ⊙ d`` (the elementwise product of the MiniLM embeddings: which meanings they share),
    cosine, BM25 score divided by the query's best, log ranks (BM25, dense, fused), overlaps.
    """
    Q = np.vstack([q_emb[q] for q in pool.qids])
    D = d_emb[pool.doc_idx]
    best = {}
    for q, s in zip(pool.qids, pool.bm25):
        best[q] = max(best.get(q, 0.0), s)
    rel_b = np.array([s / best[q] if best[q] > 0 else 0.0 for q, s in zip(pool.qids, pool.bm25)])
    extra = np.column_stack([pool.cosine, rel_b, np.log(pool.rank_bm25), np.log(pool.rank_dense),
                             np.log(pool.rank_fused), pool.overlap, pool.title_overlap])
    return np.hstack([Q * D, extra]).astype(np.float32)
