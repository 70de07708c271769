"""Stage ``harmonizer``: POLAR's h(x) (``[harmonizer]``) fitted on the fit split's matrix and features (no
gold), the LLM's weight tuned without gold, optionally the fine-tuned encoder; (n, k) distributions per split.
The harmonizer is called through its public API (``PolarHarmonizer(...).fit(L, X)``, ``predict_proba``)."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..config.models import HARMONIZER_METHOD
from ..state import StageRecord, content_hash
from .base import RunContext, register_stage
from .features import wants_harmonizer
from .human import HUMAN_SOURCE, apply_human

SMALL_FIT_ROWS = 100
"""Below this many fit rows the run warns that POLAR's gold-free choices are noisy (:func:`warn_small_fit`)."""


def warn_small_fit(n: int, fit_split: str, sink: list[str] | None) -> None:
    """Warn when the harmonizer is fitted on fewer than :data:`SMALL_FIT_ROWS` rows (``n``). Its choices without
    gold (the LLM's weight, how votes and h(x) are combined) are made by cross-fitting on those rows, and are noisy
    there: YouTube spam projects with the demo's sources and the embedded LLM, 25-50 fit rows, seeds 0-3: POLAR below
    majority vote in 8 of 16 runs; 100 rows: 0 of 8 (docs/results/label_quality.md, "Small projects"). Unlabelled
    rows cost nothing in weak supervision, so the fix is more of them."""
    if n >= SMALL_FIT_ROWS:
        return
    from ..harmonizer.diagnostics import warn

    warn(f"only {n} rows in the fit split '{fit_split}': POLAR's choices without gold (the LLM's weight, how votes "
         f"and h(x) are combined) are noisy below {SMALL_FIT_ROWS} rows, and on 25-50-row projects its labels fell "
         f"below majority vote's in half the runs measured; add unlabelled rows to '{fit_split}' (no labels needed), "
         "and compare POLAR with the label models in metrics.json before trusting its labels", sink)


def harmonizer_options(ctx: RunContext) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(options of :class:`PolarHarmonizer`, options of the transformer harmonizer or None), from
    ``[harmonizer]`` and the fit split's matrix (the LLM columns whose weight is tuned without gold)."""
    from ..features import FeatureSpec

    options = dict(ctx.project.harmonizer)
    tune = options.pop("tune_llm_weight", True)
    llms = tunable_llm_columns(ctx.matrices[ctx.fit_split], options)
    if tune and llms and "tune_sources" not in options:
        options["tune_sources"] = llms   # the LLMs' weight, chosen without gold (harmonizer/tune.py)
    deep = options.pop("transformer", None)          # [harmonizer.transformer] options
    if options.get("model") == "transformer":
        options["model"], deep = "lr", dict(deep or {})
    options.pop("features", None)
    spec_keys = set(FeatureSpec.__dataclass_fields__) - {"kind", "cache_dir"}
    return {k: v for k, v in options.items() if k not in spec_keys}, deep


def tunable_llm_columns(matrix, options: dict[str, Any]) -> list[int]:
    """The LLM columns of ``matrix`` (a :class:`LabelMatrix`) whose weight the gold-free tuning can choose with the
    ``[harmonizer]`` ``options``: all of them when some other source votes and there are rows for its K-fold
    cross-fitting (2K), else none (:func:`polarlab.harmonizer.tune.tune_source_weight` would refuse)."""
    from ..pipeline import llm_columns

    llms = [matrix.names.index(n) for n in llm_columns(matrix)]
    others = [j for j in range(len(matrix.names)) if j not in llms]
    enough = matrix.L.shape[0] >= 2 * int(options.get("tune_folds") or 5)     # K-fold tuning needs 2K rows
    return llms if llms and others and enough and bool((matrix.L[:, others] >= 0).any()) else []


class HarmonizerStage:
    name = "harmonizer"

    def wanted(self, ctx: RunContext) -> bool:
        return wants_harmonizer(ctx)

    def expect(self, ctx: RunContext) -> None:
        """Once it runs, its distributions exist: the ``correct`` and ``risk`` stages are wanted (status)."""
        ctx.probas.setdefault(HARMONIZER_METHOD, {})

    def config(self, ctx: RunContext) -> Any:
        opts, deep = harmonizer_options(ctx)
        return {"options": opts, "transformer": deep, "fit_split": ctx.fit_split, "n_classes": ctx.task.n_classes,
                "max_fit_rows": max_fit_rows(ctx)}

    def inputs(self, ctx: RunContext) -> dict[str, str]:
        return {"matrix": ctx.hashes["matrix"], "features": ctx.hashes["features"]}

    def run(self, ctx: RunContext) -> dict[str, Any]:
        from ..pipeline import fit_transformer

        opts, deep = harmonizer_options(ctx)
        rows = fit_rows(ctx, opts)
        ctx.harmonizer, ctx.probas[HARMONIZER_METHOD], decided = fit_with_human(ctx, opts, rows)
        n = ctx.matrices[ctx.fit_split].L.shape[0]
        warn_small_fit(n, ctx.fit_split, ctx.harmonizer.warnings_ if ctx.harmonizer is not None else None)
        report: dict[str, Any] = {"fit_rows": {"used": n if rows is None else int(len(rows)), "of": n,
                                               "max_fit_rows": max_fit_rows(ctx), "stratified_by": "vote pattern",
                                               "seed": int(opts.get("seed") or 0)}}
        if deep is not None:
            import time

            t = time.perf_counter()
            ctx.probas[HARMONIZER_METHOD] = fit_transformer(ctx.matrices, ctx.splits, ctx.fit_split, ctx.task,
                                                            ctx.harmonizer, deep)
            ctx.seconds["transformer"] = time.perf_counter() - t
            report["transformer"] = True
        human = ctx.extra.get("human") or {}
        if human:        # a reviewed row's label is the human label
            ctx.probas[HARMONIZER_METHOD] = {s: apply_human(P, human[s])
                                             for s, P in ctx.probas[HARMONIZER_METHOD].items()}
            report["reviewed"] = {s: int(c.reviewed.sum()) for s, c in human.items()}
            w = np.asarray(ctx.harmonizer.weights_, dtype=np.float64)
            report["human_weight"] = {"human": float(w[-1]), "largest_other": float(w[:-1].max())}
        h = ctx.harmonizer
        if h is not None and h.tuning_:
            report["llm_weight"] = {
                "sources": [ctx.matrices[ctx.fit_split].names[j] for j in h.tune_sources],
                "multiplier": h.tuned_multiplier_,
                "seed_members_multiplier": [m.tuned_multiplier_ for m in getattr(h, "seed_members_", [])],
                "heldout_disagreement": {str(r.multiplier): r.loss for r in h.tuning_}}
        if h is not None and deep is None and getattr(h, "combiner_", None) is not None:
            report["combination"] = {"combine": h.combine_, "labels_from": h.labels_from_,
                                     "warnings": list(h.warnings_),
                                     # a seed ensemble (n_seeds > 1): the other members' choices (combine_ is the first's)
                                     "seed_members_combine": [m.combine_ for m in getattr(h, "seed_members_", [])],
                                     # per split: do its votes behave like the fit rows'? (harmonizer/shift.py)
                                     "vote_shift": {s: d.shift.to_dict() for s, d in decided.items()
                                                    if d.shift is not None}}
        for key in ("llm_weight", "combination"):
            if key in report:
                ctx.extra["report"][key] = report[key]
        ctx.extra["leave_out"] = leave_out_distributions(ctx, decided) if deep is None else {}
        return report

    def save(self, ctx: RunContext) -> str:
        for split, P in ctx.probas[HARMONIZER_METHOD].items():
            ctx.state.put_distribution(HARMONIZER_METHOD, split, P, key=self.name)
        for (name, split), P in ctx.extra.get("leave_out", {}).items():
            ctx.state.put_distribution(f"{LEAVE_OUT}{name}", split, P, key=self.name)
        return content_hash([ctx.probas[HARMONIZER_METHOD][s] for s in ctx.splits])

    def load(self, ctx: RunContext, record: StageRecord) -> bool:
        got = ctx.state.distributions(HARMONIZER_METHOD)
        if set(got) != set(ctx.splits):
            return False
        ctx.probas[HARMONIZER_METHOD] = {s: got[s] for s in ctx.splits}
        ctx.harmonizer = None
        for key in ("llm_weight", "combination"):
            if key in record.report:
                ctx.extra["report"][key] = record.report[key]
        ctx.extra["leave_out"] = {(m[len(LEAVE_OUT):], s): P for m in ctx.state.methods() if m.startswith(LEAVE_OUT)
                                  for s, P in ctx.state.distributions(m).items()}
        return True


def fit_with_human(ctx: RunContext, opts: dict[str, Any], rows: "np.ndarray | None" = None):
    """(fitted harmonizer, split -> (n, k) final distributions, split -> its vote-shift decision
    (:func:`polarlab.pipeline.fit_harmonizer`)) on the matrices; a ``human`` column (reviewed labels) gets the
    review loop's top weight: the harmonizer is fitted without it first (its weights, LLM weight tuned), then
    again with the human weight appended (:func:`polarlab.review.rounds.with_human_weight`).

    ``rows``: the fit split's rows to fit on (:func:`fit_rows`; None = all). Every row of every split is
    predicted, in row blocks (or partitions) by the project's engine."""
    from ..pipeline import fit_harmonizer
    from ..review.rounds import with_human_weight

    fit_m = ctx.matrices[ctx.fit_split]
    predict = ctx.get_engine().predict_proba           # row blocks (local) or partitions (Ray)
    if HUMAN_SOURCE not in fit_m.names:
        return fit_harmonizer(ctx.matrices, ctx.features, ctx.fit_split, ctx.task, opts, fit_rows=rows,
                              predict=predict)
    if fit_m.names[-1] != HUMAN_SOURCE:
        raise AssertionError("the human column is the last of the matrix")
    machine = {s: m.drop([HUMAN_SOURCE]) for s, m in ctx.matrices.items()}
    base, _, _ = fit_harmonizer({ctx.fit_split: machine[ctx.fit_split]}, ctx.features, ctx.fit_split, ctx.task, opts,
                             fit_rows=rows)
    weights = with_human_weight(base.weights_)
    return fit_harmonizer(ctx.matrices, ctx.features, ctx.fit_split, ctx.task,
                          {**opts, "weights": weights, "tune_sources": None}, fit_rows=rows, predict=predict)


def max_fit_rows(ctx: RunContext) -> int:
    """``[harmonizer] max_fit_rows``: the most fit-split rows h(x) is fitted on (default
    :data:`polarlab.matrix.subsample.DEFAULT_MAX_FIT_ROWS`)."""
    from ..matrix.subsample import DEFAULT_MAX_FIT_ROWS

    return int(ctx.project.harmonizer.get("max_fit_rows") or DEFAULT_MAX_FIT_ROWS)


def fit_rows(ctx: RunContext, opts: dict[str, Any]) -> "np.ndarray | None":
    """The fit split's rows h(x) is fitted on: None (all) up to ``max_fit_rows`` rows, above it a subsample
    stratified by vote pattern (:func:`polarlab.matrix.subsample.stratified_rows`, seeded by the harmonizer's
    ``seed``); every row is still predicted."""
    from ..matrix.subsample import stratified_rows

    return stratified_rows(ctx.matrices[ctx.fit_split].L, max_fit_rows(ctx), int(opts.get("seed") or 0))


#: Method-name prefix of the stored distributions with one LLM's own vote left out (its POLAR risk reads them).
LEAVE_OUT = "polar-without:"


def leave_out_distributions(ctx: RunContext, decided: dict[str, Any]) -> dict[tuple[str, str], "np.ndarray"]:
    """``{(llm, split): (n, k)}``: the final distribution with that LLM's own vote left out, when the harmonizer
    combines h(x) with the votes (else {}: h(x) never sees the votes). The POLAR risk of an LLM answer is read
    from it: the chance the answer is wrong given everything else known about the example. ``decided``: split ->
    the harmonizer with that split's vote-shift check already made (:func:`polarlab.pipeline.fit_harmonizer`), so
    every row block reads the votes as the split's own distribution did."""
    from ..pipeline import llm_columns

    h = ctx.harmonizer
    if h is None or getattr(h, "combiner_", None) is None:
        return {}
    from ..engine.local import predict_in_blocks

    out = {}
    for split, lm in ctx.matrices.items():
        for name in llm_columns(lm):
            out[(name, split)] = predict_in_blocks(decided[split], lm.L, ctx.features[split],
                                                   exclude=[lm.names.index(name)])
    return out


def fitted_harmonizer(ctx: RunContext):
    """The fitted linear harmonizer: this run's, or fitted again (same seed, same result) when its stage was
    skipped and a later stage (``correct`` with ``update = "refit"``) needs the object."""
    if ctx.harmonizer is None:
        opts, _ = harmonizer_options(ctx)
        ctx.harmonizer, _, _ = fit_with_human(ctx, opts, fit_rows(ctx, opts))
    return ctx.harmonizer


register_stage(HarmonizerStage())
