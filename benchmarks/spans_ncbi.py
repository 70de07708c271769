"""NCBI-disease test: span P/R/F1 (exact and partial) of each source, majority vote, token
Dawid–Skene, skweak's HMM (same sources, same run) and polarlab's harmonized spans; POLAR risk
ECE/AUROC per span against exact-match errors. No gold is used for fitting.

    python benchmarks/spans_ncbi.py [--llm-docs 40] [--features minilm|shape] [--mention-type T] [--state-dir DIR]

The last line printed is one JSON object (also written with --json FILE).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

from polarlab.io.jsonout import dumps  # noqa: E402 - after the thread setting; strict JSON last line

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data"


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DATA / "ncbi_disease" / "NCBItestset_corpus.txt")
    ap.add_argument("--ontology", type=Path, default=DATA / "disease_ontology")
    ap.add_argument("--llm-docs", type=int, default=0, help="run with the embedded LLM on the first N documents")
    ap.add_argument("--features", default="minilm", choices=["minilm", "shape"])
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--correct", type=float, default=0.1, help="share of harmonized spans re-asked (LLM run)")
    ap.add_argument("--mention-type", action="append", default=[],
                    help="keep only this PubTator type's mentions as gold (repeatable; default: every type)")
    ap.add_argument("--state-dir", type=Path, default=Path(".polarlab"))
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    from polarlab.export.labels import to_json, write_json
    from polarlab.spans.bench import bench_spans

    res = bench_spans(a.data, a.ontology, llm_docs=a.llm_docs, state_dir=a.state_dir, features=a.features,
                      limit=a.limit, correct_budget=a.correct, mention_types=a.mention_type)
    if a.json:
        write_json(res, a.json)
    print(dumps(json.loads(to_json(res)), separators=(",", ":")))
    return res


if __name__ == "__main__":
    main(sys.argv[1:])
