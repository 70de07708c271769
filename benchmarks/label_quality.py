"""Label quality of POLAR vs every baseline, on every WRENCH-format dataset in a folder, in one command.

Per dataset (``polarlab bench wrench`` with the defaults, rules only and, with ``--llm local``, with the
embedded LLM where the examples have text): MV (WRENCH's seeded random tie-break), Snorkel,
Dawid–Skene, each of them followed by a logistic regression on the same features (``+lr``), POLAR's
h(x) alone (``polar_h``) and POLAR's final output (``polar``: h(x) combined with the row's votes, the
choice made per dataset without gold and reported under ``harmonizer``, with the vote-shift check of the test
rows under ``harmonizer.vote_shift_test``: when the test votes disagree with the features-only classifier far
more than the fit rows' did, POLAR labels the test rows from their features alone, :mod:`polarlab.harmonizer.shift`).

Also the one-sided-rules project (``--one-sided``): YouTube spam comments, 150 fit rows drawn from four
videos, test on the fifth, rules that only ever vote "spam" (a "ham" rule exists but never fires); with
and without the LLM. It reports every method's test accuracy and the warnings the harmonizer raised.

Usage::

    python benchmarks/label_quality.py --data ../shared/data --state-dir .polarlab            # rules only
    python benchmarks/label_quality.py --llm local --limit 100 --datasets youtube,sms          # with the LLM

The last line printed is one JSON object: {"datasets": {name: {"llm", "labels", "risk", "harmonizer",
"wins": {...}}}, "one_sided": {...}, "settings": {...}}.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import warnings
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")

SPAM_RULES = {                                   # one-sided: every rule that fires votes spam (1)
    "link": r"https?://|www\.|\.com\b",
    "check_out": r"\bcheck\s+(it\s+|this\s+|my\s+)?out\b",
    "subscribe": r"\bsubscrib",
    "my_channel": r"\bmy\s+(youtube\s+)?channel\b",
    "please": r"\bplease\s+(like|share|visit|help|support)\b",
}
HAM_RULES = {"blank": r"^\s*$"}                  # a ham rule that never fires on real comments


def wrench_dirs(root: Path) -> list[Path]:
    """Sub-folders of ``root`` in WRENCH format (label.json and test.json)."""
    return sorted(p for p in root.iterdir() if (p / "label.json").exists() and (p / "test.json").exists())


def wins(labels: dict, metric: str) -> dict:
    """POLAR's margin over the best baseline on ``metric`` (positive = POLAR better)."""
    from polarlab.bench.methods import BASELINES

    best = max(BASELINES, key=lambda m: -1 if labels.get(m, {}).get(metric) is None else labels[m][metric])
    if labels[best][metric] is None or labels["polar"][metric] is None:     # the test split has no gold
        return {"best_baseline": None, "best_baseline_value": None, "polar": labels["polar"][metric], "margin": None}
    return {"best_baseline": best, "best_baseline_value": labels[best][metric],
            "polar": labels["polar"][metric], "margin": labels["polar"][metric] - labels[best][metric]}


def run_dataset(directory: Path, llm: str, limit: int | None, state_dir: Path, seed: int,
                harmonizer: dict | None = None, metric: str = "auto") -> dict:
    from polarlab.bench import BenchConfig, bench_wrench
    from polarlab.bench.methods import supervision_messages

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = bench_wrench(BenchConfig(directory=directory, llm=llm, limit=limit, state_dir=state_dir,
                                       progress=False, seed=seed, harmonizer=dict(harmonizer or {}), metric=metric))
    out = {k: res[k] for k in ("dataset", "n_fit", "n_test", "llm", "risk_of", "metric", "labels", "risk",
                               "harmonizer")}
    out["llm_weight"] = res.get("llm_weight")
    out["seconds"] = res["seconds"]
    out["wins"] = {"wrench_metric": wins(res["labels"], "wrench_metric"), "macro_f1": wins(res["labels"], "macro_f1")}
    out["warnings"] = supervision_messages(caught)
    return out


def one_sided(spam_dir: Path, llm: str, state_dir: Path, n_fit: int, test_limit: int | None, seed: int,
              harmonizer: dict | None = None) -> dict:
    """The one-sided-rules project (see the module docstring)."""
    import pandas as pd

    from polarlab.bench.instructions import llm_task
    from polarlab.bench.methods import fit_methods, score_methods
    from polarlab.bench.wrench import make_llm_source
    from polarlab.data.loaders import from_pandas
    from polarlab.features import make_features
    from polarlab.labelmodels import MajorityVote
    from polarlab.task import Task

    files = sorted(spam_dir.glob("Youtube0*.csv"))
    frames = [pd.read_csv(f) for f in files]
    pool = pd.concat(frames[:-1], ignore_index=True)
    fit_rows = pool.iloc[np.sort(np.random.default_rng(seed).permutation(len(pool))[:n_fit])]
    test_rows = frames[-1]
    if test_limit and len(test_rows) > test_limit:
        test_rows = test_rows.iloc[np.sort(np.random.default_rng(seed).permutation(len(test_rows))[:test_limit])]
    task = llm_task(Task(labels=("ham", "spam"), name="youtube"))
    sets = {}
    for name, f in (("fit", fit_rows), ("test", test_rows)):
        frame = pd.DataFrame({"text": f["CONTENT"].astype(str),
                              "label": f["CLASS"].astype(int)})
        sets[name] = from_pandas(frame, task, name=name)          # (the CSVs repeat some COMMENT_IDs)

    def votes(ds) -> np.ndarray:
        cols = [[1 if re.search(p, t, re.I) else -1 for t in ds.texts] for p in SPAM_RULES.values()]
        cols += [[0 if re.search(p, t) else -1 for t in ds.texts] for p in HAM_RULES.values()]
        return np.asarray(cols, dtype=np.int64).T

    L = {s: votes(d) for s, d in sets.items()}
    ext = make_features("embedding", cache_dir=str(state_dir / "features")).fit(sets["fit"])
    X = {s: ext.transform(d) for s, d in sets.items()}
    out: dict = {"n_fit": len(sets["fit"]), "n_test": len(sets["test"]),
                 "rules_voting": {"spam": len(SPAM_RULES), "ham": len(HAM_RULES)},
                 "votes_by_class_fit": {str(c): int((L["fit"] == c).sum()) for c in (0, 1)}}
    variants = [("rules", None)]
    if llm != "none":
        variants.append(("rules+llm", make_llm_source(llm, state_dir, progress=False)))
    gold = sets["test"].gold
    for tag, source in variants:
        Lf, Lt = L["fit"], L["test"]
        if source is not None:
            Lf = np.hstack([Lf, source.apply(sets["fit"], task).votes[:, None]])
            Lt = np.hstack([Lt, source.apply(sets["test"], task).votes[:, None]])
        opts = dict(harmonizer or {})
        if source is not None:
            opts["tune_sources"] = [Lf.shape[1] - 1]
        fits = fit_methods(Lf, Lt, X["fit"], X["test"], 2, seed=seed, harmonizer=opts)
        h = fits.harmonizer
        first = MajorityVote(2, tie_break="first").fit(Lf).predict_proba(Lt)
        probas = {"mv": fits.probas["mv"], "mv_first": first, **fits.probas}     # MV's two tie-breaks side by side
        out[tag] = {"labels": score_methods(gold, probas, "youtube"),
                    "combine": h.combine_, "llm_multiplier": h.tuned_multiplier_ if source is not None else None,
                    "warnings": [str(w.message) for w in fits.fit_warnings + fits.test_warnings]}
    return out


def _f(x, spec: str = ".4f") -> str:
    return "-" if x is None else format(x, spec)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--datasets", default="", help="comma-separated folder names (default: every WRENCH folder)")
    ap.add_argument("--llm", default="none", help="none | local (the embedded LLM, text datasets only)")
    ap.add_argument("--limit", type=int, default=None, help="at most N rows of each split (seeded sample)")
    ap.add_argument("--state-dir", type=Path, default=Path(".polarlab"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--one-sided", action="store_true", help="also run the one-sided-rules project")
    ap.add_argument("--one-sided-only", action="store_true", help="run only the one-sided-rules project")
    ap.add_argument("--one-sided-test-limit", type=int, default=None, help="at most N test rows there")
    ap.add_argument("--json", type=Path, default=None, help="also write the result here")
    ap.add_argument("--metric", default="auto", help="wrench_metric: auto (WRENCH's metric for the folder's name, "
                    "accuracy for a name WRENCH does not list) | acc | f1_binary")
    ap.add_argument("--n-seeds", type=int, default=None, help="POLAR's seed ensemble (default: the harmonizer's)")
    ap.add_argument("--harmonizer-seed", type=int, default=None,
                    help="POLAR's seed alone (default --seed, which also draws the --limit rows and MV's tie-breaks)")
    ap.add_argument("--combine-groups-by", default=None, help="POLAR's source groups of the gold-free selection: "
                    "random | dependency | conditional (default: the harmonizer's)")
    a = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    names = [s for s in a.datasets.split(",") if s]
    dirs = [a.data / n for n in names] if names else wrench_dirs(a.data)
    opts = {} if a.n_seeds is None else {"n_seeds": a.n_seeds}
    if a.harmonizer_seed is not None:
        opts["seed"] = a.harmonizer_seed
    if a.combine_groups_by is not None:
        opts["combine_groups_by"] = a.combine_groups_by
    result: dict = {"datasets": {}, "settings": {"llm": a.llm, "limit": a.limit, "seed": a.seed, "harmonizer": opts,
                                                "metric": a.metric}}
    if not a.one_sided_only:
        from polarlab.errors import PolarlabError

        for d in dirs:
            try:
                r = run_dataset(d, a.llm, a.limit, a.state_dir, a.seed, opts, a.metric)
            except PolarlabError as e:        # one bad folder is reported; the others still run
                result["datasets"][d.name] = {"error": str(e)}
                print(f"{d.name:10s} error: {e}", file=sys.stderr, flush=True)
                continue
            result["datasets"][d.name] = r
            w = r["wins"]["wrench_metric"]
            print(f"{d.name:10s} llm={r['llm']:5s} {r['metric']['name']:9s} polar {_f(w['polar'])}  polar_h "
                  f"{_f(r['labels']['polar_h']['wrench_metric'])}  best baseline {w['best_baseline']} "
                  f"{_f(w['best_baseline_value'])}  margin {_f(w['margin'], '+.4f')}"
                  f"  | macro-F1 margin {_f(r['wins']['macro_f1']['margin'], '+.4f')}  combine={r['harmonizer']['combine']}"
                  f"  test votes shifted={r['harmonizer'].get('vote_shift_test', {}).get('shifted')}",
                  file=sys.stderr, flush=True)
    if a.one_sided or a.one_sided_only:
        result["one_sided"] = one_sided(a.data / "spam", a.llm, a.state_dir, 150, a.one_sided_test_limit, a.seed, opts)
    from polarlab.bench.methods import emit_result

    emit_result(result, a.json)
    return result


if __name__ == "__main__":
    from polarlab.bench.methods import exit_status

    sys.exit(exit_status(main()))      # every folder ran; a failed one still fails the command
