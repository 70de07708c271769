"""Averaging POLAR's candidate final distributions instead of selecting one: each candidate alone, their mean and the
mean over the candidates the one-standard-error rule admits, beside today's selection, on the same fits.

Per dataset and seed: today's pipeline exactly as ``benchmarks/label_quality.py`` runs it (``polarlab bench
wrench``'s :func:`polarlab.bench.wrench.fit_all`; rules only unless ``--llm``, defaults), so ``polar`` and the
baselines are that benchmark's. Then every candidate of the harmonizer's ``combine_candidates`` is fitted as it is
when the selection chooses it: a copy of the fitted harmonizer with ``combine`` set to the candidate, fitted again on
the same rows with the same seed (the same h, cross-fitted prior, second stage, temperature, vote-shift reference and
features-only fallback), predicting the test rows with the split's vote-shift check made once, as the pipeline does
(:class:`polarlab.harmonizer.polar.VotesDecided`). ``cand:<spec>`` is each candidate's test distribution, ``mean``
the mean of all of them, ``mean_1se`` the mean over the candidates whose held-out agreement is within ``combine_se``
standard errors of the best (:mod:`polarlab.harmonizer.select`; the set the one-SE rule chooses the first of).
``chosen_refit_identical`` checks that the chosen candidate's refit reproduces ``polar`` exactly.

Measured 2026-12-03 (rules only, seeds 0-2): both averages lose to the selection on trec (the Dawid–Skene and one-coin
candidates are 0.03-0.13 worse there, and sure of it) and the plain mean on census; docs/results/label_quality.md,
"Averaging the candidates instead of selecting one". Gold is read only to score.

Usage::

    python benchmarks/candidate_average.py --datasets youtube,sms,trec,chemprot,census --seeds 0,1,2

The last line printed is one JSON object: {"runs": [{"dataset", "seed", "combine", "admitted",
"chosen_refit_identical", "heldout": {spec: [agreement, se]}, "labels": {method: {"wrench_metric", "macro_f1"}},
"seconds"}], "settings": {...}}.
"""
from __future__ import annotations

import argparse
import copy
import os
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402  (after OMP_NUM_THREADS: the thread count is read at import)


def admitted(table, n_se: float) -> list[str]:
    """The candidates of ``table`` (:class:`polarlab.harmonizer.select.CandidateScore`, in the selection's order)
    whose agreement is within ``n_se`` standard errors of the best one's, as
    :func:`polarlab.harmonizer.select.one_se_choice` admits them."""
    score = np.array([r.agreement for r in table])
    se = np.nan_to_num(np.array([r.se for r in table]))
    ok = score.max() - score <= n_se * se + 1e-12
    return [r.candidate for r, keep in zip(table, ok) if keep]


def candidate_probas(h, L_fit: np.ndarray, X_fit: np.ndarray, L_test: np.ndarray, X_test: np.ndarray,
                     specs: list[str]) -> dict[str, np.ndarray]:
    """spec -> test distributions (n_test, k) of the fitted harmonizer ``h`` refitted with ``combine=spec`` on its
    own fit rows (``L_fit`` (n, m), ``X_fit`` (n, d)), the test split's vote-shift check made once."""
    from polarlab.harmonizer.diagnostics import SupervisionWarning
    from polarlab.harmonizer.polar import VotesDecided

    out = {}
    for spec in specs:
        twin = copy.copy(h)                  # fit() sets every fitted attribute afresh (as the seed ensemble does)
        twin.combine = spec
        with warnings.catch_warnings():      # the fit's and the shift check's warnings are today's, once
            warnings.simplefilter("ignore", SupervisionWarning)
            twin.fit(L_fit, X_fit)
            out[spec] = VotesDecided.for_split(twin, L_test, X_test).predict_proba(L_test, X_test)
    return out


def run_dataset(directory: Path, seed: int, llm: str, state_dir: Path) -> dict:
    """Today's fit, every candidate refitted alone, and the two averages, scored on the test split."""
    from polarlab.bench import BenchConfig
    from polarlab.bench.methods import BASELINES, score_methods
    from polarlab.bench.wrench import fit_all
    from polarlab.stages.harmonizer import fit_rows, harmonizer_options

    t0 = time.perf_counter()
    cfg = BenchConfig(directory=directory, llm=llm, state_dir=state_dir, progress=False, seed=seed)
    f = fit_all(cfg, {})
    h = f.fitted_harmonizer()
    rows = fit_rows(f.context, harmonizer_options(f.context)[0])
    L_fit, X_fit = (f.L_fit.L, f.X_fit) if rows is None else (f.L_fit.L[rows], f.X_fit[rows])
    t1 = time.perf_counter()
    specs = [r.candidate for r in h.combine_table_] or [h.combine_]
    cands = candidate_probas(h, L_fit, X_fit, f.L_test.L, f.X_test, specs)
    inside = admitted(h.combine_table_, h.combine_se) if h.combine_table_ else [h.combine_]
    probas = {m: f.probas[m] for m in (*BASELINES, "polar_h", "polar")}
    probas.update({f"cand:{s}": P for s, P in cands.items()})
    probas["mean"] = np.mean(list(cands.values()), axis=0)
    probas["mean_1se"] = np.mean([cands[s] for s in inside], axis=0)
    return {"dataset": f.task.name, "seed": seed, "combine": h.combine_, "admitted": inside,
            "chosen_refit_identical": bool(np.array_equal(cands.get(h.combine_), f.probas["polar"])),
            "heldout": {r.candidate: [r.agreement, r.se] for r in h.combine_table_},
            "labels": score_methods(f.test.gold, probas, f.task.name, ("wrench_metric", "macro_f1")),
            "seconds": {"today": t1 - t0, "candidates": time.perf_counter() - t1}}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--datasets", default="youtube,sms,trec,chemprot,census")
    ap.add_argument("--seeds", default="0", help="comma-separated; each seeds MV's tie-break and the harmonizer")
    ap.add_argument("--llm", default="none", help="none | local (as benchmarks/label_quality.py)")
    ap.add_argument("--state-dir", type=Path, default=Path(".polarlab"))
    ap.add_argument("--json", type=Path, default=None, help="also write the result here")
    a = ap.parse_args(argv)
    import torch

    from polarlab.bench.methods import emit_result

    torch.set_num_threads(1)
    runs = []
    for seed in [int(s) for s in a.seeds.split(",") if s]:
        for name in [s for s in a.datasets.split(",") if s]:
            r = run_dataset(a.data / name, seed, a.llm, a.state_dir)
            runs.append(r)
            lab = r["labels"]
            print(f"{name:9s} seed {seed} chose {r['combine']:10s} admitted {','.join(r['admitted']):28s} "
                  + "  ".join(f"{m} {lab[m]['wrench_metric']:.4f}/{lab[m]['macro_f1']:.4f}"
                              for m in ("polar", "mean", "mean_1se"))
                  + f"  refit identical={r['chosen_refit_identical']}", file=sys.stderr, flush=True)
    result = {"runs": runs, "settings": {"llm": a.llm, "seeds": a.seeds, "datasets": a.datasets}}
    emit_result(result, a.json)
    return result


if __name__ == "__main__":
    main()
