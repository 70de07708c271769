"""What the span task passes between stages: character spans and documents that hold them."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, order=True)
class Span:
    """A typed character span ``text[start:end]`` of a document.

    Attributes:
        start: first character (0-based).
        end: one past the last character.
        label: the entity type (e.g. ``"Disease"``).
        source: who proposed it (a source name, ``"gold"``, a method name); not part of equality.
    """

    start: int
    end: int
    label: str
    source: str = field(default="", compare=False)

    @property
    def key(self) -> tuple[int, int, str]:
        """(start, end, label): what exact-match evaluation compares."""
        return (self.start, self.end, self.label)


@dataclass
class SpanDoc:
    """One document: an id, its text, and (optionally) gold spans.

    Attributes:
        id: document id (a PMID for PubTator).
        text: the full text (PubTator: title + " " + abstract, as the offsets expect).
        spans: gold spans, sorted by start ([] when unknown or absent).
        meta: anything a loader wants to keep (e.g. PubTator's per-mention type and concept ids).
        has_gold: False when the loader saw no annotation for this document (a JSONL line without "spans" or
            "entities", a Label Studio task without annotations or predictions): its empty ``spans`` then mean
            unknown, not none, and scoring leaves the document out.
    """

    id: str
    text: str
    spans: list[Span] = field(default_factory=list)
    meta: dict = field(default_factory=dict)
    has_gold: bool = True

    def covered(self, span: Span) -> str:
        return self.text[span.start:span.end]
