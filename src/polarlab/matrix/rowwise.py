"""Python labeling functions in one pass over the rows, optionally in several processes.

Vectorised sources (keyword, regex, dictionary, vote columns) label a whole column at once. Python labeling
functions must be called once per row; calling them source by source walks the rows m times and builds every
row object m times. Here every row object is built once and handed to all row-wise sources, as Snorkel's
``PandasLFApplier`` does, and with ``workers > 1`` contiguous chunks of rows go to forked worker processes
(the functions are inherited by fork, never pickled, so closures and lambdas work).

Row-wise sources are polarlab's :class:`~polarlab.sources.LabelingFunction` (called on an
:class:`~polarlab.data.Example`) and :class:`~polarlab.sources.SnorkelSource` (called on the pandas row).
"""
from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Sequence

import numpy as np

from ..data.dataset import Dataset
from ..sources.base import ABSTAIN, SourceFailure, SourceOutput
from ..sources.lf import LabelingFunction, check_vote, source_file
from ..sources.snorkel_adapter import SnorkelSource
from ..task import Task


def is_rowwise(source: Any) -> bool:
    """True for sources called once per row (Python labeling functions, Snorkel LFs)."""
    return isinstance(source, (LabelingFunction, SnorkelSource))


def _files(sources: Sequence[Any]) -> list[str | None]:
    return [source_file(s.f if isinstance(s, LabelingFunction) else getattr(s.lf, "_f", None)) for s in sources]


def _label_chunk(data: Dataset, sources: Sequence[Any], task: Task, start: int, stop: int
                 ) -> tuple[np.ndarray, list[SourceFailure]]:
    """Votes of rows ``start:stop``, shape (stop - start, len(sources)), and the failures (absolute rows)."""
    natives = [j for j, s in enumerate(sources) if isinstance(s, LabelingFunction)]
    snorkels = [j for j, s in enumerate(sources) if isinstance(s, SnorkelSource)]
    files = _files(sources)
    votes = np.full((stop - start, len(sources)), ABSTAIN, dtype=np.int64)
    failures: list[SourceFailure] = []
    part = data.subset(np.arange(start, stop)) if (start, stop) != (0, len(data)) else data

    def call(j: int, f: Any, x: Any, i: int, example_id: str) -> None:
        try:
            value = f(x)
        except Exception as e:  # noqa: BLE001 - an LF's bug on one row is recorded, not fatal
            failures.append(SourceFailure(sources[j].name, start + i, example_id, f"{type(e).__name__}: {e}"))
            return
        votes[i, j] = check_vote(value, task, sources[j].name, start + i, example_id, file=files[j])

    if natives:
        for i, x in enumerate(part):
            for j in natives:
                call(j, sources[j], x, i, x.id)
    if snorkels:
        for i, (_, row) in enumerate(part.frame.iterrows()):
            for j in snorkels:
                call(j, sources[j].lf, row, i, str(row["id"]))
    return votes, failures


_WORK: tuple[Dataset, Sequence[Any], Task] | None = None


def _init(data: Dataset, sources: Sequence[Any], task: Task) -> None:
    global _WORK   # set in each forked worker by the pool's initializer (inherited, not pickled)
    _WORK = (data, sources, task)


def _work(bounds: tuple[int, int]) -> tuple[np.ndarray, list[SourceFailure]]:
    assert _WORK is not None
    return _label_chunk(*_WORK, *bounds)


def default_workers() -> int:
    """The CPUs this process may run on (its affinity mask), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def apply_rowwise(data: Dataset, sources: Sequence[Any], task: Task, *, workers: int = 1,
                  min_rows_per_worker: int = 5_000) -> dict[str, SourceOutput]:
    """Apply the row-wise sources among ``sources`` in one pass over ``data``'s rows.

    Args:
        data: n examples.
        sources: any sources; only the row-wise ones (``is_rowwise``) are applied here.
        task: the task.
        workers: processes to use (1 = this process; 0 = one per available CPU). Chunks smaller than
            ``min_rows_per_worker`` rows are not worth a process: fewer workers are used then.
        min_rows_per_worker: see ``workers``.

    Returns:
        ``{source name: SourceOutput}`` for the row-wise sources, votes shape (n,), failures with absolute rows
        (0-based positions), in row order, identical whatever ``workers`` is.
    """
    rowwise = [s for s in sources if is_rowwise(s)]
    if not rowwise:
        return {}
    n = len(data)
    workers = default_workers() if workers == 0 else max(1, int(workers))
    workers = max(1, min(workers, n // max(1, min_rows_per_worker)))
    if workers == 1 or "fork" not in multiprocessing.get_all_start_methods():
        votes, failures = _label_chunk(data, rowwise, task, 0, n)
    else:
        edges = np.linspace(0, n, workers + 1).astype(int)
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"), initializer=_init,
                                 initargs=(data, rowwise, task)) as pool:
            parts = list(pool.map(_work, zip(edges[:-1].tolist(), edges[1:].tolist())))
        votes = np.vstack([p[0] for p in parts])
        failures = [f for p in parts for f in p[1]]
    return {s.name: SourceOutput(votes=votes[:, j].copy(), failures=[f for f in failures if f.source == s.name])
            for j, s in enumerate(rowwise)}
