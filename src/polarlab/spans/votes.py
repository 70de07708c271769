"""Apply span sources to documents: every source's spans as token-level BIO votes.

A source votes on every token of every document it was applied to: B-/I-<type> inside its
spans, O elsewhere (not firing is evidence of O, as in skweak). A document where no source
fires is just a run of O votes: nothing special, nothing crashes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..errors import InputError, SourceError
from .sources.base import SpanSource
from .tokenize import n_tags, spans_to_tags, tags_to_spans, tokenize
from .types import Span, SpanDoc


@dataclass
class SpanVotes:
    """Token votes of m sources over a corpus.

    Attributes:
        docs: the documents, in order.
        types: the entity types (tag scheme of :mod:`polarlab.spans.tokenize`).
        sources: source names, one per column of ``L``.
        offsets: per document, token offsets, shape (n_i, 2).
        L: shape (N, m), int: BIO tag votes (0 = O), -1 = abstain; N = sum of n_i.
        doc_start: shape (len(docs) + 1,), token row where each document starts.
        proposals: per document, per source, the spans proposed (snapped to tokens).
    """

    docs: list[SpanDoc]
    types: tuple[str, ...]
    sources: list[str]
    offsets: list[np.ndarray]
    L: np.ndarray
    doc_start: np.ndarray
    proposals: list[list[list[Span]]]

    @property
    def k(self) -> int:
        return n_tags(self.types)

    def rows(self, i: int) -> slice:
        return slice(int(self.doc_start[i]), int(self.doc_start[i + 1]))

    def token_rows(self, doc_ids: Sequence[int]) -> np.ndarray:
        """Token row indices of documents ``doc_ids`` (in that order)."""
        parts = [np.arange(self.doc_start[i], self.doc_start[i + 1]) for i in doc_ids]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    def decode(self, tags: np.ndarray, source: str = "") -> list[list[Span]]:
        """Per document, the spans of a token tag array of shape (N,)."""
        return [tags_to_spans(tags[self.rows(i)], self.offsets[i], self.types, source)
                for i in range(len(self.docs))]

    def without(self, j: int) -> "SpanVotes":
        """The same votes without source column ``j``."""
        keep = [c for c in range(len(self.sources)) if c != j]
        return SpanVotes(self.docs, self.types, [self.sources[c] for c in keep], self.offsets,
                         self.L[:, keep], self.doc_start, [[p[c] for c in keep] for p in self.proposals])


def apply_span_sources(docs: Sequence[SpanDoc], sources: Sequence[SpanSource],
                       types: Sequence[str]) -> SpanVotes:
    """Run every source on every document.

    Raises:
        SourceError: duplicate source names, no sources, or a source that fails on a document
            (naming the source and the document).
    """
    names = [s.name for s in sources]
    if not names:
        raise SourceError("no span sources", column="sources", fix="give at least one span source")
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise SourceError(f"duplicate source names {dup}", column="sources", fix="give every source its own name")
    offsets, blocks, proposals, starts = [], [], [], [0]
    for d in docs:
        offs = tokenize(d.text)
        cols, props = [], []
        for src in sources:
            try:
                sp = list(src.find(d))
            except InputError:      # already names what to fix (a SourceError, an LLM server that stopped answering)
                raise
            except Exception as e:  # a user's span function: say which one, on which document
                raise SourceError(f"span source {src.name!r} failed: {type(e).__name__}: {e}", row=d.id,
                                  column=src.name, fix="fix the source (it must return spans of doc.text)") from e
            props.append(tags_to_spans(spans_to_tags(sp, offs, types), offs, types, src.name))
            cols.append(spans_to_tags(sp, offs, types))
        offsets.append(offs)
        proposals.append(props)
        blocks.append(np.stack(cols, axis=1) if offs.shape[0] else np.zeros((0, len(sources)), dtype=np.int64))
        starts.append(starts[-1] + offs.shape[0])
    L = np.concatenate(blocks, axis=0) if blocks else np.zeros((0, len(sources)), dtype=np.int64)
    return SpanVotes(list(docs), tuple(types), names, offsets, L.astype(np.int64),
                     np.asarray(starts, dtype=np.int64), proposals)
