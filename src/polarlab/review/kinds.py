"""What ``polarlab review`` does with each ``[task] kind``: how to fill the queue, how to apply the answers.

One :class:`ReviewKind` per kind, in a registry (``"module:attribute"``, imported on first use, as
:data:`polarlab.tasks.PROJECT_JOBS`). The classification review (text and relation projects, and any kind without
a runner of its own) is the default entry; a kind with a runner of its own is reviewed only when it registers one
(linking and spans do: :mod:`polarlab.linking.review`, :mod:`polarlab.spans.review`, over the fixed queue of
:mod:`polarlab.review.fixed`). Every kind shares the :class:`ReviewStore` (SQLite queue, leases,
answers), the web page, the terminal fallback and ``polarlab review status``.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Iterable

import pandas as pd

from .store import ReviewStore


#: every setting of a review (a :class:`polarlab.review.session.ReviewConfig` field) -> (the ``polarlab review``
#: option that sets it, what it is for): what an error says when a kind does not use it
SETTINGS: dict[str, tuple[str, str]] = {
    "split": ("--split", "chooses the split to review"),
    "batch_size": ("--batch-size", "sets the answers per self-paced round, after which the harmonizer is refitted"),
    "audit_share": ("--audit-share", "sets the share of reviews spent on random checks"),
    "human_weight": ("human_weight", "weights the answers as a source of the harmonizer's refits"),
    "target": ("--target", "sets the accuracy at which the review stops"),
    "budget": ("--budget", "sets the reviews allowed"),
    "reviews_per_item": ("--double-review", "has each item reviewed twice"),
    "schedule": ("--schedule", "sets the acceptance threshold of each self-paced round"),
    "accepted": ("--accepted", "says what acceptance in a self-paced round does to a label"),
    "slices": ("--slices", "names the file of slicing functions"),
    "slice": ("--slice", "restricts the queue to one slice"),
}


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
        honours: the settings (:data:`SETTINGS` keys) this kind uses; :meth:`check` refuses the others.
        why_not: why the others mean nothing here, as the end of the error :meth:`check` raises ("it is one fixed
            queue ...").
    """

    name: str
    open: Callable[[Path, Any, bool], Any]
    store_path: Callable[[Path], Path]
    labels: Callable[[Path, ReviewStore], pd.DataFrame]
    scope: Callable[[Path, ReviewStore, Path | None, str | None], dict]
    honours: frozenset[str] = field(default_factory=lambda: frozenset(SETTINGS))
    why_not: str = ""

    def check(self, given: Iterable[str]) -> None:
        """Refuse the settings in ``given`` (:data:`SETTINGS` keys a user set) that this kind does not use: one
        ConfigError naming their options and why, so that none is silently ignored. Call it before slow work.

        Raises:
            ConfigError: a setting outside :attr:`honours`; ``column`` is its option (``--schedule``).
        """
        from ..errors import ConfigError

        unused = [s for s in SETTINGS if s in set(given) and s not in self.honours]
        if unused:
            flags = [SETTINGS[s][0] for s in unused]
            what = "; ".join(f"{SETTINGS[s][0]} {SETTINGS[s][1]}" for s in unused)
            raise ConfigError(f"a {self.name} review does not use {', '.join(flags)} ({what}); {self.why_not}",
                              column=flags[0], fix=f"leave out {', '.join(flags)}")


def settings_set(config: Any) -> set[str]:
    """The settings of ``config`` (a :class:`polarlab.review.session.ReviewConfig`) that differ from the defaults:
    what a Python caller asked for (the command line knows which options were given, :meth:`ReviewKind.check`)."""
    default = type(config)()
    return {f.name for f in fields(config)
            if f.name in SETTINGS and getattr(config, f.name) != getattr(default, f.name)}


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
