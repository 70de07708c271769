"""Why POLAR's h(x) labels the rows no rule votes on worse than a two-stage baseline's classifier (issue 10).

On DataSculpt's LLM-written rules for WRENCH sms (and WRENCH sms's own rules), the two-stage baselines' logistic
regression is right on 95-97 % of the test rows no rule votes on, POLAR's prior / h(x) on 84-92 %, although both are
classifiers on the same MiniLM embeddings trained from the same rules. This script changes one thing at a time between
the two, on the same features, and scores every variant on the test rows with and without a vote (test gold read only
to score; nothing here is chosen on it).

Per setting (``<dataset>/<rules>``: ``wrench`` = WRENCH's own rules, else a DataSculpt rule file) and seed:

* ``classifiers``: features-only models, scored on the test split: POLAR's first-stage h as trained (linear
  scalarization, weight_decay 0, early stopping on held-out votes), without early stopping, with an L2 penalty
  (the ``weight_decay`` equal to scikit-learn's ``C``, :func:`l2`); then scikit-learn replicas: the
  logistic regression on h's own objective (every covered row once per class, weighted by the number of votes for
  that class: the linear scalarization with equal source weights) unpenalised (C = 1e4) and with C chosen by 3-fold
  log-loss (the two-stage baseline's rule), the same with each row's weights summing to 1 (vote shares), with the
  votes' argmax (hard labels), with majority vote's labels (random tie-break) and the baselines ``mv+lr`` /
  ``snorkel+lr``.
* ``polar``: the whole harmonizer (defaults) and with one change: an L2-penalised h (C chosen without gold by 3-fold
  log-loss of h's own objective, then no early stopping; every copy of h, the second stage's too, inherits it), the
  ``ds:1`` combination (Dawid–Skene with abstain as a response: a rule's silence is evidence) and both.
* ``second_stage``: the labels POLAR's second stage learns for the fit rows no rule votes on (the cross-fitted first
  h's) — share of class 1 and, for the diagnosis, their accuracy and the gold share.

    python benchmarks/uncovered_gap.py [--settings sms/gpt-4-turbo,...] [--seeds 0] [--state-dir .polarlab]

The last line printed is one JSON object: {"settings": {setting: {seed: {"classifiers", "polar", "second_stage",
"facts"}}}, "seconds"}; every score is {"wrench_metric", "acc_uncovered", "acc_covered", "share1_uncovered"}.
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
sys.path.insert(0, str(Path(__file__).resolve().parent))          # datasculpt_lfs (the shared loader)

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SETTINGS = ("sms/gpt-4-turbo", "sms/gpt-3.5-turbo", "sms/wrench", "youtube/gpt-4-turbo", "youtube/gpt-3.5-turbo",
            "youtube/wrench")
POLAR_VARIANTS = {"default": {}, "l2_cv": {"C": "cv", "val_fraction": 0.0}, "ds:1": {"combine": "ds:1"},
                  "ds:1+l2_cv": {"combine": "ds:1", "C": "cv", "val_fraction": 0.0}}
"""The whole harmonizer's variants: ``C``: h's L2 strength (``"cv"``: the C that 3-fold log-loss of h's own objective
chooses among 0.001-1, :func:`scalarized_lr`, without gold; then no early stopping)."""


def load_setting(name: str, data: Path, state_dir: Path, X_cache: dict | None = None) -> dict:
    """Votes (train / test), embeddings and gold (gold only to score) of ``<dataset>/<rules>``, loaded as
    ``benchmarks/datasculpt_lfs.py`` loads a rule set (:func:`datasculpt_lfs.load_set`; ``X_cache``: its features
    cache, shared by the settings of a dataset)."""
    from datasculpt_lfs import load_set

    d = load_set(name, data, state_dir, X_cache)
    return {"dataset": d["dataset"], "k": d["task"].n_classes, "Lf": np.asarray(d["L"]["train"]),
            "Lt": np.asarray(d["L"]["test"]), "Xf": d["X"]["train"], "Xt": d["X"]["test"],
            "yf": np.asarray(d["fit"].gold), "yt": np.asarray(d["test"].gold)}


def vote_weights(L: np.ndarray, k: int) -> np.ndarray:
    """``A[i, c]`` = number of sources voting c on row i, shape (n, k): the linear scalarization's per-class weights
    with equal source weights (:func:`polarlab.harmonizer.scalarize.class_aggregate`)."""
    return np.stack([(L == c).sum(axis=1) for c in range(k)], axis=1).astype(np.float64)


def scalarized_lr(L: np.ndarray, X: np.ndarray, k: int, Cs=(0.001, 0.01, 0.1, 1.0), shares: bool = False):
    """A standardised logistic regression on h's own objective: each covered row once per class c, weighted by
    ``A[i, c]`` (:func:`vote_weights`; ``shares``: divided by the row's number of votes), L2 strength ``C`` chosen by
    3-fold log-loss among ``Cs`` (one value = fixed). Returns the fitted
    :class:`polarlab.harmonizer.stage2.FeatureClassifier`."""
    from polarlab.harmonizer.stage2 import FeatureClassifier

    A = vote_weights(L, k)
    covered = A.sum(axis=1) > 0
    if shares:
        A = A / np.clip(A.sum(axis=1, keepdims=True), 1e-12, None)
    y = np.where(covered, A.argmax(axis=1), -1)
    return FeatureClassifier(k, Cs=Cs).fit(y, X, scale_all_rows=True, soft=A)


def score(P: np.ndarray, d: dict) -> dict:
    """WRENCH metric of ``P`` (n_test, k) and its accuracy on the test rows with / without a vote (gold: scoring)."""
    from polarlab.metrics import classification_metrics

    y, covered = d["yt"], (d["Lt"] >= 0).any(axis=1)
    pred = P.argmax(axis=1)
    return {"wrench_metric": round(float(classification_metrics(y, P, dataset=d["dataset"])["wrench_metric"]), 4),
            "acc_uncovered": _mean(pred[~covered] == y[~covered]), "acc_covered": _mean(pred[covered] == y[covered]),
            "share1_uncovered": _mean(pred[~covered] == 1)}


def _mean(x: np.ndarray) -> float | None:
    """The mean rounded to 4 places; None for no rows (JSON has no NaN)."""
    return round(float(x.mean()), 4) if x.size else None


def l2(C: float, n_fit: int, k: int, val_fraction: float = 0.1) -> float:
    """h's ``weight_decay`` equal to scikit-learn's L2 strength ``C`` on h's training rows: h minimises the mean loss
    + ``weight_decay / 2 · ||W||²`` over its k weight rows, scikit-learn ``C · Σ loss + ||w||² / 2`` over k rows, or for
    k = 2 over one row w = W_1 - W_0 (at h's optimum W_0 = -W_1, so ``||W||² = ||w||² / 2``: twice the decay)."""
    return (2.0 if k == 2 else 1.0) / (C * round((1.0 - val_fraction) * n_fit))


def classifiers(d: dict, seed: int) -> dict:
    """The features-only classifiers of the module docstring, each scored by :func:`score` on setting ``d``."""
    from polarlab.harmonizer import PolarHarmonizer
    from polarlab.harmonizer.stage2 import FeatureClassifier
    from polarlab.labelmodels import make_label_model

    k, Lf, Xf, Xt = d["k"], d["Lf"], d["Xf"], d["Xt"]
    out = {}

    def h_only(**opts):
        h = PolarHarmonizer(k, seed=seed, combine="h", **opts).fit(Lf, Xf)
        return {**score(h.predict_h(Xt), d), "best_epoch": h.best_epoch_}

    out["h (POLAR, as trained)"] = h_only()
    out["h, no early stopping"] = h_only(val_fraction=0.0)
    for C in (0.1, 0.01):
        out[f"h, L2 C={C}"] = h_only(weight_decay=l2(C, len(Lf), k))
        out[f"h, L2 C={C}, no early stopping"] = h_only(weight_decay=l2(C, len(Lf), k, 0.0), val_fraction=0.0)
    for key, clf in (("lr on h's objective, C=1e4", scalarized_lr(Lf, Xf, k, Cs=(1e4,))),
                     ("lr on h's objective, C by CV", scalarized_lr(Lf, Xf, k)),
                     ("lr on vote shares (row weight 1), C by CV", scalarized_lr(Lf, Xf, k, shares=True))):
        out[key] = {**score(clf.proba(Xt), d), "C": clf.chosen_C_}
    A = vote_weights(Lf, k)
    covered = A.sum(axis=1) > 0
    hard = FeatureClassifier(k).fit(np.where(covered, A.argmax(axis=1), -1), Xf, scale_all_rows=True)
    out["lr on the votes' argmax (ties: class 0), C by CV"] = {**score(hard.proba(Xt), d), "C": hard.chosen_C_}
    mv = make_label_model("mv", k, seed=seed).fit(Lf)
    y_mv = np.where(covered, mv.predict_proba(Lf).argmax(axis=1), -1)
    mvc = FeatureClassifier(k).fit(y_mv, Xf, scale_all_rows=True)
    out["lr on MV (random tie-break), C by CV"] = {**score(mvc.proba(Xt), d), "C": mvc.chosen_C_}
    for m in ("mv+lr", "snorkel+lr"):
        out[m] = score(make_label_model(m, k, seed=seed).fit(Lf, Xf).predict_proba(None, Xt), d)
    return out


def polar_variants(d: dict, seed: int) -> dict:
    """The whole harmonizer with each of :data:`POLAR_VARIANTS`: its output, its output reading the test votes
    (``votes_forced``), its prior's and h's accuracy on the uncovered test rows, its combination and C."""
    from polarlab.harmonizer import PolarHarmonizer

    k, Lf, Xf = d["k"], d["Lf"], d["Xf"]
    out = {}
    for name, spec in POLAR_VARIANTS.items():
        opts = dict(spec)
        C = opts.pop("C", None)
        if C == "cv":
            C = scalarized_lr(Lf, Xf, k).chosen_C_
        if C is not None:
            opts["weight_decay"] = l2(C, len(Lf), k, opts.get("val_fraction", 0.1))
        h = PolarHarmonizer(k, seed=seed, **opts).fit(Lf, Xf)
        row = score(h.predict_proba(d["Lt"], d["Xt"]), d)
        row["votes_forced"] = score(h.predict_proba(d["Lt"], d["Xt"], use_votes=True), d)
        row["prior_acc_uncovered"] = score(h.prior_proba(d["Xt"]), d)["acc_uncovered"]
        row["h_acc_uncovered"] = score(h.predict_h(d["Xt"]), d)["acc_uncovered"]
        row["combine"] = h.combine_
        row["C"] = C
        out[name] = row
    return out


def second_stage(d: dict, seed: int) -> dict:
    """What the default second stage learns for the uncovered fit rows (cross-fitted first h), gold to score."""
    from polarlab.harmonizer import PolarHarmonizer

    k, Lf, Xf, yf = d["k"], d["Lf"], d["Xf"], d["yf"]
    h = PolarHarmonizer(k, seed=seed, combine="h").fit(Lf, Xf)
    lab = h._cross_fit(Xf, Lf, h.weights_).argmax(axis=1)
    unc = ~(Lf >= 0).any(axis=1)
    return {"uncovered_fit_rows": int(unc.sum()), "share1_labels": round(float((lab[unc] == 1).mean()), 4),
            "acc_labels": round(float((lab[unc] == yf[unc]).mean()), 4),
            "gold_share1": round(float((yf[unc] == 1).mean()), 4)}


def facts(d: dict) -> dict:
    """Class balance of the covered and uncovered rows (gold, train and test) and the votes per class."""
    out = {"votes_per_class": vote_weights(d["Lf"], d["k"]).sum(axis=0).astype(int).tolist()}
    for split, L, y in (("train", d["Lf"], d["yf"]), ("test", d["Lt"], d["yt"])):
        cov = (L >= 0).any(axis=1)
        out[split] = {"covered": int(cov.sum()), "uncovered": int((~cov).sum()),
                      "gold_share1_covered": _mean(y[cov] == 1), "gold_share1_uncovered": _mean(y[~cov] == 1)}
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--settings", default=",".join(SETTINGS))
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--state-dir", type=Path, default=Path(".polarlab"))
    ap.add_argument("--parts", default="classifiers,polar,second_stage")
    a = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    parts = set(a.parts.split(","))
    t0 = time.perf_counter()
    result: dict = {"settings": {}, "seconds": {}}
    X_cache: dict = {}          # dataset -> features: fitted once for its settings
    for name in [s for s in a.settings.split(",") if s]:
        t = time.perf_counter()
        d = load_setting(name, a.data, a.state_dir, X_cache)
        runs = {}
        for seed in [int(s) for s in a.seeds.split(",") if s]:
            r = {"facts": facts(d)}
            if "classifiers" in parts:
                r["classifiers"] = classifiers(d, seed)
            if "polar" in parts:
                r["polar"] = polar_variants(d, seed)
            if "second_stage" in parts:
                r["second_stage"] = second_stage(d, seed)
            runs[seed] = r
            for part in ("classifiers", "polar"):
                for key, v in r.get(part, {}).items():
                    print(f"{name} s{seed} {part:11s} {key:50s} " + " ".join(
                        f"{m}={v[m]}" for m in ("wrench_metric", "acc_uncovered", "acc_covered", "share1_uncovered")),
                        file=sys.stderr, flush=True)
        result["settings"][name] = runs
        result["seconds"][name] = round(time.perf_counter() - t, 1)
    result["seconds"]["total"] = round(time.perf_counter() - t0, 1)
    print(dumps(result, default=float))
    return result


if __name__ == "__main__":
    main()
