"""The KRISS prototype linker: a mention in context links to the entity of its nearest prototype.

Prototypes of an entity: self-supervised mentions of it in context (sampled) and its names (and its
description, optionally), encoded by the contrastively trained encoder
(:mod:`polarlab.linking.contrastive`). Zhang et al. 2021, arXiv 2112.07887.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..encoder import MemoEncoder
from ..mentions import MentionSet
from ..selfsup import SelfSupMention
from .base import Ranking, RowTable
from .dense import PrototypeIndex


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
    """

    def __init__(self, encoder: MemoEncoder, window: int = 100, use_names: bool = True,
                 use_contexts: bool = True, use_definitions: bool = False, hnsw_above: int = 200_000,
                 name: str = "kriss") -> None:
        self.encoder = encoder
        self.window = int(window)
        self.use_names = use_names
        self.use_contexts = use_contexts
        self.use_definitions = use_definitions
        self.hnsw_above = hnsw_above
        self.name = name

    def fit(self, names: RowTable, positions: dict[str, int], prototypes: Sequence[SelfSupMention] = (),
            doc_texts: dict[str, str] | None = None, definitions: RowTable | None = None,
            gold_prototypes: RowTable | None = None) -> "KrissLinker":
        """Build the prototype index.

        Args:
            names: the names of the entities to link to (rows grouped by entity position).
            positions: ontology id -> entity position.
            prototypes: sampled self-supervised mentions (their entity's id in ``positions``).
            doc_texts: document id -> text of those mentions.
            definitions: optional description rows.
            gold_prototypes: optional user-given labelled mentions in context (rows).
        """
        texts: list[str] = []
        ent: list[int] = []
        if self.use_names:
            texts += names.texts
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
        return self

    def _queries(self, mentions: MentionSet) -> np.ndarray:
        return self.encoder.encode(mentions.contexts_at(self.window))

    def rank(self, mentions: MentionSet, k: int) -> Ranking:
        return self.index_.search(self._queries(mentions), k)

    def score(self, mentions: MentionSet, candidates: np.ndarray) -> np.ndarray:
        return self.index_.score(self._queries(mentions), candidates)
