"""Sentence encoding for linking: the packaged MiniLM with an in-memory memo (ablations reuse vectors)."""
from __future__ import annotations

import os
from typing import Sequence

import numpy as np

from ..features.embedding import Embedder, cached_encode


class MemoEncoder:
    """Encodes texts with an :class:`~polarlab.features.embedding.Embedder`, each distinct text once.

    Args:
        embedder: the encoder (its model may be fine-tuned in place by
            :class:`polarlab.linking.contrastive.ContrastiveTrainer`).
        max_seq_length: tokens kept per text (short texts cost less on CPU).
        cache_dir: on-disk ``.npy`` cache for an *unmodified* packaged model (``None`` = none;
            a fine-tuned encoder must not use it: the cache key is the packaged model's id).
        tag: names the encoder in reports ("base", "kriss").
    """

    def __init__(self, embedder: Embedder, max_seq_length: int = 64, cache_dir: str | os.PathLike | None = None,
                 tag: str = "base") -> None:
        self.embedder = embedder
        self.max_seq_length = int(max_seq_length)
        self.cache_dir = cache_dir
        self.tag = tag
        self._memo: dict[str, np.ndarray] = {}
        self.n_encoded = 0

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """shape (n, 384), float32, L2-normalised."""
        texts = [str(t) for t in texts]
        todo = list(dict.fromkeys(t for t in texts if t not in self._memo))
        if todo:
            self.embedder.model.max_seq_length = self.max_seq_length
            vecs = cached_encode(todo, self.embedder, self.cache_dir) if self.cache_dir else self.embedder.encode(todo)
            self.n_encoded += len(todo)
            for t, v in zip(todo, vecs):
                self._memo[t] = v
        if not texts:
            return np.zeros((0, self.embedder.dim), dtype=np.float32)
        return np.stack([self._memo[t] for t in texts]).astype(np.float32)

    def forget(self) -> None:
        """Drop the memo (after the model changed)."""
        self._memo.clear()
