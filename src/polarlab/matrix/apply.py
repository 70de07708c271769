"""Apply sources to a dataset: one column of the label matrix per source."""
from __future__ import annotations

import logging
from typing import Any, Sequence

import numpy as np

from ..data.dataset import Dataset
from ..errors import ConfigError, SourceError
from ..validation import check_votes
from ..sources.base import Source
from ..task import Task
from .label_matrix import LabelMatrix, SourceFailure
from .rowwise import apply_rowwise

log = logging.getLogger(__name__)


def apply_sources(data: Dataset, sources: Sequence[Source], task: Task, *,
                  progress: bool = True, fault_tolerant: bool = False,
                  max_failure_share: float = 1.0, workers: int = 1) -> LabelMatrix:
    """Run every source over ``data``.

    Sources are given ``data`` without its gold column (:meth:`Dataset.without_gold`): gold is
    only ever used for reporting.

    Args:
        data: n examples.
        sources: m sources with unique names.
        task: the task (k classes).
        progress: show a progress bar (rich) over sources.
        fault_tolerant: when True, a source that raised on too many rows is a warning, not an
            error (its failed rows are abstains).
        max_failure_share: a source that raised on at least this share of the rows fails the
            run (default 1.0: only a source that raised on every row). A source's own
            ``fault_tolerant`` / ``max_failure_share`` attributes, when set (not None), win over
            these defaults (e.g. :class:`polarlab.llm.LLMSource` parameters, or the
            ``[[sources]]`` keys of a project file).
        workers: processes for the Python labeling functions, which run in one pass over the rows
            (``polarlab.matrix.rowwise``); 1 = this process, 0 = one per available CPU.

    Returns:
        A :class:`LabelMatrix` of shape (n, m). Rows where a source raised are abstains there and
        are listed in ``failures`` (and logged); a run is never silently cut short.

    Raises:
        ConfigError: duplicate source names; a bad ``max_failure_share``.
        SourceError: a source returned a value that is not a label (a bug in the source), or
            raised on at least ``max_failure_share`` of the rows (naming the source, the share and
            the first error), unless fault tolerant.
    """
    check_failure_policy(fault_tolerant, max_failure_share)
    sources = as_sources(sources)
    view = data.without_gold()
    names = [s.name for s in sources]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"duplicate source names {dupes}", column="sources.name",
                          fix="give every source a unique name")
    n = len(data)
    L = np.full((n, len(sources)), -1, dtype=np.int64)
    probas: dict[str, np.ndarray] = {}
    failures: list[SourceFailure] = []
    rowwise = apply_rowwise(view, sources, task, workers=workers)   # all Python LFs, one pass over the rows
    for j, src in _progress(sources, progress, f"applying {len(sources)} sources to {n} rows"):
        out = rowwise[src.name] if src.name in rowwise else src.apply(view, task)
        L[:, j] = check_votes(out.votes, n_classes=task.n_classes, names=[src.name], n_rows=n, ndim=1,
                              error=SourceError)
        if out.proba is not None:
            probas[src.name] = np.asarray(out.proba, dtype=np.float64)
        if out.failures:
            check_source_failures(src, out.failures, n, data, fault_tolerant, max_failure_share)
            failures.extend(out.failures)
    return LabelMatrix(L=L, names=names, ids=data.ids, n_classes=task.n_classes, probas=probas,
                       failures=failures)


def as_sources(sources: Sequence[Any]) -> list[Source]:
    """``sources`` with Snorkel's own labeling functions wrapped (:class:`~polarlab.sources.SnorkelSource`), so
    they work unchanged; anything else that is no source (a plain function) is refused by its position.

    Raises:
        InputError: an element without ``name`` and ``apply``.
    """
    from ..errors import InputError
    from ..sources.snorkel_adapter import SnorkelSource, is_snorkel_lf

    out = []
    for j, s in enumerate(sources):
        if is_snorkel_lf(s):
            s = SnorkelSource(s)
        elif not (hasattr(s, "name") and hasattr(s, "apply")):
            raise InputError(f"sources[{j}] is a {type(s).__name__}, not a source", column=f"sources[{j}]",
                             fix="decorate a function with @polarlab.labeling_function(), or pass a source "
                                 "(KeywordSource, ...) or a Snorkel LabelingFunction")
        out.append(s)
    return out


def check_failure_policy(fault_tolerant: Any, max_failure_share: Any, where: str = "") -> None:
    """Refuse a ``fault_tolerant`` that is not a bool or a ``max_failure_share`` outside (0, 1].

    Raises:
        ConfigError: naming the key (``where`` prefixes it, e.g. ``"sources.gemma."``).
    """
    if not isinstance(fault_tolerant, bool):
        raise ConfigError(f"fault_tolerant = {fault_tolerant!r}", column=f"{where}fault_tolerant",
                          fix="use true or false")
    ok = isinstance(max_failure_share, (int, float)) and not isinstance(max_failure_share, bool)
    if not ok or not 0.0 < float(max_failure_share) <= 1.0:
        raise ConfigError(f"max_failure_share = {max_failure_share!r}", column=f"{where}max_failure_share",
                          fix="use a share of rows in (0, 1], e.g. 0.5; 1 = fail only when every row fails")


def check_source_failures(src: Source, found: list[SourceFailure], n: int, data: Dataset,
                          fault_tolerant: bool = False, max_failure_share: float = 1.0) -> None:
    """Raise (or warn, when fault tolerant) about a source that raised on ``len(found)`` of ``n`` rows."""
    tolerant = getattr(src, "fault_tolerant", None)
    share = getattr(src, "max_failure_share", None)
    tolerant = fault_tolerant if tolerant is None else tolerant
    share = max_failure_share if share is None else share
    check_failure_policy(tolerant, share, where=f"sources.{src.name}.")
    first = found[0]
    what = (f"source {src.name!r} raised on {len(found)} of {n} rows of {data.name!r} "
            f"(first: row {first.row}, id {first.example_id}: {first.error})")
    if len(found) >= float(share) * n and not tolerant:
        share_hint = f" (or max_failure_share above {len(found) / n:.2f})" if len(found) < n else ""
        raise SourceError(what, file=data.source, row=first.row, column=src.name,
                          fix=f"fix the source (a renamed column? a server down?); or set fault_tolerant = true"
                              f"{share_hint} on it to count its failed rows as abstains")
    log.warning("%s; counted as abstain", what)


def _progress(sources: Sequence[Source], show: bool, title: str):
    from ..progress import progress_bar

    bar = progress_bar(show, transient=True)
    if bar is None:
        yield from enumerate(sources)
        return
    with bar:
        t = bar.add_task(title, total=len(sources))
        for j, s in enumerate(sources):
            bar.update(t, description=f"{title}: {s.name}")
            yield j, s
            bar.advance(t)
