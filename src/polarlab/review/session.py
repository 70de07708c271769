"""A review session over a project: the pipeline's labels → the queue in SQLite → refits as answers come.

:func:`open_session` runs the project (sources, corrections, harmonizer; cached LLM answers are
free), fits :class:`SelfPacedReview` on the split to review, and fills the :class:`ReviewStore`
(in the project state, ``<state_dir>/state.sqlite``) with one item per example: what a reviewer needs to decide (text
with the entities highlighted, the review loop's current label and its probability beside the project's final
label (its labels file) and its probability, the LLM's answer and its
risk, the rules that fired and what they said, corrections made). A store that already holds
answers is resumed: the answers go back into the harmonizer first. After every ``batch_size``
new answers :meth:`ReviewSession.refit` fits again with the answers as the top-weight source,
recomputes the risks, relaxes the acceptance threshold one round and re-orders the queue.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError
from .estimate import DEFAULT_ESTIMATOR, StoppingRule, check_estimator
from .queue import review_order
from .rounds import ACCEPTED, DEFAULT_ACCEPTED, HUMAN, SelfPacedReview
from .schedule import ThresholdSchedule
from .store import Item, ReviewStore



@dataclass
class ReviewConfig:
    """Settings of a review session.

    Attributes:
        split: the split to review (default: the project's fit split).
        batch_size: answers between two refits (one self-paced round).
        audit_share: share of the reviews spent on random, risk-stratified audits (for the estimate).
        human_weight: the human source's weight, as a multiple of the largest other weight.
        target: accuracy the estimate's lower bound must reach to stop.
        budget: reviews allowed: a count (>= 1) or a fraction of the items.
        reviews_per_item: 2 = double review (agreement is reported).
        schedule: acceptance thresholds per round.
        accepted: what acceptance does to an item's label (:class:`SelfPacedReview`): ``"source"`` (default: kept,
            and a source of each refit), ``"free"`` (later refits may change it) or ``"lock"`` (kept).
        estimator: how the accuracy estimate weighs the risk model against the audits (a name in
            :data:`.estimate.ESTIMATORS`; default ``"evidence"``); the loop and the store's status (the page, ``review
            status``, the stopping rule) read the same one.
        slices: a Python file of slicing functions; with ``slice``, the queue holds only that slice's items.
        slice: the name of the slice to review (a function in ``slices``).
    """

    split: str | None = None
    batch_size: int = 20
    audit_share: float = 0.2
    human_weight: float = 10.0
    target: float = 0.95
    budget: float = 0.05
    reviews_per_item: int = 1
    schedule: ThresholdSchedule = field(default_factory=ThresholdSchedule)
    accepted: str = DEFAULT_ACCEPTED
    estimator: str = DEFAULT_ESTIMATOR
    slices: Path | None = None
    slice: str | None = None

    def __post_init__(self) -> None:
        if (self.slices is None) != (self.slice is None):
            raise ConfigError("--slices and --slice go together", column="--slice",
                              fix="pass both: --slices FILE.py --slice NAME (or neither)")
        if not 0.0 <= self.audit_share < 1.0:
            raise ConfigError(f"audit_share={self.audit_share}", column="review.audit_share", fix="use 0 <= share < 1")
        if self.reviews_per_item not in (1, 2):
            raise ConfigError(f"reviews_per_item={self.reviews_per_item}", column="review.reviews_per_item",
                              fix="use 1, or 2 for double review")
        if self.accepted not in ACCEPTED:
            raise ConfigError(f"accepted={self.accepted!r}", column="review.accepted", fix=f"use one of {list(ACCEPTED)}")
        check_estimator(self.estimator)
        if self.batch_size < 1:
            raise ConfigError(f"batch_size={self.batch_size}", column="review.batch_size", fix="use 1 or more")
        StoppingRule(self.target, self.budget)      # validates


def store_path(project) -> Path:
    """Where a project's review state lives: the project state's database."""
    from ..state.store import DB_NAME

    return Path(project.state_dir) / DB_NAME


def slice_rows(ds, slices: Path | None, name: str | None) -> list[int] | None:
    """Positions (0-based rows of ``ds``) of the examples in slice ``name`` of the file ``slices``; None = all."""
    if name is None:
        return None
    from ..slicing import apply_slices, load_slicing_functions

    sfs = load_slicing_functions(Path(slices), [name])
    return np.flatnonzero(apply_slices(ds, sfs).column(name)).tolist()


def harmonizer_setup(project, matrix) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(feature kind, feature options, harmonizer options) as :func:`polarlab.pipeline.run` reads ``[harmonizer]``;
    the fine-tuned transformer is replaced by the LR model (refits must take seconds)."""
    from ..features import FeatureSpec
    from ..stages.features import DEFAULT_FEATURES
    from ..stages.harmonizer import tunable_llm_columns

    options = dict(project.harmonizer)
    tune = options.pop("tune_llm_weight", True)
    options.pop("transformer", None)
    if options.get("model") == "transformer":
        options["model"] = "lr"
    llms = tunable_llm_columns(matrix, options)      # as the harmonizer stage does (it tunes only where it can)
    if tune and llms and "tune_sources" not in options:
        options["tune_sources"] = llms
    kind = options.pop("features", DEFAULT_FEATURES)     # the features stage's default ("auto"), not "embedding"
    spec_keys = set(FeatureSpec.__dataclass_fields__) - {"kind", "cache_dir"}
    feature_options = {k: options.pop(k) for k in list(options) if k in spec_keys}
    return kind, feature_options, options


class ReviewSession:
    """The in-memory side of a review: the loop's state, kept in step with the store."""

    #: typed answers outside the labels (the app's ``lookup``): none in a classification review
    lookup = None

    def __init__(self, store: ReviewStore, loop: SelfPacedReview, config: ReviewConfig) -> None:
        self.store = store
        self.loop = loop
        self.config = config
        self.lock = threading.Lock()
        self.fitted_on = 0           # answers the current fit has seen

    def sync(self) -> bool:
        """Load the answers from the store; refit when ``batch_size`` new ones arrived. Returns whether it refitted."""
        with self.lock:
            n = len(self.loop.human_)
            human, audited, machine, machine_risk = self.store.human_labels(n)
            count = int((human >= 0).sum())
            if count - self.fitted_on < self.config.batch_size:
                return False
            served = np.flatnonzero((human >= 0) & ~audited & (self.loop.human_ < 0))   # risk-ordered, new
            self.loop.human_, self.loop.audited_, self.loop.audit_label_ = human, audited, machine
            self.loop.review_label_, self.loop.review_risk_ = machine, machine_risk
            # the queue reached their priority: audits it would have served before them leave the estimate
            self.loop.mark_passed(served)
            self.loop.refit()
            self.loop.advance()
            self.fitted_on = count
            self._publish()
            return True

    def __call__(self, store: ReviewStore) -> None:      # the app's on_answer hook
        self.sync()

    def _publish(self) -> None:
        """New labels, risks, priorities and threshold into the store (one transaction for the items)."""
        lp = self.loop
        rows = np.arange(len(lp.human_))
        order = review_order(lp.priority_, lp.disagreement_)
        priority = np.empty(len(rows))
        priority[order] = len(rows) - np.arange(len(rows))
        kinds = {it.row: it.kind for it in self.store.items()}
        audit = np.array([kinds.get(r) == "audit" for r in rows])
        if audit.any():     # audits keep their random order
            priority[audit] = np.array([it.priority for it in self.store.items() if it.kind == "audit"])
        labels = lp.machine_labels()
        self.store.update_scores(rows, labels, lp.risk_, priority, lp.proba_[rows, labels], lp.priority_, lp.locked_)
        self.store.set_meta(threshold=lp.threshold_, round=lp.round_)
        if self.store.split is not None:
            from ..state import ProjectState

            with ProjectState(self.store.path.parent) as state:
                state.put_distribution("review", self.store.split, lp.proba_)


def item_payloads(ds, task, matrix, sources, proba: np.ndarray, risk: np.ndarray,
                  llm_risk: dict[str, np.ndarray], corrections: dict[str, list[str]],
                  final: np.ndarray | None = None) -> list[dict[str, Any]]:
    """What a reviewer sees for each example (JSON-able dicts; texts are plain strings, escaped by the page).

    ``label``/``probability``/``risk`` are the review loop's own h(x) (updated at each refit); ``labels_file`` is
    the project's final label and its probability from ``final`` ((n, k), the run's final method, as the labels
    file has them), which may differ from the review's; None without ``final``."""
    from ..pipeline import llm_columns

    llms = set(llm_columns(matrix))
    by_name = {getattr(s, "name", None): s for s in sources}
    frame = ds.frame
    out = []
    for i in range(len(ds)):
        text = str(frame["text"].iat[i])
        entities = []
        for col in ("span1", "span2"):
            if col in frame.columns:
                sp = frame[col].iat[i]
                if isinstance(sp, (list, tuple)) and len(sp) == 2 and sp[0] is not None:
                    entities.append({"start": int(sp[0]), "end": int(sp[1])})
        rules, llm = [], None
        for j, name in enumerate(matrix.names):
            v = int(matrix.L[i, j])
            if v < 0:
                continue
            if name in llms:
                r = llm_risk.get(name)
                llm = {"name": name, "answer": task.labels[v],
                       "risk": None if r is None or np.isnan(r[i]) else float(r[i])}
                continue
            src = by_name.get(name)
            explain = None
            if src is not None and hasattr(src, "describe"):
                try:
                    explain = str(src.describe(task, v))
                except Exception:       # a description is a nicety; the vote is what matters
                    explain = None
            rules.append({"name": name, "label": task.labels[v], "explain": explain})
        lab = int(proba[i].argmax())
        in_file = None
        if final is not None:
            f = int(final[i].argmax())
            in_file = {"label": f, "probability": float(final[i, f])}
        out.append({"text": text, "entities": entities, "label": lab, "probability": float(proba[i, lab]),
                    "risk": float(risk[i]), "labels_file": in_file, "llm": llm, "rules": rules,
                    "corrections": corrections.get(str(frame["id"].iat[i]), [])})
    return out


def open_session(project, config: ReviewConfig | None = None, *, progress: bool = False,
                 store: ReviewStore | None = None) -> ReviewSession:
    """Run the project, fit the review loop, fill (or resume) the store; see the module docstring."""
    from ..pipeline import choose_fit_split, featurize, run

    config = config or ReviewConfig()
    result = run(project, progress=progress, write=False)
    split = config.split or choose_fit_split(result.splits, project.fit_split)
    if split not in result.splits:
        raise ConfigError(f"no split {split!r}; the splits are {sorted(result.splits)}", file=str(project.path),
                          column="--split", fix="name one of the project's splits")
    ds, matrix = result.splits[split], result.matrices[split]
    matrix = matrix.drop([HUMAN])   # the run's column of stored answers: the loop adds the store's answers itself
    kind, feature_options, options = harmonizer_setup(project, matrix)
    X = featurize({split: ds}, split, kind, Path(project.state_dir) / "features", feature_options)[split]
    loop = SelfPacedReview(project.task.n_classes, config.schedule, batch_size=config.batch_size,
                           audit_size=0,            # in the app, audits are interleaved by the store
                           human_weight=config.human_weight, harmonizer=options, accepted=config.accepted,
                           estimator=config.estimator,
                           stopping=StoppingRule(config.target, config.budget)).fit(matrix.L, X)
    store = store or ReviewStore.for_project(project.state_dir, split)
    _share(project, split, ds, loop)
    session = ReviewSession(store, loop, config)
    store.set_meta(scope=config.slice, scope_rows=slice_rows(ds, config.slices, config.slice),
                   labels=list(project.task.labels), reviews_per_item=config.reviews_per_item,
                   audit_share=config.audit_share, target=config.target, budget=config.budget,
                   estimator=config.estimator,
                   split=split, project=str(project.path), task=project.task.name)
    corrections: dict[str, list[str]] = {}
    for key, frame in result.extra.get("audit", {}).items():
        if not key.endswith(f"_{split}") or not len(frame):
            continue
        for rec in frame.to_dict("records"):
            rid = str(rec.get("id", rec.get("example_id", "")))
            corrections.setdefault(rid, []).append(
                f"{rec.get('old_label_name', rec.get('old_label'))} → {rec.get('new_label_name', rec.get('new_label'))}"
                f" ({rec.get('strategy', 'correction')})")
    llm_risk = {k[len("risk_"):]: v[split] for k, v in result.extra.get("columns", {}).items()
                if k.startswith("risk_") and split in v}
    sources = getattr(result, "sources", None) or _sources(project, result, split)
    final = result.probas.get(result.final, {}).get(split)       # what the labels file says of these rows
    payloads = item_payloads(ds, project.task, matrix, sources, loop.proba_, loop.risk_, llm_risk, corrections,
                             final)
    existing = {it.row: it for it in store.items()}
    if not existing:
        n = len(ds)
        rng = np.random.default_rng(loop.seed)
        n_audit = int(np.ceil(config.audit_share * StoppingRule(config.target, config.budget).allowed(n)))
        audit = set(loop.audit_sample(np.arange(n), n_audit).tolist())
        order = review_order(loop.priority_, loop.disagreement_)
        priority = np.empty(n)
        priority[order] = n - np.arange(n)
        audit_priority = rng.permutation(len(audit)).tolist()
        items = []
        for i in range(n):
            kind_i = "audit" if i in audit else "risk"
            pr = float(audit_priority.pop()) if kind_i == "audit" else float(priority[i])
            items.append(Item(i, str(ds.frame["id"].iat[i]), kind_i, pr, payloads[i]["label"], payloads[i]["risk"],
                              payloads[i], float(loop.priority_[i])))
        store.put_items(items)
        store.set_locked(loop.locked_)
        store.set_meta(threshold=loop.threshold_, round=0)
    else:
        if len(existing) != len(ds) or any(existing[i].item_id != str(ds.frame["id"].iat[i]) for i in existing):
            raise ConfigError(f"{store.path} holds a review of other items", file=str(store.path),
                              fix="review the same split, or give the project another [project] state_dir")
        store.put_items([Item(i, it.item_id, it.kind, it.priority, payloads[i]["label"], payloads[i]["risk"],
                              payloads[i], float(loop.priority_[i])) for i, it in existing.items()])
        session.config = config
        # the labels accepted in earlier rounds and the round reached (the sync below moves to the next round)
        loop.restore(store.locked_labels(len(ds)), int(store.meta().get("round", 1)) - 1)
        session.fitted_on = -config.batch_size     # force a refit with the stored answers
        session.sync()
    return session


def _share(project, split: str, ds, loop: SelfPacedReview) -> None:
    """Put the reviewed split's examples (when the state lacks them) and the review's label distribution
    into the project state, so that its vote matrix and the ``"human"`` events line up with the items."""
    from ..state import ProjectState

    with ProjectState(project.state_dir) as state:
        if state.examples_hash(split) is None or state.example_ids(split) != [str(i) for i in ds.frame["id"]]:
            state.put_examples(split, ds.frame)
        state.put_distribution("review", split, loop.proba_)


def _sources(project, result, split):
    """The project's sources (for their descriptions)."""
    from ..sources.config import sources_from_config

    return sources_from_config(project.sources, base_dir=project.base_dir, state_dir=project.state_dir,
                               sample=result.splits[split], file=str(project.path), task=project.task)
