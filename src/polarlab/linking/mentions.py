"""Mentions to link: spans of documents, each with its text in context (entity markers around it)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from ..data.pubtator import Document, Mention
from ..errors import InputError
from ..ontology.matcher import NameMatcher

MARK_OPEN, MARK_CLOSE = "[M]", "[/M]"


def in_context(text: str, start: int, end: int, window: int = 100, surface: str | None = None) -> str:
    """``left [M] mention [/M] right`` with up to ``window`` characters each side (cut at spaces).

    Args:
        text: the document text.
        start, end: the mention's character offsets (end exclusive).
        window: characters of context kept on each side; 0 = the marked mention alone.
        surface: write this instead of ``text[start:end]`` (synonym substitution in training).
    """
    mention = text[start:end] if surface is None else surface
    if window <= 0:
        return f"{MARK_OPEN} {mention} {MARK_CLOSE}"
    left = text[max(0, start - window):start]
    right = text[end:end + window]
    if start - window > 0 and " " in left:
        left = left[left.index(" ") + 1:]
    if end + window < len(text) and " " in right:
        right = right[:right.rindex(" ")]
    return f"{left.strip()} {MARK_OPEN} {mention} {MARK_CLOSE} {right.strip()}".strip()


@dataclass
class MentionSet:
    """n mentions, in order.

    Attributes:
        doc_ids: shape (n,), the document of each mention.
        starts, ends: shape (n,), int, character offsets (end exclusive).
        texts: shape (n,), the mentions' surface strings.
        contexts: shape (n,), ``in_context`` strings (entity markers around the mention).
        surfaces: shape (n,), what linkers read as the mention: the text, or the long form of an
            abbreviation defined in the same document ("WD" -> "Wilson disease"; see
            :mod:`polarlab.linking.abbreviations`). Contexts carry the surface too.
        gold: per mention the gold concept ids (empty tuple = none given), or None.
        doc_texts: document id -> text (for context at any window).
    """

    doc_ids: list[str]
    starts: np.ndarray
    ends: np.ndarray
    texts: list[str]
    contexts: list[str]
    gold: list[tuple[str, ...]] | None = None
    doc_texts: dict[str, str] = field(default_factory=dict)
    surfaces: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.surfaces:
            self.surfaces = list(self.texts)

    def __len__(self) -> int:
        return len(self.texts)

    def contexts_at(self, window: int) -> list[str]:
        """The mentions in context with another window (0 = no context)."""
        return [in_context(self.doc_texts[d], int(s), int(e), window, surface=sf)
                for d, s, e, sf in zip(self.doc_ids, self.starts, self.ends, self.surfaces)]

    def subset(self, keep: np.ndarray) -> "MentionSet":
        """The mentions where ``keep`` (bool mask or positions) holds, in order."""
        idx = np.flatnonzero(keep) if np.asarray(keep).dtype == bool else np.asarray(keep, dtype=np.int64)
        pick = lambda xs: [xs[i] for i in idx]  # noqa: E731
        return MentionSet(pick(self.doc_ids), self.starts[idx], self.ends[idx], pick(self.texts),
                          pick(self.contexts) if self.contexts else [], None if self.gold is None else pick(self.gold),
                          self.doc_texts, pick(self.surfaces))

    def concat(self, other: "MentionSet") -> "MentionSet":
        """These mentions followed by ``other``'s (gold kept only when both have it); a document id in
        both must have the same text."""
        clash = [d for d in set(self.doc_texts) & set(other.doc_texts) if self.doc_texts[d] != other.doc_texts[d]]
        if clash:
            raise InputError(f"document {clash[0]} has two different texts", row=clash[0], column="doc_ids",
                             fix="give every document its own id")
        gold = None if self.gold is None or other.gold is None else self.gold + other.gold
        contexts = self.contexts + other.contexts if self.contexts and other.contexts else []
        return MentionSet(self.doc_ids + other.doc_ids, np.concatenate([self.starts, other.starts]),
                          np.concatenate([self.ends, other.ends]), self.texts + other.texts, contexts, gold,
                          {**self.doc_texts, **other.doc_texts}, self.surfaces + other.surfaces)

    def expand_abbreviations(self) -> "MentionSet":
        """Read a mention that is a short form defined in its document as the long form (in place)."""
        from .abbreviations import find_abbreviations

        defs = {d: find_abbreviations(t) for d, t in self.doc_texts.items()}
        self.surfaces = [defs[d].get(t.strip(), t) for d, t in zip(self.doc_ids, self.texts)]
        return self

    @classmethod
    def from_documents(cls, docs: Sequence[Document], window: int = 100,
                       expand_abbreviations: bool = False) -> "MentionSet":
        """The annotated mentions of PubTator documents (with their gold ids); with
        ``expand_abbreviations`` short forms defined in a document are read as their long forms."""
        doc_ids, starts, ends, texts, gold, dt = [], [], [], [], [], {}
        for d in docs:
            text = d.text
            dt[d.id] = text
            for m in d.mentions:
                if not 0 <= m.start < m.end <= len(text):
                    raise InputError(f"span {m.start}-{m.end} is outside document {d.id} ({len(text)} characters)",
                                     row=d.id, column="mentions", fix="give offsets into title + ' ' + abstract")
                doc_ids.append(d.id)
                starts.append(m.start)
                ends.append(m.end)
                texts.append(text[m.start:m.end])
                gold.append(tuple(m.ids))
        if not texts:
            raise InputError(f"no mentions to link in {len(docs)} document(s)", column="linking.mentions",
                             fix="give PubTator mention lines (PMID, start, end, mention, type, ids), or set "
                                 "[linking] mentions = \"match\" to find them by ontology-name matching")
        ms = cls(doc_ids, np.asarray(starts), np.asarray(ends), texts, [], gold, dt)
        if expand_abbreviations:
            ms.expand_abbreviations()
        ms.contexts = ms.contexts_at(window)
        return ms

    @classmethod
    def from_matches(cls, docs: Sequence[Document], matcher: NameMatcher, window: int = 100,
                     expand_abbreviations: bool = False) -> "MentionSet":
        """Mentions found in raw text by ontology-name matching (for users without spans)."""
        found = [Document(id=d.id, title=d.title, abstract=d.abstract,
                          mentions=[Mention(m.start, m.end, m.text, "match", ()) for m in matcher.find(d.text)])
                 for d in docs]
        ms = cls.from_documents(found, window, expand_abbreviations)
        ms.gold = None
        return ms
