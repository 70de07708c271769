"""Where the linkers look: the terms each document names, the entities the dense linkers search, the
name linkers over an ontology, and the candidate slots their rankings fill for the harmonizer."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..data.pubtator import Document
from ..ontology.matcher import NameMatch, NameMatcher
from ..ontology.terms import Ontology
from .config import LinkingConfig
from .encoder import MemoEncoder
from .harmonize import CandidateSlots, build_slots
from .linkers import ExactLinker, NamesDenseLinker, Ranking, SparseLinker, names_table
from .mentions import MentionSet


class MemoNameMatcher(NameMatcher):
    """A :class:`NameMatcher` that scans each distinct text once: the linking job reads the same documents
    for self-supervised mentions and for the terms each document names (the unlabelled text, and the
    documents to link when they are unlabelled text too). ``find`` is a function of the text alone, so a
    remembered answer is the answer. ``scans_``: the texts actually scanned."""

    def __init__(self, ontology: Ontology, min_length: int = 3, case_sensitive_upto: int = 4) -> None:
        super().__init__(ontology, min_length=min_length, case_sensitive_upto=case_sensitive_upto)
        self._found: dict[str, list[NameMatch]] = {}
        self.scans_ = 0

    def find(self, text: str) -> list[NameMatch]:
        if text not in self._found:
            self._found[text] = super().find(text)
            self.scans_ += 1
        return list(self._found[text])


def document_entities(ontology: Ontology, matcher: NameMatcher, docs: Sequence[Document]) -> dict[str, set[int]]:
    """document id -> entity positions whose names occur in the document's text."""
    pos = {t: e for e, t in enumerate(ontology.ids)}
    return {d.id: {pos[i] for m in matcher.find(d.text) for i in m.ids} for d in docs}


def dense_universe(ontology: Ontology, mentions: MentionSet, sparse: SparseLinker, exact: ExactLinker,
                   doc_entities: dict[str, set[int]], cfg: LinkingConfig) -> np.ndarray:
    """Entity positions the dense linkers search: all of them for a small ontology, else the union of
    every mention's sparse top-``universe_top_k``, its exact matches, and the terms named anywhere in
    its document (so an abbreviation can reach the long form written beside it)."""
    n_names = sum(1 + len(t.synonyms) for t in ontology.terms.values())
    if n_names <= cfg.max_dense_names:
        return np.arange(len(ontology), dtype=np.int64)
    keep = set(sparse.rank(mentions, cfg.universe_top_k).entities.ravel().tolist())
    keep |= set(exact.rank(mentions, cfg.top_k).entities.ravel().tolist())
    for d in set(mentions.doc_ids):
        keep |= doc_entities.get(d, set())
    keep.discard(-1)
    return np.asarray(sorted(keep), dtype=np.int64)


def fit_name_linkers(ontology: Ontology, mentions: MentionSet, link_docs: Sequence[Document], cfg: LinkingConfig,
                     base: MemoEncoder) -> tuple[dict, np.ndarray, dict[str, set[int]]]:
    """The name linkers over ``ontology``, the entities the dense ones search, and the terms named in
    each document: (linkers by name, universe, document entities)."""
    exact = ExactLinker().fit(ontology)
    sparse = SparseLinker().fit(ontology)
    doc_ents = document_entities(ontology, NameMatcher(ontology), list(link_docs))
    universe = dense_universe(ontology, mentions, sparse, exact, doc_ents, cfg)
    linkers: dict = {"exact": exact, "sparse": sparse}
    if "names_dense" in cfg.linkers:
        linkers["names_dense"] = NamesDenseLinker(base).fit(names_table(ontology, universe))
    return linkers, universe, doc_ents


def rank_and_slot(linkers: dict, mentions: MentionSet, doc_ents: dict[str, set[int]],
                  cfg: LinkingConfig) -> tuple[dict[str, Ranking], CandidateSlots]:
    """Every linker ranks ``mentions`` (top ``cfg.top_k``) and their rankings fill ``cfg.n_slots`` candidate
    slots (:func:`polarlab.linking.harmonize.build_slots`): (rankings by linker name, slots)."""
    rankings = {name: lk.rank(mentions, cfg.top_k) for name, lk in linkers.items()}
    slots = build_slots(list(rankings.values()), None, list(rankings), n_slots=cfg.n_slots,
                        mentions=mentions, linkers=list(linkers.values()),
                        in_document=[doc_ents.get(d, set()) for d in mentions.doc_ids])
    return rankings, slots
