"""First-stage retrievers: BM25 (bm25s), the MiniLM bi-encoder, and their reciprocal-rank fusion."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from ..features.embedding import Embedder, cached_encode, packaged_model_path
from .beir import BeirData
from .ranking import Ranking, top_k


class BM25Retriever:
    """BM25 over ``title + text`` (bm25s; English stop words, Snowball stemming when PyStemmer is installed).

    Parameters:
        k1, b: BM25 parameters (Anserini's defaults).
    """

    def __init__(self, k1: float = 0.9, b: float = 0.4) -> None:
        self.k1 = float(k1)
        self.b = float(b)

    @staticmethod
    def _stemmer():
        try:
            import Stemmer
            return Stemmer.Stemmer("english").stemWords
        except ImportError:  # pragma: no cover - PyStemmer is optional
            return None

    def fit(self, data: BeirData) -> "BM25Retriever":
        import logging

        import bm25s
        bm25s_log = logging.getLogger("bm25s")
        if bm25s_log.level == logging.DEBUG:     # bm25s sets DEBUG on import: "DEBUG Building index ..." on stderr
            bm25s_log.setLevel(logging.WARNING)
        self.stem_ = self._stemmer()
        corpus = [data.doc_text(i) for i in range(data.n_docs)]
        tokens = bm25s.tokenize(corpus, stopwords="en", stemmer=self.stem_, show_progress=False)
        self.model_ = bm25s.BM25(k1=self.k1, b=self.b)
        self.model_.index(tokens, show_progress=False)
        self.n_docs_ = data.n_docs
        return self

    def retrieve(self, data: BeirData, qids: Sequence[str], k: int = 100) -> Ranking:
        import bm25s
        texts = [data.queries[q] for q in qids]
        tokens = bm25s.tokenize(texts, stopwords="en", stemmer=self.stem_, show_progress=False)
        idx, sc = self.model_.retrieve(tokens, k=min(k, self.n_docs_), show_progress=False, n_threads=1)
        return Ranking(list(qids), np.asarray(idx, dtype=np.int64), np.asarray(sc, dtype=np.float64))


class DenseRetriever:
    """A sentence-transformers bi-encoder (default: the packaged all-MiniLM-L6-v2): cosine top-k.

    Parameters:
        model_path: a sentence-transformers folder (e.g. a fine-tuned model); None = packaged MiniLM.
        max_seq_length: tokens per text (abstracts are cut: title + first sentences).
        cache_dir: folder for embedding caches (corpus embeddings are computed once per model).
        batch_size: texts per forward pass.
    """

    def __init__(self, model_path: str | os.PathLike | None = None, max_seq_length: int = 256,
                 cache_dir: str | os.PathLike | None = None, batch_size: int = 32) -> None:
        self.model_path = model_path
        self.max_seq_length = int(max_seq_length)
        self.cache_dir = cache_dir
        self.batch_size = int(batch_size)
        self.embedder = _SeqEmbedder(self.max_seq_length, batch_size=self.batch_size,
                                     model_path=Path(model_path) if model_path else None)

    def encode_queries(self, data: BeirData, qids: Sequence[str]) -> np.ndarray:
        """shape (nq, 384), L2-normalised."""
        return cached_encode([data.queries[q] for q in qids], self.embedder, self.cache_dir)

    def encode_corpus(self, data: BeirData) -> np.ndarray:
        """shape (n_docs, 384), L2-normalised (cached whole, and block by block while it is computed)."""
        if getattr(self, "_corpus_for", None) is not data:
            texts = [data.doc_text(i) for i in range(data.n_docs)]
            self._corpus = cached_encode(texts, _BlockCached(self.embedder, self.cache_dir), self.cache_dir)
            self._corpus_for = data
        return self._corpus

    def retrieve(self, data: BeirData, qids: Sequence[str], k: int = 100) -> Ranking:
        Q = self.encode_queries(data, qids)
        D = self.encode_corpus(data)
        idx, sc = top_k(Q @ D.T, k)
        return Ranking(list(qids), idx.astype(np.int64), sc.astype(np.float64))


class _SeqEmbedder(Embedder):
    """:class:`Embedder` with a max sequence length (part of the embedding cache key)."""

    def __init__(self, max_seq_length: int, **kw) -> None:
        super().__init__(**kw)
        self.max_seq_length = int(max_seq_length)

    @property
    def model_id(self) -> str:
        packaged = self.model_path.resolve() == packaged_model_path().resolve()
        base = super().model_id if packaged else f"{self.model_path.resolve()}@{_mtime(self.model_path)}"
        return f"{base}|max_seq_length={self.max_seq_length}"

    @property
    def model(self):
        m = super().model
        m.max_seq_length = self.max_seq_length
        return m


class _BlockCached:
    """An embedder that encodes in blocks of ``block`` texts, each block cached: an encoding that was killed
    (a corpus takes minutes on a CPU) resumes at the block it was in."""

    def __init__(self, embedder: Embedder, cache_dir, block: int = 512) -> None:
        self.embedder, self.cache_dir, self.block = embedder, cache_dir, int(block)

    @property
    def model_id(self) -> str:
        return self.embedder.model_id

    @property
    def dim(self) -> int:
        return self.embedder.dim

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        parts = [cached_encode(texts[i:i + self.block], self.embedder, self.cache_dir)
                 for i in range(0, len(texts), self.block)]
        return np.vstack(parts) if parts else self.embedder.encode([])


def _mtime(path: Path) -> str:
    f = Path(path) / "model.safetensors"
    return str(f.stat().st_mtime_ns) if f.exists() else "?"


def rrf_fuse(rankings: Sequence[Ranking], k: int = 100, c: float = 60.0) -> Ranking:
    """Reciprocal-rank fusion: score(d) = sum over rankings of 1 / (c + rank(d)); top ``k``."""
    qids = rankings[0].qids
    for r in rankings[1:]:
        if r.qids != qids:
            raise ValueError("rankings to fuse must list the same queries in the same order")
    rows_idx, rows_sc = [], []
    for qi in range(len(qids)):
        acc: dict[int, float] = {}
        for r in rankings:
            for rank, d in enumerate(r.doc_idx[qi], 1):
                acc[int(d)] = acc.get(int(d), 0.0) + 1.0 / (c + rank)
        best = sorted(acc.items(), key=lambda t: (-t[1], t[0]))[:k]
        rows_idx.append([d for d, _ in best])
        rows_sc.append([s for _, s in best])
    depth = min(len(r) for r in rows_idx)
    return Ranking(list(qids), np.array([r[:depth] for r in rows_idx], dtype=np.int64),
                   np.array([r[:depth] for r in rows_sc], dtype=np.float64))
