"""What a report shows, gathered in one object (:class:`ReportData`); every part is optional."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..export.provenance import HumanVote
from ..task import Task


@dataclass
class Calibration:
    """Risk of one source's answers vs whether they were wrong (rows with gold).

    Attributes:
        name: what the risk is of (e.g. ``"llm"``).  split: where it was measured.
        risk: (n,) risk scores in [0, 1].  is_error: (n,) 1.0 where the answer was wrong.
        metrics: ECE, R², AUROC, ... (``CalibrationReport.to_dict()``), if computed.
    """

    name: str
    split: str
    risk: np.ndarray
    is_error: np.ndarray
    metrics: dict[str, Any] = field(default_factory=dict)


@dataclass
class EndModelReport:
    """End-model test metrics and its confusion matrix (k × k, rows = gold, columns = predicted)."""

    kind: str
    split: str
    metrics: dict[str, Any]
    confusion: np.ndarray
    self_training: dict[str, Any] | None = None


@dataclass
class ReportData:
    """Everything the report page shows.

    Attributes:
        task: the task (label names).
        title: page title.
        sources: per-source table indexed by source name (coverage, overlap, conflict, emp_acc,
            est_acc = agreement with the final label where the source voted, gold-free).
        labels: final labels: a frame with ``label`` (name) and optionally ``split``.
        calibration: risk-vs-error of each LLM (needs gold).
        label_metrics: method -> split -> metrics (label quality where gold exists).
        correction: LLM -> split -> correction report (``llm_error_before/after``, ``calls``, ...).
        human: human votes (review loop / imports).
        review_pairs: per item the review loop's people answered: (the review model's label when the item was first
            answered, the people's label), for the share of shown labels people confirmed.
        imported_pairs: per answer imported from Label Studio / Argilla: (the machine label the tool showed, the
            answer, where the shown label came from: ``"export"`` or ``"import"``, :class:`HumanVote` ``shown_from``);
            answers to rows whose export showed the reviewers' label are left out.
        review: the review's status, as ``polarlab review status`` reports it (:meth:`ReviewStore.status`: counts,
            the gold-free estimate of the unreviewed labels with its interval, budget, stop); None without a review.
        llm: LLM name -> run stats of the run that wrote the labels (calls, tokens, seconds, cost).
        llm_total: LLM name -> calls, cache hits, tokens and cost summed over every run of the project (as
            ``polarlab status`` counts them; a fully cached re-run asks nothing, so ``llm`` alone says 0 calls).
        end_model: the end model's test metrics and confusion matrix.
        timeline: stage -> seconds, in run order.
        slices: split -> per-slice table (:func:`polarlab.slicing.slice_report`), when slices were given.
        notes: extra lines shown at the top (where the data came from).
    """

    task: Task
    title: str = "polarlab report"
    sources: pd.DataFrame | None = None
    labels: pd.DataFrame | None = None
    calibration: list[Calibration] = field(default_factory=list)
    label_metrics: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    correction: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    human: list[HumanVote] = field(default_factory=list)
    review_pairs: list[tuple[int, int]] = field(default_factory=list)
    imported_pairs: list[tuple[int, int, str]] = field(default_factory=list)
    review: dict[str, Any] | None = None
    llm: dict[str, dict[str, Any]] = field(default_factory=dict)
    llm_total: dict[str, dict[str, Any]] = field(default_factory=dict)
    end_model: EndModelReport | None = None
    timeline: dict[str, float] = field(default_factory=dict)
    slices: dict[str, pd.DataFrame] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
