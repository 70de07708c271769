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
from ..labelmodels import make_label_model
from ..matrix.apply import apply_sources
from ..matrix.label_matrix import LabelMatrix
from ..metrics import classification_metrics
from ..pipeline import featurize
from ..risk import calibration_report, llm_distilled_risk, risk_score
from ..sources.votes import weak_label_sources
from .instructions import llm_task

LLM_NAME = "llm"
BASELINES = ("mv", "snorkel", "dawid_skene")
TWO_STAGE = ("mv+lr", "snorkel+lr", "dawid_skene+lr")   # label model -> logistic regression on the same features


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
    """

    directory: Path
    llm: str = "local"
    llm_model: str | None = None
    limit: int | None = None
    state_dir: Path = Path(".polarlab")
    features: str = "auto"
    harmonizer: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    progress: bool = True
    correct: tuple[str, ...] = ()
    correction: CorrectionConfig = field(default_factory=CorrectionConfig)
    audit_dir: Path | None = None
    tune_llm: bool = True
    transformer: bool = False
    transformer_options: dict[str, Any] = field(default_factory=dict)


def sample_rows(ds: Dataset, limit: int | None, seed: int = 0) -> Dataset:
    """At most ``limit`` rows, chosen by a seeded permutation and kept in file order."""
    if not limit or len(ds) <= limit:
        return ds
    idx = np.sort(np.random.default_rng(seed).permutation(len(ds))[:limit])
    return ds.subset(idx)


def make_llm_source(spec: str, state_dir: Path, model: str | None = None, progress: bool = True):
    """The LLM source a ``--llm`` value names, or None for ``"none"``."""
    if spec == "none":
        return None
    from ..llm.config import from_config

    if spec == "local":
        return from_config({"type": "llm", "name": LLM_NAME, "backend": "local", "progress": progress}, state_dir)
    if spec.startswith(("http://", "https://")):
        import os

        table = {"type": "llm", "name": LLM_NAME, "backend": "openai", "base_url": spec,
                 "model": model or "default", "progress": progress}
        if os.environ.get("OPENAI_API_KEY"):
            table["api_key_env"] = "OPENAI_API_KEY"
        return from_config(table, state_dir)
    raise ConfigError(f"unknown --llm value {spec!r}", column="--llm",
                      fix="use local, none, or an OpenAI-compatible base URL such as http://127.0.0.1:8080/v1")


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
    harmonizer: PolarHarmonizer
    llm: Any = None
    sources: list = field(default_factory=list)   # the rule sources (their describe() gives evidence)
    risk_probas: dict[str, np.ndarray] = field(default_factory=dict)   # method -> (n_test, k), LLM vote left out


def fit_all(cfg: BenchConfig, seconds: dict[str, float]) -> Fitted:
    """Load, label, featurize and fit every method; fills ``seconds`` per stage."""
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
    rules = weak_label_sources(fit)
    L_fit = apply_sources(fit, rules, task, progress=False)
    L_test = apply_sources(test, rules, task, progress=False)
    seconds["load"] = time.perf_counter() - t

    llm = None if fit.is_tabular else make_llm_source(cfg.llm, cfg.state_dir, cfg.llm_model, cfg.progress)
    if llm is not None:
        t = time.perf_counter()
        out_fit, out_test = llm.apply(fit, task), llm.apply(test, task)
        L_fit = L_fit.with_column(LLM_NAME, out_fit.votes, out_fit.proba)
        L_test = L_test.with_column(LLM_NAME, out_test.votes, out_test.proba)
        seconds["llm"] = time.perf_counter() - t

    t = time.perf_counter()
    kind = "numeric" if fit.is_tabular else cfg.features      # tabular rows have no text to embed
    X = featurize({"fit": fit, "test": test}, "fit", kind, cfg.state_dir / "features")
    X_fit, X_test = X["fit"], X["test"]
    seconds["features"] = time.perf_counter() - t

    probas: dict[str, np.ndarray] = {}
    for m in BASELINES:
        t = time.perf_counter()
        model = make_label_model(m, task.n_classes).fit(L_fit.L)
        probas[m] = model.predict_proba(L_test.L)
        seconds[m] = time.perf_counter() - t
    for m in TWO_STAGE:
        t = time.perf_counter()
        probas[m] = make_label_model(m, task.n_classes, seed=cfg.seed).fit(L_fit.L, X_fit).predict_proba(None, X_test)
        seconds[m] = time.perf_counter() - t
    risk_probas: dict[str, np.ndarray] = {}
    opts = {"seed": cfg.seed, **cfg.harmonizer}
    tune = llm is not None and cfg.tune_llm and "tune_sources" not in opts
    if tune:
        t = time.perf_counter()
        equal = PolarHarmonizer(task.n_classes, **opts).fit(L_fit.L, X_fit)
        probas["polar_equal"] = equal.predict_proba(L_test.L, X_test)
        risk_probas["polar_equal"] = equal.predict_proba(L_test.L, X_test, exclude=[L_fit.names.index(LLM_NAME)])
        seconds["polar_equal"] = time.perf_counter() - t
        opts["tune_sources"] = [L_fit.names.index(LLM_NAME)]
    t = time.perf_counter()
    polar = PolarHarmonizer(task.n_classes, **opts).fit(L_fit.L, X_fit)
    probas["polar"] = polar.predict_proba(L_test.L, X_test)     # h(x) combined with the row's votes
    probas["polar_h"] = polar.predict_h(X_test)                  # h(x) alone
    if llm is not None:
        risk_probas["polar"] = polar.predict_proba(L_test.L, X_test, exclude=[L_fit.names.index(LLM_NAME)])
    seconds["polar"] = time.perf_counter() - t
    if cfg.transformer:
        from ..harmonizer.transformer import TransformerHarmonizer

        t = time.perf_counter()
        topts = {"seed": cfg.seed, "scalarization": polar.scalarization, **cfg.transformer_options}
        deep = TransformerHarmonizer(task.n_classes, weights=polar.weights_, **topts).fit(L_fit.L, fit)
        probas["polar_transformer"] = deep.predict_proba(None, test)
        seconds["polar_transformer"] = time.perf_counter() - t
    if llm is not None:
        probas["llm"] = _llm_proba(L_test, task.n_classes)
    return Fitted(task=task, fit=fit, test=test, L_fit=L_fit, L_test=L_test, X_fit=X_fit, X_test=X_test,
                  probas=probas, harmonizer=polar, llm=llm, sources=list(rules), risk_probas=risk_probas)


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
    if f.llm is not None:
        answers = f.L_test.column(LLM_NAME)
    else:
        answers = f.probas["polar"].argmax(axis=1)
    risks = {m: risk_score(f.risk_probas.get(m, f.probas[m]), answers)
             for m in ("polar", "polar_h", "polar_equal", "polar_transformer", *BASELINES) if m in f.probas}
    if f.llm is not None:
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
    f = fit_all(cfg, seconds)
    name = f.task.name
    labels = {m: _label_metrics(f.test.gold, P, name) for m, P in f.probas.items()}
    risk, _, _ = risk_table(f, cfg, seconds)
    correction = None
    if strategies:
        t = time.perf_counter()
        correction = correction_table(f, cfg, [s.name for s in strategies])
        seconds["correction"] = time.perf_counter() - t
    seconds["total"] = time.perf_counter() - t0
    result: dict[str, Any] = {
        "dataset": name, "n_test": len(f.test), "n_fit": len(f.fit), "fit_split": f.fit.name,
        "llm": cfg.llm, "risk_of": "llm" if f.llm is not None else "polar",
        "labels": labels, "risk": risk, "seconds": seconds,
    }
    if correction is not None:
        result["correction"] = correction
        result["correction_settings"] = _settings(cfg.correction)
    if f.harmonizer.tuning_:
        result["llm_weight"] = {"multiplier": f.harmonizer.tuned_multiplier_,
                                "heldout_disagreement": {str(r.multiplier): r.loss for r in f.harmonizer.tuning_}}
    result["harmonizer"] = combination_report(f.harmonizer)
    if f.llm is not None:
        result["llm_stats"] = f.llm.total_stats.to_dict() if hasattr(f.llm.total_stats, "to_dict") else {}
    return result


def combination_report(h: PolarHarmonizer) -> dict[str, Any]:
    """What the harmonizer chose without gold: h alone or a temperature, the criterion per candidate,
    and the warnings of the fit."""
    vl = getattr(h, "likelihood_", None)
    return {"combine": h.combine_,
            "prior": "h refitted to the combined labels" if getattr(h, "prior_model_", None) is not None else "h",
            "temperature": None if vl is None or h.combine_ == "h" else vl.temperature_,
            "pseudo_loglik": {str(r.candidate): round(r.pseudo_loglik, 5) for r in h.combine_table_},
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
    pool = DemoPool(f.fit, f.X_fit, f.harmonizer.predict_proba(None, f.X_fit), f.L_fit.column(LLM_NAME))
    fit = FitData(f.L_fit, f.X_fit) if cfg.correction.update == "refit" else None
    out: dict[str, dict[str, Any]] = {}
    for name in strategies:
        res = correct_answers(f.test, f.task, f.L_test, f.probas["polar"], strategy=name, llm=f.llm,
                              sources=f.sources, X=f.X_test, pool=pool, config=cfg.correction,
                              llm_column=LLM_NAME, harmonizer=f.harmonizer, fit=fit)
        out[name] = res.report(f.test.gold).to_dict()
        if cfg.audit_dir is not None:
            write_audit(res.audit, Path(cfg.audit_dir) / f"audit_{name.replace('+', '_')}.csv", f.task)
    return out


def _settings(c: CorrectionConfig) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(c)


def _label_metrics(gold: np.ndarray, P: np.ndarray, name: str) -> dict[str, Any]:
    m = classification_metrics(gold, P, dataset=name)
    return {"accuracy": m["accuracy"], "f1": m["f1"], "macro_f1": m["macro_f1"],
            "wrench_metric": m["wrench_metric"], "wrench_metric_name": m["wrench_metric_name"]}
