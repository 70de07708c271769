"""Per-slice quality: how good the labels, their risk and the end model are on each slice."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import InputError
from ..metrics import classification_metrics
from ..risk.calibration import auroc, ece
from .apply import SliceMatrix

OVERALL = "overall"


def _check(name: str, a: np.ndarray | None, n: int) -> np.ndarray | None:
    if a is None:
        return None
    a = np.asarray(a)
    if a.shape[0] != n:
        raise InputError(f"{name} has {a.shape[0]} rows, the slice matrix has {n}", fix=f"pass one {name} row per example")
    return a


def _labels(x: np.ndarray | None) -> np.ndarray | None:
    return None if x is None else (x.argmax(axis=1) if x.ndim == 2 else x.astype(np.int64))


def slice_report(S: SliceMatrix, *, gold: np.ndarray | None = None, preds: np.ndarray | None = None,
                 risk: np.ndarray | None = None, L: np.ndarray | None = None,
                 end_preds: np.ndarray | None = None, dataset: str | None = None,
                 n_classes: int | None = None) -> pd.DataFrame:
    """One row per slice (and ``"overall"`` first) with what is known about it.

    Args:
        S: slice membership, ``S.S`` shape (n, s).
        gold: shape (n,), gold class or -1 (no gold); scores need it.
        preds: the labels, shape (n,) class indices or (n, k) distributions (argmax taken).
        risk: shape (n,), the chance each label is wrong (e.g. ``1 - max proba`` or a POLAR risk); NaN = none.
        L: label matrix, shape (n, m), -1 = abstain: gives the slice's source coverage.
        end_preds: an end model's predictions, shape (n,) or (n, k).
        dataset: WRENCH dataset name choosing the WRENCH metric.
        n_classes: k, when ``preds`` are class indices.

    Returns:
        DataFrame indexed by slice name: ``n``, ``fraction`` (of all rows), ``coverage`` (rows with at least one
        source vote, if ``L``), ``label_accuracy``, ``label_macro_f1``, ``label_wrench_metric`` (labels vs gold),
        ``risk_mean``, ``risk_ece``, ``risk_auroc`` (risk against the labels' errors), ``end_accuracy``,
        ``end_wrench_metric``; a score is NaN where its inputs are missing or the slice has no gold row.
    """
    n = S.S.shape[0]
    gold, preds, risk, L, end_preds = (_check(k, v, n) for k, v in
                                       (("gold", gold), ("preds", preds), ("risk", risk), ("L", L),
                                        ("end_preds", end_preds)))
    y = None if gold is None else gold.astype(np.int64)
    labels, end = _labels(preds), _labels(end_preds)
    k = n_classes or (preds.shape[1] if preds is not None and preds.ndim == 2 else None)
    rows = {}
    for name, mask in [(OVERALL, np.ones(n, dtype=bool))] + [(s, S.S[:, j]) for j, s in enumerate(S.names)]:
        row: dict[str, float] = {"n": int(mask.sum()), "fraction": float(mask.mean()) if n else float("nan")}
        row["coverage"] = float((L[mask] >= 0).any(axis=1).mean()) if L is not None and mask.any() else np.nan
        has = mask & (y >= 0) if y is not None else np.zeros(n, dtype=bool)
        for prefix, p in (("label", labels), ("end", end)):
            m = classification_metrics(y[has], p[has], dataset, n_classes=k) if p is not None and has.any() else {}
            row[f"{prefix}_accuracy"] = m.get("accuracy", np.nan)
            row[f"{prefix}_wrench_metric"] = m.get("wrench_metric", np.nan)
            if prefix == "label":
                row["label_macro_f1"] = m.get("macro_f1", np.nan)
        row["risk_mean"] = float(np.nanmean(risk[mask])) if risk is not None and mask.any() else np.nan
        row["risk_ece"] = row["risk_auroc"] = np.nan
        if risk is not None and labels is not None:
            ok = has & ~np.isnan(risk.astype(float))
            if ok.any():
                err = (labels[ok] != y[ok]).astype(float)
                row["risk_ece"] = ece(risk[ok], err)
                row["risk_auroc"] = auroc(risk[ok], err)
        rows[name] = row
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "slice"
    return frame.astype({"n": int})
