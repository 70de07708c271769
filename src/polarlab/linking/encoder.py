"""Sentence encoding for linking: the packaged MiniLM with an in-memory memo (ablations reuse vectors)."""
from __future__ import annotations

import os
from typing import Sequence

import numpy as np
import torch

from ..features.embedding import Embedder, cached_encode
from .mentions import MARK_OPEN
from .pooling import mention_embeddings


class MemoEncoder:
    """Encodes texts with an :class:`~polarlab.features.embedding.Embedder`, each distinct text once.

    Args:
        embedder: the encoder (its model may be fine-tuned in place by
            :class:`polarlab.linking.contrastive.ContrastiveTrainer`).
        max_seq_length: tokens kept per text (short texts cost less on CPU).
        cache_dir: on-disk ``.npy`` cache for an *unmodified* packaged model (``None`` = none;
            a fine-tuned encoder must not use it: the cache key is the packaged model's id).
        tag: names the encoder in reports ("base", "kriss").
        pooling: ``"mean"`` (sentence-transformers' mean over all tokens) or ``"mention"`` (mean
            over the tokens inside the entity markers, :mod:`polarlab.linking.pooling`; texts
            without markers are pooled over all tokens, the same vectors as ``"mean"``).
        memo: share the memo of another encoder of the *same* model (plain texts are pooled alike).
    """

    def __init__(self, embedder: Embedder, max_seq_length: int = 64, cache_dir: str | os.PathLike | None = None,
                 tag: str = "base", pooling: str = "mean", memo: dict | None = None) -> None:
        if pooling not in ("mean", "mention"):
            raise ValueError(f"pooling must be 'mean' or 'mention', not {pooling!r}")
        self.embedder = embedder
        self.max_seq_length = int(max_seq_length)
        self.cache_dir = cache_dir
        self.tag = tag
        self.pooling = pooling
        self._memo: dict[str, np.ndarray] = {} if memo is None else memo
        self.n_encoded = 0

    def _key(self, text: str) -> str:
        return text if MARK_OPEN not in text else f"{self.pooling}\x00{text}"

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """shape (n, 384), float32, L2-normalised."""
        texts = [str(t) for t in texts]
        todo = list(dict.fromkeys(t for t in texts if self._key(t) not in self._memo))
        if todo:
            model = self.embedder.model
            model.max_seq_length = self.max_seq_length
            marked = [t for t in todo if MARK_OPEN in t]
            plain = [t for t in todo if MARK_OPEN not in t]
            if self.pooling == "mention" and marked:
                with torch.no_grad():
                    bs = self.embedder.batch_size
                    vecs = np.vstack([mention_embeddings(model, marked[a:a + bs], self.max_seq_length).cpu().numpy()
                                      for a in range(0, len(marked), bs)])
                for t, v in zip(marked, vecs):
                    self._memo[self._key(t)] = v
                todo = plain
            if todo:
                vecs = cached_encode(todo, self.embedder, self.cache_dir) if self.cache_dir else self.embedder.encode(todo)
                for t, v in zip(todo, vecs):
                    self._memo[self._key(t)] = v
            self.n_encoded += len(marked) + len(plain)
        if not texts:
            return np.zeros((0, self.embedder.dim), dtype=np.float32)
        return np.stack([self._memo[self._key(t)] for t in texts]).astype(np.float32)

    def forget(self) -> None:
        """Drop the memo (after the model changed)."""
        self._memo.clear()
