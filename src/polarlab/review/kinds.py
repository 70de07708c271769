"""What ``polarlab review`` does with each ``[task] kind``: how to fill the queue, how to apply the answers.

One :class:`ReviewKind` per kind, in a registry (``"module:attribute"``, imported on first use, as
:data:`polarlab.tasks.PROJECT_JOBS`). The classification review (text and relation projects, and any kind without
a runner of its own) is the default entry; a kind with a runner of its own is reviewed only when it registers one
(linking and spans do: :mod:`polarlab.linking.review`, :mod:`polarlab.spans.review`, over the fixed queue of
:mod:`polarlab.review.fixed`). Every kind shares the :class:`ReviewStore` (SQLite queue, leases,
answers), the web page, the terminal fallback and ``polarlab review status``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from .store import ReviewStore


@dataclass(frozen=True)
class ReviewKind:
    """How one task kind is reviewed.

    Attributes:
        name: the ``[task] kind`` (``"classification"`` for the default entry).
        open: ``open(project_file, config, progress)`` -> a session (``.store``, ``.sync()``, callable as the app's
            ``on_answer``): runs or reuses the project's labels and puts its items into the store, riskiest first.
        store_path: project file -> the SQLite file the review lives in (the project state's database).
        labels: ``labels(project_file, store)`` -> the project's labels with the answers applied (``review status
            --export``), with a ``source`` column (``human`` where a reviewer's answer decided the label).
        scope: ``scope(project_file, store, slices, slice_name)`` -> keywords of :meth:`ReviewStore.status` for
            ``review status --slices/--slice`` ({} = the review's own scope).
    """

    name: str
    open: Callable[[Path, Any, bool], Any]
    store_path: Callable[[Path], Path]
    labels: Callable[[Path, ReviewStore], pd.DataFrame]
    scope: Callable[[Path, ReviewStore, Path | None, str | None], dict]


#: ``[task] kind`` -> "module:attribute" of its :class:`ReviewKind`; ``"classification"`` is the default entry
REVIEW_KINDS: dict[str, str] = {"classification": "polarlab.review.classify:REVIEW",
                                "linking": "polarlab.linking.review:REVIEW",
                                "spans": "polarlab.spans.review:REVIEW"}


def register_review_kind(kind: str, target: str) -> None:
    """Make ``polarlab review`` read a ``[task] kind = kind`` project through ``target`` ("module:attribute")."""
    REVIEW_KINDS[kind] = target


def review_kind(kind: str | None, project_file: Path | None = None) -> ReviewKind:
    """The :class:`ReviewKind` of a project of ``[task] kind = kind``.

    Raises:
        ConfigError: the kind has a runner of its own and no review (relevance), naming ``task.kind``.
    """
    import importlib

    from ..errors import ConfigError
    from ..tasks import PROJECT_RUNNERS

    target = REVIEW_KINDS.get(kind or "")
    if target is None and kind in PROJECT_RUNNERS:
        have = sorted(k for k in REVIEW_KINDS if k != "classification")
        raise ConfigError(f'`polarlab review` does not review [task] kind = "{kind}" projects',
                          file=None if project_file is None else str(project_file), column="task.kind",
                          fix=f"review a classification project or one of the kinds {have}; this project's "
                              f"labels are in its [output] dir (`polarlab run {project_file or 'PROJECT'}`)")
    module, _, name = (target or REVIEW_KINDS["classification"]).partition(":")
    return getattr(importlib.import_module(module), name)
