"""Apply sources to a dataset: one column of the label matrix per source."""
from __future__ import annotations

import logging
from typing import Sequence

import numpy as np

from ..data.dataset import Dataset
from ..errors import ConfigError, SourceError
from ..sources.base import Source
from ..task import Task
from .label_matrix import LabelMatrix, SourceFailure
from .rowwise import apply_rowwise

log = logging.getLogger(__name__)


def apply_sources(data: Dataset, sources: Sequence[Source], task: Task, *,
                  progress: bool = True, workers: int = 1) -> LabelMatrix:
    """Run every source over ``data``.

    Args:
        data: n examples.
        sources: m sources with unique names.
        task: the task (k classes).
        progress: show a progress bar (rich) over sources.
        workers: processes for the Python labeling functions, which run in one pass over the rows
            (``polarlab.matrix.rowwise``); 1 = this process, 0 = one per available CPU.

    Returns:
        A :class:`LabelMatrix` of shape (n, m). Rows where a source raised are abstains there and
        are listed in ``failures`` (and logged); a run is never silently cut short.

    Raises:
        ConfigError: duplicate source names.
        SourceError: a source returned a value that is not a label (a bug in the source).
    """
    names = [s.name for s in sources]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"duplicate source names {dupes}", column="sources.name",
                          fix="give every source a unique name")
    n = len(data)
    L = np.full((n, len(sources)), -1, dtype=np.int64)
    probas: dict[str, np.ndarray] = {}
    failures: list[SourceFailure] = []
    rowwise = apply_rowwise(data, sources, task, workers=workers)   # all Python LFs, one pass over the rows
    for j, src in _progress(sources, progress, f"applying {len(sources)} sources to {n} rows"):
        out = rowwise[src.name] if src.name in rowwise else src.apply(data, task)
        votes = np.asarray(out.votes)
        if votes.shape != (n,):
            raise SourceError(f"source {src.name!r} returned {votes.shape} votes for {n} rows", column=src.name,
                              fix="return one vote per example")
        bad = (votes < -1) | (votes >= task.n_classes)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise SourceError(f"source {src.name!r} voted {votes[i]}, outside -1..{task.n_classes - 1}",
                              row=i, column=src.name, fix="return a class index or -1 (abstain)")
        L[:, j] = votes
        if out.proba is not None:
            probas[src.name] = np.asarray(out.proba, dtype=np.float64)
        if out.failures:
            first = out.failures[0]
            log.warning("source %r raised on %d of %d rows (first: row %d, id %s: %s); counted as abstain",
                        src.name, len(out.failures), n, first.row, first.example_id, first.error)
            failures.extend(out.failures)
    return LabelMatrix(L=L, names=names, ids=data.ids, n_classes=task.n_classes, probas=probas,
                       failures=failures)


def _progress(sources: Sequence[Source], show: bool, title: str):
    if not show:
        yield from enumerate(sources)
        return
    from rich.progress import Progress

    with Progress(transient=True) as bar:
        t = bar.add_task(title, total=len(sources))
        for j, s in enumerate(sources):
            bar.update(t, description=f"{title}: {s.name}")
            yield j, s
            bar.advance(t)
