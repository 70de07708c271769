"""``polarlab analyze --slices FILE`` and ``--snorkel``: per-slice quality and Snorkel's ``lf_summary`` table."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from .render import _fmt


def _final(project: Any, split: str) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """(final distributions, risk, end-model distributions) of ``split`` from the project's last run, or Nones."""
    from ..errors import PolarlabError
    from ..export.project import load_project_labels, open_state

    try:
        labels = load_project_labels(project)
    except PolarlabError:
        return None, None, None
    rows = labels.rows(split)
    if not len(rows):
        return None, None, None
    end = None
    state = open_state(project)
    if state is not None:
        try:
            end = state.distribution("endmodel", split)
        finally:
            state.close()
    return labels.data.proba[rows], labels.data.risk[rows], end


def print_slices(console: Console, project: Any, split: str, data: Any, lm: Any, slices_file: Path) -> None:
    """Per-slice coverage, label quality, risk calibration and end-model scores on ``split``."""
    from ..slicing import apply_slices, load_slicing_functions, slice_report

    sfs = load_slicing_functions(slices_file)
    proba, risk, end = _final(project, split)
    rep = slice_report(apply_slices(data, sfs), gold=data.gold if data.has_gold else None, preds=proba, risk=risk,
                       L=lm.L, end_preds=end, dataset=project.task.name, n_classes=project.task.n_classes)
    where = "the last run's final labels" if proba is not None else "no run yet: coverage only"
    table = Table(title=f"slices on {split} ({where}; gold used only for scores)")
    table.add_column("slice", no_wrap=True)
    for c in rep.columns:
        table.add_column(c.replace("_", " "), justify="right")
    for name, row in rep.iterrows():
        table.add_row(str(name), *(str(int(row[c])) if c == "n" else _fmt(row[c]) for c in rep.columns))
    console.print(table)


def print_lf_summary(console: Console, project: Any, split: str, data: Any, lm: Any) -> None:
    """Snorkel's ``lf_summary`` columns, plus the gold-free ``Est. Acc.`` when the project has run."""
    from ..matrix.summary import lf_summary

    proba, _, _ = _final(project, split)
    frame = lf_summary(lm, data.gold if data.has_gold else None, proba)
    table = Table(title=f"lf_summary on {split} (Snorkel's columns; Est. Acc. = mean final probability of the "
                        "source's vote, no gold)")
    table.add_column("source", no_wrap=True)
    for c in frame.columns:
        table.add_column(str(c), justify="right")
    for name, row in frame.iterrows():
        table.add_row(str(name), *(_fmt(row[c]) for c in frame.columns))
    console.print(table)
