"""``polarlab predict`` throughput and peak memory on N generated short texts (default 100,000).

The end model is the logistic regression on all-MiniLM-L6-v2 embeddings, trained on youtube's gold labels.
The texts are distinct word windows (5-30 words) cut from the youtube, sms and trec texts, so no two rows
are the same and the encoder really runs on every row (``predict`` encodes identical texts of a batch once;
duplicates would flatter it). Each size runs ``polarlab predict DATA --out FILE`` in a fresh process with
``--threads`` torch threads; peak memory is that child's own ``ru_maxrss`` (``os.wait4``). Two sizes show
whether memory is bounded by the batch or grows with the rows.

``--before-src DIR`` also times the same command with another polarlab source tree (e.g. the code before
a change, ``git archive <commit> src | tar -x -C DIR``) on the smallest size, for a before/after line.

    python benchmarks/predict.py [--rows 1000,100000] [--threads 1] [--batch-size 1024] [--before-src DIR]

The last line printed is one JSON object: ``{"rows": .., "rows_per_s": .., "peak_rss_mb": .., "runs": {..}}``.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402  (after OMP_NUM_THREADS: the thread count is read at import)

from polarlab.io.jsonout import dumps  # noqa: E402  strict JSON last line: NaN / ±inf as null
DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
SRC = Path(__file__).resolve().parents[1] / "src"


def make_texts(rows: int, seed: int = 0) -> list[str]:
    """``rows`` distinct texts of 5-30 words cut from the youtube, sms and trec texts."""
    from polarlab.data.wrench import load_wrench, wrench_task

    words: list[str] = []
    for name in ("youtube", "sms", "trec"):
        for ds in load_wrench(DATA / name, wrench_task(DATA / name)).values():
            for t in ds.texts:
                words.extend(str(t).split())
    rng = np.random.default_rng(seed)
    out: dict[str, None] = {}
    while len(out) < rows:
        n = rows - len(out)
        starts, lengths = rng.integers(0, len(words) - 30, n), rng.integers(5, 31, n)
        for s, m in zip(starts, lengths):
            out.setdefault(" ".join(words[s:s + m]), None)
    return list(out)[:rows]


def train_model(path: Path, cache: Path) -> None:
    from polarlab.data.wrench import load_wrench, wrench_task
    from polarlab.endmodel import Targets, make_end_model

    task = wrench_task(DATA / "youtube")
    fit = load_wrench(DATA / "youtube", task)["train"]
    make_end_model("logreg", task, cache_dir=cache).fit(fit, Targets(np.eye(2)[fit.gold])).save(path)


def time_predict(model_dir: Path, data: Path, out: Path, threads: int, batch_size: int, src: Path) -> dict:
    """``polarlab predict`` in a fresh process: wall seconds, rows/s, peak RSS (MB)."""
    cmd = [sys.executable, "-c", f"import torch; torch.set_num_threads({threads}); "
           "from polarlab.cli.main import app; app()",
           "predict", str(model_dir), str(data), "--out", str(out), "--no-progress", "--batch-size", str(batch_size)]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONPATH": str(src)}
    t = time.perf_counter()
    child = subprocess.Popen(cmd, env=env)
    _, status, usage = os.wait4(child.pid, 0)          # this child's own peak RSS (ru_maxrss, KiB)
    wall = time.perf_counter() - t
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise subprocess.CalledProcessError(child.returncode, cmd)
    with open(out, encoding="utf-8") as fh:
        rows = sum(1 for _ in fh) - 1
    return {"rows": rows, "seconds": round(wall, 2), "rows_per_s": round(rows / wall, 2),
            "peak_rss_mb": round(usage.ru_maxrss / 1024, 1)}


def measure(sizes: list[int], threads: int = 1, batch_size: int = 1024, state_dir: Path = Path(".polarlab"),
            before_src: Path | None = None) -> dict:
    """Time ``polarlab predict`` on each size (smallest first); the result of the largest on top."""
    import pandas as pd

    sizes = sorted(sizes)
    result: dict = {"runs": {}, "threads": threads, "batch_size": batch_size,
                    "model": "logreg on all-MiniLM-L6-v2 embeddings (youtube gold)",
                    "load_average_at_start": os.getloadavg()}
    with tempfile.TemporaryDirectory(prefix="polarlab-predict-") as tmp:
        tmp = Path(tmp)
        train_model(tmp / "model", state_dir / "features")
        texts = make_texts(max(sizes))
        for n in sizes:
            data = tmp / f"data{n}.csv"
            pd.DataFrame({"text": texts[:n]}).to_csv(data, index=False)
            r = time_predict(tmp / "model", data, tmp / f"pred{n}.csv", threads, batch_size, SRC)
            result["runs"][str(n)] = r
            print(f"predict {n} rows: {r['rows_per_s']:.1f} rows/s, {r['seconds']:.0f} s, peak RSS {r['peak_rss_mb']} MB"
                  f"  (load {os.getloadavg()[0]:.1f})", flush=True)
        if before_src is not None:
            n = sizes[0]
            r = time_predict(tmp / "model", tmp / f"data{n}.csv", tmp / f"before{n}.csv", threads, batch_size,
                             before_src)
            same = pd.read_csv(tmp / f"before{n}.csv")["label"].equals(pd.read_csv(tmp / f"pred{n}.csv")["label"])
            result["before"] = {"src": str(before_src), **r, "same_labels": bool(same)}
            print(f"before ({before_src}) {n} rows: {r['rows_per_s']:.1f} rows/s, peak RSS {r['peak_rss_mb']} MB,"
                  f" same labels: {same}", flush=True)
    last = result["runs"][str(sizes[-1])]
    result.update(rows=last["rows"], rows_per_s=last["rows_per_s"], peak_rss_mb=last["peak_rss_mb"],
                  load_average_at_end=os.getloadavg())
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", default="1000,100000", help="comma-separated sizes, run smallest first")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=1024)
    ap.add_argument("--before-src", type=Path, default=None)
    ap.add_argument("--state-dir", type=Path, default=Path(".polarlab"))
    args = ap.parse_args()
    result = measure([int(r) for r in args.rows.split(",") if r], args.threads, args.batch_size, args.state_dir,
                     args.before_src)
    print(dumps(result, separators=(",", ":")))


if __name__ == "__main__":
    main()
