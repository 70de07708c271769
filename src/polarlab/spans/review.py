"""The review queue for spans: every output span is a review item, riskiest first.

:func:`queue_spans` puts the spans of :func:`polarlab.spans.spans_by_risk` into a
:class:`polarlab.review.store.ReviewStore` (the same SQLite queue, leases, answers, web page and
terminal fallback as the classification review): one item per span, ``priority`` = its POLAR
risk, the payload the span's sentence with the span highlighted and which sources proposed it.
A reviewer answers :data:`SPAN_ANSWERS` (0 = wrong span, 1 = right span; the machine's label is
1). :func:`reviewed_spans` applies the answers: spans a person called wrong are dropped, every
other span is kept.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..review.store import Item, ReviewStore
from .correct import _context_range, spans_by_risk
from .types import Span, SpanDoc

SPAN_ANSWERS = ("wrong span", "right span")


def span_item_id(doc: SpanDoc, span: Span) -> str:
    """A span's stable review id: ``<doc id>:<start>-<end>:<label>``."""
    return f"{doc.id}:{span.start}-{span.end}:{span.label}"


def span_review_items(docs: Sequence[SpanDoc], spans: Sequence[Sequence[Span]], probs: Sequence[np.ndarray],
                      proposals: Sequence[Sequence[Sequence[Span]]] | None = None,
                      sources: Sequence[str] = ()) -> list[Item]:
    """One :class:`Item` per output span, riskiest first (``row`` = rank).

    Args:
        docs: the documents; ``spans[i]`` / ``probs[i]`` (aligned with ``sorted(spans[i])``) belong to ``docs[i]``.
        proposals: optional, per document per source the spans each source proposed
            (``SpanVotes.proposals``), to show which sources proposed exactly this span.
        sources: the source names of ``proposals``' columns.
    """
    items = []
    for row, r in enumerate(spans_by_risk(spans, probs)):
        d = docs[r.doc]
        a, b = _context_range(d, r.span)
        rules = []
        if proposals is not None:
            rules = [{"name": name, "label": SPAN_ANSWERS[1], "explain": "proposed this span"}
                     for name, P in zip(sources, proposals[r.doc]) if r.span.key in {s.key for s in P}]
        payload = {"text": d.text[a:b], "entities": [{"start": r.span.start - a, "end": r.span.end - a}],
                   "doc": d.id, "start": r.span.start, "end": r.span.end, "span_label": r.span.label,
                   "mention": d.text[r.span.start:r.span.end], "label": 1, "probability": r.probability,
                   "risk": r.risk, "llm": None, "rules": rules, "corrections": []}
        items.append(Item(row, span_item_id(d, r.span), "risk", r.risk, 1, r.risk, payload))
    return items


def queue_spans(store: ReviewStore, docs: Sequence[SpanDoc], spans: Sequence[Sequence[Span]],
                probs: Sequence[np.ndarray], proposals=None, sources: Sequence[str] = ()) -> int:
    """Put every span into ``store`` as a review item (riskiest first) and set the answer labels;
    returns the number of items."""
    items = span_review_items(docs, spans, probs, proposals, sources)
    store.set_meta(labels=list(SPAN_ANSWERS))
    store.put_items(items)
    return len(items)


def reviewed_spans(store: ReviewStore, docs: Sequence[SpanDoc], spans: Sequence[Sequence[Span]]
                   ) -> list[list[Span]]:
    """``spans`` with the people's answers applied: a span whose (most frequent) answer is 0 is dropped."""
    items = store.items()
    human = store.human_labels(max((it.row for it in items), default=-1) + 1)[0]
    wrong = {it.item_id for it in items if human[it.row] == 0}
    return [[s for s in S if span_item_id(d, s) not in wrong] for d, S in zip(docs, spans)]
