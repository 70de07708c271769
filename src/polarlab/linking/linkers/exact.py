"""Exact / normalised name match: the entities one of whose names normalises like the mention."""
from __future__ import annotations

import numpy as np

from ...ontology.terms import Ontology, normalize_name
from ..mentions import MentionSet
from .base import Ranking


class ExactLinker:
    """Links a mention to the terms bearing its normalised surface (:func:`normalize_name`) as a
    name or synonym; preferred-name holders come first. Abstains (-1) when no name matches."""

    name = "exact"

    def __init__(self) -> None:
        pass

    def fit(self, ontology: Ontology) -> "ExactLinker":
        pos = {tid: e for e, tid in enumerate(ontology.ids)}
        self.index_ = {key: [pos[i] for i in ids] for key, ids in ontology.name_index().items()}
        return self

    def _matches(self, mentions: MentionSet) -> list[list[int]]:
        return [self.index_.get(normalize_name(t), []) for t in mentions.surfaces]

    def rank(self, mentions: MentionSet, k: int) -> Ranking:
        ent = np.full((len(mentions), k), -1, dtype=np.int64)
        sc = np.full((len(mentions), k), np.nan)
        for i, found in enumerate(self._matches(mentions)):
            found = found[:k]
            ent[i, :len(found)] = found
            sc[i, :len(found)] = 1.0
        return Ranking(ent, sc)

    def score(self, mentions: MentionSet, candidates: np.ndarray) -> np.ndarray:
        """1 where the candidate bears the mention's normalised name, 0 elsewhere (NaN for -1)."""
        out = np.zeros(candidates.shape)
        for i, found in enumerate(self._matches(mentions)):
            out[i] = np.isin(candidates[i], found)
        out[candidates < 0] = np.nan
        return out
