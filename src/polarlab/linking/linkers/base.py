"""What every linker shares: rankings of entities, name tables, and max-over-rows scoring.

Entities are positions in ``ontology.ids`` (int). A linker has ``name``, ``rank(mentions, k)``
-> :class:`Ranking` and ``score(mentions, candidates)`` -> shape (n, c) scores of given entities.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

import numpy as np

from ..mentions import MentionSet


@dataclass
class Ranking:
    """Top-k entities per mention.

    Attributes:
        entities: shape (n, k), int, entity positions, best first; -1 = no entity (abstain / fewer).
        scores: shape (n, k), float, the linker's score of each (NaN where entity is -1).
    """

    entities: np.ndarray
    scores: np.ndarray

    @property
    def top1(self) -> np.ndarray:
        """shape (n,): the best entity or -1."""
        return self.entities[:, 0]


class Linker(Protocol):
    name: str

    def rank(self, mentions: MentionSet, k: int) -> Ranking: ...

    def score(self, mentions: MentionSet, candidates: np.ndarray) -> np.ndarray: ...


@dataclass
class RowTable:
    """Rows (names or prototypes) grouped by entity.

    Attributes:
        texts: shape (r,), the row texts.
        entity: shape (r,), int, the entity of each row.
    """

    texts: list[str]
    entity: np.ndarray

    def __post_init__(self) -> None:
        self.entity = np.asarray(self.entity, dtype=np.int64)
        self._rows: dict[int, np.ndarray] | None = None

    def rows_of(self, e: int) -> np.ndarray:
        if self._rows is None:
            order = np.argsort(self.entity, kind="stable")
            ents, first = np.unique(self.entity[order], return_index=True)
            bounds = list(first) + [len(order)]
            self._rows = {int(en): order[bounds[j]:bounds[j + 1]] for j, en in enumerate(ents)}
        return self._rows.get(int(e), np.zeros(0, dtype=np.int64))


def rrf_scores(rankings: Sequence[Ranking], i: int, rrf_k: float = 60.0) -> dict[int, float]:
    """Mention ``i``'s reciprocal-rank fusion: entity -> ``sum_j 1 / (rrf_k + rank_j)`` over the rankings that
    list it (rank 1 = first)."""
    fused: dict[int, float] = {}
    for r in rankings:
        for rank, e in enumerate(r.entities[i]):
            if e >= 0:
                fused[int(e)] = fused.get(int(e), 0.0) + 1.0 / (rrf_k + rank + 1)
    return fused


def names_table(ontology, entities: Sequence[int] | None = None) -> RowTable:
    """Every name and synonym of the given entity positions (default all) as rows."""
    ids = ontology.ids
    pick = range(len(ids)) if entities is None else sorted(set(int(e) for e in entities))
    texts, ent = [], []
    for e in pick:
        for n in ontology.names(ids[e]):
            texts.append(n)
            ent.append(e)
    return RowTable(texts, np.asarray(ent, dtype=np.int64))


def top_entities(S: np.ndarray, row_entity: np.ndarray, k: int) -> Ranking:
    """Top-k entities per row of ``S`` (shape (n, r): score of each row), an entity scoring the max
    over its rows."""
    n, r = S.shape
    ent = np.full((n, k), -1, dtype=np.int64)
    sc = np.full((n, k), np.nan)
    if r == 0:
        return Ranking(ent, sc)
    pool = min(r, max(64, 32 * k))
    for i in range(n):
        row = S[i]
        idx = np.argpartition(-row, pool - 1)[:pool] if pool < r else np.arange(r)
        idx = idx[np.argsort(-row[idx], kind="stable")]
        seen: list[int] = []
        for j in idx:
            e = int(row_entity[j])
            if e not in seen:
                ent[i, len(seen)] = e
                sc[i, len(seen)] = row[j]
                seen.append(e)
                if len(seen) == k:
                    break
    return Ranking(ent, sc)


def max_over_rows(S_rows_of, table: RowTable, candidates: np.ndarray) -> np.ndarray:
    """scores[i, c] = max over ``table`` rows of entity ``candidates[i, c]`` of ``S_rows_of(i, rows)``;
    NaN where the candidate is -1 or has no rows."""
    out = np.full(candidates.shape, np.nan)
    for i in range(candidates.shape[0]):
        for c, e in enumerate(candidates[i]):
            if e >= 0:
                rows = table.rows_of(int(e))
                if rows.size:
                    out[i, c] = float(np.max(S_rows_of(i, rows)))
    return out
