"""Span candidates: the union of the sources' proposals, each with span-level votes and features.

A token-level label model decides every token on its own and has to rebuild boundaries from
per-token votes; most span errors are boundary errors (one source says "hepatoblastoma", another
"childhood hepatoblastoma"). Here the unit is a whole proposed span. For every candidate ``c``
(a span some source proposed, deduplicated by its exact (start, end, label)) and every source
``j`` the vote is

- ``1`` ("right"): j proposed exactly c;
- ``0`` ("wrong"): j proposed a different span that overlaps c (j disagrees about c's boundaries);
- ``-1`` (silent): j proposed nothing that overlaps c.

These votes are ordinary 2-class votes (class 1 = the span is right), so the classification
harmonizer's pieces apply unchanged (see :mod:`polarlab.spans.span_harmonize`).

Features of a candidate (from the token features of :mod:`polarlab.spans.features`): the mean
vector of its tokens, its first and last token, the token just left and just right of it (zeros at
a document edge), and its length in tokens: shape (n, 5 d + 1).

:func:`select_spans` turns candidate probabilities into non-overlapping output spans: per document
the set of non-overlapping candidates with the largest total ``p - threshold`` (weighted interval
scheduling; only candidates with ``p > threshold`` can be chosen), so of two overlapping
candidates the more probable one wins and a candidate nobody trusts is dropped.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .types import Span
from .votes import SpanVotes

RIGHT, WRONG, SILENT = 1, 0, -1


@dataclass
class SpanCandidates:
    """Candidate spans of a corpus with their span-level votes.

    Attributes:
        spans: the candidates, documents in order, sorted within a document.
        doc: shape (n,), the document index of every candidate.
        L: shape (n, m), int: 1 = the source proposed exactly this span, 0 = it proposed an
            overlapping different span, -1 = silent.
        tokens: shape (n, 2), int: first and last token index (within the document).
    """

    spans: list[Span]
    doc: np.ndarray
    L: np.ndarray
    tokens: np.ndarray

    def __len__(self) -> int:
        return len(self.spans)

    def of_docs(self, doc_ids: Sequence[int]) -> np.ndarray:
        """Indices of the candidates of documents ``doc_ids``."""
        return np.flatnonzero(np.isin(self.doc, np.asarray(doc_ids, dtype=np.int64)))


def span_votes(span: Span, proposals: Sequence[Sequence[Span]]) -> list[int]:
    """The m span-level votes on ``span`` of sources whose proposals (in one document) are given."""
    row = []
    for P in proposals:
        if any(s.key == span.key for s in P):
            row.append(RIGHT)
        elif any(s.label == span.label and s.start < span.end and span.start < s.end for s in P):
            row.append(WRONG)
        else:
            row.append(SILENT)
    return row


def build_candidates(votes: SpanVotes, spans: Sequence[Sequence[Span]] | None = None) -> SpanCandidates:
    """Candidates = every source's proposals (or the given ``spans`` per document, e.g. another
    method's output, scored against the same proposals)."""
    out, doc, rows, toks = [], [], [], []
    for i, props in enumerate(votes.proposals):
        offs = votes.offsets[i]
        mine = spans[i] if spans is not None else [s for P in props for s in P]
        for s in sorted({s.key: s for s in mine}.values()):
            a = int(np.searchsorted(offs[:, 0], s.start, side="right")) - 1
            b = int(np.searchsorted(offs[:, 1], s.end, side="left"))
            out.append(Span(s.start, s.end, s.label))
            doc.append(i)
            rows.append(span_votes(s, props))
            toks.append((max(a, 0), min(b, offs.shape[0] - 1)))
    m = len(votes.sources)
    return SpanCandidates(out, np.asarray(doc, dtype=np.int64),
                          np.asarray(rows, dtype=np.int64).reshape(-1, m),
                          np.asarray(toks, dtype=np.int64).reshape(-1, 2))


def candidate_features(cands: SpanCandidates, votes: SpanVotes, X: np.ndarray) -> np.ndarray:
    """shape (n, 5 d + 1), float32: mean of the span's token vectors, first and last token, the
    tokens left and right of it (zeros at the edges), number of tokens."""
    d = X.shape[1]
    F = np.zeros((len(cands), 5 * d + 1), dtype=np.float32)
    for r, (i, (a, b)) in enumerate(zip(cands.doc, cands.tokens)):
        lo, hi = int(votes.doc_start[i]), int(votes.doc_start[i + 1])
        F[r, :d] = X[lo + a:lo + b + 1].mean(axis=0)
        F[r, d:2 * d] = X[lo + a]
        F[r, 2 * d:3 * d] = X[lo + b]
        if lo + a - 1 >= lo:
            F[r, 3 * d:4 * d] = X[lo + a - 1]
        if lo + b + 1 < hi:
            F[r, 4 * d:5 * d] = X[lo + b + 1]
        F[r, -1] = b - a + 1
    return F


def select_spans(cands: SpanCandidates, p: np.ndarray, n_docs: int, threshold: float = 0.5
                 ) -> tuple[list[list[Span]], list[np.ndarray]]:
    """Per document, the non-overlapping candidates with the largest sum of ``p - threshold``,
    and their p. Returns (spans per document sorted, probabilities aligned with them)."""
    spans: list[list[Span]] = [[] for _ in range(n_docs)]
    probs: list[list[float]] = [[] for _ in range(n_docs)]
    for i in range(n_docs):
        items = sorted(np.flatnonzero(cands.doc == i), key=lambda r: (cands.spans[r].end, cands.spans[r].start))
        ends = [cands.spans[r].end for r in items]
        best = [0.0] * (len(items) + 1)
        take = [False] * (len(items) + 1)
        prev = [0] * (len(items) + 1)
        for a, r in enumerate(items, start=1):
            prev[a] = bisect.bisect_right(ends, cands.spans[r].start, 0, a - 1)
            w = float(p[r]) - threshold
            if w > 0 and w + best[prev[a]] > best[a - 1]:
                best[a], take[a] = w + best[prev[a]], True
            else:
                best[a] = best[a - 1]
        a = len(items)
        chosen = []
        while a > 0:
            if take[a]:
                chosen.append(items[a - 1])
                a = prev[a]
            else:
                a -= 1
        for r in sorted(chosen, key=lambda r: cands.spans[r]):
            spans[i].append(cands.spans[r])
            probs[i].append(float(p[r]))
    return spans, [np.asarray(P, dtype=np.float64) for P in probs]
