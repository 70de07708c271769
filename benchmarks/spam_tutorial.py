"""POLAR vs label models (and label model → logistic regression) on the Snorkel spam tutorial's own data and LFs.

A stand-in for a dataset the harmonizer was never tuned on: nothing here is chosen for it (POLAR runs with its
defaults; its choice of final distribution is made without gold and reported).

Data and split as the tutorial's ``load_spam_dataset`` (``benchmarks/snorkel_parity.py: load_spam``): videos
Youtube01-04 are the training split (1,586 rows, each file shuffled with seed 123; their gold is never read; the
tutorial's 100-row dev sample of them is not separated, nothing here uses dev labels), Youtube05 gives 250 test rows
(stratified, seed 123; its other 120 rows are the tutorial's valid split, unused). Sources: the tutorial's labeling
functions as Snorkel LFs (``benchmarks/python_lfs.py: tutorial_lfs``), applied by polarlab and checked equal to
Snorkel's ``PandasLFApplier`` on both splits.

Methods on the test split: MV (WRENCH's seeded random tie-break), Snorkel's LabelModel (the tutorial's settings:
``n_epochs=500, log_freq=100, seed=123``, lr 0.01, no L2; our wrapper checked equal to Snorkel's own object),
Dawid–Skene, each followed by a logistic regression on the same features (``+lr``), POLAR's h(x) alone
(``polar_h``) and POLAR's final output (``polar``, with the chosen combination and the held-out agreement / SE
table). Features: ``embedding`` (the shipped MiniLM) and ``tfidf``; seeds (harmonizer and tie-break) 0-4.
``snorkel_check`` reports Snorkel's own ``score(..., tie_break_policy="random")`` of MV and the LabelModel, to set
against the tutorial's published numbers.

    python benchmarks/spam_tutorial.py [--seeds 0,1,2,3,4] [--features embedding,tfidf] [--state-dir .polarlab]

The last line printed is one JSON object: {"split", "lfs", "matrices_equal", "snorkel_check", "summary":
{features: {method: {"accuracy": {"mean", "min", "max", "std"}, "macro_f1": {...}}}}, "polar_wins": {features:
{metric: {...}}}, "runs": {features: {seed: {"labels", "harmonizer", "paired"}}}, "seconds"}; "paired": per
baseline, the test rows only POLAR / only the baseline gets right and their sign-test p-value (gold only reports).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402  (after OMP_NUM_THREADS: the thread count is read at import)

from polarlab.io.jsonout import dumps  # noqa: E402  strict JSON last line: NaN / ±inf as null
sys.path.insert(0, str(Path(__file__).resolve().parent))

from python_lfs import tutorial_lfs  # noqa: E402
from snorkel_parity import DATA, load_spam  # noqa: E402

from polarlab.bench.methods import BASELINES, METHODS  # noqa: E402

METRICS = ("accuracy", "macro_f1")
SNORKEL = {"epochs": 500, "lr": 0.01, "l2": 0.0, "seed": 123}      # the tutorial's LabelModel.fit settings


def spread(values: list[float]) -> dict[str, float]:
    """Mean, min, max and (population) standard deviation of ``values``, rounded to 4 places."""
    v = np.asarray(values, dtype=np.float64)
    return {"mean": round(float(v.mean()), 4), "min": round(float(v.min()), 4), "max": round(float(v.max()), 4),
            "std": round(float(v.std()), 4)}


def summarize(runs: dict[int, dict], metrics: tuple[str, ...] = METRICS) -> dict[str, dict[str, dict[str, float]]]:
    """Seed -> {"labels": {method: {metric: value}}} as method -> metric -> :func:`spread` over the seeds."""
    methods = list(next(iter(runs.values()))["labels"])
    return {m: {k: spread([r["labels"][m][k] for r in runs.values()]) for k in metrics} for m in methods}


def polar_wins(summary: dict[str, dict[str, dict[str, float]]], metrics: tuple[str, ...] = METRICS) -> dict[str, dict]:
    """Per metric: POLAR's mean minus the best baseline's mean (positive = POLAR better), and whether POLAR's mean
    is ≥ every baseline's."""
    out = {}
    for k in metrics:
        best = max(BASELINES, key=lambda m: summary[m][k]["mean"])
        margin = summary["polar"][k]["mean"] - summary[best][k]["mean"]
        out[k] = {"best_baseline": best, "best_baseline_mean": summary[best][k]["mean"],
                  "polar_mean": summary["polar"][k]["mean"], "margin": round(margin, 4), "polar_ge_all": margin >= 0}
    return out


def apply_lfs(train, test, task) -> tuple[dict, bool]:
    """The tutorial's LFs on both splits by polarlab; True when Snorkel's PandasLFApplier gives the same matrices."""
    from snorkel.labeling import PandasLFApplier

    from polarlab.matrix import apply_sources
    from polarlab.sources import from_snorkel

    L, equal = {}, True
    for name, (frame, ds) in {"train": train, "test": test}.items():
        L[name] = apply_sources(ds, from_snorkel(tutorial_lfs()), task, progress=False, workers=1).L
        equal &= bool(np.array_equal(L[name], PandasLFApplier(tutorial_lfs()).apply(frame, progress_bar=False)))
    return L, equal


def snorkel_check(L_train: np.ndarray, L_test: np.ndarray, y_test: np.ndarray) -> dict:
    """Snorkel's own objects, as the tutorial runs them: accuracy by their ``score`` (random tie-break by hash), and
    the largest difference between Snorkel's LabelModel probabilities and polarlab's wrapper's."""
    from snorkel.labeling.model import LabelModel, MajorityLabelVoter

    from polarlab.labelmodels import make_label_model

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lm = LabelModel(cardinality=2, verbose=False)
        lm.fit(L_train=L_train, n_epochs=500, log_freq=100, seed=123)
        ours = make_label_model("snorkel", 2, **SNORKEL).fit(L_train).predict_proba(L_test)
        mv = MajorityLabelVoter(cardinality=2)
        return {"label_model_accuracy": lm.score(L=L_test, Y=y_test, tie_break_policy="random")["accuracy"],
                "majority_vote_accuracy": mv.score(L=L_test, Y=y_test, tie_break_policy="random")["accuracy"],
                "wrapper_max_abs_diff": float(np.abs(lm.predict_proba(L_test) - ours).max()),
                "test_rows_without_vote": int((L_test < 0).all(axis=1).sum())}


def run_seed(L: dict, X: dict, y: np.ndarray, seed: int, *, snorkel: dict | None = SNORKEL, dataset: str = "spam",
             metrics: tuple[str, ...] = METRICS, n_classes: int = 2, keep: bool = False,
             harmonizer: dict | None = None) -> dict:
    """Every method on one feature set and seed; {"labels": {method: {metric}}, "harmonizer": report}.

    ``snorkel``: the LabelModel's options (default the tutorial's; None = polarlab's defaults); ``dataset`` names the
    WRENCH metric (:func:`polarlab.metrics.classification_metrics`); ``L``/``X``: ``{"train", "test"}`` arrays;
    ``keep``: also return ``"fitted": {"probas": {method: (n_test, k)}, "harmonizer": the fitted POLAR}``;
    ``harmonizer``: options of POLAR beyond the seed (e.g. ``{"n_seeds": 5}``)."""
    from polarlab.bench.methods import fit_methods, score_methods, supervision_messages
    from polarlab.bench.wrench import combination_report

    fits = fit_methods(L["train"], L["test"], X["train"], X["test"], n_classes, seed=seed,
                       options={"snorkel": dict(snorkel or {})}, harmonizer=harmonizer)
    h = fits.harmonizer
    report = combination_report(h)
    report["vote_shift_test"] = h.vote_shift(L["test"], X["test"]).to_dict() if getattr(h, "combiner_", None) else None
    report["fit_warnings"] = supervision_messages(fits.fit_warnings + fits.test_warnings)
    out = {"labels": score_methods(y, fits.probas, dataset, metrics, methods=METHODS, digits=4), "harmonizer": report,
           "paired": paired(y, fits.probas)}
    if keep:
        out["fitted"] = {"probas": fits.probas, "harmonizer": h}
    return out


def paired(y: np.ndarray, probas: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """Per baseline: test rows POLAR gets right and the baseline wrong (``polar_only``), the reverse
    (``baseline_only``), and the two-sided sign-test p-value of that split (gold used only to report)."""
    from scipy.stats import binomtest

    right = {m: P.argmax(axis=1) == y for m, P in probas.items()}
    out = {}
    for m in BASELINES:
        a, b = int((right["polar"] & ~right[m]).sum()), int((right[m] & ~right["polar"]).sum())
        out[m] = {"polar_only": a, "baseline_only": b,
                  "sign_test_p": round(float(binomtest(a, a + b).pvalue), 4) if a + b else 1.0}
    return out


def main(argv: list[str] | None = None) -> dict:
    import torch

    from polarlab.data import from_pandas
    from polarlab.features import make_features
    from polarlab.task import Task

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--seeds", default="0,1,2,3,4")
    ap.add_argument("--features", default="embedding,tfidf")
    ap.add_argument("--state-dir", type=Path, default=Path(".polarlab"))
    ap.add_argument("--n-seeds", type=int, default=None, help="POLAR's seed ensemble (default: the harmonizer's)")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    seeds = [int(s) for s in a.seeds.split(",") if s]
    task = Task(labels=("ham", "spam"), name="spam")
    train, test = load_spam(a.data)
    sets = {n: (f, from_pandas(f, task, text_column="text", label_column="label", id_column="id", name=n))
            for n, f in (("train", train), ("test", test))}
    L, equal = apply_lfs(sets["train"], sets["test"], task)
    if not equal:
        raise SystemExit("label matrices differ between Snorkel's PandasLFApplier and polarlab")
    y = sets["test"][1].gold
    result: dict = {"split": {"train": len(train), "test": len(test), "test_spam": int((y == 1).sum())},
                    "lfs": [lf.name for lf in tutorial_lfs()], "matrices_equal": equal,
                    "snorkel_check": snorkel_check(L["train"], L["test"], y), "summary": {}, "polar_wins": {},
                    "runs": {}, "seeds": seeds, "seconds": {}}
    for kind in [k for k in a.features.split(",") if k]:
        t = time.perf_counter()
        ext = make_features(kind, cache_dir=str(a.state_dir / "features")).fit(sets["train"][1])
        X = {n: ext.transform(ds) for n, (_, ds) in sets.items()}
        runs = {s: run_seed(L, X, y, s, harmonizer={} if a.n_seeds is None else {"n_seeds": a.n_seeds}) for s in seeds}
        result["runs"][kind] = runs
        result["summary"][kind] = summarize(runs)
        result["polar_wins"][kind] = polar_wins(result["summary"][kind])
        result["seconds"][kind] = round(time.perf_counter() - t, 1)
        print(f"\n{kind} (test accuracy / macro-F1 over seeds {seeds}: mean [min, max])", file=sys.stderr)
        for m, v in result["summary"][kind].items():
            print(f"  {m:15s}" + "  ".join(f"{v[k]['mean']:.4f} [{v[k]['min']:.4f}, {v[k]['max']:.4f}]" for k in METRICS),
                  file=sys.stderr)
        combos = sorted({r["harmonizer"]["combine"] for r in runs.values()})
        print(f"  POLAR chose {combos}; wins {result['polar_wins'][kind]}", file=sys.stderr, flush=True)
    result["seconds"]["total"] = round(time.perf_counter() - t0, 1)
    print(dumps(result, default=float))
    return result


if __name__ == "__main__":
    main()
