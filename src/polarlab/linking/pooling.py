"""Mention pooling: the mean of the encoder's contextual token vectors *inside* the entity markers.

Mean pooling over a whole context lets the surrounding words dominate a short mention; KRISS
represents a mention in context by the encoder's states at the mention. Texts without markers
(names) are pooled over all tokens, exactly like sentence-transformers' mean pooling.
"""
from __future__ import annotations

from typing import Sequence

import torch

from .mentions import MARK_CLOSE, MARK_OPEN


def mention_char_span(text: str) -> tuple[int, int] | None:
    """Character span of the mention between ``[M] `` and `` [/M]``; None without markers."""
    a = text.find(MARK_OPEN)
    b = text.find(MARK_CLOSE, a + 1) if a >= 0 else -1
    if a < 0 or b < 0:
        return None
    return a + len(MARK_OPEN), b


def mention_embeddings(model, texts: Sequence[str], max_seq_length: int) -> torch.Tensor:
    """shape (n, d), L2-normalised; gradients flow when called with grad enabled.

    Args:
        model: a sentence-transformers model whose first module is a Transformer.
        texts: marked contexts (``in_context``) or plain names.
        max_seq_length: tokens kept (a mention cut off by truncation falls back to all tokens).
    """
    tok = model.tokenizer(list(texts), padding=True, truncation=True, max_length=max_seq_length,
                          return_offsets_mapping=True, return_tensors="pt")
    offsets = tok.pop("offset_mapping")                    # (n, T, 2)
    inputs = {k: v.to(model.device) for k, v in tok.items()}
    states = model[0].auto_model(**inputs).last_hidden_state  # (n, T, d)
    att = inputs["attention_mask"].bool()
    mask = att.clone()
    for i, t in enumerate(texts):
        span = mention_char_span(t)
        if span is None:
            continue
        s, e = span
        inside = (offsets[i, :, 0] >= s) & (offsets[i, :, 1] <= e) & (offsets[i, :, 1] > offsets[i, :, 0])
        inside = inside.to(mask.device) & att[i]
        if inside.any():
            mask[i] = inside
    m = mask.unsqueeze(-1).to(states.dtype)
    pooled = (states * m).sum(1) / m.sum(1).clamp(min=1.0)
    return torch.nn.functional.normalize(pooled, dim=-1)
