"""One tokenizer for every source, and exact maps between character spans and BIO tags.

Tokens are runs of letters/digits or single other non-space characters (``\\w+|[^\\w\\s]``), kept
as character offsets, so every token-level result maps back to the exact characters. Tag scheme
for entity types ``types = (t_0, ..., t_{T-1})``: class 0 = O, ``1 + 2t`` = B-t, ``2 + 2t`` = I-t
(k = 1 + 2T classes).
"""
from __future__ import annotations

import re
from typing import Sequence

import numpy as np

from .types import Span

TOKEN_RE = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def tokenize(text: str) -> np.ndarray:
    """Token character offsets of ``text``, shape (n_tokens, 2): [start, end) per token."""
    offs = [(m.start(), m.end()) for m in TOKEN_RE.finditer(text)]
    return np.asarray(offs, dtype=np.int64).reshape(-1, 2)


def n_tags(types: Sequence[str]) -> int:
    """k = 1 + 2T: O, then B-/I- for each type."""
    return 1 + 2 * len(types)


def tag_names(types: Sequence[str]) -> list[str]:
    return ["O"] + [f"{p}-{t}" for t in types for p in ("B", "I")]


def token_range(offsets: np.ndarray, start: int, end: int) -> tuple[int, int] | None:
    """Tokens [i, j) that overlap characters [start, end); None when none does."""
    if offsets.shape[0] == 0 or end <= start:
        return None
    i = int(np.searchsorted(offsets[:, 1], start, side="right"))
    j = int(np.searchsorted(offsets[:, 0], end, side="left"))
    return (i, j) if i < j else None


def spans_to_tags(spans: Sequence[Span], offsets: np.ndarray, types: Sequence[str]) -> np.ndarray:
    """BIO tags of the tokens, shape (n_tokens,), int. Spans of types not in ``types`` are
    ignored; a span is widened to whole tokens; an overlapping later span keeps its own B."""
    tix = {t: i for i, t in enumerate(types)}
    tags = np.zeros(offsets.shape[0], dtype=np.int64)
    for s in sorted(spans):
        if s.label not in tix:
            continue
        r = token_range(offsets, s.start, s.end)
        if r is None:
            continue
        i, j = r
        tags[i] = 1 + 2 * tix[s.label]
        tags[i + 1:j] = 2 + 2 * tix[s.label]
    return tags


def tags_to_spans(tags: Sequence[int], offsets: np.ndarray, types: Sequence[str],
                  source: str = "") -> list[Span]:
    """Character spans of a BIO tag sequence (shape (n_tokens,)). An I- without a preceding
    B-/I- of the same type starts a span (lenient repair, as conlleval does)."""
    out: list[Span] = []
    cur: tuple[int, int, int] | None = None      # (type, first token, last token)
    for i, t in enumerate(list(tags) + [0]):
        t = int(t)
        typ, inside = (t - 1) // 2, t > 0 and (t - 1) % 2 == 1
        if cur is not None and not (t > 0 and inside and typ == cur[0]):
            out.append(Span(int(offsets[cur[1], 0]), int(offsets[cur[2], 1]), types[cur[0]], source))
            cur = None
        if t > 0:
            cur = (typ, i, i) if cur is None else (cur[0], cur[1], i)
    return out
