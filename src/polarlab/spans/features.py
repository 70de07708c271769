"""Token features for the span harmonizer: contextual MiniLM token embeddings + word shape.

One forward pass of the shipped all-MiniLM-L6-v2 encoder per 256-wordpiece window of a
document gives every wordpiece a contextual vector; a token's vector is the mean of its
wordpieces' (over overlapping windows too). Four shape features follow (title case, all
caps, has a digit, punctuation). Shape: (N, 384 + 4) for N tokens.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..features.embedding import Embedder
from .types import SpanDoc

SHAPE_FEATURES = ("title", "upper", "digit", "punct")


def shape_features(text: str, offsets: np.ndarray) -> np.ndarray:
    """shape (n, 4) float32: title case, all caps (2+ letters), has a digit, punctuation."""
    out = np.zeros((offsets.shape[0], 4), dtype=np.float32)
    for i, (a, b) in enumerate(offsets):
        w = text[a:b]
        out[i] = (w[:1].isupper() and not w.isupper(), len(w) > 1 and w.isupper(),
                  any(c.isdigit() for c in w), not w[:1].isalnum())
    return out


def token_embeddings(docs: Sequence[SpanDoc], offsets: Sequence[np.ndarray], embedder: Embedder | None = None,
                     max_length: int = 256, stride: int = 64, batch_size: int = 16) -> np.ndarray:
    """Contextual token vectors, shape (N, 384), rows in document then token order."""
    import torch

    st = (embedder or Embedder()).model
    tok, bert = st.tokenizer, st[0].auto_model
    out = []
    for d, offs in zip(docs, offsets):
        acc = np.zeros((offs.shape[0], bert.config.hidden_size), dtype=np.float32)
        cnt = np.zeros(offs.shape[0], dtype=np.float32)
        if offs.shape[0] and d.text.strip():
            enc = tok(d.text, return_offsets_mapping=True, truncation=True, max_length=max_length,
                      stride=stride, return_overflowing_tokens=True, padding=True, return_tensors="pt")
            chars = enc.pop("offset_mapping").numpy()
            enc.pop("overflow_to_sample_mapping", None)
            with torch.no_grad():
                hid = []
                for s in range(0, enc["input_ids"].shape[0], batch_size):
                    part = {k: v[s:s + batch_size] for k, v in enc.items()}
                    hid.append(bert(**part).last_hidden_state.numpy())
                hid = np.concatenate(hid)
            for c in range(chars.shape[0]):
                a = chars[c, :, 0]
                real = chars[c, :, 1] > a
                ti = np.searchsorted(offs[:, 1], a[real], side="right")
                ok = ti < offs.shape[0]
                np.add.at(acc, ti[ok], hid[c][real][ok])
                np.add.at(cnt, ti[ok], 1.0)
        acc /= np.maximum(cnt, 1.0)[:, None]
        out.append(acc)
    return np.concatenate(out) if out else np.zeros((0, 384), dtype=np.float32)


def token_features(docs: Sequence[SpanDoc], offsets: Sequence[np.ndarray], kind: str = "minilm",
                   embedder: Embedder | None = None) -> np.ndarray:
    """Features per token: ``"minilm"`` (contextual embedding + shape, (N, 388)) or ``"shape"``
    (shape features and a hashed lower-cased word, (N, 4 + 256); no model, for quick runs)."""
    shapes = np.concatenate([shape_features(d.text, o) for d, o in zip(docs, offsets)]) if docs else \
        np.zeros((0, 4), dtype=np.float32)
    if kind == "minilm":
        return np.hstack([token_embeddings(docs, offsets, embedder), shapes])
    if kind == "shape":
        import zlib
        h = np.zeros((shapes.shape[0], 256), dtype=np.float32)
        r = 0
        for d, o in zip(docs, offsets):
            for a, b in o:
                h[r, zlib.crc32(d.text[a:b].lower().encode()) % 256] = 1.0
                r += 1
        return np.hstack([h, shapes])
    from ..errors import ConfigError
    raise ConfigError(f"unknown token features {kind!r}", column="features", fix="use 'minilm' or 'shape'")
