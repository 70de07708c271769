"""Calibration plots as PNG files (matplotlib, Agg canvas, atomic writes)."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..io.atomic import atomic_path
from .calibration import _clean, equal_count_bins


def _save(fig: Figure, path: str | os.PathLike) -> Path:
    FigureCanvasAgg(fig)
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
    return path


def reliability_diagram(risk: np.ndarray, is_error: np.ndarray, path: str | os.PathLike,
                        n_bins: int = 10, title: str | None = None) -> Path:
    """Observed error rate per equal-width risk bin vs the diagonal; bar width = bin share.

    Returns:
        the PNG path written.
    """
    r, e = _clean(risk, is_error)
    idx = np.minimum((r * n_bins).astype(np.int64), n_bins - 1)
    centers, rates, shares, means = [], [], [], []
    for b in range(n_bins):
        sel = idx == b
        if sel.any():
            centers.append((b + 0.5) / n_bins)
            rates.append(e[sel].mean())
            means.append(r[sel].mean())
            shares.append(sel.mean())
    fig = Figure(figsize=(4.5, 4.5))
    ax = fig.add_subplot(1, 1, 1)
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="perfect calibration")
    ax.bar(centers, rates, width=1.0 / n_bins * 0.9, alpha=0.6, color="tab:blue", label="error rate")
    ax.plot(means, rates, "o", color="tab:red", ms=4, label="mean risk vs error rate")
    for c, rate, s in zip(centers, rates, shares):
        ax.annotate(f"{s:.0%}", (c, rate), ha="center", va="bottom", fontsize=7)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("risk score")
    ax.set_ylabel("observed error rate")
    ax.set_title(title or f"Reliability (n={r.size})")
    ax.legend(loc="upper left", fontsize=7)
    return _save(fig, path)


def risk_error_scatter(risk: np.ndarray, is_error: np.ndarray, path: str | os.PathLike,
                       bin_size: int | None = None, title: str | None = None) -> Path:
    """Binned error rate vs binned mean risk (equal-count bins of floor(sqrt(n)) rows).

    Returns:
        the PNG path written.
    """
    mr, er, _ = equal_count_bins(risk, is_error, bin_size)
    fig = Figure(figsize=(4.5, 4.5))
    ax = fig.add_subplot(1, 1, 1)
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1)
    ax.scatter(mr, er, s=14, color="tab:blue")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("mean risk (bin)")
    ax.set_ylabel("error rate (bin)")
    ax.set_title(title or f"Risk vs error ({mr.size} bins)")
    return _save(fig, path)
