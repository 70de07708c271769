"""The Ray engine's overhead against the local engine, and what a 10-node cluster would take.

For each size in ``--sizes`` (default 100k and 1M rows): the synthetic texts of ``benchmarks/apply_sources.py``,
its 10 keyword/regex sources plus one Python labeling function, applied by the local engine (this process) and by
the Ray engine on a real local cluster started here (``--cpus`` worker CPUs, default 2, partitions of
``--partition-rows`` rows). The two label matrices must be equal. Reported per size: ``local_s``, ``ray_s``,
``overhead_s`` (ray - local), ``ratio``, the per-partition wall times measured inside the workers
(``partition_s``), and the driver's share, ``driver_s`` = ray_s - sum(partition_s) / cpus (splitting the rows,
pickling them into the object store, assembling the matrix: work that does not spread over nodes). The cluster's
start (``ray_start_s``) and a warm-up that starts its worker processes (``warmup_s``) are reported once, apart.

The 10-node estimate (``estimate_10_nodes``, EXTRAPOLATED, not measured): ``driver_s + sum(partition_s) /
(10 * cpus)``, i.e. the measured per-partition compute spread over 10 nodes of the same kind, plus the measured
driver work, which stays on one machine. Network transfer between machines is not in it: on one machine the
object store is shared memory. What moves per partition: its rows (ids + texts, ~60 bytes a row here) out, its
votes (rows x sources int64) back.

    python benchmarks/ray_overhead.py [--sizes 100000,1000000] [--cpus 2] [--partition-rows 100000]

The last line is one JSON object.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from polarlab.io.jsonout import dumps  # strict JSON last line: NaN / ±inf as null

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from apply_sources import LABELS, make_texts, polarlab_sources  # noqa: E402


def sources():
    from polarlab import ABSTAIN, labeling_function

    @labeling_function()
    def long_comment(x):
        return 0 if len(x.text) > 80 else ABSTAIN

    return polarlab_sources() + [long_comment]


def one_size(rows: int, ray_engine, local_engine, cpus: int, seed: int) -> dict:
    from polarlab import Task, from_pandas

    task = Task(labels=LABELS)
    ds = from_pandas(pd.DataFrame({"text": make_texts(rows, seed)}), task)
    srcs = sources()
    t = time.perf_counter()
    local = local_engine.apply_sources(ds, srcs, task)
    local_s = time.perf_counter() - t
    t = time.perf_counter()
    remote = ray_engine.apply_sources(ds, srcs, task)
    ray_s = time.perf_counter() - t
    if not np.array_equal(local.L, remote.L):
        raise SystemExit(f"{rows} rows: the Ray engine's matrix differs from the local engine's")
    parts = [round(p, 3) for p in ray_engine.partition_seconds]
    compute = sum(parts)
    driver = max(0.0, ray_s - compute / cpus)
    return {"rows": rows, "local_s": round(local_s, 2), "ray_s": round(ray_s, 2),
            "overhead_s": round(ray_s - local_s, 2), "ratio": round(ray_s / local_s, 2),
            "partitions": len(parts), "partition_s": parts, "partition_compute_s": round(compute, 2),
            "driver_s": round(driver, 2), "identical": True,
            "estimate_10_nodes": {"s": round(driver + compute / (10 * cpus), 2), "extrapolated": True,
                                  "cpus_per_node": cpus}}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--cpus", type=int, default=2)
    ap.add_argument("--partition-rows", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    from polarlab.engine import LocalEngine, make_engine

    load0 = os.getloadavg()[0]
    t = time.perf_counter()
    ray_engine = make_engine("ray", num_cpus=args.cpus, partition_rows=args.partition_rows)
    start_s = time.perf_counter() - t
    local_engine = LocalEngine(progress=False)
    t = time.perf_counter()            # the workers' processes start on the first tasks: timed apart
    one_size(4 * args.cpus, make_engine("ray", partition_rows=1), local_engine, args.cpus, args.seed)
    warm_s = time.perf_counter() - t
    out: dict = {"cpus": args.cpus, "partition_rows": args.partition_rows, "ray_start_s": round(start_s, 2),
                 "warmup_s": round(warm_s, 2), "sizes": {}}
    try:
        for size in [int(s) for s in args.sizes.split(",") if s.strip()]:
            r = one_size(size, ray_engine, local_engine, args.cpus, args.seed)
            out["sizes"][str(size)] = r
            print(f"{size:>9,} rows: local {r['local_s']:.1f} s, ray {r['ray_s']:.1f} s "
                  f"(x{r['ratio']}), partitions {r['partition_s']}, driver {r['driver_s']:.1f} s, "
                  f"10 nodes ~{r['estimate_10_nodes']['s']:.1f} s (extrapolated)", flush=True)
    finally:
        ray_engine.close()
    out["loadavg_1min"] = [load0, os.getloadavg()[0]]
    print(dumps(out))
    return out


if __name__ == "__main__":
    main()
