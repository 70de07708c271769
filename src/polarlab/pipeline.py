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
from .errors import ConfigError
from .export.labels import labels_frame, write_json, write_table
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
                   task: Task, options: dict[str, Any]):
    """Fit POLAR's h(x) on the fit split (no gold) and predict every split.

    Returns:
        (the fitted harmonizer, split -> (n, k) distributions).
    """
    from .harmonizer import PolarHarmonizer

    h = PolarHarmonizer(task.n_classes, **options).fit(matrices[fit_split].L, features[fit_split])
    return h, {s: h.predict_proba(lm.L, features[s]) for s, lm in matrices.items()}


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
    """Run the project end to end and write its outputs (labels file, metrics.json, analysis.csv)."""
    t0 = time.perf_counter()
    task = project.task
    splits = project.load_splits()
    fit_split = choose_fit_split(splits, project.fit_split)
    sources = sources_from_config(project.sources, base_dir=project.base_dir, state_dir=project.state_dir,
                                  sample=splits[fit_split], file=str(project.path))
    seconds = {"load": time.perf_counter() - t0}

    t = time.perf_counter()
    matrices = label_matrices(splits, sources, task, progress=progress)
    seconds["sources"] = time.perf_counter() - t
    analysis = analyze(matrices[fit_split], splits[fit_split].gold if splits[fit_split].has_gold else None)

    methods = list(project.labelmodel.get("methods", DEFAULT_METHODS))
    final = project.labelmodel.get("final", HARMONIZER if HARMONIZER in methods else methods[-1])
    if final not in methods:
        raise ConfigError(f"final label model {final!r} is not among methods {methods}", file=str(project.path),
                          column="labelmodel.final", fix="add it to methods or choose one of them")
    t = time.perf_counter()
    probas = fit_label_models(methods, matrices, fit_split, task, project.labelmodel.get("options"))
    seconds["label_models"] = time.perf_counter() - t
    extra: dict[str, Any] = {"columns": {}, "report": {}}
    if HARMONIZER in methods:
        from .features import FeatureSpec

        options = dict(project.harmonizer)
        tune = options.pop("tune_llm_weight", True)
        if not isinstance(tune, bool):
            raise ConfigError(f"tune_llm_weight = {tune!r}", file=str(project.path), column="harmonizer.tune_llm_weight",
                              fix="use true or false")
        fit_m = matrices[fit_split]
        llms = [fit_m.names.index(n) for n in llm_columns(fit_m)]
        others = [j for j in range(len(fit_m.names)) if j not in llms]
        if tune and llms and others and (fit_m.L[:, others] >= 0).any() and "tune_sources" not in options:
            options["tune_sources"] = llms   # the LLMs' weight, chosen without gold (harmonizer/tune.py)
        deep = options.pop("transformer", None)          # [harmonizer.transformer] options
        if deep is not None and (not isinstance(deep, dict) or options.get("model") != "transformer"):
            raise ConfigError("[harmonizer.transformer] is a table of options for model = \"transformer\"",
                              file=str(project.path), column="harmonizer.transformer",
                              fix='set model = "transformer" in [harmonizer], or remove [harmonizer.transformer]')
        if options.get("model") == "transformer":
            options["model"], deep = "lr", dict(deep or {})
        kind = options.pop("features", "embedding")
        spec_keys = set(FeatureSpec.__dataclass_fields__) - {"kind", "cache_dir"}
        feature_options = {k: options.pop(k) for k in list(options) if k in spec_keys}
        t = time.perf_counter()
        features = featurize(splits, fit_split, kind, project.state_dir / "features", feature_options)
        seconds["features"] = time.perf_counter() - t
        t = time.perf_counter()
        harmonizer, probas[HARMONIZER] = fit_harmonizer(matrices, features, fit_split, task, options)
        seconds["harmonizer"] = time.perf_counter() - t
        if deep is not None:
            t = time.perf_counter()
            probas[HARMONIZER] = fit_transformer(matrices, splits, fit_split, task, harmonizer, deep)
            seconds["transformer"] = time.perf_counter() - t
        if harmonizer.tuning_:
            extra["report"]["llm_weight"] = {
                "sources": [matrices[fit_split].names[j] for j in harmonizer.tune_sources],
                "multiplier": harmonizer.tuned_multiplier_,
                "heldout_disagreement": {str(r.multiplier): r.loss for r in harmonizer.tuning_}}
        if project.correct:
            t = time.perf_counter()
            if project.correct.get("update") == "refit" and deep is not None:
                raise ConfigError('[correct] update = "refit" is not supported with model = "transformer"',
                                  file=str(project.path), column="correct.update",
                                  fix='use update = "rescore" (or the LR/MLP harmonizer)')
            matrices, extra["report"]["correction"], extra["audit"], refitted = correct_step(
                project.correct, splits, matrices, features, probas[HARMONIZER], fit_split, task, sources,
                file=str(project.path), harmonizer=harmonizer)
            if refitted is not None:
                harmonizer, probas[HARMONIZER] = refitted
            seconds["correction"] = time.perf_counter() - t
        leave_out = None   # the POLAR risk of an LLM answer leaves that LLM's own vote out of the combined output
        if deep is None and getattr(harmonizer, "likelihood_", None) is not None:
            def leave_out(split: str, j: int, h=harmonizer, m=matrices) -> np.ndarray:
                return h.predict_proba(m[split].L, features[split], exclude=[j])
            extra["report"]["harmonizer"] = {"combine": harmonizer.combine_, "warnings": list(harmonizer.warnings_)}
        extra["columns"], extra["report"]["risk"] = risk_outputs(matrices, probas[HARMONIZER], splits, leave_out)
    metrics = evaluate(probas, splits, task.name)
    llm_stats = {s.name: s.total_stats.to_dict() for s in sources if hasattr(s, "total_stats")}
    if llm_stats:
        extra["report"]["llm"] = llm_stats
    result = RunResult(task=task, splits=splits, matrices=matrices, fit_split=fit_split, analysis=analysis,
                       probas=probas, metrics=metrics, final=final, seconds=seconds, extra=extra)
    if write:
        write_outputs(result, project.output_dir, project.labels_file)
    seconds["total"] = time.perf_counter() - t0
    return result


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
    """Labels of the final method for every split (one file), metrics.json, analysis.csv."""
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
        split = "test" if "test" in per_split else result.fit_split
        ds, name = result.splits[split], column[len("risk_"):]
        votes, risk = result.matrices[split].column(name), per_split[split]
        ok = (votes >= 0) & (ds.gold >= 0)
        if ok.sum() >= 10:
            result.outputs[f"reliability_{name}"] = reliability_diagram(
                risk[ok], (votes[ok] != ds.gold[ok]).astype(float), out_dir / f"reliability_{name}_{split}.png",
                title=f"POLAR risk of {name} on {split} (n={int(ok.sum())})")
