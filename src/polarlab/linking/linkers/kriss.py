"""The KRISS prototype linker: a mention in context links to the entity of its nearest prototype.

Prototypes of an entity: self-supervised mentions of it in context (sampled) and its names (and its
description, optionally), encoded by the contrastively trained encoder
(:mod:`polarlab.linking.contrastive`). Zhang et al. 2021, arXiv 2112.07887.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..encoder import MemoEncoder
from ..mentions import MARK_CLOSE, MARK_OPEN, MentionSet
from ..selfsup import SelfSupMention
from .base import Ranking, RowTable, max_over_rows, top_entities
from .dense import PrototypeIndex


def mention_keys(mentions: MentionSet) -> list[tuple[str, int, int]]:
    """(document id, start, end) of each mention: what identifies a mention across sets."""
    return [(d, int(s), int(e)) for d, s, e in zip(mentions.doc_ids, mentions.starts, mentions.ends)]


def _merge(a: Ranking, b: Ranking, k: int) -> Ranking:
    """Per row, the top-k entities of two rankings, an entity scoring the max of its two scores."""
    n = a.entities.shape[0]
    ent = np.full((n, k), -1, dtype=np.int64)
    sc = np.full((n, k), np.nan)
    for i in range(n):
        best: dict[int, float] = {}
        for r in (a, b):
            for e, v in zip(r.entities[i], r.scores[i]):
                if e >= 0 and np.isfinite(v) and v > best.get(int(e), -np.inf):
                    best[int(e)] = float(v)
        top = sorted(best.items(), key=lambda x: -x[1])[:k]
        for j, (e, v) in enumerate(top):
            ent[i, j], sc[i, j] = e, v
    return Ranking(ent, sc)


class KrissLinker:
    """Nearest-prototype linker.

    Args:
        encoder: the (fine-tuned) encoder.
        window: characters of context each side of a mention (0 = the marked mention alone).
        use_names: names and synonyms are prototypes.
        use_contexts: sampled self-supervised mentions in context are prototypes.
        use_definitions: an entity's description is a prototype too.
        hnsw_above: rows above which the index is approximate (HNSW).
        name: the name reported (ablations get their own).
        marked_names: read a name prototype as a mention without context (``[M] name [/M]``), the
            form of a query with ``window = 0`` and of the self-supervised prototypes, instead of plain.

    Linked mentions (self-training, :meth:`fit` ``linked``) are prototypes too, but a query never
    meets itself: a prototype made from the mention being linked (same document and span) is left
    out of its search.
    """

    def __init__(self, encoder: MemoEncoder, window: int = 100, use_names: bool = True,
                 use_contexts: bool = True, use_definitions: bool = False, hnsw_above: int = 200_000,
                 name: str = "kriss", marked_names: bool = False) -> None:
        self.encoder = encoder
        self.window = int(window)
        self.use_names = use_names
        self.use_contexts = use_contexts
        self.use_definitions = use_definitions
        self.hnsw_above = hnsw_above
        self.name = name
        self.marked_names = marked_names

    def fit(self, names: RowTable, positions: dict[str, int], prototypes: Sequence[SelfSupMention] = (),
            doc_texts: dict[str, str] | None = None, definitions: RowTable | None = None,
            gold_prototypes: RowTable | None = None,
            linked: tuple[MentionSet, np.ndarray] | None = None) -> "KrissLinker":
        """Build the prototype index.

        Args:
            names: the names of the entities to link to (rows grouped by entity position).
            positions: ontology id -> entity position.
            prototypes: sampled self-supervised mentions (their entity's id in ``positions``).
            doc_texts: document id -> text of those mentions.
            definitions: optional description rows.
            gold_prototypes: optional user-given labelled mentions in context (rows).
            linked: (mentions, entity positions): mentions already linked (e.g. the low-risk links of
                a first pass) as prototypes of their entity, in context; left out of their own search.
        """
        texts: list[str] = []
        ent: list[int] = []
        if self.use_names:
            texts += [f"{MARK_OPEN} {t} {MARK_CLOSE}" for t in names.texts] if self.marked_names else names.texts
            ent += names.entity.tolist()
        if self.use_contexts:
            for m in prototypes:
                if m.entity in positions:
                    texts.append(m.context(doc_texts[m.doc_id], self.window))
                    ent.append(positions[m.entity])
        for extra in ((definitions if self.use_definitions else None), gold_prototypes):
            if extra is not None:
                texts += extra.texts
                ent += extra.entity.tolist()
        table = RowTable(texts, np.asarray(ent, dtype=np.int64))
        self.index_ = PrototypeIndex(self.encoder.encode(texts), table, self.hnsw_above)
        self.n_prototypes_ = len(texts)
        self.linked_ = None
        if linked is not None and len(linked[0]):
            ms, ents = linked
            contexts = ms.contexts_at(self.window)
            self.linked_ = (self.encoder.encode(contexts), RowTable(contexts, np.asarray(ents, dtype=np.int64)),
                            {key: j for j, key in enumerate(mention_keys(ms))})
            self.n_prototypes_ += len(ms)
        return self

    def _linked_scores(self, mentions: MentionSet, Q: np.ndarray) -> np.ndarray:
        """shape (n, p): similarity of each query to each linked-mention prototype, -inf for itself."""
        V, _, where = self.linked_
        S = Q @ V.T
        for i, key in enumerate(mention_keys(mentions)):
            j = where.get(key)
            if j is not None:
                S[i, j] = -np.inf
        return S

    def _queries(self, mentions: MentionSet) -> np.ndarray:
        return self.encoder.encode(mentions.contexts_at(self.window))

    def rank(self, mentions: MentionSet, k: int) -> Ranking:
        Q = self._queries(mentions)
        if self.linked_ is None:
            return self.index_.search(Q, k)
        pool = max(k, 32)
        linked = top_entities(self._linked_scores(mentions, Q), self.linked_[1].entity, pool)
        return _merge(self.index_.search(Q, pool), linked, k)

    def score(self, mentions: MentionSet, candidates: np.ndarray) -> np.ndarray:
        Q = self._queries(mentions)
        out = self.index_.score(Q, candidates)
        if self.linked_ is not None:
            S = self._linked_scores(mentions, Q)
            linked = max_over_rows(lambda i, rows: S[i, rows], self.linked_[1], candidates)
            out = np.where(np.isfinite(linked) & ~(linked <= out), linked, out)   # a NaN `out` takes `linked`
        return out
