"""The candidates file of a linking run: per mention its sentence and the harmonizer's top candidates.

The labels file keeps one link per mention; a reviewer who finds it wrong needs the others the harmonizer
ranked (and the sentence the mention is in) to pick the right one. :func:`candidates_frame` gives them, one row
per mention in the labels file's order, written beside it as ``candidates.jsonl`` (``polarlab review`` reads it,
so a review never reruns the linking job).
"""
from __future__ import annotations

import re
from typing import Any

import pandas as pd

from ..ontology.terms import Ontology, canonical_xref

#: candidates kept per mention: with "none of these" they fit the number keys 1..9 of the review page
MAX_CANDIDATES = 8

_SENTENCE_END = re.compile(r"[.!?](?=\s)|\n")


def sentence_around(text: str, start: int, end: int, max_chars: int = 400) -> tuple[int, int]:
    """Character range ``[a, b)`` of the sentence holding ``text[start:end]`` (ends at ``.``, ``!``, ``?`` before a
    space, or a newline), cut to at most ``max_chars`` characters each side of the mention."""
    a = 0
    for m in _SENTENCE_END.finditer(text, 0, start):
        a = m.end()
    nxt = _SENTENCE_END.search(text, end)
    b = nxt.end() if nxt else len(text)
    a, b = max(a, start - max_chars), min(b, end + max_chars)
    while a < start and text[a].isspace():
        a += 1
    return a, b


def xrefs_of(ontology: Ontology, entity: str, prefixes: set[str]) -> str:
    """The entity's cross-references in the vocabularies ``prefixes`` (upper case), ``|``-joined, sorted."""
    xs = sorted(canonical_xref(x) for x in ontology.terms[entity].xrefs)
    return "|".join(x for x in xs if x.split(":", 1)[0] in prefixes)


def candidates_frame(run: Any, ontology: Ontology, output_xrefs: list[str],
                     k: int = MAX_CANDIDATES) -> pd.DataFrame:
    """One row per mention of ``run`` (a :class:`polarlab.linking.pipeline.LinkRun`), in the labels file's order.

    Columns: ``document_id``, ``start``, ``end``, ``mention``, ``sentence`` (the sentence it is in),
    ``sentence_start`` (the sentence's offset in the document) and ``candidates``: up to ``k`` dicts ``id``,
    ``name``, ``xrefs``, ``probability`` (the harmonized distribution over the candidate slots), in the harmonized
    list's order (:func:`polarlab.linking.harmonize.slot_order`: the slots the distribution prefers, then the
    linkers' fusion, so the probabilities after the first need not decrease); the first is the labels file's link.
    With the LLM linker ([linking.llm]; ``run.llm`` has its ``top1``) also
    ``llm``: its link as ``id``, ``name``, ``risk`` (its POLAR risk, harmonized without the LLM's column:
    :func:`polarlab.linking.pipeline.llm_link_risk`), None where it gave none.
    """
    ms, ranking = run.mentions, run.harmonized.ranking
    ids, prefixes = ontology.ids, {p.upper() for p in output_xrefs}
    llm = getattr(run, "llm", None) or {}
    llm_top, llm_risk = llm.get("top1"), llm.get("risk")
    rows = []
    for i in range(len(ms)):
        text, s, e = ms.doc_texts[ms.doc_ids[i]], int(ms.starts[i]), int(ms.ends[i])
        a, b = sentence_around(text, s, e)
        cands = []
        for ent, p in zip(ranking.entities[i, :k].tolist(), ranking.scores[i, :k].tolist()):
            if ent < 0:
                continue
            eid = ids[ent]
            cands.append({"id": eid, "name": ontology.terms[eid].name, "xrefs": xrefs_of(ontology, eid, prefixes),
                          "probability": float(p)})
        row = {"document_id": ms.doc_ids[i], "start": s, "end": e, "mention": ms.texts[i],
               "sentence": text[a:b], "sentence_start": a, "candidates": cands}
        if llm_top is not None:
            ent = int(llm_top[i])
            row["llm"] = None if ent < 0 else {"id": ids[ent], "name": ontology.terms[ids[ent]].name,
                                               "risk": float(llm_risk[i])}
        rows.append(row)
    return pd.DataFrame(rows, columns=["document_id", "start", "end", "mention", "sentence", "sentence_start",
                                       "candidates", *(["llm"] if llm_top is not None else [])])
