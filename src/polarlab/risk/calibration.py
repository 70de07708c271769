"""How well a risk score estimates the probability of error.

``risk`` is shape (n,), in [0, 1] (NaN rows are dropped); ``is_error`` is shape (n,), bool
(1 = the scored answer is wrong).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from sklearn.metrics import roc_auc_score

from ..errors import InputError


def _clean(risk: np.ndarray, is_error: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    risk = np.asarray(risk, dtype=np.float64).reshape(-1)
    err = np.asarray(is_error).reshape(-1)
    if risk.shape != err.shape:
        raise InputError(f"risk has {risk.shape[0]} values, is_error {err.shape[0]}",
                         column="is_error", fix="give one error indicator per risk value")
    keep = ~np.isnan(risk)
    risk, err = risk[keep], err[keep].astype(np.float64)
    if ((risk < 0) | (risk > 1)).any():
        raise InputError("risk values outside [0, 1]", column="risk", fix="pass probabilities")
    if not np.isin(err, (0.0, 1.0)).all():
        raise InputError("is_error holds values other than 0/1", column="is_error",
                         fix="pass a boolean array (answer != gold)")
    return risk, err


def ece(risk: np.ndarray, is_error: np.ndarray, n_bins: int = 10) -> float:
    """Expected calibration error over ``n_bins`` equal-width bins of risk on [0, 1].

    ``ECE = sum_b (n_b / n) * |mean risk in b - error rate in b|``; bin b holds risks in
    ``[b/B, (b+1)/B)`` (the last bin also holds 1.0). NaN when no rows.
    """
    risk, err = _clean(risk, is_error)
    if risk.size == 0:
        return math.nan
    idx = np.minimum((risk * n_bins).astype(np.int64), n_bins - 1)
    total = 0.0
    for b in range(n_bins):
        sel = idx == b
        if sel.any():
            total += sel.sum() / risk.size * abs(risk[sel].mean() - err[sel].mean())
    return float(total)


def equal_count_bins(risk: np.ndarray, is_error: np.ndarray, bin_size: int | None = None
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sort by risk and cut into bins of ``bin_size`` rows (default ``floor(sqrt(n))``).

    The ``n mod bin_size`` leftover rows join the last bin. Ties are broken by input order.

    Returns:
        ``(mean_risk, error_rate, count)``, each shape (n_bins,).
    """
    risk, err = _clean(risk, is_error)
    n = risk.size
    if n == 0:
        return np.zeros(0), np.zeros(0), np.zeros(0, dtype=np.int64)
    s = int(bin_size) if bin_size else max(1, math.isqrt(n))
    order = np.argsort(risk, kind="stable")
    r, e = risk[order], err[order]
    n_bins = max(1, n // s)
    edges = [b * s for b in range(n_bins)] + [n]
    mr = np.array([r[a:b].mean() for a, b in zip(edges[:-1], edges[1:])])
    er = np.array([e[a:b].mean() for a, b in zip(edges[:-1], edges[1:])])
    cnt = np.diff(edges).astype(np.int64)
    return mr, er, cnt


def r2_binned(risk: np.ndarray, is_error: np.ndarray, bin_size: int | None = None) -> float:
    """R^2 of binned error rate against binned mean risk (POLAR paper's calibration R^2).

    Rows are sorted by risk and cut into equal-count bins of ``floor(sqrt(n))`` rows
    (:func:`equal_count_bins`). With ``r_b`` the bin's mean risk and ``e_b`` its error rate,
    the risk is used directly as the prediction of the error rate (no fitted line)::

        R^2 = 1 - sum_b (e_b - r_b)^2 / sum_b (e_b - mean_b e_b)^2

    1 = the binned risk equals the binned error rate; it is negative when the risk predicts
    worse than the mean error rate. NaN with fewer than 2 bins or constant error rate.
    """
    mr, er, _ = equal_count_bins(risk, is_error, bin_size)
    if mr.size < 2:
        return math.nan
    ss_tot = float(((er - er.mean()) ** 2).sum())
    if ss_tot == 0.0:
        return math.nan
    return 1.0 - float(((er - mr) ** 2).sum()) / ss_tot


def brier(risk: np.ndarray, is_error: np.ndarray) -> float:
    """Mean squared difference between risk and the error indicator."""
    risk, err = _clean(risk, is_error)
    return float(np.mean((risk - err) ** 2)) if risk.size else math.nan


def auroc(risk: np.ndarray, is_error: np.ndarray) -> float:
    """Area under the ROC curve of risk for detecting errors; NaN when only one class."""
    risk, err = _clean(risk, is_error)
    if risk.size == 0 or err.min() == err.max():
        return math.nan
    return float(roc_auc_score(err, risk))


def consistency_floor(risk: np.ndarray, n_bins: int = 10, bin_size: int | None = None, draws: int = 200,
                      seed: int = 0) -> tuple[float, float]:
    """What ECE and R^2 a *perfectly calibrated* score with these risk values would show on n rows.

    Consistency resampling (Broecker & Smith 2007): draw errors ``e_i ~ Bernoulli(risk_i)``, so the
    score is calibrated by construction, and average the metrics over ``draws`` draws. A measured
    ECE near this floor is within sampling noise of perfect calibration; with a few hundred rows
    the floor is often 0.03-0.05, so an ECE target below it cannot be told apart from noise.

    Returns:
        (mean ECE, mean R^2) over the draws; NaN when no rows.
    """
    r = np.asarray(risk, dtype=np.float64).reshape(-1)
    r = r[~np.isnan(r)]
    if r.size == 0:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    eces, r2s = [], []
    for _ in range(draws):
        e = (rng.random(r.size) < r).astype(np.float64)
        eces.append(ece(r, e, n_bins))
        r2s.append(r2_binned(r, e, bin_size))
    r2s = np.asarray(r2s)
    return float(np.mean(eces)), float(np.nanmean(r2s)) if np.isfinite(r2s).any() else math.nan


@dataclass(frozen=True)
class CalibrationReport:
    """Calibration of a risk score against observed errors.

    Attributes:
        n: rows scored (NaN risks dropped).
        error_rate: observed share of wrong answers.
        mean_risk: mean risk (a calibrated score matches ``error_rate``).
        ece: expected calibration error, 10 equal-width bins.
        r2: R^2 of binned error rate vs binned risk, bins of floor(sqrt(n)) rows.
        brier: Brier score of risk vs error indicator.
        auroc: AUROC of risk for detecting errors.
        ece_floor: mean ECE a perfectly calibrated score with the same risk values would show on
            this many rows (:func:`consistency_floor`): the sampling-noise level of ``ece``.
        r2_floor: the same for ``r2``.
    """

    n: int
    error_rate: float
    mean_risk: float
    ece: float
    r2: float
    brier: float
    auroc: float
    ece_floor: float = math.nan
    r2_floor: float = math.nan

    def to_dict(self) -> dict:
        return asdict(self)


def calibration_report(risk: np.ndarray, is_error: np.ndarray, n_bins: int = 10,
                       bin_size: int | None = None) -> CalibrationReport:
    """All calibration metrics of ``risk`` (shape (n,)) against ``is_error`` (shape (n,))."""
    r, e = _clean(risk, is_error)
    ece_floor, r2_floor = consistency_floor(r, n_bins, bin_size)
    return CalibrationReport(
        n=int(r.size),
        error_rate=float(e.mean()) if r.size else math.nan,
        mean_risk=float(r.mean()) if r.size else math.nan,
        ece=ece(r, e, n_bins), r2=r2_binned(r, e, bin_size), brier=brier(r, e), auroc=auroc(r, e),
        ece_floor=ece_floor, r2_floor=r2_floor,
    )
