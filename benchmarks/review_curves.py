"""Label quality vs share of items reviewed, for five review orders and a gold-reading bound, and the gold-free estimate's accuracy.

For each WRENCH dataset (default youtube, sms, trec, chemprot) the items are the fit split (``train``;
``valid`` for chemprot, which has no train split) with WRENCH's rule votes (``--llm none``: rules only;
the embedded LLM is slow on a shared 2-core machine) and all-MiniLM-L6-v2 embeddings. A simulated
annotator answers with the gold label (``--noise`` flips a share). Every order runs the same loop
(:class:`polarlab.review.SelfPacedReview`): review a batch, add the answers as the top-weight "human"
source, refit POLAR's harmonizer (h(x) alone; ``--combine auto``: its combined output, chosen again
without gold at every refit), label every item (reviewed ones by the annotator) and score the
labels with the WRENCH metric on *all* items. With ``--accepted source`` (SelfPacedReview's default) items accepted
in a round keep their label and are a source of the later refits (``lock``: kept only; ``free``, the default before
2026-12-03: refits may change them). Only which items are reviewed differs:

- ``polar`` (the default of ``SelfPacedReview``): POLAR risk of the current label, recalibrated per
  current label on the answers so far (``P(wrong) = sigmoid(a + b logit(risk) + d_label)``; ties: source
  disagreement), re-ordered after each refit;
- ``risk``: the plain POLAR risk of the current label (the order before that recalibration);
- ``polar_fixed_weights``: the ``polar`` order in a loop whose refits keep the first fit's source weights
  (``SelfPacedReview(reweight_sources=False)``; every other run re-weighs the sources on the answers at each
  refit, the default);
- ``random``: a fixed random order;
- ``snorkel``: Snorkel LabelModel uncertainty (1 - max p), the label model fitted once on the rules;
- ``cleanlab``: ``cleanlab.rank.get_label_quality_scores`` of the current labels with out-of-fold
  logistic-regression probabilities on the embeddings (lowest quality first), recomputed each round;
- ``oracle``: an upper-bound reference, NOT a method (it reads the gold labels): the items whose current
  label is wrong first (ties and the rest by POLAR risk), same rounds and refits. It tells whether any
  order could reach the target in this loop (it is greedy, so not a strict bound: a refit can undo fixes).
  Its ``fixed_only`` entry is the plain arithmetic bound: the first fit's labels with the wrong ones
  fixed (riskiest first) and no refit, i.e. quality at 0 % + the reviewed share of items fixed.

Targets (WRENCH's gold-label LR end model): youtube 94.2 acc, sms 93.8 F1, trec 68.6 acc, chemprot 78.0
acc. Another dataset (e.g. a held-out WRENCH one) has no figure here: its target is a reference computed from
gold, out-of-fold (5-fold) logistic regression on the items' gold labels and features (``target_from``:
``gold_lr_out_of_fold``; it chooses nothing). Items: the ``train`` split, or the first split with gold when train
has none (WRENCH's spouse); rows without gold are left out (counted). Tabular data uses its standardised
``data.feature`` vectors; ``--metric`` forces acc or f1_binary (default: WRENCH's metric for the name). ``fraction_to_target`` = share reviewed when the quality first reaches it (null: never, up to
``--max-fraction``). A further run, ``polar_audit``, spends 20 % of each batch on random risk-stratified
audits and records the gold-free accuracy estimate of the unreviewed labels against their true
accuracy each round (absolute error, interval coverage) and the combined output chosen. ``--robust-weight
W[,W2,...]`` sets the estimate's robust prior (``estimate_accuracy(robust_weight=W)``; default: the library's);
every further weight is computed on the same rounds too (the estimate never steers the loop) and reported under
``estimate_robust_weight``, keyed by the weight, beside ``estimate`` (the first). ``--estimator E[,E2,...]`` does
the same for ``estimate_accuracy(estimator=E)`` (``risk_prior`` | ``evidence`` | ``audit_floor``): further ones
under ``estimate_estimator``, keyed by the name. ``estimate`` is the stopping
rule's, ``estimate("all")`` (every unreviewed label and the audited ones); ``estimate_accepted`` is
``estimate("accepted")`` against the true accuracy of the labels accepted that round, with ``audited`` the audits
inside that population (``audited_mean``: per round, over rounds and seeds). ``--audit-pool accepted`` draws the
audits from the accepted open items first (``SelfPacedReview(audit_pool=...)``).

``--seeds N`` runs every order with N seeds (the harmonizer's, the audits', the random order's) and reports the
mean curve (``per_seed``: each seed's figures): single runs swing by 0.01-0.05 from one round to the next, and
one item more or less per round (the grid's rounding) moved an order's quality at 5 % by up to 0.05 on sms. The
grid point f reviews floor(f·n) items, so "at 5 %" is never more than 5 %.

Prints a table per dataset; the last line is one JSON object:
``{"youtube": {"polar": {"fraction_to_target": 0.03, "quality_at_5pct": 0.95, "curve": [[f, q], ...]}, ...,
"oracle": {..., "fixed_only": {...}}, "estimate": {"mean_abs_error": ..., "coverage": ..., "rounds": ...}},
...}``.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from polarlab.io.jsonout import dumps  # noqa: E402
from polarlab.metrics import metric_for  # noqa: E402
from polarlab.review.rounds import ACCEPTED, DEFAULT_ACCEPTED  # noqa: E402

GOLD_LR = {"youtube": 0.942, "sms": 0.938, "trec": 0.686, "chemprot": 0.780}
# polar: the default order; risk: the plain POLAR risk (the order before the per-label recalibration);
# oracle: an upper bound, not a method (reads gold)
# polar_fixed_weights: the polar order in a loop whose refits keep the first fit's source weights (the loop before)
ORDERS = ("polar", "risk", "random", "snorkel", "cleanlab", "oracle", "polar_fixed_weights")
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def items_split(splits: dict) -> str:
    """The split whose rows are the review items: ``train``, else ``valid``; a split without gold on any row is
    skipped (WRENCH's spouse has no train gold: a simulated annotator cannot answer there)."""
    for name in ("train", "valid", "test"):
        if name in splits and (splits[name].gold >= 0).any():
            return name
    from polarlab.errors import DataError

    raise DataError("no split has gold labels: the simulated annotator answers with gold", file=str(
        next(iter(splits.values())).source), column="label", fix="review curves need a split with gold labels")


def load(name: str, data_dir: Path, cache: Path, limit: int | None, seed: int, features: str = "auto"):
    """Items (the :func:`items_split`'s rows that have gold), their rule votes L (n, m), features X (n, d:
    ``features`` for text, the standardised ``data.feature`` vectors for tabular data), gold (n,), the task,
    and which split and how many rows without gold were left out."""
    from polarlab.bench.wrench import sample_rows
    from polarlab.data.wrench import load_wrench, wrench_task
    from polarlab.features.spec import auto_kind
    from polarlab.matrix.apply import apply_sources
    from polarlab.pipeline import featurize
    from polarlab.sources.votes import weak_label_sources

    d = data_dir / name
    task = wrench_task(d)
    splits = load_wrench(d, task)
    fit = items_split(splits)
    ds = splits[fit]
    no_gold = int((ds.gold < 0).sum())
    if no_gold:
        ds = ds.subset(np.flatnonzero(ds.gold >= 0))
    ds = sample_rows(ds, limit, seed)
    L = apply_sources(ds, weak_label_sources(ds), task, progress=False).L
    kind = "numeric" if ds.is_tabular else auto_kind(ds) if features == "auto" else features
    X = featurize({fit: ds}, fit, kind, cache)[fit]
    return ds, L, X, ds.gold, task, {"items_split": fit, "rows_without_gold_left_out": no_gold, "features": kind}


def gold_lr_quality(X: np.ndarray, gold: np.ndarray, k: int, name: str, seed: int, metric: str = "auto") -> float:
    """A reference target for a dataset without WRENCH's published gold-LR figure: out-of-fold (5-fold)
    logistic regression on the items' own gold labels and features, scored with the WRENCH metric. It reads
    gold (a reference, like ``oracle``; it chooses nothing)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    counts = np.bincount(gold, minlength=k)
    folds = int(min(5, counts[counts > 0].min()))
    if folds < 2 or (counts > 0).sum() < 2:
        return float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pred = cross_val_predict(LogisticRegression(max_iter=1000), X, gold,
                                 cv=StratifiedKFold(folds, shuffle=True, random_state=seed))
    return quality(pred, gold, k, name, metric)


def quality(labels: np.ndarray, gold: np.ndarray, k: int, name: str, metric: str = "auto") -> float:
    """The metric of ``labels`` (n,) against ``gold`` (n,); ``metric``: ``--metric`` (auto: WRENCH's metric for the
    dataset's ``name``, accuracy for other names)."""
    from polarlab.bench.wrench import one_hot
    from polarlab.metrics import classification_metrics

    return float(classification_metrics(gold, one_hot(labels, k), dataset=name, metric=metric)["wrench_metric"])


def order_function(kind: str, L: np.ndarray, X: np.ndarray, k: int, seed: int, gold: np.ndarray | None = None):
    """The review-priority function of an order (None = one of SelfPacedReview's named orders)."""
    from polarlab.review.rounds import PRIORITIES

    if kind in PRIORITIES:
        return None
    if kind == "oracle":
        # an upper bound, not a method: it reads the gold labels. The items whose current label is wrong
        # come first (ties, and the rest, by POLAR risk): which review order is best cannot matter more
        return lambda r: (r.labels() != gold).astype(np.float64) + r.risk_
    if kind == "random":
        scores = np.random.default_rng(seed).random(len(L))
        return lambda r: scores
    if kind == "snorkel":
        from polarlab.labelmodels import make_label_model

        P = make_label_model("snorkel", k).fit(L).predict_proba(L)
        unc = 1.0 - P.max(axis=1)
        return lambda r: unc
    if kind == "cleanlab":
        from cleanlab.rank import get_label_quality_scores
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import cross_val_predict

        def cl(r):
            labels = r.labels()
            if len(np.unique(labels)) < 2:
                return np.zeros(len(labels))
            folds = max(2, min(5, int(np.bincount(labels).min()) if np.bincount(labels).min() > 1 else 2))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                P = cross_val_predict(LogisticRegression(max_iter=300), X, labels, cv=folds, method="predict_proba")
            full = np.full((len(labels), k), 1e-6)
            full[:, np.unique(labels)] = P
            full /= full.sum(axis=1, keepdims=True)
            return -get_label_quality_scores(labels, full)   # lowest quality reviewed first
        return cl
    raise ValueError(kind)


def reviews_at(f: float, n: int) -> int:
    """Items reviewed by the grid point f: at most the share f of n (sms: 228 of 4571 items at 5 %, not 229 =
    5.01 %, which the "at 5 %" figures would leave out)."""
    return int(np.floor(f * n + 1e-9))


def run_order(kind, L, X, gold, k, name, grid, seed, noise, audit_share=0.0, combine="h", metric="auto",
              accepted=DEFAULT_ACCEPTED, robust_weights=(), audit_pool="open", estimators=()):
    """Quality after each round of the grid; with audit_share also the estimate per round (one list of rounds per
    weight of ``robust_weights``, the first also the loop's own; () = the library's default), the estimate of
    the accepted items (``estimate("accepted")``) per round, and one list of rounds per further name of
    ``estimators`` (the first is the loop's own; () = the library's default)."""
    from polarlab.review import SelfPacedReview, SimulatedAnnotator, StoppingRule

    n = len(gold)
    kind, reweight = kind.removesuffix("_fixed_weights"), not kind.endswith("_fixed_weights")
    annot = SimulatedAnnotator(gold, k, noise=noise, seed=seed)
    robust = {"robust_weight": robust_weights[0]} if robust_weights else {}
    if estimators:
        robust["estimator"] = estimators[0]
    sp = SelfPacedReview(k, batch_size=1, audit_size=0, order=order_function(kind, L, X, k, seed, gold) or kind,
                         stopping=StoppingRule(budget=1.0), harmonizer={"combine": combine}, seed=seed,
                         reweight_sources=reweight, accepted=accepted, audit_pool=audit_pool, **robust).fit(L, X)
    weights = list(robust_weights) or [sp.robust_weight]
    curve = [(0.0, quality(sp.labels(), gold, k, name, metric))]
    start = (sp.labels().copy(), sp.risk_.copy())
    est_rows: list[list[dict]] = [[] for _ in weights]
    other_rows: list[list[dict]] = [[] for _ in estimators[1:]]
    acc_rows: list[dict] = []
    for f in grid:
        want = reviews_at(f, n) - int(sp.reviewed_.sum())
        if want <= 0:
            continue
        n_audit = int(round(audit_share * want))
        sp.batch_size, sp.audit_size = want - n_audit, n_audit
        sp.run_round(annot.answer)
        done = float(sp.reviewed_.sum() / n)
        curve.append((done, quality(sp.labels(), gold, k, name, metric)))
        if audit_share:
            pop = ~sp.reviewed_ | sp.audited_
            # true accuracy of the population the estimate describes: the current machine labels of the
            # unreviewed items and of the audited ones (a random sample of them, kept out of the fit)
            truth = float((sp.machine_labels()[pop] == gold[pop]).mean())
            own = sp.robust_weight
            for i, w in enumerate(weights):
                if i == 0:
                    e = sp.history_[-1].estimate_all
                else:   # the same round read with another prior (the estimate has no effect on the loop)
                    sp.robust_weight = w
                    e = sp.estimate("all").to_dict()
                    sp.robust_weight = own
                est_rows[i].append({"fraction": done, "estimate": e["accuracy"], "lower": e["lower"],
                                    "upper": e["upper"], "truth": truth, "audited": e["n_audited"],
                                    "combine": sp.harmonizer_.combine_})
            own = sp.estimator
            for i, name_ in enumerate(estimators[1:]):   # the same round read by another estimator
                sp.estimator = name_
                e = sp.estimate("all").to_dict()
                other_rows[i].append({"fraction": done, "estimate": e["accuracy"], "lower": e["lower"],
                                      "upper": e["upper"], "truth": truth, "audited": e["n_audited"],
                                      "prior_strength": e["prior_strength"], "bound": e["bound"]})
            sp.estimator = own
            # the accepted items' estimate (this round's threshold) against their truth; "audited": the audits
            # inside that population (the ones the estimate reads), "audited_all": every audit so far
            acc = pop & (sp.priority_ < sp.threshold_)
            e = sp.history_[-1].estimate
            acc_rows.append({"fraction": done, "estimate": e["accuracy"], "lower": e["lower"], "upper": e["upper"],
                             "truth": float((sp.machine_labels()[acc] == gold[acc]).mean()) if acc.any() else
                             float("nan"), "audited": e["n_audited"], "audited_all": int(sp.audited_.sum()),
                             "n": e["n"]})
    return curve, est_rows[0], start, est_rows[1:], acc_rows, other_rows


def estimate_summary(est: list[dict]) -> dict:
    """Mean / largest |error|, 90 %-interval coverage and the share of rounds whose lower bound is above the
    truth, over rounds of the gold-free estimate."""
    err = [abs(r["estimate"] - r["truth"]) for r in est]
    return {"mean_abs_error": float(np.mean(err)), "max_abs_error": float(np.max(err)),
            "coverage": float(np.mean([r["lower"] <= r["truth"] <= r["upper"] for r in est])),
            "lower_above_truth": float(np.mean([r["lower"] > r["truth"] for r in est])), "level": 0.9, "rounds": est}


def fixed_only(sp0_labels, risk0, gold, k, name, grid, metric="auto"):
    """The arithmetic bound: the first fit's labels with the wrong ones fixed (riskiest first), no refit."""
    n = len(gold)
    wrong = np.flatnonzero(sp0_labels != gold)
    wrong = wrong[np.argsort(-risk0[wrong], kind="stable")]
    curve = [(0.0, quality(sp0_labels, gold, k, name, metric))]
    for f in grid:
        lab = sp0_labels.copy()
        lab[wrong[: reviews_at(f, n)]] = gold[wrong[: reviews_at(f, n)]]
        curve.append((reviews_at(f, n) / n, quality(lab, gold, k, name, metric)))
    return curve


def mean_curve(curves: list) -> list:
    """The mean quality per grid point over seeds (every order reviews the same counts: the points line up)."""
    if len(curves) == 1:
        return curves[0]
    f = np.array([[x for x, _ in c] for c in curves])
    if not np.allclose(f, f[0]):
        raise ValueError("the runs' grid points differ")
    return [(float(x), float(np.mean([c[i][1] for c in curves]))) for i, x in enumerate(f[0])]


def summarise(curve, target):
    reach = None if target is None else next((f for f, q in curve if q >= target), None)
    at5 = [q for f, q in curve if f <= 0.05 + 1e-9][-1]
    return {"fraction_to_target": reach, "quality_at_5pct": at5, "quality_at_0": curve[0][1],
            "curve": [[round(f, 4), round(q, 4)] for f, q in curve]}


def plot(results: dict, out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results)
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.6), squeeze=False)
    for ax, name in zip(axes[0], names):
        for kind in ORDERS:
            if kind in results[name]:
                c = np.array(results[name][kind]["curve"])
                if kind == "oracle":     # an upper bound, not a method
                    ax.plot(100 * c[:, 0], c[:, 1], label="oracle (bound)", ls="--", color="0.4")
                    f = np.array(results[name][kind]["fixed_only"]["curve"])
                    ax.plot(100 * f[:, 0], f[:, 1], label="fixes only (bound)", ls=":", color="0.4")
                else:
                    ax.plot(100 * c[:, 0], c[:, 1], label=kind, marker=".")
        if results[name].get("target") is not None:
            ax.axhline(results[name]["target"], color="k", ls="--", lw=0.8, label="gold LR")
        ax.set_title(name)
        ax.set_xlabel("% of items reviewed")
        ax.set_ylabel("WRENCH metric (all items)")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    path = out / "review_curves.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--datasets", default="youtube,sms,trec,chemprot")
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--cache", type=Path, default=Path(".polarlab/features"), help="embedding cache")
    p.add_argument("--out", type=Path, default=Path("review_curves_out"), help="plots and the JSON")
    p.add_argument("--limit", type=int, default=None, help="at most N items per dataset (seeded sample)")
    p.add_argument("--step", type=float, default=0.005, help="reviewed share added per round")
    p.add_argument("--max-fraction", type=float, default=0.10)
    p.add_argument("--noise", type=float, default=0.0, help="simulated annotator error rate")
    p.add_argument("--orders", default=",".join(ORDERS))
    p.add_argument("--seed", type=int, default=0, help="first seed (the harmonizer's, the audits', random order's)")
    p.add_argument("--seeds", type=int, default=1, help="run every order with seeds seed..seed+N-1 and report the "
                   "mean curve (the loop swings by ~0.01-0.05 from round to round and seed to seed)")
    p.add_argument("--combine", default="h", help="the loop's final distribution: h (h(x) alone) or auto "
                   "(the harmonizer's combined output, chosen again without gold at every refit)")
    p.add_argument("--accepted", default=DEFAULT_ACCEPTED, choices=ACCEPTED, help="what acceptance does to a label: "
                   "source (SelfPacedReview's default: kept from the round it was accepted, and a source of each "
                   "refit), free (later refits may change it), lock (kept)")
    p.add_argument("--robust-weight", default="", help="W[,W2,...]: the estimate's robust prior weight "
                   "(estimate_accuracy robust_weight; empty: the library's default); further weights are read on the "
                   "same rounds and reported under estimate_robust_weight")
    p.add_argument("--estimator", default="", help="E[,E2,...]: the estimate's estimator (estimate_accuracy "
                   "estimator: risk_prior | evidence | audit_floor; empty: the library's default); further ones are "
                   "read on the same rounds and reported under estimate_estimator")
    p.add_argument("--audit-pool", default="open", choices=("open", "accepted"), help="where the polar_audit "
                   "run's audits come from (SelfPacedReview audit_pool): open (every open item outside the batch) or "
                   "accepted (the open items accepted that round first)")
    p.add_argument("--no-audit", action="store_true", help="skip the polar_audit run (the estimate's check)")
    p.add_argument("--metric", default="auto", help="auto (WRENCH's metric for the dataset's name, accuracy for a "
                   "name WRENCH does not list) | acc | f1_binary")
    p.add_argument("--features", default="auto", help="features of text items: auto (the features stage's default: "
                   "relation features for relation data, else the sentence embedding) | embedding | tfidf | relation "
                   "(tabular items always use their standardised data.feature vectors)")
    a = p.parse_args(argv)
    try:
        robust_weights = [float(w) for w in a.robust_weight.split(",") if w.strip()]
    except ValueError:
        p.error(f"--robust-weight {a.robust_weight!r}: give numbers in [0, 1] separated by commas, e.g. 0,0.2")
    estimators = [e.strip() for e in a.estimator.split(",") if e.strip()]
    from polarlab.review.estimate import ESTIMATORS

    if set(estimators) - set(ESTIMATORS):
        p.error(f"--estimator {a.estimator!r}: use names of {sorted(ESTIMATORS)} separated by commas")
    import torch

    torch.set_num_threads(1)
    a.out.mkdir(parents=True, exist_ok=True)
    grid = [round(x, 6) for x in np.arange(a.step, a.max_fraction + 1e-9, a.step)]
    results: dict = {}
    for name in a.datasets.split(","):
        t0 = time.perf_counter()
        ds, L, X, gold, task, info = load(name, a.data, a.cache, a.limit, a.seed, a.features)
        k = task.n_classes
        target, target_from = GOLD_LR.get(name), "wrench_gold_lr"
        if target is None:        # a dataset without WRENCH's figure here: LR on the items' own gold (a reference)
            target, target_from = gold_lr_quality(X, gold, k, name, a.seed, a.metric), "gold_lr_out_of_fold"
            target = None if np.isnan(target) else target
        res: dict = {"n_items": len(gold), "target": target, "target_from": target_from, **info,
                     "metric": metric_for(name, a.metric)}
        seeds = range(a.seed, a.seed + a.seeds)
        for kind in filter(None, a.orders.split(",")):
            t = time.perf_counter()
            runs = [run_order(kind, L, X, gold, k, name, grid, s, a.noise, combine=a.combine, metric=a.metric,
                              accepted=a.accepted) for s in seeds]
            curve = mean_curve([r[0] for r in runs])
            res[kind] = summarise(curve, target)
            if a.seeds > 1:
                res[kind]["per_seed"] = [{k_: v for k_, v in summarise(r[0], target).items()
                                          if k_ != "curve"} for r in runs]
            res[kind]["seconds"] = round(time.perf_counter() - t, 1)
            if kind == "oracle":
                fixed = summarise(mean_curve([fixed_only(*r[2], gold, k, name, grid, a.metric) for r in runs]),
                                  target)
                res[kind]["fixed_only"] = fixed
                print(f"{name:9s} fixed-only (no refit) q@5%={fixed['quality_at_5pct']:.3f} "
                      f"to_target={fixed['fraction_to_target']}", flush=True)
            print(f"{name:9s} {kind:9s} q0={curve[0][1]:.3f} q@5%={res[kind]['quality_at_5pct']:.3f} "
                  f"to_target={res[kind]['fraction_to_target']} ({res[kind]['seconds']} s)", flush=True)
        if a.no_audit:
            res["seconds"] = round(time.perf_counter() - t0, 1)
            results[name] = res
            (a.out / "review_curves.json").write_text(dumps(results, indent=1))
            continue
        runs = [run_order("polar", L, X, gold, k, name, grid, s, a.noise, audit_share=0.2, combine=a.combine,
                          metric=a.metric, accepted=a.accepted, robust_weights=robust_weights,
                          audit_pool=a.audit_pool, estimators=estimators) for s in seeds]
        res["polar_audit"] = summarise(mean_curve([r[0] for r in runs]), target)
        res["estimate"] = estimate_summary([row for r in runs for row in r[1]])
        acc_rows = [row for r in runs for row in r[4] if row["truth"] == row["truth"]]
        res["estimate_accepted"] = estimate_summary(acc_rows) if acc_rows else {"rounds": []}
        res["estimate_accepted"]["audited_mean"] = float(np.mean([r["audited"] for r in acc_rows])) if acc_rows else 0.0
        res["estimate"]["audited_mean"] = float(np.mean([r["audited"] for r in res["estimate"]["rounds"]]))
        print(f"{name:9s} estimate: mean |error| {res['estimate']['mean_abs_error']:.4f}, 90% interval coverage "
              f"{res['estimate']['coverage']:.2f}, lower bound above the truth "
              f"{res['estimate']['lower_above_truth']:.2f} over {len(res['estimate']['rounds'])} rounds ({a.seeds} seed(s))",
              flush=True)
        if len(robust_weights) > 1:
            res["estimate_robust_weight"] = {}
            for i, w in enumerate(robust_weights[1:]):
                e = res["estimate_robust_weight"][str(w)] = estimate_summary([row for r in runs for row in r[3][i]])
                print(f"{name:9s} estimate (robust_weight {w}): mean |error| {e['mean_abs_error']:.4f}, 90% interval "
                      f"coverage {e['coverage']:.2f}", flush=True)
        if len(estimators) > 1:
            res["estimate_estimator"] = {}
            for i, est_name in enumerate(estimators[1:]):
                e = res["estimate_estimator"][est_name] = estimate_summary([row for r in runs for row in r[5][i]])
                print(f"{name:9s} estimate ({est_name}): mean |error| {e['mean_abs_error']:.4f}, 90% interval "
                      f"coverage {e['coverage']:.2f}, lower bound above the truth {e['lower_above_truth']:.2f}",
                      flush=True)
        res["seconds"] = round(time.perf_counter() - t0, 1)
        results[name] = res
        (a.out / "review_curves.json").write_text(dumps(results, indent=1))
    print("plot:", plot(results, a.out))
    print(dumps(results, separators=(",", ":")))
    return results


if __name__ == "__main__":
    sys.exit(main() and 0)
