"""Disease mentions found in unlabelled text without gold, for self-training KRISS on the corpus's own surfaces.

Name matching (:mod:`polarlab.linking.selfsup`) only ever finds ontology names. The corpus writes its
diseases in other forms too ("hereditary breast and ovarian cancers", "C5 deficiency", "DM1"); a
detector that does not need the ontology's exact names finds them, the first-pass linkers and POLAR
link them, and the low-risk links become KRISS prototypes (:mod:`polarlab.linking.selftrain`).

Detectors, by name (:data:`TEXT_DETECTORS`):

- ``"spans"``: polarlab's own entity-span task's rule sources (:mod:`polarlab.spans`) — the
  ontology's names with case and plural variants, noun phrases ending in a disease head word,
  words with a disease-forming suffix, ``long form (ABBR)`` acronyms — combined by the span task's
  majority vote (skweak's convention). All written from general knowledge or read from the
  ontology; no annotation is read.

    ms = text_mentions(docs, ontology, "spans", window=0)     # a MentionSet (no gold), or None
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from ..data.pubtator import Document, Mention
from ..ontology.terms import Ontology
from .mentions import MentionSet

DISEASE = "Disease"


def _span_docs(docs: Sequence[Document]):
    from ..spans.types import SpanDoc

    return [SpanDoc(d.id, d.text) for d in docs]


def span_rule_spans(docs: Sequence[Document], ontology: Ontology) -> list[list[tuple[int, int]]]:
    """Per document, the (start, end) spans the span task's rule sources agree on (majority vote)."""
    from ..spans.aggregate import MajoritySpans, spans_with_probability
    from ..spans.sources import DictionarySpanSource
    from ..spans.sources import disease as rules
    from ..spans.votes import apply_span_sources

    drop = {h.lower() for h in rules.HEADS}
    names = [n for t in ontology.terms.values() for n in ontology.names(t.id) if n.lower() not in drop]
    sources = [DictionarySpanSource("ontology_names", names, DISEASE), rules.disease_heads,
               rules.disease_suffixes, rules.disease_acronyms]
    votes = apply_span_sources(_span_docs(docs), sources, (DISEASE,))
    mv = MajoritySpans()
    spans, _ = spans_with_probability(mv.predict_proba(votes), votes, mv.decode, "majority")
    return [[(s.start, s.end) for s in doc] for doc in spans]


TEXT_DETECTORS: dict[str, Callable[[Sequence[Document], Ontology], list[list[tuple[int, int]]]]] = {
    "spans": span_rule_spans,
}


def _well_formed(surface: str) -> bool:
    """A mention begins and ends with a letter or digit (not "X-" cut from "X-linked")."""
    return len(surface) >= 2 and surface[0].isalnum() and surface[-1].isalnum()


def text_mentions(docs: Sequence[Document], ontology: Ontology, detector: str = "spans", window: int = 0,
                  expand_abbreviations: bool = True) -> MentionSet | None:
    """The mentions a detector finds in ``docs`` (their annotations are never read), as a
    :class:`MentionSet` without gold; None when it finds none. Spans that do not begin and end with a
    letter or digit (fragments such as "X-") are dropped.

    Args:
        docs: unlabelled documents (only ``text`` is used).
        ontology: the target ontology (its names feed the ``"spans"`` detector's dictionary).
        detector: a key of :data:`TEXT_DETECTORS`.
        window: context characters of the mentions' ``contexts``.
        expand_abbreviations: read a short form defined in its document as the long form.
    """
    if detector not in TEXT_DETECTORS:
        raise ValueError(f"unknown text detector {detector!r}; use one of {sorted(TEXT_DETECTORS)}")
    spans = [[(s, e) for s, e in sp if _well_formed(d.text[s:e])]
             for d, sp in zip(docs, TEXT_DETECTORS[detector](docs, ontology))]
    found = [Document(id=d.id, title=d.text, abstract="",
                      mentions=[Mention(s, e, d.text[s:e], DISEASE, ()) for s, e in sp])
             for d, sp in zip(docs, spans) if sp]
    if not found:
        return None
    ms = MentionSet.from_documents(found, window, expand_abbreviations)
    ms.gold = None
    return ms


def distinct_links(mentions: MentionSet, links: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """shape (n,), bool: of the ``keep`` mentions, the first of every distinct (surface, linked entity)
    — one prototype per surface form a term is written in (repeats add the same vector without context)."""
    seen: set[tuple[str, int]] = set()
    out = np.zeros(len(mentions), dtype=bool)
    for i in np.flatnonzero(keep):
        key = (" ".join(mentions.surfaces[i].lower().split()), int(links[i]))
        if key not in seen:
            seen.add(key)
            out[i] = True
    return out
