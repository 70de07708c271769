"""A development set without gold: self-supervised mentions held out, some with their name hidden.

The linkers' combination and the link probability need labelled mentions to be fitted; the only
labels available without gold are the self-supervised ones (an ontology name matched in unlabelled
text names its term). Used as they are they teach nothing: every linker finds a mention whose surface
*is* a name of the ontology. So the pseudo-dev set is built like the mentions to link look:

* self-supervised mentions of ``n`` terms are held out (``per_term`` of each where it has that many;
  never a KRISS prototype of the pseudo-dev linkers);
* on a share ``1 - visible_share`` of them the matched name is **hidden**: removed from the
  ontology the pseudo-dev linkers search (:func:`hide_names`) and from every contrastive training
  example (:func:`drop_hidden`), so the linkers must reach the term through its other names, its
  prototypes in context and the document, as for a test mention whose surface is no ontology name;
* ``visible_share`` is measured without gold on the mentions to link: the share the exact-name
  linker links at all.

The target of a pseudo-dev mention is the term it was matched to.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np

from ..ontology.terms import Ontology, Term, normalize_name
from .mentions import MentionSet, in_context
from .pooling import mention_char_span
from .selfsup import SelfSupMention


@dataclass
class PseudoDev:
    """Held-out self-supervised mentions.

    Attributes:
        mentions: the held-out mentions, in order.
        hidden: shape (n,), bool, the mention's matched name is hidden from the pseudo-dev linkers.
        hidden_names: normalised names hidden (:func:`normalize_name`), each a name of one term.
    """

    mentions: list[SelfSupMention]
    hidden: np.ndarray
    hidden_names: set[str] = field(default_factory=set)

    def __len__(self) -> int:
        return len(self.mentions)

    def mention_set(self, doc_texts: dict[str, str], window: int) -> MentionSet:
        """The held-out mentions as a :class:`MentionSet` (no gold; targets are their terms)."""
        ms = self.mentions
        return MentionSet([m.doc_id for m in ms], np.asarray([m.start for m in ms], dtype=np.int64),
                          np.asarray([m.end for m in ms], dtype=np.int64), [m.surface for m in ms],
                          [in_context(doc_texts[m.doc_id], m.start, m.end, window) for m in ms], None,
                          {m.doc_id: doc_texts[m.doc_id] for m in ms})

    def targets(self, positions: dict[str, int]) -> np.ndarray:
        """shape (n,), the entity position each mention was matched to."""
        return np.asarray([positions[m.entity] for m in self.mentions], dtype=np.int64)


def choose_pseudo_dev(mentions: Sequence[SelfSupMention], ontology: Ontology, n: int, visible_share: float,
                      seed: int = 0, per_term: int = 1) -> PseudoDev:
    """Hold out self-supervised mentions of up to ``n`` terms, ``per_term`` of each (fewer where a term
    has fewer), and hide the name of a ``1 - visible_share`` share of them.

    Several mentions of one term let the pseudo-dev set judge self-training
    (:func:`polarlab.linking.devchoice.choose_self_train_risk`): a pseudo-dev mention's link can be a
    prototype for the other pseudo-dev mentions of its term, as a linked test mention is for the others.

    A name is hidden only from a term that keeps another name (at least two distinct normalised
    names; such terms are hidden first, so the hidden share is met where it can be), and never a name
    that a visible held-out mention shows.
    """
    rng = random.Random(seed)
    by: dict[str, list[SelfSupMention]] = {}
    for m in sorted(mentions, key=lambda m: m.key):      # the mentions' order does not matter
        by.setdefault(m.entity, []).append(m)
    terms = sorted(by)
    rng.shuffle(terms)
    per = max(1, int(per_term))
    chosen = [m for t in terms[:max(0, int(n))]
              for m in ([rng.choice(by[t])] if per == 1 else rng.sample(by[t], min(per, len(by[t]))))]
    keys = [normalize_name(m.surface) for m in chosen]
    can_hide = [len({normalize_name(x) for x in ontology.names(m.entity)} - {k}) >= 1 for m, k in zip(chosen, keys)]
    n_hide = min(int(round((1.0 - float(visible_share)) * len(chosen))), sum(can_hide))
    order = [i for i in range(len(chosen)) if can_hide[i]][:n_hide]
    order += [i for i in range(len(chosen)) if i not in set(order)]
    chosen, keys = [chosen[i] for i in order], [keys[i] for i in order]
    hidden = np.zeros(len(chosen), dtype=bool)
    hidden[:n_hide] = True
    visible = {k for k, h in zip(keys, hidden) if not h}
    hidden &= np.array([k not in visible for k in keys], dtype=bool)
    return PseudoDev(chosen, hidden, {k for k, h in zip(keys, hidden) if h})


def hide_names(ontology: Ontology, hidden_names: set[str]) -> Ontology:
    """A copy of ``ontology`` (same ids, same order) without the names whose normalised form is in
    ``hidden_names``; a term that would lose all its names keeps them."""
    out = Ontology(files=ontology.files)
    for t in ontology.terms.values():
        keep = [n for n in ([t.name] if t.name else []) + t.synonyms if normalize_name(n) not in hidden_names]
        if not keep:
            keep = ([t.name] if t.name else []) + t.synonyms
        out.terms[t.id] = Term(t.id, keep[0], keep[1:], t.definition, set(t.xrefs), set(t.parents), list(t.sources))
    return out


def drop_hidden(items: Iterable, hidden_names: set[str]) -> list:
    """Contrastive triples (or self-supervised mentions) none of whose texts shows a hidden name:
    the marked mention of an anchor, the positive and the negative are checked."""
    def shows(text: str | None) -> bool:
        if not text:
            return False
        span = mention_char_span(text)
        return normalize_name(text[span[0]:span[1]] if span else text) in hidden_names

    out = []
    for t in items:
        if isinstance(t, SelfSupMention):
            if not shows(t.surface):
                out.append(t)
        elif not (shows(t.anchor) or shows(t.positive) or shows(t.negative)):
            out.append(t)
    return out
