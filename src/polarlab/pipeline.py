"""The whole job: data → sources → label matrix → label models → labels + metrics.

Each stage hands the next a plain object (``Dataset``, ``LabelMatrix``, arrays); nothing reaches back.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from .data.dataset import Dataset
from .errors import ConfigError, InputError, PolarlabError
from .export.labels import labels_frame, write_json, write_table
from .io.outputs import check_writable
from .labelmodels import make_label_model
from .matrix.analysis import analyze
from .matrix.apply import apply_sources
from .matrix.label_matrix import LabelMatrix
from .metrics import classification_metrics
from .project import Project
from .sources.config import sources_from_config
from .task import Task

log = logging.getLogger(__name__)

DEFAULT_METHODS = ("mv", "snorkel", "dawid_skene", "polar")
HARMONIZER = "polar"


@dataclass
class RunResult:
    """What a run produced.

    Attributes:
        task: the task.
        splits: split name -> Dataset.
        matrices: split name -> LabelMatrix.
        fit_split: the split label models were fitted on.
        analysis: per-source statistics on the fit split (DataFrame indexed by source).
        probas: method -> split -> (n, k) class distributions.
        metrics: method -> split -> metrics dict (only splits with gold).
        final: the method whose labels were written.
        outputs: name -> path of every file written.
        seconds: stage -> wall-clock seconds.
        extra: later stages' results (risk, correction), by name.
        stages: one :class:`polarlab.stages.StageReport` per stage (ran or skipped, why, seconds).
        eval_split: the ``[data] eval_split`` (the split whose risk calibration is plotted), if given.
        replaced: files of an earlier run in the output folder that this run replaced or removed.
    """

    task: Task
    splits: dict[str, Dataset]
    matrices: dict[str, LabelMatrix]
    fit_split: str
    analysis: pd.DataFrame
    probas: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    metrics: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    final: str = "snorkel"
    outputs: dict[str, Path] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    stages: list = field(default_factory=list)
    eval_split: str | None = None
    replaced: list[str] = field(default_factory=list)


def choose_fit_split(splits: dict[str, Dataset], preferred: str = "train") -> str:
    """``preferred`` if present, else ``train``, ``valid``, or the first split."""
    for name in (preferred, "train", "valid"):
        if name in splits:
            return name
    return next(iter(splits))


def label_matrices(splits: dict[str, Dataset], sources: list, task: Task, progress: bool = True
                   ) -> dict[str, LabelMatrix]:
    """Apply ``sources`` to every split."""
    return {name: apply_sources(ds, sources, task, progress=progress) for name, ds in splits.items()}


def fit_label_models(methods: list[str], matrices: dict[str, LabelMatrix], fit_split: str, task: Task,
                     options: dict[str, dict] | None = None) -> dict[str, dict[str, np.ndarray]]:
    """Fit each method on the fit split's matrix and predict every split.

    Returns:
        method -> split -> (n, k) distributions.
    """
    out: dict[str, dict[str, np.ndarray]] = {}
    for m in methods:
        if m == HARMONIZER:
            continue
        model = make_label_model(m, task.n_classes, **(options or {}).get(m, {}))
        model.fit(matrices[fit_split].L)
        out[m] = {s: model.predict_proba(lm.L) for s, lm in matrices.items()}
    return out


def featurize(splits: dict[str, Dataset], fit_split: str, kind: str, cache_dir: Path,
              options: dict[str, Any] | None = None) -> dict[str, np.ndarray]:
    """Features of every split, the extractor fitted on the fit split only. Each (n, d).

    ``options`` are :class:`polarlab.features.FeatureSpec` fields (e.g. ``n_components`` for TF-IDF).
    """
    from .features import make_features

    extractor = make_features(kind, cache_dir=str(cache_dir), **(options or {})).fit(splits[fit_split])
    return {name: extractor.transform(ds) for name, ds in splits.items()}


def fit_harmonizer(matrices: dict[str, LabelMatrix], features: dict[str, np.ndarray], fit_split: str,
                   task: Task, options: dict[str, Any], *, fit_rows: np.ndarray | None = None,
                   predict: Any = None):
    """Fit POLAR's h(x) on the fit split (no gold) and predict every split.

    Args:
        fit_rows: row indices of the fit split to fit on (shape (n_sub,); None = every row).
        predict: ``predict(model, L, X) -> (n, k)`` (an engine's ``predict_proba``, which works in row blocks);
            None = ``model.predict_proba(L, X)``.

    Returns:
        (the fitted harmonizer, split -> (n, k) distributions, split -> the harmonizer with that split's
        vote-shift check made once (:class:`polarlab.harmonizer.polar.VotesDecided`), which predicted it).
    """
    from .harmonizer import PolarHarmonizer

    L, X = matrices[fit_split].L, features[fit_split]
    if fit_rows is not None:
        L, X = L[fit_rows], X[fit_rows]
    h = PolarHarmonizer(task.n_classes, **options).fit(L, X)
    predict = predict or (lambda model, L_s, X_s: model.predict_proba(L_s, X_s))
    decided = decide_votes(h, matrices, features)
    return h, {s: predict(decided[s], lm.L, features[s]) for s, lm in matrices.items()}, decided


def decide_votes(h: Any, matrices: dict[str, LabelMatrix], features: dict[str, np.ndarray]) -> dict[str, Any]:
    """split -> the fitted harmonizer ``h`` with that split's vote-shift check made once, on all its rows
    (:class:`polarlab.harmonizer.polar.VotesDecided`), so that row blocks or partitions of the split, and its
    leave-one-source-out distributions, all read the votes the same way."""
    from .harmonizer.polar import VotesDecided

    return {s: VotesDecided.for_split(h, lm.L, features[s]) for s, lm in matrices.items()}


def fit_transformer(matrices: dict[str, LabelMatrix], splits: dict[str, Dataset], fit_split: str, task: Task,
                    linear, options: dict[str, Any]) -> dict[str, np.ndarray]:
    """Fine-tune the sentence encoder as h(x) (``model = "transformer"``), with the source weights the
    linear harmonizer ``linear`` used (its LLM weight tuned without gold).

    Returns:
        split -> (n, k) distributions.
    """
    from .harmonizer.transformer import TransformerHarmonizer

    opts = {"seed": linear.seed, "scalarization": linear.scalarization, **options}
    try:
        h = TransformerHarmonizer(task.n_classes, weights=linear.weights_, **opts)
    except TypeError as e:
        raise ConfigError(f"bad [harmonizer.transformer] option: {e}", column="harmonizer.transformer",
                          fix="use epochs, lr, head_lr, batch_size, max_length, val_fraction, patience, seed, "
                              "model_path, num_threads") from None
    h.fit(matrices[fit_split].L, splits[fit_split])
    return {s: h.predict_proba(None, splits[s]) for s in matrices}


def llm_columns(matrix: LabelMatrix) -> list[str]:
    """Names of the sources that gave a distribution besides their vote (the LLMs)."""
    return [n for n in matrix.names if n in matrix.probas]


def evaluate(probas: dict[str, dict[str, np.ndarray]], splits: dict[str, Dataset], dataset_name: str
             ) -> dict[str, dict[str, dict[str, Any]]]:
    """Metrics per method and split, on the splits that have gold labels."""
    return {m: {s: classification_metrics(splits[s].gold, p, dataset=dataset_name)
                for s, p in per_split.items() if splits[s].has_gold}
            for m, per_split in probas.items()}


def run(project: Project, *, progress: bool = True, write: bool = True) -> RunResult:
    """Run the project end to end as the stage list :data:`polarlab.stages.PIPELINE` over the project state,
    and write its outputs (labels file, metrics.json, analysis.csv) together.

    Every check of the configuration runs first (:func:`preflight`), before any slow or paid work. Stages whose
    config and inputs are unchanged since their last run are skipped (their outputs read from the state).
    """
    from .state import ProjectState, content_hash
    from .stages import PIPELINE, RunContext, run_stages

    t0 = time.perf_counter()
    preflight(project, write=write)
    state = ProjectState(project.state_dir)
    ctx = RunContext(project=project, state=state, progress=progress)
    ctx.run_id = state.start_run(str(project.path), content_hash(project.data, project.sources, project.labelmodel,
                                                                 project.harmonizer, project.correct))
    try:
        run_stages(PIPELINE, ctx)
        result = _result(ctx)
        if write:
            write_outputs(result, project.output_dir, project.labels_file)
        result.seconds["total"] = time.perf_counter() - t0
    except BaseException as e:
        state.finish_run(ctx.run_id, "failed", {"error": f"{type(e).__name__}: {e}"})
        state.close()
        raise
    finally:
        if ctx.engine is not None:
            ctx.engine.close()
    state.finish_run(ctx.run_id, "ok", {"llm": result.extra["report"].get("llm", {}),
                                        "stages": {r.name: r.action for r in ctx.log},
                                        "outputs": {k: str(v) for k, v in result.outputs.items()}})
    state.close()
    return result


def _result(ctx) -> RunResult:
    """The :class:`RunResult` of a finished stage list."""
    project, task, fit = ctx.project, ctx.task, ctx.fit_split
    analysis = ctx.analysis     # of the sources' own votes on the fit split, before any correction
    methods = list(project.labelmodel.get("methods", DEFAULT_METHODS))
    final = project.labelmodel.get("final", HARMONIZER if HARMONIZER in methods else methods[-1])
    probas = {m: ctx.probas[m] for m in methods if m in ctx.probas}
    human = ctx.extra.get("human") or {}
    if human and final in probas:       # a reviewed row's final label is its human label (stages/human.py)
        from .stages.human import apply_human

        probas[final] = {s: apply_human(P, human[s]) if s in human else P for s, P in probas[final].items()}
    metrics = evaluate(probas, ctx.splits, task.name)
    extra = ctx.extra
    llm_stats = {s.name: s.total_stats.to_dict() for s in ctx.sources.values() if hasattr(s, "total_stats")}
    if ctx.matrices:
        from .llm.stats import LLMRunStats

        for name in ctx.matrices[fit].probas:      # LLMs whose votes came from the state: not asked at all
            llm_stats.setdefault(name, LLMRunStats().to_dict())
    if llm_stats:
        extra["report"]["llm"] = llm_stats
    seconds = {("load" if r.name == "data" else r.name): r.seconds for r in ctx.log}
    seconds.update(ctx.seconds)     # parts of a stage (e.g. the transformer inside harmonizer)
    return RunResult(task=task, splits=ctx.splits, matrices=ctx.matrices, fit_split=fit, analysis=analysis,
                     probas=probas, metrics=metrics, final=final, seconds=seconds, extra=extra, stages=list(ctx.log),
                     eval_split=ctx.eval_split)


def preflight(project: Project, write: bool = True) -> None:
    """Every check that needs no data and no model, before the first stage: the typed tables (again, after
    CLI overrides), the methods the ``[correct]`` table needs, label-model and harmonizer settings, and that the
    output and state folders can be written.

    Raises:
        ConfigError: naming the file, the key and the fix.
    """
    from .config import validate_tables  # noqa: F401  (validate_project uses it)
    from .project import validate_project

    config = validate_project(project)
    file = str(project.path)
    from .sources.config import check_source_files

    check_source_files(project.sources, project.base_dir, file)
    methods = list(config.labelmodel.methods)
    for m in methods:
        if m == HARMONIZER:
            continue
        try:
            make_label_model(m, project.task.n_classes, **config.labelmodel.options.get(m, {}))
        except PolarlabError as e:      # a setting's error names its key in the file: labelmodel.options.snorkel.lr
            e.file = e.file or file
            if not (e.column or "").startswith("labelmodel."):     # not a model without predict (its own key)
                e.column = f"labelmodel.options.{m}" + (f".{e.column}" if e.column else "")
            raise
    if HARMONIZER in methods:
        from .features.device import require_device
        from .harmonizer import PolarHarmonizer

        require_device(config.harmonizer.device, file=file)    # "cuda" without CUDA: now, not after the LLM ran

        opts = {k: v for k, v in project.harmonizer.items() if k in PolarHarmonizer.__init__.__code__.co_varnames
                and k not in ("batch_size", "device", "model")}
        try:
            PolarHarmonizer(project.task.n_classes, **opts)
        except (InputError, TypeError, ValueError) as e:
            raise ConfigError(f"bad [harmonizer] setting: {getattr(e, 'message', e)}", file=file,
                              column=f"harmonizer.{getattr(e, 'column', None) or ''}".rstrip("."),
                              fix=getattr(e, "fix", None) or "see docs/config.md") from None
    if project.correct:
        from dataclasses import fields

        from .correct import CorrectionConfig

        if HARMONIZER not in methods:
            raise ConfigError('[correct] re-asks the answers POLAR rates riskiest, but "polar" is not among the '
                              f"methods {methods}", file=file, column="labelmodel.methods",
                              fix='add "polar" to [labelmodel] methods, or remove [correct]')
        if not any(getattr(s, "type", None) == "llm" for s in config.sources):
            raise ConfigError("[correct] needs an LLM source to re-ask", file=file, column="correct",
                              fix='add a [[sources]] table with type = "llm", or remove [correct]')
        if project.correct.get("update") == "refit" and project.harmonizer.get("model") == "transformer":
            raise ConfigError('[correct] update = "refit" is not supported with model = "transformer"',
                              file=file, column="correct.update",
                              fix='use update = "rescore" (or the LR/MLP harmonizer)')
        names = {f.name for f in fields(CorrectionConfig)}
        try:
            CorrectionConfig(**{k: v for k, v in project.correct.items() if k in names})
        except ConfigError as e:
            e.file = file
            raise
    if write:
        check_writable(project.output_dir, file, "output.dir")
    check_writable(project.state_dir, file, "project.state_dir")


CORRECT_KEYS = {"strategy", "splits"}


def correct_step(table: dict[str, Any], splits: dict[str, Dataset], matrices: dict[str, LabelMatrix],
                 features: dict[str, np.ndarray], h_proba: dict[str, np.ndarray], fit_split: str, task: Task,
                 sources: list, file: str | None = None, harmonizer: Any = None
                 ) -> tuple[dict[str, LabelMatrix], dict[str, Any], dict[str, pd.DataFrame], Any]:
    """Re-ask the riskiest LLM answers of each split (the ``[correct]`` table) and replace them.

    ``[correct]`` keys: ``strategy`` (e.g. ``"fewshot"``, ``"evidence+fewshot"``, ``"harmonizer"``),
    ``splits`` (default: every split), and any :class:`polarlab.correct.CorrectionConfig` field
    (``budget``, ``threshold``, ``top_fraction``, ``retrieval_k``, ...). The pool of demonstrations is
    the fit split labelled by h(x). With ``update = "rescore"`` (default) h is kept (it depends only on
    the features). With ``update = "refit"`` the fit split is corrected first and h (``harmonizer``) is
    fitted again after each split: on the fit split's corrected votes plus, for every other split, its
    re-asked rows (all their sources' votes, the corrected LLM vote); later splits are scored by the
    refitted h.

    Returns:
        (matrices with corrected LLM columns, report per LLM and split, audit table per LLM and split,
         ``(refitted harmonizer, split -> (n, k) h(x))`` with ``update = "refit"``, else None).
    """
    from dataclasses import fields

    from .correct import CorrectionConfig, DemoPool, FitData, correct_answers

    allowed = CORRECT_KEYS | {f.name for f in fields(CorrectionConfig)}
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ConfigError(f"unknown key(s) {unknown} in [correct]", file=file, column="correct",
                          fix=f"use only {sorted(allowed)}")
    if "strategy" not in table:
        raise ConfigError("[correct] has no strategy", file=file, column="correct.strategy",
                          fix='add strategy = "fewshot" (or verify, evidence, retrieval, harmonizer; "+" combines)')
    config = CorrectionConfig(**{k: v for k, v in table.items() if k not in CORRECT_KEYS})
    llms = {s.name: s for s in sources if hasattr(s, "ask")}
    if not llms:
        raise ConfigError("[correct] needs an LLM source to re-ask", file=file, column="correct",
                          fix='add a [[sources]] table with type = "llm", or remove [correct]')
    targets = list(table.get("splits", list(splits)))
    refit = config.update == "refit"
    if refit:
        if harmonizer is None:
            raise ConfigError('[correct] update = "refit" needs the POLAR harmonizer', file=file,
                              column="correct.update", fix='add "polar" to [labelmodel] methods, or use "rescore"')
        targets.sort(key=lambda s: s != fit_split)      # the fit split first: its refit is the base
    out = dict(matrices)
    proba = dict(h_proba)
    n_fit = len(splits[fit_split])
    fit_matrix, fit_X = matrices[fit_split], features[fit_split]   # + re-asked rows of other splits (refit)
    report: dict[str, Any] = {}
    audit: dict[str, pd.DataFrame] = {}
    for name, llm in llms.items():
        pool = DemoPool(splits[fit_split], features[fit_split], proba[fit_split], out[fit_split].column(name))
        others = [s for s in sources if s.name != name]
        for split in targets:
            rows = np.arange(len(splits[split])) if split == fit_split else None
            fit = FitData(fit_matrix, fit_X, rows=rows) if refit else None
            res = correct_answers(splits[split], task, out[split], proba[split], strategy=table["strategy"],
                                  llm=llm, sources=others, X=features[split], pool=pool, pool_rows=rows,
                                  config=config, llm_column=name, harmonizer=harmonizer, fit=fit)
            out[split] = res.matrix
            report.setdefault(name, {})[split] = res.report(splits[split].gold).to_dict()
            audit[f"{name}_{split}"] = res.audit_frame(task)
            if refit:
                harmonizer = res.harmonizer
                if split == fit_split:                 # its rows are the first n_fit fitting rows
                    L = np.vstack([res.matrix.L, fit_matrix.L[n_fit:]])
                    fit_matrix = LabelMatrix(L, list(fit_matrix.names), list(fit_matrix.ids), fit_matrix.n_classes)
                elif len(res.rows):                    # the re-asked rows join the fitting rows
                    asked = res.matrix.rows(res.rows)
                    fit_matrix = LabelMatrix(np.vstack([fit_matrix.L, asked.L]), list(fit_matrix.names),
                                             list(fit_matrix.ids) + [f"{split}:{i}" for i in asked.ids],
                                             fit_matrix.n_classes)
                    fit_X = np.vstack([fit_X, features[split][res.rows]])
                proba = {s: harmonizer.predict_proba(None, features[s]) for s in splits}
    return out, report, audit, ((harmonizer, proba) if refit else None)


def risk_outputs(matrices: dict[str, LabelMatrix], h_proba: dict[str, np.ndarray], splits: dict[str, Dataset],
                 leave_out: Callable[[str, int], np.ndarray] | None = None
                 ) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, Any]]:
    """POLAR risk of every LLM answer, per split, and its calibration where gold exists.

    ``leave_out(split, j)``, when given, is the harmonizer's (n, k) distribution with column j's own
    vote left out (the combined output); the risk of column j's answers is read from it.

    Returns:
        (column name -> split -> (n,) risk, NaN where the LLM abstained;
         ``{llm: {split: calibration metrics}}``).
    """
    from .risk import calibration_report, risk_score

    columns: dict[str, dict[str, np.ndarray]] = {}
    report: dict[str, Any] = {}
    for split, lm in matrices.items():
        for name in llm_columns(lm):
            votes = lm.column(name)
            proba = h_proba[split] if leave_out is None else leave_out(split, lm.names.index(name))
            risk = risk_score(proba, votes)
            columns.setdefault(f"risk_{name}", {})[split] = risk
            gold = splits[split].gold
            ok = (votes >= 0) & (gold >= 0)
            if ok.any():
                report.setdefault(name, {})[split] = calibration_report(
                    risk[ok], (votes[ok] != gold[ok]).astype(float)).to_dict()
    return columns, report


def write_outputs(result: RunResult, out_dir: Path, labels_file: str) -> None:
    """Labels of the final method for every split (one file), metrics.json, analysis.csv, plots — written
    together: into a staging folder first, then moved into ``out_dir`` with a ``manifest.json`` listing this
    run's files; files of the previous run that this one does not produce are removed, so the folder never
    mixes two runs. ``result.replaced`` lists what was replaced or removed (:mod:`polarlab.io.outputs`)."""
    from .io.outputs import publish, staging_dir

    with staging_dir(out_dir) as tmp:
        _write_files(result, tmp, labels_file)
        moved, result.replaced = publish(tmp, out_dir, meta={"task": result.task.name, "final": result.final})
    result.outputs = {name: moved[Path(p).name] for name, p in result.outputs.items()}


def _write_files(result: RunResult, out_dir: Path, labels_file: str) -> None:
    frames = []
    for split, ds in result.splits.items():
        extra: dict[str, Any] = {"split": [split] * len(ds)}
        if ds.has_gold:
            extra["gold"] = [result.task.labels[g] if g >= 0 else "" for g in ds.gold]
        for name, per_split in result.extra.get("columns", {}).items():
            if split in per_split:
                extra[name] = per_split[split]
        proba = result.probas[result.final][split]
        extra["risk"] = 1.0 - proba.max(axis=1)  # the chance the final label is wrong, by the final model
        if result.extra.get("human"):              # which rows people reviewed (as export/provenance names it)
            from .stages.human import human_label_columns

            extra.update(human_label_columns(result.extra["human"], split, len(ds), result.final, extra["risk"]))
        frames.append(labels_frame(ds.ids, proba, result.task, result.matrices[split], extra))
    result.outputs["labels"] = write_table(pd.concat(frames, ignore_index=True), out_dir / labels_file)
    audits = [f.assign(source=key) for key, f in result.extra.get("audit", {}).items() if len(f)]
    if audits:
        result.outputs["corrections"] = write_table(pd.concat(audits, ignore_index=True), out_dir / "corrections.csv")
    result.outputs["analysis"] = write_table(result.analysis.reset_index(names="source"), out_dir / "analysis.csv")
    if result.metrics and any(result.metrics.values()):
        payload = {"task": result.task.name, "fit_split": result.fit_split, "final": result.final,
                   "metrics": result.metrics, "seconds": result.seconds,
                   "source_failures": len(result.matrices[result.fit_split].failures)}
        payload.update(result.extra.get("report", {}))
        result.outputs["metrics"] = write_json(payload, out_dir / "metrics.json")
    write_plots(result, out_dir)


def write_plots(result: RunResult, out_dir: Path) -> None:
    """Reliability diagram of each LLM's POLAR risk on the evaluation split (needs gold)."""
    from .risk import reliability_diagram

    for column, per_split in result.extra.get("columns", {}).items():
        if not column.startswith("risk_"):
            continue
        split = result.eval_split or ("test" if "test" in per_split else result.fit_split)
        ds, name = result.splits[split], column[len("risk_"):]
        votes, risk = result.matrices[split].column(name), per_split[split]
        ok = (votes >= 0) & (ds.gold >= 0)
        if ok.sum() >= 10:
            result.outputs[f"reliability_{name}"] = reliability_diagram(
                risk[ok], (votes[ok] != ds.gold[ok]).astype(float), out_dir / f"reliability_{name}_{split}.png",
                title=f"POLAR risk of {name} on {split} (n={int(ok.sum())})")
