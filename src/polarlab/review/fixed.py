"""A review queue without refits, for the kinds with a job of their own (linking, spans).

The items come from the job's saved run (:func:`saved_outputs`: reused while current, else the job runs again, its
LLM answers from the cache), are ordered by their risk once, with random checks drawn per risk stratum for the
estimate (:func:`with_audits`), and go into the store (:func:`fill`); a resumed review keeps the items people have
answered as they saw them (their choices), so an answer always means what the reviewer chose.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from .store import Item, ReviewStore

log = logging.getLogger(__name__)


class FixedQueue:
    """A session whose items keep their machine labels and order (no refits): the queue as it was filled.

    ``lookup``: the kind's typed answers (an id -> the choice it stands for; the app's and the terminal's
    ``lookup``), None = none (a linking review: :class:`polarlab.linking.review.OntologyIds`)."""

    def __init__(self, store: ReviewStore, lookup: Callable[[str], dict] | None = None) -> None:
        self.store = store
        self.lookup = lookup

    def sync(self) -> bool:
        """Nothing to refit; returns False."""
        return False

    def __call__(self, store: ReviewStore) -> None:      # the app's on_answer hook
        pass


def no_slices(what: str) -> Callable[..., dict]:
    """A ``scope`` for kinds without slices: ``--slice`` is refused (naming the option), none means the whole
    review."""
    def scope(project_file: Path, store: ReviewStore | None, slices: Path | None, name: str | None) -> dict:
        from ..errors import ConfigError

        if slices is not None or name is not None:
            raise ConfigError(f"a {what} review has no slices", column="--slice", fix="leave out --slices/--slice")
        return {}
    return scope


#: the settings a fixed queue uses (:data:`polarlab.review.kinds.SETTINGS` keys): the others are refused
FIXED_SETTINGS = frozenset({"budget", "target", "audit_share", "reviews_per_item"})


def why_fixed(unit: str) -> str:
    """Why a fixed-queue kind (whose items are ``unit``) refuses the other settings
    (:attr:`ReviewKind.why_not`)."""
    return (f"it is one fixed queue of the last run's {unit} in risk order, with no splits, no slices "
            "and no self-paced refit rounds (the answers are not fed back into the harmonizer)")


def check_config(kind, config) -> None:
    """Refuse the settings of ``config`` (a :class:`ReviewConfig` from Python) that ``kind`` does not use
    (:meth:`polarlab.review.kinds.ReviewKind.check` of the settings that differ from the defaults)."""
    from .kinds import settings_set

    kind.check(settings_set(config))


def saved_outputs(project_file: Path, kind: str, needed: Sequence[str], progress: bool = False) -> dict[str, Path]:
    """The files of a current run of the project: the last finished run's when every ``needed`` output is current
    (``polarlab status``'s test: same project tables, inputs and files), else those of a new run (``polarlab
    run``)."""
    from ..jobs.status import job_status
    from ..tasks import project_job, project_runner

    st = job_status(Path(project_file), project_job(kind))
    why = "no finished run" if st["last_ok"] is None else next(
        (f"its {n} file is {st['outputs'][n]['status'] if n in st['outputs'] else 'not recorded'}"
         for n in needed if st["outputs"].get(n, {}).get("status") != "current"), None)
    if why is None:
        log.info("reviewing the last %s run's outputs", kind)
        return {k: Path(o["path"]) for k, o in st["outputs"].items()}
    log.info("running the %s project first: %s", kind, why)
    return {k: Path(p) for k, p in project_runner(kind)(Path(project_file), None, progress).items()}


def with_audits(items: list[Item], audit_share: float, allowed: int, seed: int = 0) -> list[Item]:
    """``items`` with ``ceil(audit_share * allowed)`` of them turned into random checks (kind ``audit``), drawn per
    risk stratum (:func:`polarlab.review.queue.stratified_sample`), in random order."""
    from .queue import stratified_sample

    rng = np.random.default_rng(seed)
    risk = np.array([it.risk for it in items], dtype=np.float64)
    audit = stratified_sample(risk, np.arange(len(items)), int(np.ceil(audit_share * allowed)), rng).tolist()
    order = rng.permutation(len(audit)).tolist()
    out = list(items)
    for i, pr in zip(audit, order):
        it = out[i]
        out[i] = Item(it.row, it.item_id, "audit", float(pr), it.label, it.risk, it.payload, it.accept_score)
    return out


def fill(store: ReviewStore, items: list[Item], config, **meta: Any) -> None:
    """Put ``items`` into ``store`` with the review's settings (``config``: :class:`ReviewConfig`) and ``meta``.

    A store that holds a review already is resumed: it must hold the same items (ids), the answered ones are kept
    as they were, the others take the new priority, label, risk and payload.

    Raises:
        ConfigError: the store holds a review of other items.
    """
    from ..errors import ConfigError

    existing = {it.item_id: it for it in store.items()}
    if existing and set(existing) != {it.item_id for it in items}:
        raise ConfigError(f"{store.path} holds a review of other items than the last run labelled",
                          file=str(store.path), fix="export it first (polarlab review status PROJECT --export FILE), "
                                                    "then give the project another [project] state_dir")
    if existing:
        answered = store.human_labels(len(existing))[0] >= 0
        items = [old if answered[old.row] else Item(old.row, new.item_id, old.kind, old.priority if old.kind == "audit"
                                                    else new.priority, new.label, new.risk, new.payload)
                 for new in items for old in [existing[new.item_id]]]
    store.put_items(items)
    project = meta.get("project", "PROJECT")
    meta.setdefault("next_step", f"`polarlab review status {project} --export FILE` writes the labels with the "
                                 "answers applied and shows the estimate")
    store.set_meta(reviews_per_item=config.reviews_per_item, audit_share=config.audit_share, target=config.target,
                   budget=config.budget, split=None, scope=None, scope_rows=None, **meta,
                   **({} if existing else {"threshold": 0.0, "round": 0}))
