"""Are the review loop's random audits an equal-probability sample of the labels the estimate describes? (reads gold)

A diagnosis, not a method: it reads the gold labels. It runs the ``polar_audit`` loop of ``review_curves.py`` (POLAR
order, 20 % of each round's reviews random risk-stratified audits, ``--accepted``, seeds) and tracks each item's
chance of having been audited: per round, its draw probability in its stratum at draw time, ``p_ir = take_h / N_h``
(:func:`polarlab.review.queue.draw_probability` where the loop has it, else the largest-remainder rounding
the loop used before), accumulated ``pi_i = 1 - prod_r (1 - p_ir)``. After each round, within each stratum of the
current population (unreviewed + audited items, the estimate's ``"all"`` scope, by current risk) it compares the
audited items' accuracy (current machine labels vs gold) with the stratum's true accuracy, and reports the spread
of ``pi`` there, and what the design expects the audits' accuracy to be there, ``sum pi_i right_i / sum pi_i``.

Prints one JSON object per dataset: ``design_bias`` = mean over (round, stratum) cells, weighted by their items,
of that expectation less the stratum's true accuracy (the design's own bias, free of the draw's luck);
``design_abs_gap``: the same of |.|; ``bias`` = mean over (round, stratum) cells with audits of (audited accuracy -
true accuracy), weighted by the cell's audits; ``abs_gap``: the same of |.|; ``hajek_bias``: with the audits
weighted by 1/pi_i; ``pi_cv``: mean within-stratum coefficient of variation of pi; ``never``: mean share of the
population with pi = 0; ``zero_draw``: mean share of each round's pool whose draw probability was 0.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

from review_curves import DATA, load, reviews_at  # noqa: E402

from polarlab.io.jsonout import dumps  # noqa: E402
from polarlab.review import queue  # noqa: E402
from polarlab.review.estimate import risk_strata  # noqa: E402


def draw_probabilities(risk: np.ndarray, pool: np.ndarray, size: int, n_strata: int) -> np.ndarray:
    """(len(pool),) each pool item's chance of being drawn by ``stratified_sample`` in this call."""
    if hasattr(queue, "draw_probability"):
        return np.full(len(pool), queue.draw_probability(len(pool), size))
    # the rounding before (largest remainders, ties to the lower stratum): deterministic take_h per stratum
    k = min(size, len(pool))
    if k == 0:
        return np.zeros(len(pool))
    strata = risk_strata(np.asarray(risk)[pool], n_strata)
    sizes = np.bincount(strata, minlength=strata.max() + 1)
    quota = k * sizes / sizes.sum()
    take = np.floor(quota).astype(int)
    for h in np.argsort(-(quota - take))[: k - take.sum()]:
        take[h] += 1
    return (take / np.maximum(sizes, 1))[strata]


def run(name, L, X, gold, k, seed, accepted, grid, n_strata=5):
    from polarlab.review import SelfPacedReview, SimulatedAnnotator, StoppingRule

    n = len(gold)
    annot = SimulatedAnnotator(gold, k, seed=seed)
    sp = SelfPacedReview(k, batch_size=1, audit_size=0, stopping=StoppingRule(budget=1.0), seed=seed,
                         accepted=accepted).fit(L, X)
    pi = np.zeros(n)
    zero_draw = []
    orig = sp.audit_sample

    def tracked(pool, size):
        p = draw_probabilities(sp.risk_, pool, size, sp.n_strata)
        pi[pool] = 1.0 - (1.0 - pi[pool]) * (1.0 - p)
        before = np.flatnonzero(sp.audited_)        # audited earlier: the chance they would have had (the pool's mean)
        pi[before] = 1.0 - (1.0 - pi[before]) * (1.0 - (float(p.mean()) if len(p) else 0.0))
        zero_draw.append(float((p == 0).mean()) if len(p) else 0.0)
        return orig(pool, size)

    sp.audit_sample = tracked
    cells = []
    for f in grid:
        want = reviews_at(f, n) - int(sp.reviewed_.sum())
        if want <= 0:
            continue
        n_audit = int(round(0.2 * want))
        sp.batch_size, sp.audit_size = want - n_audit, n_audit
        sp.run_round(annot.answer)
        pop = ~sp.reviewed_ | sp.audited_
        right = sp.machine_labels() == gold
        strata = risk_strata(sp.risk_[pop], n_strata)
        idx = np.flatnonzero(pop)
        for h in np.unique(strata):
            m = idx[strata == h]
            a = m[sp.audited_[m]]
            p = pi[m]
            cell = {"round": sp.round_, "stratum": int(h), "n": len(m), "true_acc": float(right[m].mean()),
                    "audited": len(a), "pi_cv": float(p.std() / p.mean()) if p.mean() > 0 else float("nan"),
                    "never": float((p == 0).mean()),
                    # what the design expects the audits' accuracy to be, less the truth: no sampling noise
                    "design_gap": float((p * right[m]).sum() / p.sum() - right[m].mean()) if p.sum() > 0 else 0.0}
            if len(a):
                w = 1.0 / pi[a]
                cell["audit_acc"] = float(right[a].mean())
                cell["hajek_acc"] = float((w * right[a]).sum() / w.sum())
            cells.append(cell)
    return cells, zero_draw


def summary(cells, zero_draw):
    c = [x for x in cells if x["audited"]]
    w = np.array([x["audited"] for x in c], dtype=float)
    gap = np.array([x["audit_acc"] - x["true_acc"] for x in c])
    hgap = np.array([x["hajek_acc"] - x["true_acc"] for x in c])
    n = np.array([x["n"] for x in cells], dtype=float)
    dgap = np.array([x["design_gap"] for x in cells])
    return {"cells": len(cells), "cells_with_audits": len(c),
            "design_bias": float((n * dgap).sum() / n.sum()), "design_abs_gap": float((n * np.abs(dgap)).sum() / n.sum()),
            "bias": float((w * gap).sum() / w.sum()),
            "abs_gap": float((w * np.abs(gap)).sum() / w.sum()), "hajek_bias": float((w * hgap).sum() / w.sum()),
            "pi_cv": float(np.nanmean([x["pi_cv"] for x in cells])), "never": float(np.mean([x["never"] for x in cells])),
            "zero_draw": float(np.mean(zero_draw)),
            "by_stratum_bias": [float(np.mean([x["audit_acc"] - x["true_acc"] for x in c if x["stratum"] == h] or [np.nan]))
                                for h in range(5)]}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--datasets", default="youtube,sms,trec,chemprot")
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--cache", type=Path, default=Path(".polarlab/features"))
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--accepted", default="source")
    a = p.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    grid = [round(x, 6) for x in np.arange(0.005, 0.10 + 1e-9, 0.005)]
    out = {}
    for name in a.datasets.split(","):
        ds, L, X, gold, task, info = load(name, a.data, a.cache, None, 0)
        cells, zero = [], []
        for s in map(int, a.seeds.split(",")):
            c, z = run(name, L, X, gold, task.n_classes, s, a.accepted, grid)
            cells += c
            zero += z
        out[name] = summary(cells, zero)
        print(name, dumps(out[name]), flush=True)
    return out


if __name__ == "__main__":
    main()
