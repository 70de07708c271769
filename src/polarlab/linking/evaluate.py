"""Gold concept ids -> ontology entities (directly or through xrefs), and accuracy@k."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ..data.pubtator import NO_ID
from ..errors import InputError
from ..ontology.terms import XREF_PREFIX_ALIASES, Ontology, canonical_xref
from .linkers.base import Ranking

NCBI_GOLD_PREFIXES: dict[str, str] = {"MESH": "MESH", "OMIM": "MIM", "MIM": "MIM"}
"""Corpus id prefix -> the ontology's xref prefix (NCBI-disease: ``OMIM:n`` is DO's ``MIM:n``)."""
BARE_MESH = re.compile(r"^[CD]\d{6,9}$")


@dataclass
class GoldMap:
    """Gold entity sets of n mentions.

    Attributes:
        entities: per mention, the entity positions its gold ids map to (empty = unmappable).
        has_gold: shape (n,), bool, the mention has gold ids.
        mappable: shape (n,), bool, at least one gold id maps into the ontology.
    """

    entities: list[set[int]]
    has_gold: np.ndarray
    mappable: np.ndarray


def map_gold(gold: Sequence[tuple[str, ...]], ontology: Ontology,
             prefixes: Mapping[str, str] = NCBI_GOLD_PREFIXES, bare_prefix: str | None = "MESH",
             where: Sequence[str | Mapping[str, Any]] | Callable[[int], Mapping[str, Any]] | None = None) -> GoldMap:
    """Map gold ids to ontology entities.

    An id of the ontology itself (e.g. ``DOID:1612``) maps to that term; ``PREFIX:LOCAL`` with PREFIX
    in ``prefixes`` maps through the terms' xrefs; a bare MeSH id (``D003924``) is read as
    ``bare_prefix:id``. An ontology id that the ontology lacks, or an id of unknown form, is an error:
    it means the gold file and the ontology do not fit together. A composite mention (several ids) maps
    to every term any of them maps to, and a link to any one of them is right (:func:`hits_at`). The id
    ``-1`` (:data:`~polarlab.data.pubtator.NO_ID`, a mention annotated without a concept) is gold that maps
    to nothing: the mention counts in ``acc1_all`` (always wrong) and not among the mappable ones.
    Prefixes compare case-insensitively, through :func:`~polarlab.ontology.terms.canonical_xref`'s
    aliases (``OMIM`` = ``MIM``, ``MSH`` = ``MESH``), so ``MESH:D003924``, ``mesh:D003924``, a bare
    ``D003924`` and an ontology xref ``MSH:D003924`` all meet.

    Args:
        where: per mention where a message points: a label (``"doc 123, 45-60"``, given as the row) or the
            InputError fields that locate it (``{"file": "corpus.txt", "line": 7}``); or a function of the mention's
            position giving them, asked only for a message (:func:`mention_locations`).

    Raises:
        InputError: naming the mention and the id.
    """
    ids = ontology.ids
    pos = {t: e for e, t in enumerate(ids)}
    own = {t.split(":", 1)[0].upper() for t in ids if ":" in t}
    own_keys = {canonical_xref(t): e for e, t in enumerate(ids)}     # an ontology whose ids are MeSH/OMIM ids
    xidx = ontology.xref_index()

    def lookup(key: str) -> set[int]:
        """The terms citing ``key`` (canonical) as an xref, or bearing it as their id."""
        found = {pos[t] for t in xidx.get(key, ())}
        return found | ({own_keys[key]} if key in own_keys else set())

    def at(i: int) -> dict[str, Any]:
        loc = where(i) if callable(where) else where[i] if where else i
        return dict(loc) if isinstance(loc, Mapping) else {"row": loc, "column": "gold"}

    out, has, mappable = [], np.zeros(len(gold), bool), np.zeros(len(gold), bool)
    for i, g in enumerate(gold):
        ents: set[int] = set()
        for gid in g:
            gid = gid.strip()
            if gid == NO_ID:
                continue
            prefix = gid.split(":", 1)[0].upper() if ":" in gid else None
            corpus_prefix = next((p for p in (prefix, XREF_PREFIX_ALIASES.get(prefix or "")) if p in prefixes), None)
            if gid in pos:
                ents.add(pos[gid])
            elif prefix is not None and prefix in own:
                raise InputError(f"gold id {gid!r} is not a term of the ontology", **at(i),
                                 fix="load the ontology release the gold was made with, or correct the id (or keep "
                                     "only the mentions of the ontology's type: [linking] entity_types)")
            elif corpus_prefix is not None:
                ents |= lookup(canonical_xref(f"{prefixes[corpus_prefix]}:{gid.split(':', 1)[1]}"))
            elif prefix is None and bare_prefix and BARE_MESH.match(gid):
                ents |= lookup(canonical_xref(f"{bare_prefix}:{gid}"))
            else:
                raise InputError(f"unknown gold id {gid!r}", **at(i),
                                 fix=f"use ontology ids ({sorted(own)}) or xref ids with a prefix in "
                                     f"{sorted(prefixes)} (set [linking] gold_prefixes)")
        out.append(ents)
        has[i] = bool(g)
        mappable[i] = bool(ents)
    return GoldMap(out, has, mappable)


def mention_locations(mentions, files: Sequence[str | os.PathLike]) -> Callable[[int], dict[str, Any]]:
    """For :func:`map_gold`'s messages: mention position -> the file and 1-based line of its mention line in the
    PubTator ``files`` that ``mentions`` (a :class:`~polarlab.linking.mentions.MentionSet`) was read from, or its
    document and span when no line gives it. The files are read again only when a message needs it."""
    from functools import cache

    from ..data.pubtator import mention_lines

    lines = cache(lambda: mention_lines(files))

    def locate(i: int) -> dict[str, Any]:
        d, s, e = mentions.doc_ids[i], int(mentions.starts[i]), int(mentions.ends[i])
        at = lines().get((d, s, e))
        return {"file": at[0], "line": at[1]} if at else {"row": f"document {d}, span {s}-{e}", "column": "gold"}

    return locate


def hits_at(ranking: Ranking, gold: GoldMap, k: int) -> np.ndarray:
    """shape (n,), bool: one of the top-k entities is a gold entity."""
    ent = ranking.entities[:, :k]
    return np.array([any(int(e) in g for e in row if e >= 0) for row, g in zip(ent, gold.entities)])


def link_accuracy(ranking: Ranking, gold: GoldMap) -> dict[str, float | int]:
    """``acc1_mappable``, ``acc5_mappable`` (over mentions whose gold maps into the ontology),
    ``acc1_all``, ``acc5_all`` (over all mentions with gold; unmappable ones count as wrong) and counts."""
    h1, h5 = hits_at(ranking, gold, 1), hits_at(ranking, gold, 5)
    mp, al = gold.mappable, gold.has_gold
    f = lambda h, sel: float(h[sel].mean()) if sel.any() else float("nan")  # noqa: E731
    return {"acc1_mappable": f(h1, mp), "acc5_mappable": f(h5, mp), "acc1_all": f(h1, al), "acc5_all": f(h5, al),
            "n_mappable": int(mp.sum()), "n_all": int(al.sum())}
