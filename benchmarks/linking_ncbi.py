"""NCBI-disease test mentions linked to the Disease Ontology: every linker, ablations, POLAR harmonized link.

Runs the same code as ``polarlab bench linking`` (default configuration) and reports accuracy@1/@5 on
the mappable and on all mentions, the risk's ECE/AUROC, the accuracy of the lowest-risk 80 %, and the
time and peak memory of each phase. The last line is one JSON object.

    OMP_NUM_THREADS=1 python benchmarks/linking_ncbi.py [--data ../shared/data] [--limit-docs N]
        [--unlabelled ../shared/data/scifact/corpus.jsonl] [--set self_train_risk=0]
        [--set 'self_train_text="spans"']   # also self-train on mentions found in the unlabelled text
        [--set seed=1]                      # every seed: contrastive training, pseudo-dev set, prototypes, POLAR
        [--harmonizer-seed 1]               # POLAR's seed alone (the rest stays at [linking] seed)
        [--llm local]                       # the LLM linker (embedded Gemma 3 270M) votes too
        [--set 'harmonizer={"n_seeds": 1}'] # one POLAR fit (the default is a 5-fit seed ensemble)
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

from polarlab.io.jsonout import dumps  # noqa: E402 - after the thread setting; strict JSON last line


def _seed(text: str) -> int:
    """A seed: a whole number >= 0 (refused here, before minutes of training, not at the POLAR fit)."""
    if not text.isdecimal():
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 0")
    return int(text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1] / ".." / "shared" / "data")
    ap.add_argument("--limit-docs", type=int, default=None)
    ap.add_argument("--state-dir", type=Path, default=Path(".polarlab"))
    ap.add_argument("--no-ablations", action="store_true")
    ap.add_argument("--unlabelled", type=Path, action="append", default=[],
                    help="more unlabelled text (PubTator, BEIR JSONL, plain text); repeat for several files")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=JSON",
                    help="a [linking] setting other than the default, e.g. self_train_risk=0 (a variant)")
    ap.add_argument("--llm", choices=("none", "local"), default="none",
                    help="the LLM linker ([linking.llm] backend): none (default) or local (embedded Gemma 3 270M)")
    ap.add_argument("--harmonizer-seed", type=_seed, default=None,
                    help="the POLAR harmonizer's seed alone (default: [linking] seed, which seeds everything)")
    args = ap.parse_args()
    options = {k: json.loads(v) for k, v in (x.split("=", 1) for x in args.set)}
    if args.llm != "none":
        options["llm"] = {**options.get("llm", {}), "backend": args.llm}
    from polarlab.export.labels import to_json
    from polarlab.linking.bench import bench_linking

    result = bench_linking(args.data / "ncbi_disease", args.data / "disease_ontology", limit_docs=args.limit_docs,
                           state_dir=args.state_dir, ablations=not args.no_ablations,
                           unlabelled=args.unlabelled, options=options, harmonizer_seed=args.harmonizer_seed)
    for name, r in {**result["linkers"], **result["ablations"], "harmonized": result["harmonized"]}.items():
        print(f"{name:18s} acc@1 mappable {100 * r['acc1_mappable']:5.1f}  acc@5 mappable "
              f"{100 * r['acc5_mappable']:5.1f}  acc@1 all {100 * r['acc1_all']:5.1f}", file=sys.stderr)
    h = result["harmonized"]
    if "llm_risk_ece" in h:
        wo = h.get("harmonized_without_llm", {})
        print(f"harmonized without the LLM: acc@1 mappable {100 * wo.get('acc1_mappable', float('nan')):5.1f}  "
              f"acc@1 all {100 * wo.get('acc1_all', float('nan')):5.1f}; risk of the LLM's links: ECE "
              f"{h['llm_risk_ece']:.3f} (floor {h['llm_risk_ece_floor']:.3f}), AUROC {h['llm_risk_auroc']:.3f}; "
              f"LLM: {result['llm']}", file=sys.stderr)
    print(dumps(json.loads(to_json(result)), separators=(",", ":")))


if __name__ == "__main__":
    main()
