"""Snorkel's ``LFAnalysis.lf_summary`` table, with its column names, per source and per (source, class), plus a
gold-free estimate of each source's accuracy.

The estimate needs no gold: it is the mean probability that a label model (the POLAR harmonizer, or any other)
gives to the class the source voted, over the rows where it voted. It is only as good as that model; where gold
exists, ``Emp. Acc.`` beside it shows how far off it is.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import InputError
from .analysis import analyze
from .label_matrix import ABSTAIN, LabelMatrix

#: Snorkel's column names (``snorkel.labeling.LFAnalysis.lf_summary``), then polarlab's ``Est. Acc.``.
SNORKEL_COLUMNS = ["j", "Polarity", "Coverage", "Overlaps", "Conflicts", "Correct", "Incorrect", "Emp. Acc."]
ESTIMATE = "Est. Acc."


def estimated_accuracy(L: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """Gold-free accuracy of each source: mean of ``proba[i, L[i, j]]`` over the rows where source j voted.

    Args:
        L: votes, shape (n, m), -1 = abstain.
        proba: a label model's distributions, shape (n, k).

    Returns:
        shape (m,), float; NaN for a source that never voted.
    """
    L, proba = np.asarray(L), np.asarray(proba, dtype=np.float64)
    if proba.ndim != 2 or proba.shape[0] != L.shape[0]:
        raise InputError(f"proba has shape {proba.shape}, L has {L.shape[0]} rows", fix="pass (n, k) distributions")
    voted = L >= 0
    p = np.take_along_axis(proba, np.where(voted, L, 0), axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(voted.any(axis=0), (p * voted).sum(axis=0) / voted.sum(axis=0), np.nan)


def as_label_matrix(lm: LabelMatrix | np.ndarray, lfs: list | None = None,
                    n_classes: int | None = None) -> LabelMatrix:
    """``lm`` itself, or a vote array of shape (n, m) (-1 = abstain; e.g. what Snorkel's ``PandasLFApplier``
    returns) as a :class:`LabelMatrix` whose sources are named after ``lfs`` (anything with ``.name``, or
    strings), else ``0 .. m-1`` as in Snorkel's ``LFAnalysis`` without them."""
    if isinstance(lm, LabelMatrix):
        return lm
    L = np.asarray(lm)
    if L.ndim != 2:
        raise InputError(f"votes have shape {L.shape}", fix="pass a LabelMatrix or an (n, m) array, -1 = abstain")
    names = [str(getattr(f, "name", f)) for f in lfs] if lfs is not None else [str(j) for j in range(L.shape[1])]
    if len(names) != L.shape[1]:
        raise InputError(f"{len(names)} lfs for {L.shape[1]} vote columns", fix="one labeling function per column")
    k = n_classes if n_classes is not None else max(int(L.max(initial=-1)) + 1, 2)
    return LabelMatrix(L=L, names=names, ids=[str(i) for i in range(L.shape[0])], n_classes=k)


def lf_summary(lm: LabelMatrix | np.ndarray, gold: np.ndarray | None = None, proba: np.ndarray | None = None, *,
               lfs: list | None = None) -> pd.DataFrame:
    """Snorkel's ``lf_summary``: one row per source, indexed by name.

    ``lm`` is a :class:`LabelMatrix` or, as Snorkel's ``LFAnalysis(L, lfs)`` takes it, an (n, m) vote array
    (-1 = abstain) with the labeling functions ``lfs`` naming its columns (optional: ``0 .. m-1``).
    Columns ``j``, ``Polarity``, ``Coverage``, ``Overlaps``, ``Conflicts`` always; ``Correct``, ``Incorrect``,
    ``Emp. Acc.`` when ``gold`` is given (counted on rows with gold); ``Est. Acc.`` when ``proba`` (a label
    model's (n, k) distributions) is given.
    """
    if not isinstance(lm, LabelMatrix):     # classes: the most any of votes, gold and proba shows
        seen = [int(np.asarray(x).max(initial=-1)) + 1 for x in (lm, gold) if x is not None]
        lm = as_label_matrix(lm, lfs, max(seen + [2] + ([np.asarray(proba).shape[-1]] if proba is not None else [])))
    a = analyze(lm, gold)
    out = pd.DataFrame({"j": np.arange(len(lm.names)), "Polarity": a["polarity"], "Coverage": a["coverage"],
                        "Overlaps": a["overlap"], "Conflicts": a["conflict"]}, index=a.index)
    if gold is not None:
        out["Correct"], out["Incorrect"], out["Emp. Acc."] = a["correct"], a["incorrect"], a["emp_acc"]
    if proba is not None:
        out[ESTIMATE] = estimated_accuracy(lm.L, proba)
    out.index.name = None
    return out


def lf_summary_by_class(lm: LabelMatrix, class_names: list[str] | tuple[str, ...], gold: np.ndarray | None = None,
                        proba: np.ndarray | None = None) -> pd.DataFrame:
    """The same per (source, class it voted): ``Coverage`` (share of rows where it voted that class), and with
    gold ``Correct`` / ``Incorrect`` / ``Emp. Acc.`` (the precision of that vote), with ``proba`` ``Est. Acc.``.

    Returns:
        DataFrame with a (source, class) MultiIndex, only the classes each source ever votes.
    """
    L = lm.L
    n = L.shape[0]
    y = None if gold is None else np.asarray(gold).astype(np.int64)
    rows, index = [], []
    for j, name in enumerate(lm.names):
        for c in sorted(set(L[:, j][L[:, j] != ABSTAIN].tolist())):
            hit = L[:, j] == c
            row = {"Coverage": float(hit.mean()) if n else np.nan}
            if y is not None:
                g = hit & (y >= 0)
                correct, incorrect = int((g & (y == c)).sum()), int((g & (y != c)).sum())
                row.update({"Correct": correct, "Incorrect": incorrect,
                            "Emp. Acc.": correct / (correct + incorrect) if correct + incorrect else np.nan})
            if proba is not None:
                row[ESTIMATE] = float(np.asarray(proba)[hit, c].mean())
            rows.append(row)
            index.append((name, class_names[c]))
    return pd.DataFrame(rows, index=pd.MultiIndex.from_tuples(index, names=["source", "class"]))
