"""The report's figures as PNG bytes (matplotlib, Agg canvas; nothing touches the network or the screen)."""
from __future__ import annotations

import io
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..export.provenance import HumanVote


def png(fig: Figure) -> bytes:
    """The figure as PNG bytes."""
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return buf.getvalue()


def _via_file(plot, *args, **kw) -> bytes:
    """Bytes of a plot function from :mod:`polarlab.risk.plots` (they write PNG files)."""
    with tempfile.TemporaryDirectory(prefix="polarlab-report-") as tmp:
        path = plot(*args, path=Path(tmp) / "fig.png", **kw)
        return Path(path).read_bytes()


def label_distribution(counts: dict[str, dict[str, int]], labels: Sequence[str]) -> bytes:
    """Grouped bars: label counts per split (``counts[split][label]``)."""
    fig = Figure(figsize=(6, 3.2))
    ax = fig.add_subplot(1, 1, 1)
    splits = list(counts)
    width = 0.8 / max(len(splits), 1)
    x = np.arange(len(labels))
    for s, split in enumerate(splits):
        ax.bar(x + s * width - 0.4 + width / 2, [counts[split].get(lab, 0) for lab in labels], width, label=split)
    ax.set_xticks(x, labels, rotation=30 if len(labels) > 4 else 0, ha="right" if len(labels) > 4 else "center")
    ax.set_ylabel("examples")
    ax.set_title("final labels")
    ax.legend(fontsize=8)
    return png(fig)


def reliability(risk: np.ndarray, is_error: np.ndarray, title: str) -> bytes:
    from ..risk.plots import reliability_diagram

    return _via_file(reliability_diagram, risk, is_error, title=title)


def risk_vs_error(risk: np.ndarray, is_error: np.ndarray, title: str) -> bytes:
    from ..risk.plots import risk_error_scatter

    return _via_file(risk_error_scatter, risk, is_error, title=title)


def correction(rows: list[tuple[str, float, float]]) -> bytes:
    """Paired bars: error of the LLM's answers before / after correction, per (LLM, split)."""
    fig = Figure(figsize=(6, 3.2))
    ax = fig.add_subplot(1, 1, 1)
    x = np.arange(len(rows))
    ax.bar(x - 0.2, [r[1] for r in rows], 0.4, label="before", color="tab:red")
    ax.bar(x + 0.2, [r[2] for r in rows], 0.4, label="after", color="tab:green")
    ax.set_xticks(x, [r[0] for r in rows])
    ax.set_ylabel("error of the re-asked answers")
    ax.set_ylim(0, 1)
    ax.set_title("correction: before / after")
    ax.legend(fontsize=8)
    return png(fig)


def review_progress(votes: list[HumanVote]) -> bytes:
    """Cumulative reviewed examples over time."""
    fig = Figure(figsize=(6, 3.2))
    ax = fig.add_subplot(1, 1, 1)
    seen: set[str] = set()
    xs, ys = [], []
    for i, v in enumerate(sorted(votes, key=lambda v: v.time)):
        seen.add(v.example_id)
        xs.append(i + 1)
        ys.append(len(seen))
    ax.step(xs, ys, where="post")
    ax.set_xlabel("human answers (in time order)")
    ax.set_ylabel("examples reviewed")
    ax.set_title(f"review progress ({len(seen)} examples, {len(votes)} answers)")
    return png(fig)


def confusion(matrix: np.ndarray, labels: Sequence[str], title: str) -> bytes:
    """Confusion matrix (rows = gold, columns = predicted), counts in the cells."""
    k = len(labels)
    fig = Figure(figsize=(1.2 + 0.55 * k, 1.0 + 0.5 * k))
    ax = fig.add_subplot(1, 1, 1)
    ax.imshow(matrix, cmap="Blues")
    top = max(int(np.max(matrix)), 1) if np.size(matrix) else 1
    for i in range(k):
        for j in range(k):
            v = int(matrix[i, j])
            ax.text(j, i, str(v), ha="center", va="center", fontsize=7, color="white" if v > top / 2 else "black")
    ax.set_xticks(range(k), labels, rotation=45, ha="right", fontsize=7)
    ax.set_yticks(range(k), labels, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    ax.set_title(title, fontsize=9)
    return png(fig)


def timeline(stages: dict[str, float]) -> bytes:
    """The run's stages as consecutive horizontal bars (start = sum of the earlier stages)."""
    fig = Figure(figsize=(6, 0.6 + 0.35 * len(stages)))
    ax = fig.add_subplot(1, 1, 1)
    start = 0.0
    names = list(stages)
    for i, name in enumerate(names):
        ax.barh(i, stages[name], left=start, color="tab:blue")
        ax.text(start + stages[name], i, f" {stages[name]:.1f}s", va="center", fontsize=7)
        start += stages[name]
    ax.set_yticks(range(len(names)), names)
    ax.invert_yaxis()
    ax.set_xlabel("seconds")
    ax.set_title("stage timeline")
    return png(fig)
