"""Figures of the four ``examples/wrench_*`` projects, the demo (without its LLM source) and ``bench wrench``.

Run once with the code *before* a refactor to record them (``python tests/regression/record.py OUT.json``);
``tests/test_regression_figures.py`` recomputes them with the current code and compares to the 3rd decimal.
Uses only the public entry points (``polarlab.project.load_project`` + ``polarlab.pipeline.run``,
``polarlab.bench.bench_wrench``), so it works on both sides of the change.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
# The figures were recorded before issue 10 changed two defaults on purpose (majority vote's tie-break, and POLAR's
# final distribution combining h(x) with the votes); these settings restore the old ones, so the comparison
# checks the stage refactor alone.
PINNED_LABEL_MODELS = {"mv": {"tie_break": "first"}}
PINNED_HARMONIZER = {"features": "embedding", "combine": "h"}
EXAMPLES = ("wrench_youtube", "wrench_sms", "wrench_trec", "wrench_chemprot")
BENCH = ("youtube",)          # bench wrench --llm none on these shared datasets


def project_figures(path: Path, state_dir: Path, drop_llm: bool = False) -> dict:
    """Labels (per split, as a string of label indices) and every metric of every method and split."""
    from polarlab.pipeline import run
    from polarlab.project import load_project

    proj = load_project(path)
    proj.state_dir = state_dir
    proj.labelmodel = {**proj.labelmodel, "options": {**proj.labelmodel.get("options", {}), **PINNED_LABEL_MODELS}}
    proj.harmonizer = {**PINNED_HARMONIZER, **proj.harmonizer}
    if drop_llm:
        proj.sources = [s for s in proj.sources if s.get("type") != "llm"]
    res = run(proj, progress=False, write=False)
    labels = {s: "".join(chr(48 + int(i)) for i in p.argmax(axis=1)) for s, p in res.probas[res.final].items()}
    metrics = {m: {s: {k: v for k, v in d.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
                   for s, d in per.items()} for m, per in res.metrics.items()}
    return {"final": res.final, "labels": labels, "metrics": metrics}


def bench_figures(name: str, state_dir: Path) -> dict:
    from polarlab.bench import BenchConfig, bench_wrench

    r = bench_wrench(BenchConfig(directory=ROOT.parent / "shared" / "data" / name, llm="none",
                                 state_dir=state_dir, progress=False, features=PINNED_HARMONIZER["features"],
                                 harmonizer={"combine": PINNED_HARMONIZER["combine"]},
                                 label_model_options=PINNED_LABEL_MODELS))
    return {"labels": r["labels"], "risk": {m: {k: v for k, v in d.items() if isinstance(v, (int, float))}
                                             for m, d in r["risk"].items()}}


def record(state_dir: Path) -> dict:
    out: dict = {"examples": {}, "bench": {}}
    for ex in EXAMPLES:
        out["examples"][ex] = project_figures(ROOT / "examples" / ex / "polarlab.toml", state_dir)
        print(ex, "done", file=sys.stderr, flush=True)
    demo = ROOT / "src" / "polarlab" / "data" / "demo" / "youtube_spam" / "polarlab.toml"
    out["demo_no_llm"] = project_figures(demo, state_dir, drop_llm=True)
    print("demo done", file=sys.stderr, flush=True)
    for b in BENCH:
        out["bench"][b] = bench_figures(b, state_dir)
    return out


if __name__ == "__main__":
    import torch

    torch.set_num_threads(1)
    result = record(Path(sys.argv[2]) if len(sys.argv) > 2 else Path("/tmp/polarlab_record_state"))
    Path(sys.argv[1]).write_text(json.dumps(result, indent=1, sort_keys=True))
