"""Span precision / recall / F1, exact and partial (overlap) match, micro-averaged over documents."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .types import Span


def _prf(tp_p: int, n_p: int, tp_g: int, n_g: int) -> dict:
    p = tp_p / n_p if n_p else 0.0
    r = tp_g / n_g if n_g else 0.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0, "n_pred": n_p, "n_gold": n_g}


def _overlaps(s: Span, others: Sequence[Span]) -> bool:
    return any(o.label == s.label and o.start < s.end and s.start < o.end for o in others)


def span_scores(pred: Sequence[Sequence[Span]], gold: Sequence[Sequence[Span]]) -> dict:
    """{"exact": {precision, recall, f1, n_pred, n_gold}, "partial": {...}} over documents.

    Exact: same start, end and label. Partial: a predicted span counts as right when it
    overlaps a gold span of its label; a gold span is found when a prediction overlaps it.
    """
    e_tp = p_tp = g_tp = n_p = n_g = 0
    for P, G in zip(pred, gold):
        gk = {s.key for s in G}
        e_tp += len({s.key for s in P} & gk)
        n_p += len({s.key for s in P})
        n_g += len(gk)
        p_tp += sum(_overlaps(s, G) for s in {s.key: s for s in P}.values())
        g_tp += sum(_overlaps(s, P) for s in {s.key: s for s in G}.values())
    return {"exact": _prf(e_tp, n_p, e_tp, n_g), "partial": _prf(p_tp, n_p, g_tp, n_g)}


def span_errors(pred: Sequence[Sequence[Span]], gold: Sequence[Sequence[Span]]) -> np.ndarray:
    """For every predicted span (documents in order, spans sorted), 1 when it is not an exact
    gold span, else 0. Shape (n_pred,)."""
    out = []
    for P, G in zip(pred, gold):
        gk = {s.key for s in G}
        out += [int(s.key not in gk) for s in sorted(P)]
    return np.asarray(out, dtype=np.int64)
