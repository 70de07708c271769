"""Applying keyword/regex sources: polarlab's ``apply_sources`` vs Snorkel's ``PandasLFApplier``.

``--rows`` synthetic short texts (seeded: words drawn from a Zipf-weighted made-up vocabulary plus
the tokens the rules look for) × 10 sources, half ``KeywordSource`` and half ``RegexSource``. Snorkel
gets EQUIVALENT labeling functions: the same regex for each ``RegexSource``; for each ``KeywordSource``
the same escaped alternation with Python's ``(?<!\\w)…(?!\\w)`` word edges (the texts are ASCII, where
that is exactly polarlab's whole-word rule); same labels, same case handling, via Python's ``re``.

Timing: both contenders run in this process on the same DataFrame; the label matrices must be
identical. Snorkel calls Python per row and per LF, so by default it is timed on the first
``--snorkel-rows`` rows (100k) and its time extrapolated linearly to ``--rows`` (the JSON says so:
``snorkel_rows_timed``, ``snorkel_extrapolated``); polarlab's matrix is compared on those rows.

Memory: each contender is then run again alone in a fresh subprocess (same data, same rows as timed).
After the texts are generated the kernel's peak-RSS mark is reset (``/proc/self/clear_refs``), so
``peak_rss_mb`` is the process's peak resident memory during the contender's run — interpreter,
imports and the texts included, the generator's temporaries not (``ru_maxrss`` where the reset is
unavailable; ``rss_method`` says which). ``rss_baseline_mb`` is the RSS just before the run. polarlab's
run includes building its ``Dataset`` from the DataFrame; Snorkel's is ``PandasLFApplier.apply``.

Targets (2-core machine, 1M rows): polarlab <= 30 s and <= 1 GB peak RSS, and faster than Snorkel.
The last line printed is one JSON object.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np
import pandas as pd

from polarlab.io.jsonout import dumps  # strict JSON last line: NaN / ±inf as null

HAM, SPAM = 0, 1
LABELS = ("ham", "spam")

# (kind, name, patterns, label, ignore_case)
RULES = [
    ("keyword", "kw_subscribe", ["subscribe", "sub"], SPAM, True),
    ("keyword", "kw_my_channel", ["my channel", "my video"], SPAM, True),
    ("keyword", "kw_please", ["please", "plz"], SPAM, True),
    ("keyword", "kw_song", ["song", "love this"], HAM, True),
    ("keyword", "kw_cpp", ["c++"], HAM, False),
    ("regex", "rx_link", r"https?://|www\.", SPAM, True),
    ("regex", "rx_check_out", r"check\s+(it\s+|this\s+|my\s+)?out", SPAM, True),
    ("regex", "rx_year", r"\b20[12]\d\b", HAM, True),
    ("regex", "rx_money", r"\$\d+", SPAM, True),
    ("regex", "rx_shout", r"\b[A-Z]{5,}\b", SPAM, False),
]
# tokens the rules look for (and near misses), mixed into the texts
SPECIAL = ["subscribe", "Subscribe", "sub", "subway", "my", "channel", "video", "please", "PLEASE", "plz", "song",
           "songs", "love", "this", "c++", "C++", "c+", "http://x.co/ab", "https://y.io", "www.site.com", "check",
           "out", "it", "2015", "2021", "1999", "$5", "$120", "HELLO", "WORLD", "WOW", "great", "!!!",
           "my channel", "My Video", "check it out", "check  out", "checkout", "love this", "c++!", "(c++)"]


def make_texts(rows: int, seed: int = 0) -> list[str]:
    """``rows`` texts of 3-14 words, reproducible from ``seed``."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    vocab = ["".join(rng.choice(letters, size=rng.integers(2, 9))) for _ in range(5000)]
    words = np.array(vocab + SPECIAL, dtype=object)
    weights = np.concatenate([1.0 / np.arange(1, len(vocab) + 1), np.full(len(SPECIAL), 0.05)])
    weights /= weights.sum()
    lengths = rng.integers(3, 15, size=rows)
    flat = rng.choice(len(words), size=int(lengths.sum()), p=weights)
    ends = np.cumsum(lengths)
    starts = ends - lengths
    tokens = words[flat].tolist()
    return [" ".join(tokens[s:e]) for s, e in zip(starts.tolist(), ends.tolist())]


def polarlab_sources():
    from polarlab import KeywordSource, RegexSource

    out = []
    for kind, name, pat, label, ic in RULES:
        if kind == "keyword":
            out.append(KeywordSource(name=name, keywords=pat, label=label, ignore_case=ic))
        else:
            out.append(RegexSource(name=name, pattern=pat, label=label, ignore_case=ic))
    return out


def snorkel_lfs():
    from snorkel.labeling import LabelingFunction

    def make(name: str, rx: re.Pattern, label: int) -> LabelingFunction:
        def f(x):
            return label if rx.search(x.text) else -1

        return LabelingFunction(name=name, f=f)

    lfs = []
    for kind, name, pat, label, ic in RULES:
        flags = re.IGNORECASE if ic else 0
        if kind == "keyword":
            body = "|".join(re.escape(k) for k in sorted(pat, key=len, reverse=True))
            pattern = rf"(?<!\w)(?:{body})(?!\w)"
        else:
            pattern = pat
        lfs.append(make(name, re.compile(pattern, flags), label))
    return lfs


def run_polarlab(texts: list[str]) -> tuple[np.ndarray, float]:
    from polarlab import Task, apply_sources, from_pandas

    task = Task(labels=LABELS)
    ds = from_pandas(pd.DataFrame({"text": texts}), task)
    sources = polarlab_sources()
    t = time.perf_counter()
    lm = apply_sources(ds, sources, task, progress=False)
    return lm.L, time.perf_counter() - t


def run_snorkel(texts: list[str]) -> tuple[np.ndarray, float]:
    from snorkel.labeling import PandasLFApplier

    df = pd.DataFrame({"text": texts})
    applier = PandasLFApplier(snorkel_lfs())
    t = time.perf_counter()
    L = applier.apply(df, progress_bar=False)
    return np.asarray(L, dtype=np.int64), time.perf_counter() - t


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _hwm_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise OSError("no VmHWM")


def worker(who: str, rows: int, seed: int) -> None:
    """Run one contender alone; print {"seconds", "peak_rss_mb", "rss_baseline_mb"}."""
    import polarlab  # noqa: F401 - import both stacks in either worker: same interpreter baseline
    import snorkel.labeling  # noqa: F401

    texts = make_texts(rows, seed)
    gc.collect()
    base = _rss_mb()
    how = "VmHWM after clear_refs"
    try:  # reset the peak, so the data generator's temporaries do not count (Linux >= 4.0)
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        how = "ru_maxrss (whole process)"
    _, seconds = (run_polarlab if who == "polarlab" else run_snorkel)(texts)
    peak = _hwm_mb() if how.startswith("VmHWM") else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(dumps({"seconds": seconds, "peak_rss_mb": peak, "rss_baseline_mb": base, "rss_method": how}))


def clean_peak(who: str, rows: int, seed: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--worker", who, "--rows", str(rows), "--seed", str(seed)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--snorkel-rows", type=int, default=100_000,
                    help="rows Snorkel is timed on (extrapolated to --rows); 0 = all rows")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-subprocess", action="store_true", help="skip the clean peak-RSS subprocess runs")
    ap.add_argument("--worker", choices=["polarlab", "snorkel"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker, args.rows, args.seed)
        return

    import polarlab  # noqa: F401 - imports outside the timed regions
    import snorkel.labeling  # noqa: F401

    t = time.perf_counter()
    texts = make_texts(args.rows, args.seed)
    print(f"generated {args.rows:,} texts in {time.perf_counter() - t:.1f}s; e.g. {texts[0]!r}", flush=True)
    sub_rows = args.rows if args.snorkel_rows <= 0 else min(args.rows, args.snorkel_rows)

    L_pl, t_pl = run_polarlab(texts)
    print(f"polarlab apply_sources: {t_pl:.2f}s for {args.rows:,} rows x {L_pl.shape[1]} sources", flush=True)
    L_sn, t_sn_sub = run_snorkel(texts[:sub_rows])
    print(f"snorkel PandasLFApplier: {t_sn_sub:.2f}s for {sub_rows:,} rows", flush=True)
    if not np.array_equal(L_pl[:sub_rows], L_sn):
        bad = np.argwhere(L_pl[:sub_rows] != L_sn)
        i, j = bad[0]
        raise SystemExit(f"label matrices differ at {len(bad)} cells; first row {i} source {RULES[j][1]}: "
                         f"polarlab {L_pl[i, j]} snorkel {L_sn[i, j]} text {texts[i]!r}")
    coverage = (L_pl != -1).mean(axis=0)
    print("label matrices identical on", f"{sub_rows:,}", "rows; coverage per source:",
          " ".join(f"{r[1]}={c:.3f}" for r, c in zip(RULES, coverage)), flush=True)
    t_sn = t_sn_sub * args.rows / sub_rows

    result = {"rows": args.rows, "sources": len(RULES), "polarlab_s": round(t_pl, 3), "snorkel_s": round(t_sn, 3),
              "snorkel_rows_timed": sub_rows, "snorkel_s_timed": round(t_sn_sub, 3),
              "snorkel_extrapolated": sub_rows < args.rows, "ratio": round(t_pl / t_sn, 4),
              "identical_rows_checked": sub_rows}
    if not args.no_subprocess:
        pl = clean_peak("polarlab", args.rows, args.seed)
        sn = clean_peak("snorkel", sub_rows, args.seed)
        print(f"clean peak RSS: polarlab {pl['peak_rss_mb']:.0f} MB ({args.rows:,} rows; "
              f"{pl['rss_baseline_mb']:.0f} MB before the run), snorkel {sn['peak_rss_mb']:.0f} MB "
              f"({sub_rows:,} rows)", flush=True)
        result.update({"peak_rss_mb": round(pl["peak_rss_mb"], 1), "snorkel_peak_rss_mb": round(sn["peak_rss_mb"], 1),
                       "rss_baseline_mb": round(pl["rss_baseline_mb"], 1),
                       "polarlab_s_subprocess": round(pl["seconds"], 3), "rss_method": pl["rss_method"]})
    result["targets_met"] = bool(t_pl <= 30 and t_pl < t_sn and result.get("peak_rss_mb", 0) <= 1024)
    print(dumps(result))


if __name__ == "__main__":
    main()
