"""Throughput and quality of the embedded LLM labeler (llama.cpp, Gemma 3 270M).

Measures, in one process, on WRENCH SMS test:
  * examples/s of the local backend (the default: ``processes = "auto"``, several single-thread model
    processes) WITH prefix reuse (the first ``--limit`` examples, default all 500) -> ``examples_per_s``, and of
    today's single-process path (one model, "auto" threads, ``processes = 1``) on the same examples, measured the
    same way right after -> ``examples_per_s_single_sequence``, their ratio ``speedup_vs_single_sequence`` and
    the largest difference of their distributions ``max_abs_diff_vs_single_sequence``; and examples/s WITHOUT
    prefix reuse (one process; the first ``--limit-no-reuse``, default 100: it is
    slower; the rate is per example so the two are comparable). Each run starts from an empty
    cache; the rate counts model calls (distinct prompts: duplicate texts are asked once, and
    the 3 content-free calibration prompts count), cache writes are included in the time.
  * that both give the same distributions (max abs difference, reported);
  * examples/s with reuse but ``--alt-threads`` threads (default 1) on the no-reuse subset: on a
    shared, oversubscribed CPU llama.cpp's spinning threads make 2 threads much slower than 1;
    the 1-minute load average at start and end is reported to tell the conditions;
  * threads and processes: examples/s on the first ``--limit-threads`` SMS examples (default 200), each from a
    fresh backend (worker start-up included), of three variants: the old fixed 2 threads in one process
    (``*_before``), one process with "auto" threads (``*_single_sequence``, today's path) and the default,
    "auto" threads as single-thread processes (no suffix); on the machine as it is (``examples_per_s_quiet*``)
    and under a background load the benchmark starts itself: ``--load-procs`` busy-loop processes, each pinned to
    one of the allowed cores (``examples_per_s_loaded*``); ``examples_per_s_loaded_share`` = loaded / quiet of the
    default; ``speedup_vs_single_sequence_{quiet,loaded}``; ``max_abs_diff_threads``: the largest difference
    between the distributions of the six runs (neither threads nor processes may change a score);
    ``--only-threads`` runs this section alone and also reports its quiet figures as ``examples_per_s`` and
    ``examples_per_s_single_sequence``;
and accuracy / AUROC of the scoring-mode answers on SMS and YouTube test, with contextual
calibration (the default) and without (``*_uncalibrated``).

The prompt: a task instruction written for spam detection and ``--shots`` demonstrations
(alternating ham/spam, the first short ones of the train split).

Usage:  python benchmarks/llm_throughput.py [--data-root ../shared/data] [--limit 500]
        [--limit-no-reuse 100] [--shots 4] [--gguf PATH]
The last line printed is one JSON object.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from polarlab.data.dataset import Dataset, Example
from polarlab.llm import LLMSource
from polarlab.llm.local import LlamaCppBackend
from polarlab.task import Task

from polarlab.io.jsonout import dumps  # strict JSON last line: NaN / ±inf as null

WHAT = {"sms": "SMS text message", "youtube": "YouTube comment"}
INSTRUCTION = ("Classify the {what} as spam or not spam. Spam: advertising, self-promotion, "
               "requests to subscribe or visit links, prizes, scams.")


def load_split(root: Path, name: str, split: str) -> pd.DataFrame:
    path = root / name / f"{split}.json"
    d = json.loads(path.read_text())
    return pd.DataFrame([{"id": str(k), "text": v["data"]["text"], "label": int(v["label"])}
                         for k, v in d.items()])


def task_for(name: str) -> Task:
    return Task(labels=("ham", "spam"), name=name, instruction=INSTRUCTION.format(what=WHAT[name]))


def demos(root: Path, name: str, k: int) -> list[tuple[Example, int]]:
    """``k`` demonstrations from the train split, alternating ham/spam, short texts first."""
    tr = load_split(root, name, "train")
    tr = tr[tr.text.str.len() < 120]
    out = []
    for i in range(k):
        y = i % 2
        r = tr[tr.label == y].iloc[i // 2]
        out.append((Example(f"demo-{i}", r.text), y))
    return out


def metrics(src: LLMSource, data: Dataset, task: Task, calibrate: bool) -> dict:
    ans = src.ask(src.requests_for(data, task), task, calibrate=calibrate)
    assert src.last_stats.calls == 0, "metrics must come from cached answers"
    y = data.gold
    votes = np.array([a.label for a in ans])
    p = np.vstack([a.proba for a in ans])
    return {"accuracy": float((votes == y).mean()), "auroc": float(roc_auc_score(y, p[:, 1]))}


def _spin() -> None:
    while True:
        pass


def start_load(procs: int) -> list:
    """``procs`` busy-loop processes, each pinned to one allowed core (round robin)."""
    import multiprocessing as mp

    cpus = sorted(os.sched_getaffinity(0))
    out = []
    for i in range(procs):
        p = mp.Process(target=_spin, daemon=True)
        p.start()
        os.sched_setaffinity(p.pid, {cpus[i % len(cpus)]})
        out.append(p)
    time.sleep(1.0)
    return out


def timed_threads(gguf, threads, data: Dataset, task: Task, fs, processes="auto"
                  ) -> tuple[float, np.ndarray, int, int, float]:
    """(examples/s, (n, k) distributions, threads of the driver's model at the end, processes used, resident MB of
    the worker processes at the end) of a fresh backend on ``data`` (worker start-up included in the time)."""
    be = LlamaCppBackend(gguf, n_threads=threads, reuse_prefix=True, processes=processes)
    src = LLMSource(be, few_shot=fs, cache=":memory:", progress=False, calibrate=False)
    t0 = time.perf_counter()
    ans = src.ask(src.requests_for(data, task), task)
    rate = src.last_stats.calls / (time.perf_counter() - t0)
    used, procs = be.n_threads, 1 + (be._pool.size if be._pool is not None else 0)
    workers_mb = sum(rss_mb_of(p.pid) for p in be._pool._procs) if be._pool is not None else 0.0
    be.close()
    return rate, np.vstack([a.proba for a in ans]), used, procs, workers_mb


def rss_mb_of(pid: int) -> float:
    """Resident memory of process ``pid`` now (MB, from /proc; 0 where unreadable)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


#: The variants of the thread section: name -> (n_threads, processes, JSON key suffix).
VARIANTS = {"before": (2, 1, "_before"),                       # the old default: one model, 2 threads
            "single_sequence": ("auto", 1, "_single_sequence"),  # one model, "auto" threads
            "auto": ("auto", "auto", "")}                        # the default: "auto" threads as processes


def thread_section(args, data: Dataset, task: Task, fs) -> dict:
    """examples/s of each variant, on the machine as it is and under the benchmark's own load."""
    out: dict = {"load_procs": args.load_procs, "cpus_allowed": len(os.sched_getaffinity(0)),
                 "n_threads_section": len(data)}
    dists = []
    for cond in ("quiet", "loaded"):
        procs = start_load(args.load_procs) if cond == "loaded" else []
        try:
            for name, (threads, processes, suffix) in VARIANTS.items():
                if name not in args.variants:
                    continue
                out[f"loadavg_1min_{cond}_{name}"] = os.getloadavg()[0]
                rate, P, used, n_procs, rss = timed_threads(args.gguf, threads, data, task, fs, processes)
                out[f"examples_per_s_{cond}{suffix}"] = rate
                out[f"workers_rss_mb_{cond}_{name}"] = rss  # memory the worker processes add (the driver's is apart)
                out[f"threads_{cond}_{name}"], out[f"processes_{cond}_{name}"] = used, n_procs
                dists.append(P)
                log(f"{name} ({n_procs} process(es), {used} thread(s) here), {cond}: {rate:.2f} examples/s")
        finally:
            for p in procs:
                p.terminate()
                p.join()
    out["variants"] = [v for v in VARIANTS if v in args.variants]
    out["examples_per_s_loaded_share"] = out["examples_per_s_loaded"] / out["examples_per_s_quiet"]
    out["speedup_vs_single_sequence_quiet"] = out["examples_per_s_quiet"] / out["examples_per_s_quiet_single_sequence"]
    out["speedup_vs_single_sequence_loaded"] = (out["examples_per_s_loaded"]
                                                / out["examples_per_s_loaded_single_sequence"])
    out["max_abs_diff_threads"] = float(max(np.abs(P - dists[0]).max() for P in dists))
    return out


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-root", default=str(Path(__file__).resolve().parents[1].parent / "shared" / "data"))
    ap.add_argument("--limit", type=int, default=500, help="SMS examples timed with prefix reuse")
    ap.add_argument("--limit-no-reuse", type=int, default=100,
                    help="SMS examples timed without prefix reuse")
    ap.add_argument("--shots", type=int, default=4)
    ap.add_argument("--gguf", default=None)
    ap.add_argument("--threads", default="auto", help='threads of the main runs: "auto" or a number')
    ap.add_argument("--limit-threads", type=int, default=200, help="SMS examples of the thread comparison")
    ap.add_argument("--load-procs", type=int, default=1, help="busy-loop processes of the loaded runs")
    ap.add_argument("--only-threads", action="store_true", help="run the thread comparison alone")
    ap.add_argument("--variants", default=",".join(VARIANTS),
                    help="variants of the thread comparison (before = the old 2 fixed threads: slow under load)")
    ap.add_argument("--alt-threads", type=int, default=1,
                    help="also time reuse with this many threads (0 = skip)")
    args = ap.parse_args()
    args.variants = args.variants.split(",")
    args.threads = int(args.threads) if str(args.threads).isdigit() else args.threads
    root = Path(args.data_root)

    sms = Dataset(load_split(root, "sms", "test"), name="sms")
    yt = Dataset(load_split(root, "youtube", "test"), name="youtube")
    sms_run = sms.head(args.limit)
    tmp = Path(tempfile.mkdtemp(prefix="llm_bench_"))

    threads = thread_section(args, sms.head(args.limit_threads), task_for("sms"), demos(root, "sms", args.shots))
    if args.only_threads:
        threads["examples_per_s"] = threads["examples_per_s_quiet"]
        threads["examples_per_s_single_sequence"] = threads["examples_per_s_quiet_single_sequence"]
        print(dumps(threads))
        return
    be = LlamaCppBackend(args.gguf, n_threads=args.threads, reuse_prefix=True)
    be_fresh = LlamaCppBackend(args.gguf, n_threads=args.threads, reuse_prefix=False, processes=1)
    log(f"model {be.model_id}; sms {len(sms_run)} (reuse) / {args.limit_no_reuse} (no reuse); "
        f"youtube {len(yt)}; shots {args.shots}")

    results: dict = {"loadavg_1min_start": os.getloadavg()[0], **threads}
    for name, data in (("sms", sms_run), ("youtube", yt)):
        task = task_for(name)
        fs = demos(root, name, args.shots)
        src = LLMSource(be, few_shot=fs, cache=tmp / "reuse.sqlite", progress=False)
        t0 = time.perf_counter()
        src.apply(data, task)
        dt = time.perf_counter() - t0
        st = src.last_stats
        n_calls = st.calls
        log(f"{name}: {n_calls} calls in {dt:.1f}s ({n_calls / dt:.2f}/s)")
        if name == "sms":
            results["examples_per_s"] = n_calls / dt
            results["n_reuse"] = n_calls
            sub = data.head(args.limit_no_reuse)
            fresh = LLMSource(be_fresh, few_shot=fs, cache=tmp / "fresh.sqlite", progress=False,
                              calibrate=False)
            t0 = time.perf_counter()
            a_fresh = fresh.ask(fresh.requests_for(sub, task), task)
            dt0 = time.perf_counter() - t0
            results["examples_per_s_no_reuse"] = fresh.last_stats.calls / dt0
            results["n_no_reuse"] = fresh.last_stats.calls
            log(f"sms no reuse: {fresh.last_stats.calls} calls in {dt0:.1f}s")
            a_reuse = src.ask(src.requests_for(sub, task), task, calibrate=False)
            results["max_abs_diff_reuse_vs_no_reuse"] = float(max(
                np.abs(x.proba - y.proba).max() for x, y in zip(a_reuse, a_fresh)))
            results["speedup_reuse"] = results["examples_per_s"] / results["examples_per_s_no_reuse"]
            # today's path on the same examples, measured the same way: one model, "auto" threads
            be_one = LlamaCppBackend(args.gguf, n_threads=args.threads, reuse_prefix=True, processes=1)
            one = LLMSource(be_one, few_shot=fs, cache=tmp / "single.sqlite", progress=False)
            t0 = time.perf_counter()
            one.apply(data, task)
            dt1 = time.perf_counter() - t0
            results["examples_per_s_single_sequence"] = one.last_stats.calls / dt1
            results["speedup_vs_single_sequence"] = results["examples_per_s"] / results["examples_per_s_single_sequence"]
            log(f"sms single sequence (one process): {one.last_stats.calls} calls in {dt1:.1f}s")
            a_one = one.ask(one.requests_for(data, task), task, calibrate=False)
            a_all = src.ask(src.requests_for(data, task), task, calibrate=False)
            results["max_abs_diff_vs_single_sequence"] = float(max(
                np.abs(x.proba - y.proba).max() for x, y in zip(a_one, a_all)))
            results["processes"] = 1 + (be._pool.size if be._pool is not None else 0)
            be_one.close()
            if args.alt_threads:
                be_alt = LlamaCppBackend(args.gguf, n_threads=args.alt_threads, reuse_prefix=True, processes=1)
                alt = LLMSource(be_alt, few_shot=fs, cache=":memory:", progress=False, calibrate=False)
                t0 = time.perf_counter()
                alt.ask(alt.requests_for(sub, task), task)
                dt1 = time.perf_counter() - t0
                results[f"examples_per_s_{args.alt_threads}_thread"] = alt.last_stats.calls / dt1
                log(f"sms reuse, {args.alt_threads} thread(s): {alt.last_stats.calls} calls in {dt1:.1f}s")
                be_alt.close()
        cal = metrics(src, data, task, calibrate=True)
        raw = metrics(src, data, task, calibrate=False)
        results[name] = {"n": len(data), "accuracy": cal["accuracy"], "auroc": cal["auroc"],
                         "accuracy_uncalibrated": raw["accuracy"], "auroc_uncalibrated": raw["auroc"]}
        log(f"{name}: {results[name]}")
    results["loadavg_1min_end"] = os.getloadavg()[0]
    results["model"] = be.model_id
    results["shots"] = args.shots
    results["threads"] = args.threads
    be.close()
    be_fresh.close()
    print(dumps(results))


if __name__ == "__main__":
    main()
