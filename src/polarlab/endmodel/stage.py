"""The end-model stage: train a classifier on a project's final labels, evaluate it, save it.

Training rows: the fit split's rows that a source voted on or a person reviewed; soft labels = the
final model's distributions, weight = 1 - risk, reviewed rows = the people's label (one-hot, weight 1).
With self-training, the fit split's other rows (no vote, no review) are the unlabelled pool.
Evaluation: the ``test`` split (else the project's eval split) where it has gold.

Writes ``<output_dir>/endmodel/`` (the model, its task and label names, the evaluation and the
self-training history in ``endmodel.json``) and, in the project state, the end model's distributions of
every split (method ``"endmodel"``) and a stage record ``"endmodel"`` — in one transaction.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..export.project import ProjectLabels, load_project_labels, open_state
from ..export.provenance import human_label
from ..metrics import classification_metrics
from ..project import Project
from .base import make_end_model
from .self_training import SelfTraining
from .targets import Targets

STAGE = "endmodel"
MODEL_DIR = "endmodel"


@dataclass
class EndModelRun:
    """What the stage did: the model, where it went, its evaluation (``None`` without gold)."""

    model: Any
    path: Path
    evaluation: dict[str, Any] | None
    trained_on: dict[str, Any]
    self_training: dict[str, Any] | None = None
    seconds: float = 0.0
    probas: dict[str, np.ndarray] = field(default_factory=dict)


def _split_choice(labels: ProjectLabels, project: Project) -> tuple[str, str | None]:
    splits = labels.splits
    fit = next((s for s in (project.fit_split, "train", "valid") if s in splits), splits[0] if splits else None)
    if fit is None:
        raise ConfigError("the project has no labelled rows", file=str(project.path), fix="run the project first")
    ev = next((s for s in ("test", project.eval_split) if s and s in splits and s != fit), None)
    return fit, ev


def confusion(gold: np.ndarray, pred: np.ndarray, k: int) -> np.ndarray:
    """(k, k) counts, rows = gold, columns = predicted (rows without gold skipped)."""
    from sklearn.metrics import confusion_matrix

    ok = gold >= 0
    return confusion_matrix(gold[ok], pred[ok], labels=list(range(k)))


def train_end_model(project: Project, kind: str = "logreg", *, self_training: bool = False,
                    options: dict[str, Any] | None = None, st_options: dict[str, Any] | None = None,
                    out: str | Path | None = None) -> EndModelRun:
    """Run the end-model stage on ``project`` (see the module docstring)."""
    t0 = time.perf_counter()
    options = dict(options or {})
    if kind == "logreg":
        options.setdefault("cache_dir", str(Path(project.state_dir) / "features"))
    model = make_end_model(kind, project.task, **options)        # bad options fail before any slow work
    labels = load_project_labels(project)
    d = labels.data
    fit, ev = _split_choice(labels, project)
    rows = labels.rows(fit)
    reviewed = np.full(len(d.ids), -1, dtype=np.int64)
    position = {key: i for i, key in enumerate(d.keys())}
    for key, votes in d.human_by_id().items():
        reviewed[position[key]] = human_label(votes)
    voted = (d.votes.L >= 0).any(axis=1) if d.votes is not None and d.votes.L.shape[1] else np.ones(len(d.ids), bool)
    lab = rows[voted[rows] | (reviewed[rows] >= 0)]
    pool = rows[~(voted[rows] | (reviewed[rows] >= 0))]
    targets = Targets.from_risk(d.proba[lab], d.risk[lab], reviewed[lab])
    # every row once (the embedding cache keeps it for the next run); relation tasks: entities marked
    F = model.encode(labels.inputs or d.texts)
    history = None
    if self_training:
        st = SelfTraining(model, **(st_options or {})).fit_encoded(F[lab], targets, F[pool])
        model, history = st.model_, st.result_.to_dict()
    else:
        P, w = targets.resolved()
        model.fit_encoded(F[lab], P, w)
    probas = {s: model.predict_proba_encoded(F[labels.rows(s)]) for s in labels.splits}
    evaluation = None
    if ev is not None and (labels.gold[labels.rows(ev)] >= 0).any():
        g = labels.gold[labels.rows(ev)]
        evaluation = {"split": ev, "metrics": classification_metrics(g, probas[ev], dataset=project.task.name),
                      "confusion": confusion(g, probas[ev].argmax(1), project.task.n_classes).tolist()}
    trained_on = {"split": fit, "rows": int(lab.size), "reviewed": int((reviewed[lab] >= 0).sum()),
                  "pool": int(pool.size), "labels_from": labels.origin, "method": d.method}
    seconds = time.perf_counter() - t0
    path = Path(out) if out is not None else Path(project.output_dir) / MODEL_DIR
    model.save(path, {"evaluation": evaluation, "self_training": history, "trained_on": trained_on,
                      "options": {k: v for k, v in options.items() if k != "cache_dir"}})
    _record(project, kind, options, self_training, probas, d.proba, evaluation, trained_on, seconds)
    return EndModelRun(model, path, evaluation, trained_on, history, seconds, probas)


def _record(project: Project, kind: str, options: dict, self_training: bool, probas: dict[str, np.ndarray],
            labels_proba: np.ndarray, evaluation: dict | None, trained_on: dict, seconds: float) -> None:
    from ..state import content_hash

    state = open_state(project, readonly=False)
    try:
        config = content_hash(kind, {k: v for k, v in options.items() if k != "cache_dir"}, self_training)
        with state.transaction():
            for s, P in probas.items():
                state.put_distribution(STAGE, s, P)
            state.record_stage(STAGE, config_hash=config, inputs={"labels": content_hash(labels_proba)},
                               output_hash=content_hash(*[probas[s] for s in sorted(probas)]), seconds=seconds,
                               report={"evaluation": evaluation, "trained_on": trained_on, "kind": kind})
    finally:
        state.close()
