"""Gold-free estimates of the chance that POLAR's own label is wrong, rules only: a measurement (issue 10).

The labels file's ``risk`` is ``1 − max p`` of POLAR's final distribution; rules-only it orders the labels but is far
too sure where the votes decide (docs/results/label_quality.md, "The risk of POLAR's own labels without an LLM").
Per WRENCH folder this fits POLAR once with the defaults (the same loading, stages and fit as
``polarlab bench wrench --llm none`` / ``benchmarks/label_quality.py``: :func:`polarlab.bench.wrench.fit_all`) and
scores five estimates of the risk of POLAR's test label, none of which reads gold:

* ``max_p``      (i)   today's risk, ``1 − p(label)`` of POLAR's final distribution;
* ``h``          (ii)  h(x) alone, ``1 − h(x)[label]``;
* ``onecoin``    (iii) the one-coin combination (``onecoin:1``: EM source accuracies with the combination's prior,
  fitted on the fit rows' votes and the fit's cross-fitted prior), ``1 − q(label)``;
* ``loo``        (iv)  leave-one-source-out: the mean over the sources voting on the row of ``1 − p_{−j}(label)``
  (``predict_proba(L, X, exclude=[j])``), h's risk where no source votes;
* ``groups``     (v)   group agreement: the sources split at random into 3 groups (R = 5 seeded splits); each group
  votes by its majority (a tie abstains); each group's accuracy from the pairwise agreement rates of the three groups
  on the fit rows, under conditional independence and symmetric noise (FlyingSquid's triplet method:
  ``b_g = (k·a_g − 1)/(k − 1)``, ``(k·A_gh − 1)/(k − 1) = b_g·b_h``); per row a naive-Bayes posterior of the groups
  that voted (those accuracies) with the combination's prior, ``1 − posterior(label)``; mean over the valid splits.

Every parameter (R = 5, 3 groups, the minimum overlap, the clips, the seeds) was fixed before any score was seen.
Scores against the test gold: error rate, mean risk, ECE with its noise floor, AUROC, Brier
(:func:`polarlab.risk.calibration_report`). Nothing here changes a default.

Usage::

    python benchmarks/label_risk.py --data ../shared/data --datasets youtube,sms,trec,chemprot,census \\
        --state-dir .polarlab

The last line printed is one JSON object: {"datasets": {name: {"n_test", "combine", "labels_from",
"groups_valid_splits", "risk": {estimator: calibration report}}}, "settings": {...}}.
"""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")

ESTIMATORS = ("max_p", "h", "onecoin", "loo", "groups")
N_GROUPS = 3
REPEATS = 5
MIN_OVERLAP = 20          # rows on which two groups both vote, fewer = that split is not used
PROB_FLOOR = 1e-6


def risk_of(P: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``1 − P[i, labels[i]]``, shape (n,)."""
    return 1.0 - P[np.arange(len(labels)), labels]


def loo_risk(proba_without: Callable[[int], np.ndarray], L: np.ndarray, labels: np.ndarray,
             fallback: np.ndarray) -> np.ndarray:
    """(iv): per row the mean over the sources j voting on it of ``1 − proba_without(j)[i, label]``; ``fallback``
    (n,) where no source votes. ``proba_without(j)`` is the (n, k) distribution with source j left out."""
    n, m = L.shape
    total = np.zeros(n)
    count = np.zeros(n)
    for j in range(m):
        voted = L[:, j] >= 0
        if not voted.any():
            continue
        r = risk_of(proba_without(j), labels)
        total[voted] += r[voted]
        count[voted] += 1
    return np.where(count > 0, total / np.maximum(count, 1), fallback)


def group_votes(L: np.ndarray, groups: Sequence[np.ndarray], k: int) -> np.ndarray:
    """Each group's majority vote per row, shape (n, G); -1 where no member votes or the top classes tie."""
    from polarlab.labelmodels.majority import vote_counts

    out = np.full((L.shape[0], len(groups)), -1, dtype=np.int64)
    for g, cols in enumerate(groups):
        C = vote_counts(L[:, cols], k)
        top = C.max(axis=1)
        unique = (C == top[:, None]).sum(axis=1) == 1
        ok = (top > 0) & unique
        out[ok, g] = C[ok].argmax(axis=1)
    return out


def triplet_accuracies(V: np.ndarray, k: int, min_overlap: int = MIN_OVERLAP) -> np.ndarray | None:
    """Accuracies (3,) of three voters V (n, 3) (-1 = abstain) from their pairwise agreement rates, under
    conditional independence and symmetric noise: ``M_gh = (k·A_gh − 1)/(k − 1) = b_g·b_h`` with
    ``b_g = (k·a_g − 1)/(k − 1)``, so ``b_g = sqrt(M_gh·M_gi / M_hi)``. None when a pair overlaps on fewer than
    ``min_overlap`` rows or an ``M`` is not positive (the triplet says nothing)."""
    M = np.zeros((3, 3))
    for g in range(3):
        for h in range(g + 1, 3):
            both = (V[:, g] >= 0) & (V[:, h] >= 0)
            if both.sum() < min_overlap:
                return None
            A = float((V[both, g] == V[both, h]).mean())
            M[g, h] = M[h, g] = (k * A - 1.0) / (k - 1.0)
    if (M[np.triu_indices(3, 1)] <= 0).any():
        return None
    b = np.array([np.sqrt(M[g, h] * M[g, i] / M[h, i]) for g, h, i in ((0, 1, 2), (1, 0, 2), (2, 0, 1))])
    b = np.clip(b, 0.0, 1.0)
    return np.clip((b * (k - 1.0) + 1.0) / k, 1.0 / k, 0.999)


def naive_bayes_posterior(V: np.ndarray, acc: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """``p(y) ∝ prior(y) · Π_{g voting} (a_g if V_g = y else (1 − a_g)/(k − 1))``, shape (n, k)."""
    n, k = prior.shape
    S = np.log(np.clip(prior, PROB_FLOOR, 1.0))
    for g in range(V.shape[1]):
        voted = V[:, g] >= 0
        hit, miss = np.log(acc[g]), np.log((1.0 - acc[g]) / (k - 1.0))
        add = np.full((n, k), miss)
        add[np.arange(n), np.maximum(V[:, g], 0)] = hit
        S[voted] += add[voted]
    S -= S.max(axis=1, keepdims=True)
    P = np.exp(S)
    return P / P.sum(axis=1, keepdims=True)


def group_agreement_risk(L_fit: np.ndarray, L_test: np.ndarray, prior_test: np.ndarray, labels: np.ndarray, k: int,
                         *, n_groups: int = N_GROUPS, repeats: int = REPEATS, seed: int = 0,
                         min_overlap: int = MIN_OVERLAP) -> tuple[np.ndarray, int, list[list[float]]]:
    """(v): the mean over ``repeats`` seeded random splits of the sources into ``n_groups`` (3) groups of the
    naive-Bayes risk of ``labels`` (:func:`naive_bayes_posterior` with the group accuracies the fit rows' agreement
    gives, :func:`triplet_accuracies`). A split whose triplet says nothing is skipped; with none valid, the prior's
    risk.

    Returns:
        (risk (n_test,), the number of valid splits, the accuracies of each valid split).
    """
    if n_groups != 3:
        raise ValueError("the triplet method needs 3 groups")
    rng = np.random.default_rng(seed)
    m = L_fit.shape[1]
    risks, accs = [], []
    for _ in range(repeats):
        groups = np.array_split(rng.permutation(m), n_groups)
        acc = triplet_accuracies(group_votes(L_fit, groups, k), k, min_overlap)
        if acc is None:
            continue
        accs.append([round(float(a), 4) for a in acc])
        risks.append(risk_of(naive_bayes_posterior(group_votes(L_test, groups, k), acc, prior_test), labels))
    if not risks:
        return risk_of(prior_test, labels), 0, []
    return np.mean(risks, axis=0), len(risks), accs


def label_risks(h, L_fit: np.ndarray, L_test: np.ndarray, X_fit: np.ndarray, X_test: np.ndarray,
                labels: np.ndarray, k: int, seed: int = 0) -> tuple[dict[str, np.ndarray], dict]:
    """Every estimator's risk of ``labels`` (n_test,) from the fitted harmonizer ``h`` and the votes; no gold read.

    The combination's prior (``h.prior_proba``: h, or its second stage) is the prior of (iii) and (v); on the fit
    rows (iii) uses the fit's cross-fitted prior ``fit_log_prior_`` when the fit kept one.
    """
    from polarlab.harmonizer.combiners import make_combiner

    P = h.predict_proba(L_test, X_test)
    H = h.predict_h(X_test)
    prior_test = h.prior_proba(X_test)
    log_prior_fit = getattr(h, "fit_log_prior_", None)
    if log_prior_fit is None:
        log_prior_fit = np.log(np.clip(h.prior_proba(X_fit), PROB_FLOOR, 1.0))
    onecoin = make_combiner("onecoin:1", k).fit(L_fit, log_prior_fit)
    Q = onecoin.posterior(L_test, np.log(np.clip(prior_test, PROB_FLOOR, 1.0)))
    risks = {"max_p": risk_of(P, labels), "h": risk_of(H, labels), "onecoin": risk_of(Q, labels)}
    risks["loo"] = loo_risk(lambda j: h.predict_proba(L_test, X_test, exclude=[j]), L_test, labels, risks["h"])
    risks["groups"], valid, accs = group_agreement_risk(L_fit, L_test, prior_test, labels, k, seed=seed)
    return risks, {"groups_valid_splits": valid, "groups_accuracies": accs,
                   "onecoin_accuracy": [round(float(a), 4) for a in onecoin.accuracy_]}


def run_dataset(directory: Path, state_dir: Path, seed: int) -> dict:
    """Fit POLAR as ``bench wrench --llm none`` does, then score every estimator against the test gold."""
    import warnings

    from polarlab.bench import BenchConfig
    from polarlab.bench.wrench import fit_all
    from polarlab.risk import calibration_report

    cfg = BenchConfig(directory=directory, llm="none", state_dir=state_dir, progress=False, seed=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f = fit_all(cfg, {})
        h = f.fitted_harmonizer()
        labels = f.probas["polar"].argmax(axis=1)
        risks, extra = label_risks(h, f.L_fit.L, f.L_test.L, f.X_fit, f.X_test, labels, f.task.n_classes, seed)
    gold = f.test.gold
    ok = gold >= 0
    is_error = (labels != gold).astype(float)
    return {"dataset": f.task.name, "n_fit": len(f.fit), "n_test": int(ok.sum()), "n_sources": int(f.L_fit.L.shape[1]),
            "combine": h.combine_, "labels_from": getattr(h, "labels_from_", "votes"),
            "test_votes_shifted": bool(h.reads_votes and h.vote_shift(f.L_test.L, f.X_test).shifted),
            **extra, "risk": {e: calibration_report(risks[e][ok], is_error[ok]).to_dict() for e in ESTIMATORS}}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--datasets", default="youtube,sms,trec,chemprot,census")
    ap.add_argument("--state-dir", type=Path, default=Path(".polarlab"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None, help="also write the result here")
    a = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    result: dict = {"datasets": {}, "settings": {"seed": a.seed, "llm": "none", "n_groups": N_GROUPS,
                                                "repeats": REPEATS, "min_overlap": MIN_OVERLAP}}
    print(f"{'dataset':9s} {'estimator':8s} {'err':>6s} {'mean':>6s} {'ECE':>6s} {'floor':>6s} {'AUROC':>6s}",
          file=sys.stderr, flush=True)
    from polarlab.errors import PolarlabError

    for name in [s for s in a.datasets.split(",") if s]:
        try:
            r = run_dataset(a.data / name, a.state_dir, a.seed)
        except PolarlabError as e:        # one bad folder is reported (as label_quality.py does); the others still run
            result["datasets"][name] = {"error": str(e)}
            print(f"{name:9s} error: {e}", file=sys.stderr, flush=True)
            continue
        result["datasets"][name] = r
        for e in ESTIMATORS:
            c = r["risk"][e]
            print(f"{name:9s} {e:8s} {c['error_rate']:6.3f} {c['mean_risk']:6.3f} {c['ece']:6.3f} "
                  f"{c['ece_floor']:6.3f} {c['auroc']:6.3f}", file=sys.stderr, flush=True)
    from polarlab.bench.methods import emit_result

    emit_result(result, a.json)
    return result


if __name__ == "__main__":
    from polarlab.bench.methods import exit_status

    sys.exit(exit_status(main()))      # every folder ran; a failed one still fails the command
