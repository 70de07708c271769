"""What a span source is: a named thing that proposes typed character spans for a document."""
from __future__ import annotations

from typing import Protocol, Sequence, runtime_checkable

import numpy as np

from ..tokenize import token_range
from ..types import Span, SpanDoc


@runtime_checkable
class SpanSource(Protocol):
    """Proposes spans. ``name`` is unique among a run's sources; ``label`` is the type it proposes."""

    name: str

    def find(self, doc: SpanDoc) -> list[Span]:
        """Spans of ``doc.text`` this source proposes (possibly none)."""
        ...


def snap_to_tokens(spans: Sequence[Span], offsets: np.ndarray) -> list[Span]:
    """Keep only spans whose both ends fall on token boundaries (``offsets``: (n_tokens, 2)),
    deduplicated and sorted: what a token-level vote can represent exactly."""
    starts, ends = set(offsets[:, 0].tolist()), set(offsets[:, 1].tolist())
    keep = {s.key: s for s in spans if s.start in starts and s.end in ends
            and token_range(offsets, s.start, s.end) is not None}
    return [keep[k] for k in sorted(keep)]


def longest_non_overlapping(spans: Sequence[Span]) -> list[Span]:
    """Greedy: longest spans first, dropping any that overlaps one already kept."""
    kept: list[Span] = []
    for s in sorted(spans, key=lambda s: (-(s.end - s.start), s.start)):
        if all(s.end <= k.start or s.start >= k.end for k in kept):
            kept.append(s)
    return sorted(kept)
