"""End-model quality on WRENCH (youtube, sms, trec, chemprot) and ``polarlab predict`` throughput.

For each dataset: the rules (WRENCH's precomputed labeling functions; no LLM: the embedded LLM is slow on a
shared 2-core machine) vote on the fit split (``train``; chemprot: ``valid``, its train split is not in
``../shared/data``). Label models fitted there without gold give the training labels of an end model, the
logistic regression on all-MiniLM-L6-v2 sentence embeddings (``polarlab.endmodel``, one default
configuration for every dataset):

* ``mv`` / ``snorkel``: majority vote / Snorkel LabelModel posteriors (soft labels, weight 1);
* ``polar``: POLAR harmonizer posteriors, sample weight 1 - risk (risk = 1 - max posterior);
* ``polar_self_training``: the same, plus self-training on the pool (fit rows no rule covers);
* ``gold``: the fit split's gold labels (the upper bound).

As in WRENCH, the weakly-labelled end models train on the rows at least one rule covers. Each is scored
on the test split with WRENCH's metric (accuracy; binary F1 for sms). WRENCH's published end-model figures
come from ``benchmarks/wrench_published.json`` (each figure with its source, or where it was looked for
and not found; never a number from memory) into ``wrench_published`` and the printed lines.

Each dataset also reports the self-training run (pool size, rounds, stop reason) and, as a diagnostic the
run never sees, the test metric of every round's model (``test_metric_by_round``).

Then, unless ``--skip-predict``, ``polarlab predict`` on ``--predict-rows`` generated texts and on 1,000
(``benchmarks/predict.py``: rows/s and peak memory of a fresh process, one torch thread).

The last line printed is one JSON object: ``{"youtube": {"mv": .., "snorkel": .., "polar": ..,
"polar_self_training": .., "gold": .., ...}, ..., "predict": {...}}``.

    python benchmarks/end_model.py [--datasets youtube,sms] [--predict-rows 100000] [--skip-predict]
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402  (after OMP_NUM_THREADS: the thread count is read at import)

from polarlab.io.jsonout import dumps  # noqa: E402  strict JSON last line: NaN / ±inf as null
DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
DATASETS = ("youtube", "sms", "trec", "chemprot")
PUBLISHED = Path(__file__).resolve().parent / "wrench_published.json"


def load_published(path: Path = PUBLISHED) -> dict:
    """WRENCH's published end-model figures (``benchmarks/wrench_published.json``), each with its source."""
    return json.loads(path.read_text(encoding="utf-8"))


def run_dataset(name: str, state_dir: Path, published: dict, seed: int = 0, data: Path = DATA) -> dict:
    from polarlab.data.wrench import load_wrench, wrench_task
    from polarlab.endmodel import SelfTraining, Targets, make_end_model
    from polarlab.harmonizer import PolarHarmonizer
    from polarlab.labelmodels import make_label_model
    from polarlab.matrix.apply import apply_sources
    from polarlab.metrics import metric_for, wrench_metric
    from polarlab.pipeline import featurize
    from polarlab.sources.votes import weak_label_sources

    t0 = time.perf_counter()
    directory = data / name
    task = wrench_task(directory)
    splits = load_wrench(directory, task)
    fit = splits["train"] if "train" in splits else splits["valid"]
    test = splits["test"]
    if fit.is_tabular:        # the end models are sentence-embedding classifiers: nothing to train on here
        return {"skipped": "tabular data (data.feature, no text): the end models (logreg, transformer) read text",
                "n_fit": len(fit), "n_test": len(test)}
    rules = weak_label_sources(fit)
    L = apply_sources(fit, rules, task, progress=False).L
    # POLAR as `polarlab run` makes it: the default harmonizer on the default ("auto") features, its final
    # output (h(x) alone or h(x) as the prior of the row's votes, chosen without gold)
    X = featurize({"fit": fit}, "fit", "auto", state_dir / "features")["fit"]
    covered = (L >= 0).any(axis=1)
    k = task.n_classes
    polar = PolarHarmonizer(k, seed=seed).fit(L, X)
    labels = {
        "mv": make_label_model("mv", k).fit(L).predict_proba(L),
        "snorkel": make_label_model("snorkel", k).fit(L).predict_proba(L),
        "polar": polar.predict_proba(L, X),
    }
    cache = state_dir / "features"
    new = lambda: make_end_model("logreg", task, cache_dir=cache)  # noqa: E731
    lab, pool = fit.subset(np.flatnonzero(covered)), fit.subset(np.flatnonzero(~covered))
    out: dict = {"metric": None, "n_fit": len(fit), "fit_split": fit.name, "n_test": len(test),
                 "coverage": float(covered.mean()), "n_pool": int((~covered).sum()),
                 "polar_combine": polar.combine_}
    scores, label_quality = {}, {}
    def scored(y: np.ndarray, pred: np.ndarray) -> tuple[str, float | None]:
        """The WRENCH metric on the rows with gold (-1 = none: WRENCH's spouse has no train gold); None if none."""
        ok = np.asarray(y) >= 0
        return (wrench_metric(name, y[ok], np.asarray(pred)[ok]) if ok.any()
                else (metric_for(name), None))

    test_score = lambda model: scored(test.gold, model.predict(test))[1]  # noqa: E731
    for method, P in labels.items():
        weight_risk = 1.0 - P.max(axis=1) if method == "polar" else None
        targets = Targets.from_risk(P[covered], None if weight_risk is None else weight_risk[covered])
        model = new().fit(lab, targets)
        metric, scores[method] = scored(test.gold, model.predict(test))
        _, label_quality[method] = scored(fit.gold[covered], P[covered].argmax(1))
        if method == "polar":
            # diagnostic only (the run's choices never see it): the test metric of every round's model
            per_round: dict[int, float] = {}
            st = SelfTraining(new(), seed=seed, on_round=lambda r, m: per_round.__setitem__(r, test_score(m))
                              ).fit(lab, targets, pool)
            scores["polar_self_training"] = test_score(st.model_)
            out["self_training"] = st.result_.to_dict()
            out["self_training"]["test_metric_by_round"] = per_round
            # the rule before this change (keep a round only if its held-out agreement is higher), for comparison
            old = SelfTraining(new(), seed=seed, accept="improve").fit(lab, targets, pool)
            out["polar_self_training_improve_rule"] = test_score(old.model_)
            out["self_training_improve_rule"] = old.result_.to_dict()
    has = np.flatnonzero(fit.gold >= 0)          # the gold bound: rows with gold only (never -1 as a class)
    if len(has):
        gold_model = new().fit(fit.subset(has), Targets(np.eye(k)[fit.gold[has]]))
        out["metric"], scores["gold"] = scored(test.gold, gold_model.predict(test))
    else:
        out["metric"], scores["gold"] = metric_for(name), None
    out.update(scores)
    out["train_label_quality_on_covered"] = label_quality
    out["wrench_published"] = published.get("datasets", {}).get(name)
    out["seconds"] = time.perf_counter() - t0
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--datasets", default=",".join(DATASETS))
    ap.add_argument("--predict-rows", type=int, default=100_000)
    ap.add_argument("--skip-predict", action="store_true")
    ap.add_argument("--state-dir", type=Path, default=Path(".polarlab"))
    ap.add_argument("--data", type=Path, default=DATA, help="the folder of WRENCH datasets")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    result: dict = {}
    published = load_published()
    for name in [d for d in args.datasets.split(",") if d]:
        result[name] = run_dataset(name, args.state_dir, published, data=args.data)
        r = result[name]
        if "skipped" in r:
            print(f"{name:9s} skipped: {r['skipped']}", flush=True)
            continue
        print(f"{name:9s} {r['metric']:9s} " + "  ".join(f"{m}={'-' if r[m] is None else format(r[m], '.3f')}" for m in
              ("mv", "snorkel", "polar", "polar_self_training", "gold")) + f"  ({r['seconds']:.0f}s)", flush=True)
        figures = (r["wrench_published"] or {}).get("figures", [])
        for fig in figures:
            print(f"{'':9s} WRENCH published: {fig['label_model']}+{fig['end_model']} ({fig['features']}) = "
                  f"{fig['value']:.3f}  [{fig['source']}]", flush=True)
        if not figures:
            print(f"{'':9s} WRENCH published: {published.get('status', 'none')} ({PUBLISHED.name})", flush=True)
    if not args.skip_predict:
        from predict import measure   # benchmarks/predict.py

        result["predict"] = measure([1000, args.predict_rows], 1, 1024, args.state_dir)
        p = result["predict"]
        print(f"predict: {p['rows']} rows, {p['rows_per_s']:.0f} rows/s, peak RSS {p['peak_rss_mb']} MB", flush=True)
    print(dumps(result, separators=(",", ":")))


if __name__ == "__main__":
    main()
