"""POLAR vs label models on LLM-written labeling functions it was never tuned on (DataSculpt's, arXiv 2311.00739).

A held-out check: ``../shared/data/llm_lf_datasculpt/output/{youtube,sms}/{gpt-3.5-turbo,gpt-4-turbo}.txt`` hold the
keyword LFs DataSculpt obtained by prompting GPT-3.5 / GPT-4 on the WRENCH youtube and sms training sets (one
``keyword->class`` a line, keywords lower-cased and Porter-stemmed). Nothing in polarlab was chosen on these rules.
They are read by :func:`polarlab.sources.read_rule_file` with DataSculpt's matching (``matching="stemmed"``: the
phrase among the text's stemmed token n-grams, :mod:`polarlab.sources.stemmed`) and applied to the WRENCH train split
(the fit rows; gold never read) and test split.

Per rule set and seed (0-4 by default), on the test split: accuracy, the WRENCH metric (youtube accuracy, sms binary
F1) and macro-F1 of MV (WRENCH's seeded random tie-break), Snorkel and Dawid–Skene (polarlab's default options),
each followed by a logistic regression on the same features (``+lr``), POLAR's h(x) alone (``polar_h``) and POLAR's
final output (``polar``, defaults; its combination, the held-out agreement / SE table, the vote-shift check of the
test rows and its warnings reported). Features: ``embedding`` (the shipped MiniLM). The methods' code is
``benchmarks/spam_tutorial.py: run_seed`` over :func:`polarlab.bench.methods.fit_methods` (shared, not copied).

Gold-free statistics of each rule set (rules and votes per class, coverage, overlap, conflict on both splits) come
first. Under ``diagnosis`` (test gold, read only to explain a result, never to choose anything): the rules' accuracy
where they vote, each method's accuracy on the test rows with and without a vote, and POLAR's output with the
vote-shift decision forced either way (``polar_votes``: the chosen combination; ``polar_fallback``: the
features-only fallback classifier).

    python benchmarks/datasculpt_lfs.py [--sets youtube/gpt-4-turbo,...] [--seeds 0,1,2,3,4] [--state-dir .polarlab]

The last line printed is one JSON object: {"sets": {"<dataset>/<model>": {"rules", "lf_stats", "summary": {method:
{metric: {"mean", "min", "max", "std"}}}, "polar_wins": {metric: {...}}, "runs": {seed: {"labels", "harmonizer",
"paired"}}, "diagnosis"}}, "polar_ge_all": {set: {metric: bool}}, "settings", "seconds"}.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402  (after OMP_NUM_THREADS: the thread count is read at import)

from polarlab.io.jsonout import dumps  # noqa: E402  strict JSON last line: NaN / ±inf as null
sys.path.insert(0, str(Path(__file__).resolve().parent))

from spam_tutorial import polar_wins, run_seed, summarize  # noqa: E402

from polarlab.bench.methods import BASELINES, METHODS  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
RULES = "llm_lf_datasculpt/output"
SETS = ("youtube/gpt-3.5-turbo", "youtube/gpt-4-turbo", "sms/gpt-3.5-turbo", "sms/gpt-4-turbo")
METRICS = ("accuracy", "wrench_metric", "macro_f1")


def lf_stats(L: np.ndarray, labels: list[int], k: int) -> dict:
    """Gold-free statistics of a vote matrix ``L`` (n, m) whose source j only ever votes ``labels[j]``."""
    from polarlab.matrix.analysis import summary
    from polarlab.matrix.label_matrix import LabelMatrix

    s = summary(LabelMatrix(L, [str(j) for j in range(L.shape[1])], [str(i) for i in range(len(L))], k))
    voted = L >= 0
    per_row = voted.sum(axis=1)
    return {"n": s["n"], "rules": s["m"], "coverage": round(s["coverage"], 4), "overlap": round(s["overlap"], 4),
            "conflict": round(s["conflict"], 4),
            "rules_per_class": [int(np.sum(np.asarray(labels) == c)) for c in range(k)],
            "rules_that_fire": int(voted.any(axis=0).sum()),
            "votes_per_class": [int((L == c).sum()) for c in range(k)],
            "rows_voted_only": {str(c): int(((L == c).any(axis=1) & ~((L >= 0) & (L != c)).any(axis=1)).sum())
                                for c in range(k)},
            "mean_votes_per_covered_row": round(float(per_row[per_row > 0].mean()), 3) if (per_row > 0).any() else 0.0}


def diagnose(L_test: np.ndarray, X_test: np.ndarray, y: np.ndarray, fitted: dict, dataset: str) -> dict:
    """Test-gold diagnosis of one seed (reported, never used to choose): see the module docstring."""
    from polarlab.metrics import classification_metrics

    probas = dict(fitted["probas"])
    h = fitted["harmonizer"]
    if getattr(h, "combiner_", None) is not None:
        probas["polar_votes"] = h.predict_proba(L_test, X_test, use_votes=True)
        probas["polar_fallback"] = h.predict_proba(L_test, X_test, use_votes=False)
    covered = (L_test >= 0).any(axis=1)
    out: dict = {"test_rows_with_vote": int(covered.sum()), "test_rows_without_vote": int((~covered).sum()),
                 "by_rows": {}}
    for m, P in probas.items():
        pred = P.argmax(axis=1)
        scores = classification_metrics(y, P, dataset=dataset)
        out["by_rows"][m] = {"all": {k: round(float(scores[k]), 4) for k in METRICS},
                             "acc_with_vote": round(float((pred[covered] == y[covered]).mean()), 4) if covered.any()
                             else None,
                             "acc_without_vote": round(float((pred[~covered] == y[~covered]).mean()), 4)
                             if (~covered).any() else None,
                             "predicted_share": [round(float((pred == c).mean()), 4) for c in range(P.shape[1])]}
    acc = [float((L_test[L_test[:, j] >= 0, j] == y[L_test[:, j] >= 0]).mean())
           for j in range(L_test.shape[1]) if (L_test[:, j] >= 0).any()]
    out["rules_test_accuracy"] = {"mean": round(float(np.mean(acc)), 4), "min": round(float(np.min(acc)), 4),
                                  "rules_scored": len(acc)} if acc else None
    out["gold_share"] = [round(float((y == c).mean()), 4) for c in range(next(iter(probas.values())).shape[1])]
    return out


def load_set(name: str, data: Path, state_dir: Path, X_cache: dict | None = None) -> dict:
    """The data of rule set ``<dataset>/<model>`` (also read by ``benchmarks/uncovered_gap.py``).

    The WRENCH task and its ``train`` (fit) and ``test`` splits; the rules: DataSculpt's ``<model>.txt`` read with
    its stemmed matching, or for ``<dataset>/wrench`` the dataset's own rules (their stored votes); their votes on
    both splits (gold never read); the ``embedding`` features of both (fitted on the train texts, cached under
    ``state_dir/features``; ``X_cache``: dataset -> features, reused across the rule sets of a dataset).

    Returns:
        {"dataset", "task", "fit", "test", "rules" (None for ``wrench``), "L": {"train", "test"} (n, m) votes,
        "X": {"train", "test"} (n, d) features}.
    """
    from polarlab.data.wrench import load_wrench, wrench_task
    from polarlab.features import make_features
    from polarlab.matrix import apply_sources
    from polarlab.sources import read_rule_file

    dataset, model = name.split("/")
    task = wrench_task(data / dataset)
    splits = load_wrench(data / dataset, task)
    fit, test = splits["train"], splits["test"]
    rules = None
    if model == "wrench":
        L = {"train": fit.weak_labels, "test": test.weak_labels}
    else:
        rules = read_rule_file(data / RULES / dataset / f"{model}.txt", matching="stemmed", task=task)
        L = {s: apply_sources(ds.without_gold(), rules.sources, task, progress=False, workers=1).L
             for s, ds in (("train", fit), ("test", test))}
    X_cache = {} if X_cache is None else X_cache
    if dataset not in X_cache:
        ext = make_features("embedding", cache_dir=str(state_dir / "features")).fit(fit.without_gold())
        X_cache[dataset] = {"train": ext.transform(fit.without_gold()), "test": ext.transform(test.without_gold())}
    return {"dataset": dataset, "task": task, "fit": fit, "test": test, "rules": rules, "L": L,
            "X": X_cache[dataset]}


def run_set(name: str, data: Path, seeds: list[int], state_dir: Path, X_cache: dict) -> dict:
    """Every method on one rule set, seeds ``seeds``."""
    d = load_set(name, data, state_dir, X_cache)
    if d["rules"] is None:
        raise SystemExit(f"{name}: give a DataSculpt rule set (<dataset>/<model>, model one of the files under "
                         f"{RULES}/<dataset>)")
    dataset, task, rules, L, X = d["dataset"], d["task"], d["rules"], d["L"], d["X"]
    y = d["test"].gold
    labels = rules.labels(task)
    out: dict = {"rules": rules.summary(),
                 "lf_stats": {s: lf_stats(L[s], labels, task.n_classes) for s in ("train", "test")},
                 "runs": {}, "diagnosis": {}}
    for seed in seeds:
        r = run_seed(L, X, y, seed, snorkel=None, dataset=dataset, metrics=METRICS, n_classes=task.n_classes,
                     keep=True)
        out["diagnosis"][seed] = diagnose(L["test"], X["test"], y, r.pop("fitted"), dataset)
        out["runs"][seed] = r
    out["summary"] = summarize(out["runs"], METRICS)
    out["polar_wins"] = polar_wins(out["summary"], METRICS)
    return out


def table(name: str, res: dict) -> str:
    """The set's summary as text: method, then per metric ``mean [min, max]``."""
    tr, te = res["lf_stats"]["train"], res["lf_stats"]["test"]
    lines = [f"\n{name}  rules {tr['rules']} (per class {tr['rules_per_class']}), coverage train {tr['coverage']:.3f}"
             f" / test {te['coverage']:.3f}, conflict {tr['conflict']:.3f}",
             f"  {'method':15s}" + "".join(f"{k:>26s}" for k in METRICS)]
    for m in METHODS:
        v = res["summary"][m]
        lines.append(f"  {m:15s}" + "".join(f"  {v[k]['mean']:.4f} [{v[k]['min']:.4f}, {v[k]['max']:.4f}]"
                                             for k in METRICS))
    combos = sorted({r["harmonizer"]["combine"] for r in res["runs"].values()})
    shifted = sorted({bool((r["harmonizer"].get("vote_shift_test") or {}).get("shifted"))
                      for r in res["runs"].values()})
    wins = {k: (w["polar_ge_all"], w["best_baseline"], w["margin"]) for k, w in res["polar_wins"].items()}
    lines.append(f"  POLAR chose {combos}, test votes shifted {shifted}; polar >= all (best baseline, margin): {wins}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--sets", default=",".join(SETS), help="comma-separated <dataset>/<model> rule sets")
    ap.add_argument("--seeds", default="0,1,2,3,4")
    ap.add_argument("--state-dir", type=Path, default=Path(".polarlab"))
    a = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    t0 = time.perf_counter()
    seeds = [int(s) for s in a.seeds.split(",") if s]
    result: dict = {"sets": {}, "polar_ge_all": {}, "seconds": {},
                    "settings": {"seeds": seeds, "features": "embedding", "matching": "stemmed",
                                 "baselines": list(BASELINES)}}
    X_cache: dict = {}
    for name in [s for s in a.sets.split(",") if s]:
        t = time.perf_counter()
        res = run_set(name, a.data, seeds, a.state_dir, X_cache)
        result["sets"][name] = res
        result["polar_ge_all"][name] = {k: w["polar_ge_all"] for k, w in res["polar_wins"].items()}
        result["seconds"][name] = round(time.perf_counter() - t, 1)
        print(table(name, res), file=sys.stderr, flush=True)
    result["seconds"]["total"] = round(time.perf_counter() - t0, 1)
    print(dumps(result, default=float))
    return result


if __name__ == "__main__":
    main()
