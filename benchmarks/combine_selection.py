"""Does the gold-free selector of POLAR's final distribution rank the candidates like their true accuracy?

Per WRENCH dataset (rules only, the fit split's votes and features as ``polarlab bench wrench`` computes them):
the harmonizer with ``combine="auto"`` reports each candidate's held-out class-balanced agreement and the
bootstrap standard error of its difference to the best (rows and sources resampled, and each alone;
:mod:`polarlab.harmonizer.select`); each candidate is then fitted alone (``combine=<spec>``, same seed) and
scored against the gold of the valid split (chemprot has no train split: its fit split *is* valid). Gold is used
only here, to evaluate the selector, never inside it. Reports the Spearman rank correlation between criterion
and valid accuracy (and the WRENCH metric), the chosen candidate (one-SE rule), the argmax of the criterion
and the best one. A second gold-free criterion is reported beside it, the learnability of each candidate's labels
of the covered fit rows (:mod:`polarlab.harmonizer.learnability`: class-balanced agreement of a cross-fitted
logistic regression with them, and the mean log-probability of them), each with its Spearman, and the mean of the
two criteria's ranks ("mix").

Usage::

    python benchmarks/combine_selection.py --datasets youtube,chemprot --fit-limit 2000 --state-dir .polarlab

The last line printed is one JSON object: {"datasets": {name: {"chosen", "best_valid", "spearman_accuracy",
"spearman_metric", "chosen_argmax", "spearman_learnability", "spearman_learnability_loglik", "spearman_mix",
"argmax_learnability", "argmax_mix", "candidates": {spec: {"agreement", "se", "se_rows", "se_sources",
"learnability", "learnability_loglik", "mix_rank", "valid_accuracy", "valid_metric", "test_metric",
"stage2_valid_metric", "stage2_test_metric"}}}},
"settings": {...}}.
"""
from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402  (after OMP_NUM_THREADS: the thread count is read at import)

from polarlab.io.jsonout import dumps  # noqa: E402  strict JSON last line: NaN / ±inf as null


def dataset_arrays(directory: Path, state_dir: Path, fit_limit: int | None, seed: int) -> dict:
    """Votes, features and gold of the fit, valid and test splits (features as the benchmark computes them)."""
    from polarlab.bench.instructions import llm_task
    from polarlab.data.wrench import load_wrench, wrench_task
    from polarlab.features import make_features

    task = llm_task(wrench_task(directory))
    splits = load_wrench(directory, task)
    fit_name = "train" if "train" in splits else "valid"
    fit = splits[fit_name]
    if fit_limit and len(fit) > fit_limit:
        fit = fit.subset(np.sort(np.random.default_rng(seed).permutation(len(fit))[:fit_limit]))
    ext = make_features("numeric" if fit.is_tabular else "auto", cache_dir=str(state_dir / "features")).fit(fit)
    out = {"k": task.n_classes, "fit_name": fit_name}
    for name, ds in (("fit", fit), ("valid", splits["valid"]), ("test", splits["test"])):
        out[name] = (np.asarray(ds.weak_labels, dtype=np.int64), ext.transform(ds), ds.gold)
    return out


def evaluate(name: str, arrays: dict, seed: int, groups_by: str = "random") -> dict:
    from scipy.stats import rankdata, spearmanr

    import polarlab.harmonizer.combination as combination
    import polarlab.harmonizer.select as select
    from polarlab.harmonizer import PolarHarmonizer
    from polarlab.harmonizer.combiners import make_combiner
    from polarlab.harmonizer.learnability import learnability
    from polarlab.metrics import classification_metrics

    k = arrays["k"]
    L, X, _ = arrays["fit"]
    parts: dict = {}
    full_se = select.difference_se

    def se_by_unit(hits, voted, classes, best, **kw):       # the same bootstrap, each sampling unit alone too
        for unit in ("rows", "sources"):
            parts[unit] = full_se(hits, voted, classes, best, resample=(unit,), **kw)
        return full_se(hits, voted, classes, best, **kw)

    full_select = combination.select_by_agreement
    seen: dict = {}

    def select_seen(L_fit, log_h, *args, **kw):             # the votes and prior the selection saw
        seen["L"], seen["log_h"] = L_fit, log_h
        return full_select(L_fit, log_h, *args, **kw)

    select.difference_se = se_by_unit
    combination.select_by_agreement = select_seen
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            auto = PolarHarmonizer(k, seed=seed, combine_groups_by=groups_by).fit(L, X)
        finally:
            select.difference_se = full_se
            combination.select_by_agreement = full_select
        covered = np.flatnonzero((seen["L"] >= 0).any(axis=1))
        learn = {}
        for r in auto.combine_table_:                        # each candidate's labels of the fit rows, all sources
            comb = make_combiner(r.candidate, k).fit(seen["L"], seen["log_h"])
            learn[r.candidate] = learnability(comb.scores(seen["L"], seen["log_h"]).argmax(axis=1), X, k,
                                              rows=covered, seed=seed)
        rows = {}
        for i, r in enumerate(auto.combine_table_):
            fixed = PolarHarmonizer(k, seed=seed, combine=r.candidate).fit(L, X)
            got = {s: classification_metrics(arrays[s][2], fixed.predict_proba(arrays[s][0], arrays[s][1]), dataset=name)
                   for s in ("valid", "test")}
            rows[r.candidate] = {"agreement": r.agreement, "se": r.se,
                                 "se_rows": float(parts["rows"][i]) if parts else None,
                                 "se_sources": float(parts["sources"][i]) if parts else None,
                                 "learnability": learn[r.candidate]["balanced"],
                                 "learnability_loglik": learn[r.candidate]["loglik"],
                                 "valid_accuracy": got["valid"]["accuracy"],
                                 "valid_metric": got["valid"]["wrench_metric"],
                                 "valid_macro_f1": got["valid"]["macro_f1"],
                                 "test_metric": got["test"]["wrench_metric"], "test_macro_f1": got["test"]["macro_f1"],
                                 # the second stage alone (the classifier refitted to this candidate's labels,
                                 # votes unused): how much a "label model -> classifier" output would give
                                 "stage2_valid_metric": classification_metrics(
                                     arrays["valid"][2], fixed.prior_proba(arrays["valid"][1]), dataset=name)["wrench_metric"],
                                 "stage2_test_metric": classification_metrics(
                                     arrays["test"][2], fixed.prior_proba(arrays["test"][1]), dataset=name)["wrench_metric"]}
    crit = [v["agreement"] for v in rows.values()]
    acc = [v["valid_accuracy"] for v in rows.values()]
    lrn = [v["learnability"] for v in rows.values()]
    mix = (rankdata(crit) + rankdata(lrn)) / 2
    for v, m in zip(rows.values(), mix):
        v["mix_rank"] = float(m)
    names = list(rows)
    return {"fit_split": arrays["fit_name"], "n_fit": int(L.shape[0]), "chosen": auto.combine_,
            "chosen_argmax": max(rows, key=lambda c: rows[c]["agreement"]),
            "best_valid": max(rows, key=lambda c: rows[c]["valid_metric"]),
            "spearman_accuracy": float(spearmanr(crit, [v["valid_accuracy"] for v in rows.values()])[0]),
            "spearman_metric": float(spearmanr(crit, [v["valid_metric"] for v in rows.values()])[0]),
            "spearman_learnability": float(spearmanr(lrn, acc)[0]),
            "spearman_learnability_loglik": float(spearmanr([v["learnability_loglik"] for v in rows.values()], acc)[0]),
            "spearman_mix": float(spearmanr(mix, acc)[0]),
            "argmax_learnability": names[int(np.argmax(lrn))], "argmax_mix": names[int(np.argmax(mix))],
            "candidates": rows}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--datasets", default="youtube,sms,trec,chemprot,census")
    ap.add_argument("--fit-limit", type=int, default=None, help="at most N fit rows (seeded sample)")
    ap.add_argument("--state-dir", type=Path, default=Path(".polarlab"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--combine-groups-by", default="random", help="the selection's source groups: random | dependency | conditional")
    a = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    result: dict = {"datasets": {}, "settings": {"fit_limit": a.fit_limit, "seed": a.seed,
                                                "combine_groups_by": a.combine_groups_by}}
    for name in [s for s in a.datasets.split(",") if s]:
        r = evaluate(name, dataset_arrays(a.data / name, a.state_dir, a.fit_limit, a.seed), a.seed, a.combine_groups_by)
        result["datasets"][name] = r
        for spec, v in r["candidates"].items():
            print(f"  {spec:10s} agreement {v['agreement']:.4f} se {v['se']:.4f} (rows {v['se_rows'] or 0:.4f}, "
                  f"sources {v['se_sources'] or 0:.4f}) learnability {v['learnability']:.4f} "
                  f"(loglik {v['learnability_loglik']:.4f})  valid acc {v['valid_accuracy']:.3f} metric {v['valid_metric']:.3f} test {v['test_metric']:.3f} "
                  f"test macro-F1 {v['test_macro_f1']:.3f}", file=sys.stderr, flush=True)
        print(f"{name:9s} chosen {r['chosen']:10s} (argmax {r['chosen_argmax']}) best on valid {r['best_valid']:10s} "
              f"spearman(acc) "
              f"{r['spearman_accuracy']:+.2f} spearman(metric) {r['spearman_metric']:+.2f}; learnability: "
              f"spearman(acc) {r['spearman_learnability']:+.2f} (loglik {r['spearman_learnability_loglik']:+.2f}), "
              f"argmax {r['argmax_learnability']}; mix: spearman(acc) {r['spearman_mix']:+.2f}, argmax {r['argmax_mix']}",
              file=sys.stderr, flush=True)
    print(dumps(result, default=float))
    return result


if __name__ == "__main__":
    main()
