"""Fit time and peak memory: POLAR harmonizer (LR) vs Snorkel's LabelModel, same matrix, same process.

A synthetic problem: ``--rows`` examples, ``--sources`` noisy sources (accuracy 0.6-0.9,
coverage 0.3-0.9), 2 classes, ``--dim``-dimensional features that predict the class.
Both models run with the same number of torch threads (``--threads``, default 1: on a
shared or small machine, intra-op threading of these small tensors mostly adds contention,
and it hits both models alike). Each model is timed ``--repeats`` times, alternating, the
fastest run counting; timing runs have no instrumentation. Memory is measured in separate
runs, each in a fresh (spawned) process: peak resident-set growth over the RSS just before the
fit (a thread samples
/proc/self/statm every 2 ms; this sees torch's allocations, which tracemalloc cannot) and
tracemalloc's peak (Python/NumPy allocations only).

Target: ``ratio = polar_lr_s / snorkel_s <= 2``. The last line printed is one JSON object.
"""
from __future__ import annotations

import argparse
import gc
import multiprocessing
import os
import threading
import time
import tracemalloc
import warnings

import numpy as np

from polarlab.io.jsonout import dumps  # strict JSON last line: NaN / ±inf as null


def make_problem(rows: int, sources: int, dim: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, dim)).astype(np.float32)
    y = (X @ rng.normal(size=dim) + rng.normal(size=rows) > 0).astype(np.int64)
    acc = rng.uniform(0.6, 0.9, sources)
    cov = rng.uniform(0.3, 0.9, sources)
    L = np.where(rng.random((rows, sources)) < acc, y[:, None], 1 - y[:, None])
    L[rng.random((rows, sources)) > cov] = -1
    return X, y, L.astype(np.int64)


def _rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class PeakRSS:
    """Samples RSS in a thread; ``peak_mb`` = max RSS growth over the value at entry."""

    def __init__(self, interval: float = 0.002) -> None:
        self.interval = interval

    def __enter__(self) -> "PeakRSS":
        self.base = _rss_bytes()
        self.peak = self.base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _rss_bytes())
            time.sleep(self.interval)

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_bytes())

    @property
    def peak_mb(self) -> float:
        return (self.peak - self.base) / 2**20


def timed(fit) -> tuple[float, object]:
    gc.collect()
    t0 = time.perf_counter()
    out = fit()
    return time.perf_counter() - t0, out


def _fitters(X, y, L, n_seeds: int = 1):
    from snorkel.labeling.model import LabelModel

    from polarlab.harmonizer import PolarHarmonizer

    def fit_polar():
        # num_threads=None: the same torch thread setting as Snorkel (not polarlab's "auto")
        return PolarHarmonizer(2, model="lr", seed=0, num_threads=None, n_seeds=n_seeds).fit(L, X)

    def fit_snorkel():
        lm = LabelModel(cardinality=2, verbose=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            lm.fit(L, seed=0, progress_bar=False)     # Snorkel's default settings (100 epochs)
        return lm

    return {"polar": fit_polar, "snorkel": fit_snorkel}


def _memory_child(which: str, rows: int, sources: int, dim: int, threads: int, n_seeds: int, conn) -> None:
    import torch
    if threads:
        torch.set_num_threads(threads)
    X, y, L = make_problem(rows, sources, dim)
    _fitters(X[:2000], y[:2000], L[:2000])[which]()     # first-call initialisation, not measured
    fit = _fitters(X, y, L, n_seeds)[which]
    gc.collect()
    tracemalloc.start()
    with PeakRSS() as rss:
        fit()
    _, tm_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    conn.send((rss.peak_mb, tm_peak / 2**20))
    conn.close()


def memory(which: str, args) -> tuple[float, float]:
    """(peak RSS growth MB, tracemalloc peak MB) of one fit of ``which``, in a fresh spawned
    process (same data), so that memory the allocator kept from earlier fits hides nothing."""
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_memory_child,
                       args=(which, args.rows, args.sources, args.dim, args.threads, args.n_seeds, child))
    proc.start()
    out = parent.recv()
    proc.join()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--sources", type=int, default=10)
    ap.add_argument("--dim", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads for both models (0 = torch's default)")
    ap.add_argument("--n-seeds", type=int, default=1, help="POLAR's seed ensemble (n_seeds)")
    args = ap.parse_args()

    import torch
    from snorkel.labeling.model import LabelModel

    from polarlab.harmonizer import PolarHarmonizer

    if args.threads:
        torch.set_num_threads(args.threads)
    X, y, L = make_problem(args.rows, args.sources, args.dim)
    fitters = _fitters(X, y, L, args.n_seeds)

    # warm up both code paths (imports, first-call overheads) on a small slice
    PolarHarmonizer(2, epochs=2).fit(L[:2000], X[:2000])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        LabelModel(cardinality=2, verbose=False).fit(L[:2000], n_epochs=2, progress_bar=False)

    s_mem = memory("snorkel", args)
    p_mem = memory("polar", args)
    polar, snork = [], []
    for _ in range(args.repeats):
        snork.append(timed(fitters["snorkel"]))
        polar.append(timed(fitters["polar"]))
    p_s, h = min(polar, key=lambda r: r[0])
    s_s, lm = min(snork, key=lambda r: r[0])
    polar_acc = float((h.predict(None, X) == y).mean())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        snorkel_acc = float((lm.predict_proba(L).argmax(1) == y).mean())
    print(f"polar LR : {[round(r[0], 3) for r in polar]} s, epochs run {len(h.history_)}, "
          f"kept {h.best_epoch_}, accuracy {polar_acc:.4f}")
    print(f"snorkel  : {[round(r[0], 3) for r in snork]} s, accuracy {snorkel_acc:.4f}")
    result = {
        "rows": args.rows, "sources": args.sources, "dim": args.dim, "classes": 2, "n_seeds": args.n_seeds,
        "torch_threads": torch.get_num_threads(),
        "polar_lr_s": round(p_s, 4), "snorkel_s": round(s_s, 4), "ratio": round(p_s / s_s, 4),
        "polar_peak_mb": round(p_mem[0], 2), "snorkel_peak_mb": round(s_mem[0], 2),
        "polar_tracemalloc_mb": round(p_mem[1], 2), "snorkel_tracemalloc_mb": round(s_mem[1], 2),
        "polar_accuracy": round(polar_acc, 4), "snorkel_accuracy": round(snorkel_acc, 4),
        "target_ratio": 2.0,
    }
    print(dumps(result))


if __name__ == "__main__":
    main()
