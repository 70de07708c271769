"""Dense linkers: nearest name (MiniLM, names only) and nearest prototype through a vector index."""
from __future__ import annotations

import numpy as np

from ..encoder import MemoEncoder
from ..mentions import MentionSet
from .base import Ranking, RowTable, max_over_rows


class PrototypeIndex:
    """Vectors grouped by entity, searched by inner product (cosine for normalised vectors).

    Args:
        vectors: shape (r, d), float32, L2-normalised.
        table: the r rows' texts and entities.
        hnsw_above: above this many rows search an approximate HNSW index (faiss
            ``IndexHNSWFlat``), else an exact flat index (``IndexFlatIP``).
    """

    def __init__(self, vectors: np.ndarray, table: RowTable, hnsw_above: int = 200_000) -> None:
        import faiss

        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.table = table
        d = self.vectors.shape[1]
        if len(self.vectors) > hnsw_above:
            self.index = faiss.IndexHNSWFlat(d, 32, faiss.METRIC_INNER_PRODUCT)
            self.index.hnsw.efSearch = 128
        else:
            self.index = faiss.IndexFlatIP(d)
        if len(self.vectors):
            self.index.add(self.vectors)

    def __len__(self) -> int:
        return len(self.vectors)

    def search(self, Q: np.ndarray, k: int) -> Ranking:
        """Top-k entities per query (an entity scores its best row); Q shape (n, d)."""
        n = Q.shape[0]
        if not len(self):
            return Ranking(np.full((n, k), -1, dtype=np.int64), np.full((n, k), np.nan))
        pool = min(len(self), max(64, 32 * k))
        D, I = self.index.search(np.ascontiguousarray(Q, dtype=np.float32), pool)
        S = np.full((n, pool), -np.inf, dtype=np.float32)
        ok = I >= 0
        S[ok] = D[ok]
        ent = np.where(ok, self.table.entity[np.maximum(I, 0)], -1)
        out = np.full((n, k), -1, dtype=np.int64)
        sc = np.full((n, k), np.nan)
        for i in range(n):
            seen = 0
            for j in range(pool):
                e = int(ent[i, j])
                if e >= 0 and e not in out[i, :seen]:
                    out[i, seen], sc[i, seen] = e, S[i, j]
                    seen += 1
                    if seen == k:
                        break
        return Ranking(out, sc)

    def score(self, Q: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        """shape (n, c): each candidate's best row similarity (NaN for -1 / no rows)."""
        return max_over_rows(lambda i, rows: self.vectors[rows] @ Q[i], self.table, candidates)


class NamesDenseLinker:
    """Nearest name by MiniLM embedding of the mention alone (no context, no training)."""

    name = "names_dense"

    def __init__(self, encoder: MemoEncoder, hnsw_above: int = 200_000) -> None:
        self.encoder = encoder
        self.hnsw_above = hnsw_above

    def fit(self, names: RowTable) -> "NamesDenseLinker":
        self.index_ = PrototypeIndex(self.encoder.encode(names.texts), names, self.hnsw_above)
        return self

    def rank(self, mentions: MentionSet, k: int) -> Ranking:
        return self.index_.search(self.encoder.encode(mentions.surfaces), k)

    def score(self, mentions: MentionSet, candidates: np.ndarray) -> np.ndarray:
        return self.index_.score(self.encoder.encode(mentions.surfaces), candidates)
