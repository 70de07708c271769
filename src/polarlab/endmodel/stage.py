"""The end-model stage: train a classifier on a project's final labels, evaluate it, save it.

Training rows: the fit split's rows that a source voted on or a person reviewed; soft labels = the
final model's distributions, weight = 1 - risk, reviewed rows = the people's label (one-hot, weight 1).
With self-training, the fit split's other rows (no vote, no review) are the unlabelled pool.
Evaluation: the ``test`` split (else the project's eval split) where it has gold.

Writes ``<output_dir>/endmodel/`` (the model, its task and label names, the evaluation and the
self-training history in ``endmodel.json``) and, through the stage runner (:mod:`polarlab.stages`), the
end model's distributions of every split (method ``"endmodel"``) and the stage record ``"endmodel"`` in the
project state, in one transaction; an unchanged end model (same options, labels and human answers) is
skipped.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..export.project import ProjectLabels, load_project_labels
from ..export.provenance import human_label
from ..metrics import classification_metrics
from ..project import Project
from .base import make_end_model
from .self_training import SelfTraining
from .targets import Targets
from .training import TrainingRows

STAGE = "endmodel"
MODEL_DIR = "endmodel"
AUGMENTED_FILE = "augmented.csv"


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


def fit_on_labels(project: Project, labels: ProjectLabels, model, *, self_training: bool = False,
                  st_options: dict[str, Any] | None = None, out: str | Path | None = None,
                  extra: dict[str, Any] | None = None, training: TrainingRows | None = None) -> EndModelRun:
    """Train ``model`` on a project's final labels, evaluate it on the test split, save it.

    ``training`` chooses the rows (filtering) and adds augmented ones (:mod:`polarlab.endmodel.training`);
    the augmented rows' provenance goes to ``<model folder>/augmented.csv``."""
    t0 = time.perf_counter()
    d = labels.data
    fit, ev = _split_choice(labels, project)
    rows = labels.rows(fit)
    reviewed = np.full(len(d.ids), -1, dtype=np.int64)
    position = {key: i for i, key in enumerate(d.keys())}
    for key, votes in d.human_by_id().items():
        reviewed[position[key]] = human_label(votes)
    training = training or TrainingRows()
    inputs = labels.inputs or d.texts          # what the model sees (relation tasks: entities marked)
    keep = training.select([d.ids[r] for r in rows], [inputs[r] for r in rows],
                           None if d.votes is None else d.votes.L[rows], d.proba[rows], reviewed[rows])
    lab, pool = rows[keep], rows[~keep]
    if not lab.size:
        raise ConfigError(f"no training rows left in split {fit!r} after filtering (min_proba = {training.min_proba})",
                          file=str(project.path), column="--min-proba", fix="lower --min-proba")
    targets = Targets.from_risk(d.proba[lab], d.risk[lab], reviewed[lab])
    # every row once (the embedding cache keeps it for the next run)
    F = model.encode(inputs)
    X = F[lab]
    augmented = None
    if training.tfs_ is not None:
        augmented, extra_targets = training.augment_rows([d.ids[r] for r in lab], [inputs[r] for r in lab], targets)
        if len(augmented):
            X = np.vstack([X, model.encode(augmented["text"].tolist())])
            targets = targets.concat(extra_targets)
    history = None
    if self_training:
        st = SelfTraining(model, **(st_options or {})).fit_encoded(X, targets, F[pool])
        model, history = st.model_, st.result_.to_dict()
    else:
        P, w = targets.resolved()
        model.fit_encoded(X, P, w)
    probas = {s: model.predict_proba_encoded(F[labels.rows(s)]) for s in labels.splits}
    evaluation = None
    if ev is not None and (labels.gold[labels.rows(ev)] >= 0).any():
        g = labels.gold[labels.rows(ev)]
        evaluation = {"split": ev, "metrics": classification_metrics(g, probas[ev], dataset=project.task.name),
                      "confusion": confusion(g, probas[ev].argmax(1), project.task.n_classes).tolist()}
    trained_on = {"split": fit, "rows": int(lab.size), "reviewed": int((reviewed[lab] >= 0).sum()),
                  "pool": int(pool.size), "labels_from": labels.origin, "method": d.method,
                  "filter_unlabeled": training.filter_unlabeled, "min_proba": training.min_proba}
    path = Path(out) if out is not None else Path(project.output_dir) / MODEL_DIR
    if augmented is not None:
        trained_on["augmented"] = {"rows": int(len(augmented)), "file": str(training.augment),
                                   "policy": training.policy, "n_per_original": training.n_per_original,
                                   "sequence_length": training.sequence_length, "seed": training.seed,
                                   "provenance": AUGMENTED_FILE}
    model.save(path, {"evaluation": evaluation, "self_training": history, "trained_on": trained_on,
                      **saved_columns(project), **(extra or {})})
    if augmented is not None:              # each augmented row: its text, its original's id, the functions applied
        from ..io.atomic import atomic_path

        with atomic_path(path / AUGMENTED_FILE) as tmp:
            augmented.to_csv(tmp, index=False)
    elif (path / AUGMENTED_FILE).exists():
        (path / AUGMENTED_FILE).unlink()       # from an earlier, augmented run
    return EndModelRun(model, path, evaluation, trained_on, history, time.perf_counter() - t0, probas)


class EndModelStage:
    """Stage ``endmodel`` (protocol of :mod:`polarlab.stages`): trains the end model on the final labels.

    Config: the model kind and options, self-training on/off and its options. Inputs: the final method's
    distributions and the human answers. Outputs: the model folder (``<output_dir>/endmodel``) and the end
    model's (n, k) distributions of every split in the state (method ``"endmodel"``).
    """

    name = STAGE

    def __init__(self, kind: str = "logreg", options: dict[str, Any] | None = None, self_training: bool = False,
                 st_options: dict[str, Any] | None = None, out: str | Path | None = None,
                 training: TrainingRows | None = None) -> None:
        self.kind, self.options, self.self_training = kind, dict(options or {}), bool(self_training)
        self.st_options, self.out = dict(st_options or {}), out
        self.training = training or TrainingRows()
        self.result: EndModelRun | None = None

    def _model(self, project: Project):
        options = dict(self.options)
        if self.kind == "logreg":
            options.setdefault("cache_dir", str(Path(project.state_dir) / "features"))
        return make_end_model(self.kind, saved_task(project), **options)

    def _final(self, ctx) -> str:
        from ..export.project import final_method

        return final_method(ctx.project)

    def wanted(self, ctx) -> bool:
        return True

    def config(self, ctx) -> Any:
        return {"kind": self.kind, "options": {k: v for k, v in self.options.items() if k != "cache_dir"},
                "self_training": self.self_training, "st_options": self.st_options, "final": self._final(ctx),
                "out": str(self.out) if self.out is not None else None, "training": self.training.config(),
                **saved_columns(ctx.project)}       # saved with the model: a new id column means a new model file

    def inputs(self, ctx) -> dict[str, str]:
        from ..state import content_hash

        final = ctx.probas.get(self._final(ctx), {})
        return {"labels": content_hash(*[final[s] for s in sorted(final)]),
                "human": content_hash(ctx.state.vote_events(kind="human"))}

    def run(self, ctx) -> dict[str, Any]:
        model = self._model(ctx.project)           # bad options fail before any slow work
        self.result = fit_on_labels(ctx.project, load_project_labels(ctx.project), model,
                                    self_training=self.self_training, st_options=self.st_options, out=self.out,
                                    extra={"options": {k: v for k, v in self.options.items() if k != "cache_dir"}},
                                    training=self.training)
        ctx.probas[STAGE] = self.result.probas
        return {"kind": self.kind, "evaluation": self.result.evaluation, "trained_on": self.result.trained_on,
                "self_training": self.result.self_training, "path": str(self.result.path)}

    def save(self, ctx) -> str:
        from ..state import content_hash

        for split, P in ctx.probas[STAGE].items():
            ctx.state.put_distribution(STAGE, split, P, key=self.name)
        return content_hash(*[ctx.probas[STAGE][s] for s in sorted(ctx.probas[STAGE])])

    def load(self, ctx, record) -> bool:
        got = ctx.state.distributions(STAGE)
        path = Path(record.report.get("path", ""))
        if set(got) != set(ctx.splits) or not (path / "endmodel.json").exists():
            return False
        ctx.probas[STAGE] = got
        return True


def saved_task(project: Project):
    """The project's task with the columns ``[data]`` reads (``text_column``, ``entity_columns``): saved with the
    model, so that ``polarlab predict`` reads new rows shaped like the project's data without options."""
    import dataclasses

    changes = {k: (tuple(v) if isinstance(v, list) else v) for k, v in project.data.items()
               if k in ("text_column", "entity_columns") and v}
    return dataclasses.replace(project.task, **changes) if changes else project.task


def saved_columns(project: Project) -> dict[str, str]:
    """``{"id_column": ...}`` when the project's ``[data]`` names one (else {}): saved in ``endmodel.json``, so that
    ``polarlab predict`` gives new rows that have the column their ids, not row numbers."""
    col = project.data.get("id_column")
    return {"id_column": str(col)} if col else {}


def train_end_model(project: Project, kind: str = "logreg", *, self_training: bool = False,
                    options: dict[str, Any] | None = None, st_options: dict[str, Any] | None = None,
                    out: str | Path | None = None, progress: bool = False,
                    training: TrainingRows | None = None) -> tuple[EndModelRun | None, Any]:
    """``polarlab endmodel``: bring the run up to date (``polarlab run``; unchanged stages are skipped), then
    run the stage list plus ``endmodel`` over the project state.

    Returns:
        (what the stage trained, or None when it was skipped as unchanged; its :class:`StageReport`).
    """
    from ..pipeline import run as run_pipeline
    from ..stages import PIPELINE, RunContext, register_stage, run_stages
    from ..state import ProjectState

    stage = EndModelStage(kind, options, self_training, st_options, out, training)
    stage._model(project)                                   # unknown kind / bad option: before any work
    run_pipeline(project, progress=progress)
    register_stage(stage)
    state = ProjectState(project.state_dir)
    try:
        ctx = RunContext(project=project, state=state, progress=progress)
        reports = run_stages(list(PIPELINE) + [STAGE], ctx)
    finally:
        state.close()
    return stage.result, next(r for r in reports if r.name == STAGE)


