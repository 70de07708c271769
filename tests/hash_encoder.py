"""A deterministic stand-in for MiniLM in the fast linking tests: words hashed into 64 dimensions."""
from __future__ import annotations

import zlib

import numpy as np


class HashEncoder:
    """Bag of words hashed into 64 dimensions, L2-normalised; words in ``skip`` (the mention markers by default)
    are not counted."""

    def __init__(self, skip: tuple[str, ...] = ("[m]", "[/m]")) -> None:
        self.skip = skip

    def encode(self, texts):
        out = np.zeros((len(texts), 64), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in t.lower().split():
                if w not in self.skip:
                    out[i, zlib.crc32(w.encode()) % 64] += 1.0
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)
