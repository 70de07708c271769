"""A million rows end to end on one machine: ``polarlab run`` on a generated project, and Snorkel on the stages it has.

The project: ``--rows`` synthetic short texts (seeded; the generator of ``benchmarks/apply_sources.py``: a
Zipf-weighted vocabulary plus the tokens the rules look for) in one Parquet file, the 10 keyword/regex sources of
that benchmark plus one Python labeling function, label models MV and Snorkel, the POLAR harmonizer on TF-IDF
features, risk, outputs (labels Parquet). Each size runs in a fresh subprocess (``polarlab run`` from an empty
state): per-stage seconds from the run's stage log, total wall time, and the process's peak RSS
(``ru_maxrss``: interpreter, imports and the generated texts included).

Snorkel: ``PandasLFApplier`` with equivalent labeling functions on the first ``--snorkel-rows`` rows, its time
extrapolated linearly to ``--rows`` (``extrapolated`` says so), and ``LabelModel.fit`` on those votes tiled to
``--rows`` rows (measured at full size).

Targets on the 2-core machine: 1 M rows in <= 3 min and <= 4 GB peak RSS in all.

    python benchmarks/scale.py [--rows 1000000] [--sizes 100000,300000] [--snorkel-rows 100000]

The last line is one JSON object: ``rows``, ``total_s``, ``peak_rss_mb``, ``stages``, ``snorkel``,
``memory_by_rows``.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from polarlab.io.jsonout import dumps  # strict JSON last line: NaN / ±inf as null

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from apply_sources import RULES, make_texts, snorkel_lfs  # noqa: E402

LF_FILE = '''
from polarlab import ABSTAIN, labeling_function


@labeling_function()
def long_comment(x):
    "Long comments are rarely spam here."
    return 0 if len(x.text) > 80 else ABSTAIN
'''


def project_text(rows: int, n_seeds: int | None = None) -> str:
    lines = ['[task]', 'name = "scale"', 'labels = ["ham", "spam"]', '',
             '[data]', 'path = "data.parquet"', 'text_column = "text"', '']
    for kind, name, pat, label, ic in RULES:
        lines += ['[[sources]]', f'type = "{kind}"', f'name = "{name}"']
        if kind == "keyword":
            lines.append("keywords = " + json.dumps(pat))
        else:
            lines.append("pattern = " + json.dumps(pat))
        lines += [f'label = "{("ham", "spam")[label]}"', f'ignore_case = {str(ic).lower()}', '']
    lines += ['[[sources]]', 'type = "python"', 'file = "lfs.py"', '',
              '[labelmodel]', 'methods = ["mv", "snorkel", "polar"]', '',
              '[harmonizer]', 'features = "tfidf"', *([f'n_seeds = {n_seeds}'] if n_seeds is not None else []), '',
              '[output]', 'dir = "out"', 'labels = "labels.parquet"', '']
    return "\n".join(lines)


def worker(rows: int, seed: int, n_seeds: int | None = None) -> None:
    """One ``polarlab run`` of a ``rows``-row project in this (fresh) process; prints one JSON line."""
    from polarlab.pipeline import run
    from polarlab.project import load_project

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        pd.DataFrame({"text": make_texts(rows, seed)}).to_parquet(d / "data.parquet")
        (d / "lfs.py").write_text(LF_FILE)
        (d / "polarlab.toml").write_text(project_text(rows, n_seeds))
        t = time.perf_counter()
        result = run(load_project(d / "polarlab.toml"), progress=False)
        total = time.perf_counter() - t
        stages = {s.name: round(s.seconds, 2) for s in result.stages}
        fit_rows = next((s.report.get("fit_rows") for s in result.stages if s.name == "harmonizer"), None)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(dumps({"rows": rows, "total_s": round(total, 2), "peak_rss_mb": round(peak, 1), "stages": stages,
                      "harmonizer_fit_rows": fit_rows, "loadavg_1min": os.getloadavg()[0]}))


def run_size(rows: int, seed: int, n_seeds: int | None = None) -> dict:
    extra = ["--n-seeds", str(n_seeds)] if n_seeds is not None else []
    out = subprocess.run([sys.executable, __file__, "--worker", str(rows), "--seed", str(seed), *extra],
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"polarlab run on {rows} rows failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def snorkel_figures(rows: int, timed_rows: int, seed: int) -> dict:
    from snorkel.labeling import LabelingFunction, PandasLFApplier
    from snorkel.labeling.model import LabelModel

    n = min(rows, timed_rows)
    df = pd.DataFrame({"text": make_texts(n, seed)})
    lfs = snorkel_lfs() + [LabelingFunction("long_comment", lambda x: 0 if len(x.text) > 80 else -1)]
    t = time.perf_counter()
    L = PandasLFApplier(lfs).apply(df, progress_bar=False)
    apply_s = time.perf_counter() - t
    # the LabelModel is fitted on the timed rows' votes tiled to --rows rows (the same vote distribution): its
    # cost does not grow linearly with rows, so it is measured at full size rather than extrapolated
    L_full = np.tile(L, (-(-rows // n), 1))[:rows]
    t = time.perf_counter()
    LabelModel(cardinality=2, verbose=False).fit(L_full, n_epochs=100, seed=0, progress_bar=False)
    fit_s = time.perf_counter() - t
    scale = rows / n
    return {"rows_timed": n, "apply_s": round(apply_s * scale, 2), "label_model_s": round(fit_s, 2),
            "total_s": round(apply_s * scale + fit_s, 2), "extrapolated": n < rows}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--sizes", default="100000,300000", help="smaller sizes for the memory curve ('' = none)")
    ap.add_argument("--snorkel-rows", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n-seeds", type=int, default=None, help="[harmonizer] n_seeds (default: the harmonizer's)")
    ap.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        worker(args.worker, args.seed, args.n_seeds)
        return {}
    curve = {}
    for size in [int(s) for s in args.sizes.split(",") if s.strip()]:
        r = run_size(size, args.seed, args.n_seeds)
        curve[str(size)] = {"total_s": r["total_s"], "peak_rss_mb": r["peak_rss_mb"], "stages": r["stages"]}
        print(f"{size:>9,} rows: {r['total_s']:.1f} s, peak RSS {r['peak_rss_mb']:.0f} MB  {r['stages']}", flush=True)
    main_run = run_size(args.rows, args.seed, args.n_seeds)
    curve[str(args.rows)] = {"total_s": main_run["total_s"], "peak_rss_mb": main_run["peak_rss_mb"],
                             "stages": main_run["stages"]}
    print(f"{args.rows:>9,} rows: {main_run['total_s']:.1f} s, peak RSS {main_run['peak_rss_mb']:.0f} MB  "
          f"{main_run['stages']}", flush=True)
    sn = snorkel_figures(args.rows, args.snorkel_rows, args.seed)
    print(f"Snorkel (applier + LabelModel, {'extrapolated from ' + format(sn['rows_timed'], ',') + ' rows' if sn['extrapolated'] else 'measured'}): "
          f"{sn['total_s']:.1f} s", flush=True)
    result = {**main_run, "snorkel": sn, "memory_by_rows": curve,
              "targets": {"total_s": 180, "peak_rss_mb": 4096}}
    print(dumps(result))
    return result


if __name__ == "__main__":
    main()
