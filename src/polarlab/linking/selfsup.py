"""Self-supervision (KRISS): ontology names matched in unlabelled text -> mention-in-context examples."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..data.pubtator import Document
from ..ontology.matcher import NameMatcher
from .mentions import in_context


@dataclass(frozen=True)
class SelfSupMention:
    """A name of ``entity`` found at ``text[start:end]`` of document ``doc_id``."""

    doc_id: str
    start: int
    end: int
    surface: str
    entity: str

    def context(self, text: str, window: int, surface: str | None = None) -> str:
        return in_context(text, self.start, self.end, window, surface)

    @property
    def key(self) -> tuple[str, int, int, str, str]:
        """Where the mention is: (document id, start, end, entity, surface), the order every sample starts from."""
        return (self.doc_id, self.start, self.end, self.entity, self.surface)


def document_order(docs: Sequence[Document]) -> list[Document]:
    """The documents sorted by (id, text): every sample of the linking job starts from this order, so
    the same documents in any order give the same self-supervised mentions, pseudo-dev set, training
    examples and prototypes."""
    return sorted(docs, key=lambda d: (d.id, d.text))


def self_supervised_mentions(docs: Sequence[Document], matcher: NameMatcher,
                             keep_ambiguous: bool = False) -> list[SelfSupMention]:
    """Every name match in the documents' text (their annotations are ignored), sorted by
    :attr:`SelfSupMention.key` (the documents' order does not matter).

    A surface form naming several terms is dropped unless ``keep_ambiguous`` (then it is kept once
    per term, which teaches nothing certain).
    """
    out: list[SelfSupMention] = []
    for d in docs:
        for m in matcher.find(d.text):
            if len(m.ids) == 1 or keep_ambiguous:
                out += [SelfSupMention(d.id, m.start, m.end, m.text, e) for e in m.ids]
    return sorted(out, key=lambda m: m.key)


def sample_per_entity(mentions: Sequence[SelfSupMention], per_entity: int, seed: int = 0,
                      entities: set[str] | None = None) -> list[SelfSupMention]:
    """At most ``per_entity`` mentions of each entity (random, reproducible), optionally only of ``entities``.

    Each entity's mentions are drawn from their :attr:`SelfSupMention.key` order, so the sample does not
    depend on the order of ``mentions``."""
    rng = np.random.default_rng(seed)
    by: dict[str, list[SelfSupMention]] = {}
    for m in mentions:
        if entities is None or m.entity in entities:
            by.setdefault(m.entity, []).append(m)
    out: list[SelfSupMention] = []
    for e in sorted(by):
        ms = sorted(by[e], key=lambda m: m.key)
        pick = rng.permutation(len(ms))[:per_entity]
        out += [ms[i] for i in sorted(pick)]
    return out
