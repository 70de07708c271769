"""The POLAR risk score: 1 - h(x)[answer], an estimate of P(answer is wrong)."""
from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..validation import check_votes


def risk_score(proba: np.ndarray, answers: np.ndarray) -> np.ndarray:
    """``1 - proba[i, answers[i]]``; NaN where the answer is -1 (abstain).

    Args:
        proba: shape (n, k), a distribution over classes per example (e.g. h(x)).
        answers: shape (n,), int, the answer to score (class index or -1).

    Returns:
        shape (n,), float64 in [0, 1] or NaN.
    """
    proba = np.asarray(proba, dtype=np.float64)
    answers = np.asarray(answers).reshape(-1)
    if proba.ndim != 2:
        raise InputError(f"proba has shape {proba.shape}, expected (n, k)", column="proba",
                         fix="pass predict_proba's output")
    if answers.shape[0] != proba.shape[0]:
        raise InputError(f"{answers.shape[0]} answers for {proba.shape[0]} rows of proba",
                         column="answers", fix="give one answer (or -1) per row")
    answers = check_votes(answers, n_classes=proba.shape[1], ndim=1, what="answers")
    out = np.full(answers.shape[0], np.nan)
    ok = answers >= 0
    out[ok] = 1.0 - proba[np.nonzero(ok)[0], answers[ok]]
    return np.clip(out, 0.0, 1.0)


def source_risk(proba: np.ndarray, L: np.ndarray, source: int) -> np.ndarray:
    """Risk of every vote of column ``source`` of ``L`` (shape (n, m)); NaN where it abstained."""
    L = np.asarray(L)
    if L.ndim != 2 or not 0 <= source < L.shape[1]:
        raise InputError(f"no column {source} in L of shape {L.shape}", column="source",
                         fix="give the index of a column of L")
    return risk_score(proba, L[:, source])
