"""The report's per-slice table: :func:`polarlab.slicing.slice_report` of every split of a run."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..export.project import ProjectLabels, load_project_labels, open_state
from ..project import Project


def slice_tables(project: Project, slices_file: str | Path,
                 labels: ProjectLabels | None = None) -> dict[str, pd.DataFrame]:
    """split -> :func:`~polarlab.slicing.slice_report` frame (one row per slice, ``"overall"`` first) of the run's
    final labels, their risk, the sources' coverage and the end model (when trained); gold only for scores.

    Args:
        labels: the run's labels (default: :func:`~polarlab.export.project.load_project_labels`).

    Raises:
        ConfigError: the slicing-function file is missing, fails to import or defines no slicing function
            (before anything else is read).
    """
    from ..slicing import apply_slices, load_slicing_functions, slice_report

    sfs = load_slicing_functions(Path(slices_file))
    labels = labels if labels is not None else load_project_labels(project)
    state = open_state(project)
    out = {}
    try:
        for split, ds in project.load_splits().items():
            rows = labels.rows(split)
            position = {labels.data.ids[r]: r for r in rows}
            at = np.array([position.get(str(i), -1) for i in ds.frame["id"]], dtype=np.int64)
            if not len(rows) or (at < 0).any():
                continue                       # the run did not label this split (or other rows)
            d = labels.data
            end = state.distribution("endmodel", split) if state is not None else None
            out[split] = slice_report(apply_slices(ds, sfs), gold=ds.gold if ds.has_gold else None,
                                      preds=d.proba[at], risk=d.risk[at],
                                      L=d.votes.L[at] if d.votes is not None else None,
                                      end_preds=end if end is not None and len(end) == len(ds) else None,
                                      dataset=project.task.name, n_classes=project.task.n_classes)
    finally:
        if state is not None:
            state.close()
    return out
