"""Classification metrics, including the one WRENCH reports for each of its datasets.

All metrics are scikit-learn's. ``classification_metrics`` scores only rows with gold
(``y >= 0``; -1 = no gold) and returns plain Python numbers / None so it can go to JSON.
"""
from __future__ import annotations

from typing import Literal

import numpy as np
from sklearn.metrics import accuracy_score, f1_score

from .errors import InputError

MetricName = Literal["acc", "f1_binary"]

WRENCH_METRIC: dict[str, MetricName] = {
    # Zhang et al. 2021, "WRENCH: A Comprehensive Benchmark for Weak Supervision" (arXiv 2109.11377):
    # binary F1 (positive class 1) for the class-imbalanced binary sets, accuracy elsewhere.
    "youtube": "acc",
    "sms": "f1_binary",
    "imdb": "acc",
    "yelp": "acc",
    "agnews": "acc",
    "trec": "acc",
    "spouse": "f1_binary",
    "cdr": "f1_binary",
    "semeval": "acc",
    "chemprot": "acc",
    "census": "f1_binary",
    "commercial": "f1_binary",
    "tennis": "f1_binary",
    "basketball": "f1_binary",
}
"""WRENCH dataset name (lower case) -> the metric WRENCH reports for it."""


METRIC_CHOICES = ("auto", "acc", "f1_binary")
"""Values of a ``metric`` option: ``auto`` = :func:`metric_for`'s rule; the others force that metric."""


def metric_for(dataset: str | None, metric: str | None = None) -> MetricName:
    """The metric that scores a dataset (its ``wrench_metric``).

    The rule: ``metric`` when given and not ``"auto"`` (``"acc"`` or ``"f1_binary"``, the F1 of class 1);
    else ``WRENCH_METRIC[dataset]`` (the dataset's name, e.g. a WRENCH directory's, matched case-insensitively);
    else accuracy: a name WRENCH does not list (``"my_spouse_copy"``) is scored by accuracy, binary or not, unless
    ``metric`` says otherwise (CLI ``--metric f1_binary``).
    """
    if metric not in (None, "auto"):
        if metric not in METRIC_CHOICES:
            raise InputError(f"unknown metric {metric!r}", column="metric", fix=f"use one of {list(METRIC_CHOICES)}")
        return metric  # type: ignore[return-value]
    return WRENCH_METRIC.get(str(dataset).strip().lower(), "acc") if dataset else "acc"


def _pair(y: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y, pred = np.asarray(y).ravel(), np.asarray(pred).ravel()
    if y.shape != pred.shape:
        raise InputError(f"{y.shape[0]} gold labels but {pred.shape[0]} predictions",
                         fix="pass one prediction per gold label")
    return y, pred


def accuracy(y: np.ndarray, pred: np.ndarray) -> float:
    """Fraction of ``pred`` equal to ``y``; both shape (n,). NaN when n = 0."""
    y, pred = _pair(y, pred)
    return float(accuracy_score(y, pred)) if y.size else float("nan")


def f1_binary(y: np.ndarray, pred: np.ndarray, pos_label: int = 1) -> float:
    """F1 of class ``pos_label``; ``y`` and ``pred`` shape (n,), labels in {0, 1}.

    0.0 when there is no true and no predicted positive (scikit-learn's ``zero_division=0``).
    """
    y, pred = _pair(y, pred)
    return float(f1_score(y, pred, pos_label=pos_label, average="binary", zero_division=0.0))


def macro_f1(y: np.ndarray, pred: np.ndarray) -> float:
    """Unweighted mean of per-class F1 over the classes present in ``y`` or ``pred``; shape (n,)."""
    y, pred = _pair(y, pred)
    return float(f1_score(y, pred, average="macro", zero_division=0.0))


def wrench_metric(name: str, y: np.ndarray, pred: np.ndarray, metric: str | None = None) -> tuple[str, float]:
    """The metric WRENCH reports for dataset ``name``, as ``(metric_name, value)``.

    ``name`` is matched case-insensitively against ``WRENCH_METRIC``; a dataset WRENCH does
    not have is scored by accuracy, i.e. ``("acc", accuracy(y, pred))``; ``metric`` (``"acc"`` or
    ``"f1_binary"``) overrides the table (:func:`metric_for`).
    """
    metric = metric_for(name, metric)
    if metric == "f1_binary":
        return metric, f1_binary(y, pred)
    return metric, accuracy(y, pred)


def classification_metrics(y: np.ndarray, proba_or_pred: np.ndarray, dataset: str | None = None,
                           *, n_classes: int | None = None,
                           metric: str | None = None) -> dict[str, float | int | str | None]:
    """Scores of predictions against gold, on the rows that have gold (``y >= 0``).

    Args:
        y: shape (n,), gold class index or -1 (no gold; row skipped).
        proba_or_pred: shape (n, k) class distributions (scored by argmax) or shape (n,)
            predicted class indices.
        dataset: WRENCH dataset name choosing ``wrench_metric``; None or unknown -> accuracy.
        metric: ``"auto"``/None (the rule above), ``"acc"`` or ``"f1_binary"`` (k must be 2) forcing
            ``wrench_metric`` (:func:`metric_for`).
        n_classes: k; default: ``proba_or_pred.shape[1]`` for distributions, else
            ``max(y, pred) + 1`` (at least 2).

    Returns:
        ``{"accuracy", "f1", "macro_f1", "wrench_metric", "wrench_metric_name", "n"}``:
        ``n`` is the number of gold rows scored; ``f1`` is the binary F1 of class 1 when
        k = 2 and None (JSON null) when k > 2 (use ``macro_f1`` there). With n = 0 every
        score is None.
    """
    y = np.asarray(y).ravel()
    scores = np.asarray(proba_or_pred)
    if scores.ndim == 2:
        pred = scores.argmax(axis=1)
        k = n_classes if n_classes is not None else scores.shape[1]
    elif scores.ndim == 1:
        pred = scores.astype(np.int64)
        k = n_classes if n_classes is not None else max(2, int(max(y.max(initial=0), pred.max(initial=0))) + 1)
    else:
        raise InputError(f"predictions must have shape (n,) or (n, k), got {scores.shape}",
                         fix="pass predict_proba(...) output or argmax labels")
    y, pred = _pair(y, pred)
    name = metric_for(dataset, metric)
    if name == "f1_binary" and k != 2 and metric not in (None, "auto"):
        raise InputError(f"metric f1_binary (F1 of class 1) needs 2 classes, got {k}", column="metric",
                         fix="use --metric acc or auto for more than two classes (macro_f1 is reported too)")
    gold = y >= 0
    y, pred = y[gold].astype(np.int64), pred[gold]
    if y.size == 0:
        return {"accuracy": None, "f1": None, "macro_f1": None, "wrench_metric": None,
                "wrench_metric_name": name, "n": 0}
    metric_name, wrench_value = wrench_metric(dataset or "", y, pred, metric)
    return {
        "accuracy": accuracy(y, pred),
        "f1": f1_binary(y, pred) if k == 2 else None,
        "macro_f1": macro_f1(y, pred),
        "wrench_metric": wrench_value,
        "wrench_metric_name": metric_name,
        "n": int(y.size),
    }
