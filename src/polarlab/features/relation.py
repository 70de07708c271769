"""Relation tasks: mark the two entities in the text so a text encoder sees them."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..data.dataset import Dataset

E1_OPEN, E1_CLOSE, E2_OPEN, E2_CLOSE = "[E1]", "[/E1]", "[E2]", "[/E2]"


def _span(v: object) -> tuple[int, int] | None:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    try:
        s, e = (int(a) for a in v)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        return None
    return s, e


def _locate(text: str, entity: str | None, span: tuple[int, int] | None) -> tuple[int, int] | None:
    if span is not None and 0 <= span[0] < span[1] <= len(text):
        return span
    if entity:
        pos = text.find(entity)
        if pos < 0:
            pos = text.lower().find(entity.lower())
        if pos >= 0:
            return pos, pos + len(entity)
    return None


def mark_entities(text: str, entity1: str | None = None, entity2: str | None = None,
                  span1: Sequence[int] | None = None, span2: Sequence[int] | None = None) -> str:
    """The text with ``[E1] ... [/E1]`` around entity 1 and ``[E2] ... [/E2]`` around entity 2.

    Spans are ``(start, end)`` character offsets, end exclusive. A missing or out-of-range
    span falls back to the entity's first occurrence in the text (case-insensitive); an
    entity found nowhere is prefixed to the text as ``[E1] entity1 [/E1]`` so it is still
    seen. Nested spans nest their markers.

    Examples:
        >>> mark_entities("aspirin inhibits COX-1", "aspirin", "COX-1", (0, 7), (17, 22))
        '[E1] aspirin [/E1] inhibits [E2] COX-1 [/E2]'
    """
    text = "" if text is None else str(text)
    found = [(1, _locate(text, entity1, _span(span1)), entity1),
             (2, _locate(text, entity2, _span(span2)), entity2)]
    events: list[tuple[int, int, int, str]] = []   # (pos, rank, tiebreak, marker)
    prefix: list[str] = []
    for idx, sp, ent in found:
        opn, cls = (E1_OPEN, E1_CLOSE) if idx == 1 else (E2_OPEN, E2_CLOSE)
        if sp is None:
            if ent:
                prefix.append(f"{opn} {ent} {cls}")
            continue
        s, e = sp
        length = e - s
        events.append((s, 1, -length, opn))   # openers after closers; longer span opens first
        events.append((e, 0, length, cls))    # closers first; shorter span closes first
    events.sort()
    out, last = [], 0
    for pos, rank, _, marker in events:
        out.append(text[last:pos])
        out.append(f"{marker} " if rank == 1 else f" {marker}")
        last = pos
    out.append(text[last:])
    body = "".join(out)
    # tidy doubled spaces the markers introduce next to existing whitespace
    while "  " in body:
        body = body.replace("  ", " ")
    return " ".join(prefix + [body.strip()]) if prefix else body.strip()


def marked_texts(dataset: Dataset) -> list[str]:
    """Every example's text with its entities marked (relation datasets), else the plain texts."""
    if not dataset.is_relation:
        return [str(t) for t in dataset.texts]
    f = dataset.frame
    n = len(f)
    span1 = f["span1"].tolist() if "span1" in f.columns else [None] * n
    span2 = f["span2"].tolist() if "span2" in f.columns else [None] * n
    return [mark_entities(t, e1, e2, s1, s2) for t, e1, e2, s1, s2 in
            zip(f["text"].tolist(), f["entity1"].tolist(), f["entity2"].tolist(), span1, span2)]


TYPE_COLUMNS = (("type1", "type2"), ("entity1_type", "entity2_type"))
"""Column pairs that hold the two entities' types, where a dataset has them."""


def between_texts(dataset: Dataset) -> list[str]:
    """The text strictly between the two entities of each example ("" when they touch or overlap).

    Relation rules mostly test these words ("inhibits", "is a substrate of"); a sentence embedding of
    the whole text dilutes them. Spans are used when valid, else the entities' first occurrences.
    """
    f = dataset.frame
    n = len(f)
    span1 = f["span1"].tolist() if "span1" in f.columns else [None] * n
    span2 = f["span2"].tolist() if "span2" in f.columns else [None] * n
    out = []
    for t, e1, e2, s1, s2 in zip(f["text"].tolist(), f["entity1"].tolist(), f["entity2"].tolist(), span1, span2):
        text = "" if t is None else str(t)
        a, b = _locate(text, e1, _span(s1)), _locate(text, e2, _span(s2))
        if a is None or b is None:
            out.append("")
            continue
        first, second = (a, b) if a[0] <= b[0] else (b, a)
        out.append(text[first[1]:second[0]].strip() if first[1] < second[0] else "")
    return out


def entity_types(dataset: Dataset) -> list[str] | None:
    """``"<type1>|<type2>"`` per example when the dataset has entity-type columns, else None."""
    for c1, c2 in TYPE_COLUMNS:
        if c1 in dataset.frame.columns and c2 in dataset.frame.columns:
            return [f"{a}|{b}" for a, b in zip(dataset.frame[c1].astype(str), dataset.frame[c2].astype(str))]
    return None
