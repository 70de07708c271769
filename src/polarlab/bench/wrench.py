"""``polarlab bench wrench DIR``: POLAR vs label-model baselines on a WRENCH directory, in one run.

Fit split: ``train`` (``valid`` when a directory has none). Test split: ``test``. Gold labels of the fit
split are never used; test gold only measures. ``limit`` keeps at most N rows of each split, the same
rows every run (a seeded sample), which bounds the LLM's cost.

With ``correct`` (CLI ``--correct verify,evidence+fewshot,...``) each strategy re-asks the riskiest test
answers of the LLM within the budget (:mod:`polarlab.correct`), separately and from the same start, and the
result gains ``"correction": {strategy: {"slice_n", "llm_error_before", "llm_error_after",
"accuracy_before", "accuracy_after", "calls", ...}}`` (see :func:`correction_table`).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..correct import CorrectionConfig, DemoPool, FitData, correct_answers, parse_strategies, write_audit
from ..data.dataset import Dataset
from ..data.wrench import load_wrench, wrench_task
from ..errors import ConfigError
from ..harmonizer import PolarHarmonizer
from ..matrix.label_matrix import LabelMatrix
from ..project import Project
from ..risk import calibration_report, llm_distilled_risk, risk_score
from ..sources.votes import weak_label_sources
from .instructions import llm_task
from .methods import LABEL_MODEL_BASELINES, SEEDED, TWO_STAGE_BASELINES, fit_baselines, score_methods

LLM_NAME = "llm"
LABEL_METRICS = ("accuracy", "f1", "macro_f1", "wrench_metric", "wrench_metric_name")


@dataclass
class BenchConfig:
    """Options of a benchmark run.

    Attributes:
        directory: the WRENCH directory.
        llm: ``"local"`` (embedded model), ``"none"`` (rules only), or an OpenAI-compatible base URL.
        llm_model: model name for a remote server.
        limit: at most this many rows of each split (seeded sample; same rows every run).
        state_dir: caches (LLM answers, embeddings).
        features: ``"embedding"`` or ``"tfidf"``.
        harmonizer: keyword options of :class:`PolarHarmonizer`.
        label_model_options: label model -> its keyword options (e.g. ``{"mv": {"tie_break": "first"}}``), for the
            model alone and inside its ``+lr``.
        seed: sampling and fitting seed.
        progress: show progress bars.
        correct: correction strategies to evaluate on the test split (e.g. ``("verify",
            "evidence+fewshot", "harmonizer")``; see :mod:`polarlab.correct.strategy`); () = none.
        correction: selection / budget / prompt settings of the correction stage.
        audit_dir: where to write one audit table per strategy (``audit_<strategy>.csv``); None = none.
        tune_llm: choose the LLM's source weight without gold (:mod:`polarlab.harmonizer.tune`); the
            harmonizer with equal weights is then reported too, as ``polar_equal``.
        transformer: also fine-tune the sentence encoder as the harmonizer
            (:class:`polarlab.harmonizer.transformer.TransformerHarmonizer`, with the source weights the
            LR harmonizer used), reported as ``polar_transformer``; options in ``transformer_options``.
        metric: ``wrench_metric``: ``"auto"`` (WRENCH's metric for the directory's name, accuracy for a name WRENCH
            does not list), ``"acc"`` or ``"f1_binary"`` (F1 of class 1; binary tasks only).
    """

    directory: Path
    llm: str = "local"
    llm_model: str | None = None
    limit: int | None = None
    state_dir: Path = Path(".polarlab")
    features: str = "auto"
    harmonizer: dict[str, Any] = field(default_factory=dict)
    label_model_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    seed: int = 0
    progress: bool = True
    correct: tuple[str, ...] = ()
    correction: CorrectionConfig = field(default_factory=CorrectionConfig)
    audit_dir: Path | None = None
    tune_llm: bool = True
    transformer: bool = False
    transformer_options: dict[str, Any] = field(default_factory=dict)
    metric: str = "auto"


def sample_rows(ds: Dataset, limit: int | None, seed: int = 0) -> Dataset:
    """At most ``limit`` rows, chosen by a seeded permutation and kept in file order."""
    if not limit or len(ds) <= limit:
        return ds
    idx = np.sort(np.random.default_rng(seed).permutation(len(ds))[:limit])
    return ds.subset(idx)


def llm_table(spec: str, model: str | None = None, progress: bool = True) -> dict[str, Any] | None:
    """The ``[[sources]]`` table of the LLM a ``--llm`` value names, or None for ``"none"``."""
    if spec == "none":
        return None
    if spec == "local":
        return {"type": "llm", "name": LLM_NAME, "backend": "local", "progress": progress}
    if spec.startswith(("http://", "https://")):
        import os

        table = {"type": "llm", "name": LLM_NAME, "backend": "openai", "base_url": spec,
                 "model": model or "default", "progress": progress}
        if os.environ.get("OPENAI_API_KEY"):
            table["api_key_env"] = "OPENAI_API_KEY"
        return table
    raise ConfigError(f"unknown --llm value {spec!r}", column="--llm",
                      fix="use local, none, or an OpenAI-compatible base URL such as http://127.0.0.1:8080/v1")


def make_llm_source(spec: str, state_dir: Path, model: str | None = None, progress: bool = True):
    """The LLM source a ``--llm`` value names, or None for ``"none"``."""
    table = llm_table(spec, model, progress)
    if table is None:
        return None
    from ..llm.config import from_config

    return from_config(table, state_dir)


def one_hot(votes: np.ndarray, k: int) -> np.ndarray:
    """Votes (n,) as distributions (n, k); abstains become uniform."""
    P = np.full((len(votes), k), 1.0 / k)
    ok = votes >= 0
    P[ok] = 0.0
    P[np.flatnonzero(ok), votes[ok]] = 1.0
    return P


@dataclass
class Fitted:
    """Everything the benchmark fitted, kept for later stages (correction)."""

    task: Any
    fit: Dataset
    test: Dataset
    L_fit: LabelMatrix
    L_test: LabelMatrix
    X_fit: np.ndarray
    X_test: np.ndarray
    probas: dict[str, np.ndarray]          # method -> (n_test, k)
    harmonizer: PolarHarmonizer | None
    llm: Any = None
    sources: list = field(default_factory=list)   # the rule sources (their describe() gives evidence)
    stages: list = field(default_factory=list)    # StageReport of each stage: ran or skipped
    context: Any = None                           # the stages' RunContext
    risk_probas: dict[str, np.ndarray] = field(default_factory=dict)   # method -> (n_test, k), LLM vote left out

    @property
    def has_llm(self) -> bool:
        return LLM_NAME in self.L_test.names

    def fitted_harmonizer(self) -> PolarHarmonizer:
        """The harmonizer object (fitted again, same seed, when its stage was skipped)."""
        if self.harmonizer is None:
            from ..stages.harmonizer import fitted_harmonizer

            self.harmonizer = fitted_harmonizer(self.context)
        return self.harmonizer

    def llm_source(self, cfg: "BenchConfig"):
        """The LLM source (built now when the sources stage was skipped and a correction needs it)."""
        if self.llm is None and self.has_llm:
            self.llm = make_llm_source(cfg.llm, cfg.state_dir, cfg.llm_model, cfg.progress)
        return self.llm


@dataclass
class _SampledProject(Project):
    """A project whose splits are given (the benchmark's seeded samples) instead of read from files."""

    sampled: dict[str, Dataset] = field(default_factory=dict)

    def load_splits(self) -> dict[str, Dataset]:
        return dict(self.sampled)


STAGE_LIST = ("data", "sources", "label_models", "features", "harmonizer")


def fit_all(cfg: BenchConfig, seconds: dict[str, float]) -> Fitted:
    """Load and sample, then run the same stages as ``polarlab run`` (:data:`STAGE_LIST`, over a project state
    in ``<state_dir>/bench/<dataset>``; unchanged stages are skipped on a re-run); then the benchmark's own
    comparisons (equal-weight and transformer harmonizers). Fills ``seconds`` per stage."""
    from ..state import ProjectState
    from ..stages import RunContext, run_stages

    t = time.perf_counter()
    base = wrench_task(cfg.directory)
    task = llm_task(base)
    splits = load_wrench(cfg.directory, task)
    fit_name = "train" if "train" in splits else "valid"
    if "test" not in splits or fit_name not in splits:
        raise ConfigError(f"{cfg.directory} needs a test split and a train or valid split", file=str(cfg.directory),
                          fix="use a full WRENCH directory")
    fit = sample_rows(splits[fit_name], cfg.limit, cfg.seed)
    test = sample_rows(splits["test"], cfg.limit, cfg.seed)
    tables: list[dict[str, Any]] = [{"type": "wrench"}]
    llm_spec = None if fit.is_tabular else llm_table(cfg.llm, cfg.llm_model, cfg.progress)   # no text: no LLM
    if llm_spec is not None:
        tables.append(llm_spec)
    options = dict(cfg.label_model_options)
    for m in SEEDED:            # --seed moves MV's tie-break, as it does mv+lr's (as fit_baselines seeds them)
        options[m] = {"seed": cfg.seed, **options.get(m, {})}
    harmonizer = {"features": "numeric" if fit.is_tabular else cfg.features, "seed": cfg.seed,
                  "tune_llm_weight": bool(cfg.tune_llm), **cfg.harmonizer}
    project = _SampledProject(path=Path(cfg.directory) / "bench", task=task,
                              data={"wrench": str(cfg.directory), "fit_split": fit_name}, sources=tables,
                              labelmodel={"methods": [*LABEL_MODEL_BASELINES, "polar"],
                                          "options": options}, harmonizer=harmonizer,
                              state_dir=Path(cfg.state_dir), sampled={fit_name: fit, "test": test})
    state = ProjectState(Path(cfg.state_dir) / "bench" / f"{Path(cfg.directory).name}-{cfg.limit or 'all'}")
    ctx = RunContext(project=project, state=state, progress=cfg.progress)
    ctx.run_id = state.start_run(str(cfg.directory), "bench")
    run_stages(STAGE_LIST, ctx)
    state.finish_run(ctx.run_id, "ok", {"stages": {r.name: r.action for r in ctx.log}})
    for r in ctx.log:
        seconds["load" if r.name == "data" else r.name] = r.seconds
    seconds["load"] += time.perf_counter() - t - sum(r.seconds for r in ctx.log)
    L_fit, L_test = ctx.matrices[fit_name], ctx.matrices["test"]
    X_fit, X_test = ctx.features[fit_name], ctx.features["test"]
    probas: dict[str, np.ndarray] = {m: ctx.probas[m]["test"] for m in LABEL_MODEL_BASELINES}
    probas["polar"] = ctx.probas["polar"]["test"]
    has_llm = LLM_NAME in L_fit.names
    probas.update(fit_baselines(L_fit.L, L_test.L, X_fit, X_test, task.n_classes, seed=cfg.seed,
                                options=dict(cfg.label_model_options), methods=TWO_STAGE_BASELINES, seconds=seconds))
    risk_probas: dict[str, np.ndarray] = {}
    opts = {"seed": cfg.seed, **cfg.harmonizer}
    if has_llm and cfg.tune_llm and "tune_sources" not in cfg.harmonizer:
        t = time.perf_counter()
        equal = PolarHarmonizer(task.n_classes, **opts).fit(L_fit.L, X_fit)
        probas["polar_equal"] = equal.predict_proba(L_test.L, X_test)
        risk_probas["polar_equal"] = equal.predict_proba(L_test.L, X_test, exclude=[L_fit.names.index(LLM_NAME)])
        seconds["polar_equal"] = time.perf_counter() - t
    from ..stages.harmonizer import fitted_harmonizer

    polar = fitted_harmonizer(ctx)      # this run's, or fitted again (same seed) when its stage was skipped
    probas["polar_h"] = polar.predict_h(X_test)                  # h(x) alone
    if has_llm:
        risk_probas["polar"] = polar.predict_proba(L_test.L, X_test, exclude=[L_fit.names.index(LLM_NAME)])
    if cfg.transformer:
        from ..harmonizer.transformer import TransformerHarmonizer

        t = time.perf_counter()
        topts = {"seed": cfg.seed, "scalarization": polar.scalarization, **cfg.transformer_options}
        deep = TransformerHarmonizer(task.n_classes, weights=polar.weights_, **topts).fit(L_fit.L, fit)
        probas["polar_transformer"] = deep.predict_proba(None, test)
        seconds["polar_transformer"] = time.perf_counter() - t
    if has_llm:
        probas["llm"] = _llm_proba(L_test, task.n_classes)
    return Fitted(task=task, fit=fit, test=test, L_fit=L_fit, L_test=L_test, X_fit=X_fit, X_test=X_test,
                  probas=probas, harmonizer=polar, llm=ctx.sources.get(LLM_NAME), sources=weak_label_sources(fit),
                  stages=list(ctx.log), context=ctx, risk_probas=risk_probas)


def _llm_proba(L: LabelMatrix, k: int) -> np.ndarray:
    """The LLM's distribution where it gave one, else its one-hot vote (uniform where it abstained)."""
    votes = L.column(LLM_NAME)
    P = one_hot(votes, k)
    given = L.probas.get(LLM_NAME)
    if given is not None:
        ok = ~np.isnan(given).any(axis=1)
        P[ok] = given[ok]
    return P


def risk_table(f: Fitted, cfg: BenchConfig, seconds: dict[str, float]) -> tuple[dict, np.ndarray, dict]:
    """Risk of the answer under scrutiny (the LLM's, or POLAR's own with ``--llm none``) by every method.

    Returns:
        (method -> calibration metrics, the answers (n_test,), method -> risk array).
    """
    gold = f.test.gold
    if f.has_llm:
        answers = f.L_test.column(LLM_NAME)
    else:
        answers = f.probas["polar"].argmax(axis=1)
    risks = {m: risk_score(f.risk_probas.get(m, f.probas[m]), answers)
             for m in ("polar", "polar_h", "polar_equal", "polar_transformer", *LABEL_MODEL_BASELINES)
             if m in f.probas}
    if f.has_llm:
        risks["llm_logprob"] = risk_score(f.probas["llm"], answers)
        t = time.perf_counter()
        risks["llm_distilled"] = llm_distilled_risk(f.L_fit.column(LLM_NAME), f.X_fit, answers, f.task.n_classes,
                                                    X_eval=f.X_test, **{"seed": cfg.seed, **cfg.harmonizer})
        seconds["llm_distilled"] = time.perf_counter() - t
    ok = (answers >= 0) & (gold >= 0)
    is_error = (answers != gold).astype(float)
    table = {m: calibration_report(r[ok], is_error[ok]).to_dict() for m, r in risks.items()}
    return table, answers, risks


def bench_wrench(cfg: BenchConfig) -> dict[str, Any]:
    """Run the comparison; returns the JSON-able result (schema in the module docstring of cli)."""
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    strategies = parse_strategies(cfg.correct) if cfg.correct else []
    if strategies and cfg.llm == "none":
        raise ConfigError("--correct re-asks the LLM's riskiest answers, but --llm is none", column="--correct",
                          fix="give --llm local (or a server URL), or drop --correct")
    metric = _check_metric(cfg)
    f = fit_all(cfg, seconds)
    name = f.task.name
    labels = score_methods(f.test.gold, f.probas, name, LABEL_METRICS, metric=cfg.metric)
    risk, _, _ = risk_table(f, cfg, seconds)
    correction = None
    if strategies:
        t = time.perf_counter()
        correction = correction_table(f, cfg, [s.name for s in strategies])
        seconds["correction"] = time.perf_counter() - t
    seconds["total"] = time.perf_counter() - t0
    result: dict[str, Any] = {
        "dataset": name, "n_test": len(f.test), "n_fit": len(f.fit), "fit_split": f.fit.name,
        "llm": cfg.llm, "risk_of": "llm" if f.has_llm else "polar",
        "labels": labels, "risk": risk, "seconds": seconds, "metric": metric,
    }
    if correction is not None:
        result["correction"] = correction
        result["correction_settings"] = _settings(cfg.correction)
    weight = f.context.extra["report"].get("llm_weight")
    if weight:
        result["llm_weight"] = {"multiplier": weight["multiplier"],
                                "seed_members_multiplier": weight.get("seed_members_multiplier", []),
                                "heldout_disagreement": weight["heldout_disagreement"]}
    if f.has_llm:
        from ..llm.stats import LLMRunStats

        stats = f.llm.total_stats if f.llm is not None else LLMRunStats()     # no LLM call when skipped
        result["llm_stats"] = stats.to_dict() if hasattr(stats, "to_dict") else {}
    result["stages"] = {r.name: r.action for r in f.stages}
    result["harmonizer"] = combination_report(f.fitted_harmonizer())
    h = f.fitted_harmonizer()
    if h.reads_votes:      # did the test rows' votes behave like the fit rows'? (h alone reads none)
        result["harmonizer"]["vote_shift_test"] = h.vote_shift(f.L_test.L, f.X_test).to_dict()
    return result


def _check_metric(cfg: BenchConfig) -> dict[str, str]:
    """The metric ``wrench_metric`` will be and where the choice came from; a bad ``metric`` fails before fitting."""
    from ..metrics import WRENCH_METRIC, metric_for

    task = wrench_task(cfg.directory)
    name = metric_for(task.name, cfg.metric)
    if cfg.metric not in (None, "auto"):
        if name == "f1_binary" and task.n_classes != 2:
            raise ConfigError(f"--metric f1_binary needs 2 classes; {task.name} has {task.n_classes}",
                              column="--metric", fix="use --metric acc or auto")
        return {"name": name, "from": "option"}
    known = task.name.strip().lower() in WRENCH_METRIC
    return {"name": name, "from": "wrench_table" if known else "default_accuracy (name not in WRENCH's table)"}


def combination_report(h: PolarHarmonizer) -> dict[str, Any]:
    """What the harmonizer chose without gold: the final distribution, its temperature, the two scales of its
    leave-out distribution (the risk; None = the temperature serves), the temperature of the features-only
    fallback classifier (rows whose votes shifted), the held-out agreement of every candidate (and the bootstrap
    standard error of its difference to the best, :mod:`polarlab.harmonizer.select`), and
    the warnings of the fit. A seed ensemble (``n_seeds`` > 1): these are its first member's (the ``seed``'s own
    fit), and ``seed_members`` lists the same for the others (its labels and risk are the members' mean)."""
    report = _member_report(h)
    members = getattr(h, "seed_members_", [])
    report["n_seeds"] = 1 + len(members)
    if members:
        report["seed_members"] = [{"seed": m.seed, **_member_report(m)} for m in members]
        for r in report["seed_members"]:
            r.pop("warnings")
    return report


def _member_report(h: PolarHarmonizer) -> dict[str, Any]:
    """One fit's choices (:func:`combination_report`)."""
    comb = getattr(h, "combiner_", None)
    return {"combine": h.combine_,
            "labels_from": getattr(h, "labels_from_", "votes"),
            "temperature": None if comb is None else comb.temperature_,
            "risk_scales": None if comb is None or getattr(comb, "risk_scales_", None) is None
            else list(comb.risk_scales_),
            "fallback_temperature": getattr(h, "fallback_temperature_", None),
            "heldout_agreement": {r.candidate: round(r.agreement, 5) for r in h.combine_table_},
            "heldout_se": {r.candidate: round(r.se, 5) for r in h.combine_table_},
            "warnings": list(h.warnings_)}


def correction_table(f: Fitted, cfg: BenchConfig, strategies: list[str]) -> dict[str, dict[str, Any]]:
    """Run each correction strategy on the test split, separately, from the same start.

    Slice: the test rows with the riskiest LLM answers (POLAR risk of the harmonizer fitted on the fit
    split), as many as the budget allows. Pool for few-shot / retrieval: the fit split, labelled by the
    harmonizer (its gold is never read). ``update="refit"`` appends the re-asked test rows (with every
    source's vote and the corrected LLM vote) to the fit matrix and fits the harmonizer again.

    Returns:
        strategy name -> :meth:`CorrectionReport.to_dict` (``slice_n``, ``llm_error_before``,
        ``llm_error_after``, ``accuracy_before``, ``accuracy_after``, ``calls`` (re-asks),
        ``backend_calls``, ``error_reduction``, mean risk and risk histograms before/after, ...).
    """
    refit = cfg.correction.update == "refit"
    harmonizer = f.fitted_harmonizer()      # h(x) alone labels the pool (and is refitted with "refit")
    pool = DemoPool(f.fit, f.X_fit, harmonizer.predict_proba(None, f.X_fit), f.L_fit.column(LLM_NAME))
    fit = FitData(f.L_fit, f.X_fit) if refit else None
    llm = f.llm_source(cfg)
    out: dict[str, dict[str, Any]] = {}
    for name in strategies:
        res = correct_answers(f.test, f.task, f.L_test, f.probas["polar"], strategy=name, llm=llm,
                              sources=f.sources, X=f.X_test, pool=pool, config=cfg.correction,
                              llm_column=LLM_NAME, harmonizer=harmonizer, fit=fit)
        out[name] = res.report(f.test.gold).to_dict()
        if cfg.audit_dir is not None:
            write_audit(res.audit, Path(cfg.audit_dir) / f"audit_{name.replace('+', '_')}.csv", f.task)
    return out


def _settings(c: CorrectionConfig) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(c)
