"""The linking review on NCBI-disease test: what a budget of reviews, riskiest first, does to the links.

Links the NCBI-disease test mentions to the Disease Ontology (as ``polarlab bench linking``; by default the cheap
linkers ``exact`` + ``sparse``, no KRISS training, so it runs in minutes on a CPU), writes the run's files
(labels + candidates), fills a real review store as ``polarlab review`` does (:mod:`polarlab.linking.review`) and
lets a simulated reviewer who knows the gold ids answer the first ``budget`` items through the store: the gold
entity when it is among the item's choices, else "none of these" (``risk+typed``: else, when the gold id is in the
ontology, that id typed, as ``o`` on the page stores it). The answers are applied as ``polarlab review status
--export`` applies them. Reported per budget, for the risk order (without and with typed ids) and for a random order
of the same size: the links found wrong, those fixed by picking a candidate (or by a typed id), and acc@1 (all
mentions with gold; a mention whose gold id is not in the ontology is right only without a link) before and after.
The last line is one JSON object.

    OMP_NUM_THREADS=1 python benchmarks/review_linking.py [--data ../shared/data] [--budget 0.05 --budget 0.1]
        [--set 'linkers=["exact", "sparse", "names_dense"]']
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from polarlab.io.jsonout import dumps  # noqa: E402


def accuracy(ids: list[str], gold_ids: list[set[str]], mappable: np.ndarray, has_gold: np.ndarray) -> float:
    """acc@1 over the mentions with gold: a link in the gold set; an unmappable gold is right only unlinked."""
    right = [(i in g) if m else (i == "") for i, g, m in zip(ids, gold_ids, mappable)]
    return float(np.mean(np.asarray(right)[has_gold]))


def simulate(frame, payloads, order: str, budget: int, gold_ids, mappable, has_gold, store_path: Path, seed: int,
             ontology=None):
    """Fill a fresh store, answer the first ``budget`` items of ``order`` ("risk", "random" or "risk+typed": with
    ``ontology``, a gold id outside the choices is typed) with gold, apply."""
    from polarlab.linking.review import apply_link_answers, link_items
    from polarlab.review.store import ReviewStore

    items = link_items(frame, payloads)
    if order == "random":
        rng = np.random.default_rng(seed)
        items = [type(it)(it.row, it.item_id, it.kind, float(p), it.label, it.risk, it.payload)
                 for it, p in zip(items, rng.permutation(len(items)))]
    store = ReviewStore(store_path)
    store.put_items(items)
    store.set_meta(labels=[], reviews_per_item=1, audit_share=0.0, target=1.0, budget=budget)
    found = fixed = typed = 0
    for _ in range(budget):
        it = store.next_item("sim")
        if it is None:
            break
        choices, g = it["choices"], gold_ids[it["row"]]
        pick = next((k for k, c in enumerate(choices) if c["id"] and c["id"] in g), len(choices) - 1)
        wrong = pick != 0
        found += wrong
        fixed += wrong and choices[pick]["id"] != ""
        if order.endswith("+typed") and choices[pick]["id"] == "" and g:
            e = sorted(g)[0]
            name = ontology.terms[e].name
            store.answer("sim", it["row"], None, choice={"id": e, "name": name, "label": f"{name} ({e})"})
            typed += 1
            continue
        store.answer("sim", it["row"], pick)
    after = apply_link_answers(frame, store)
    return {"reviewed": budget, "found_wrong": int(found), "fixed_by_a_candidate": int(fixed), "typed": int(typed),
            "acc1_after": accuracy(after["linked_id"].tolist(), gold_ids, mappable, has_gold)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1] / ".." / "shared" / "data")
    ap.add_argument("--budget", type=float, action="append", default=[], help="share of the links reviewed")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=JSON", help="a [linking] setting")
    ap.add_argument("--state-dir", type=Path, default=Path(".polarlab"))
    args = ap.parse_args()
    budgets = args.budget or [0.05, 0.10]
    options = {"linkers": ["exact", "sparse"], "self_train_risk": 0}
    options.update({k: json.loads(v) for k, v in (x.split("=", 1) for x in args.set)})
    from polarlab.linking.bench import bench_report, bench_run, write_bench_outputs
    from polarlab.linking.job import read_links
    from polarlab.linking.review import link_payloads, read_candidates

    run, gold, meta = bench_run(args.data / "ncbi_disease", args.data / "disease_ontology", ablations=False,
                                state_dir=args.state_dir, options=options)
    ids = meta["ontology"].ids
    gold_ids = [{ids[e] for e in s} for s in gold.entities]
    with tempfile.TemporaryDirectory() as tmp:
        out = write_bench_outputs(run, gold, meta, bench_report(run, gold, meta), tmp)
        frame = read_links(out["labels"])
        payloads = link_payloads(frame, read_candidates(out["candidates"]), out["candidates"])
        n = len(frame)
        in_choices = np.mean([bool({c["id"] for c in p["choices"]} & g) for p, g, m in
                              zip(payloads, gold_ids, gold.mappable) if m])
        result = {"mentions": n, "linkers": options["linkers"], "mean_choices": float(np.mean(
                      [len(p["choices"]) for p in payloads])),
                  "gold_among_choices_mappable": float(in_choices),
                  "acc1_before": accuracy(frame["linked_id"].tolist(), gold_ids, gold.mappable, gold.has_gold),
                  "budgets": {}}
        for b in budgets:
            k = int(np.ceil(b * n))
            result["budgets"][str(b)] = {
                order: simulate(frame, payloads, order, k, gold_ids, gold.mappable, gold.has_gold,
                                Path(tmp) / f"{order}_{b}.sqlite", seed=0, ontology=meta["ontology"])
                for order in ("risk", "risk+typed", "random")}
    for b, r in result["budgets"].items():
        for order, x in r.items():
            print(f"budget {b} ({x['reviewed']} links) {order:10s}: wrong found {x['found_wrong']}, fixed by a "
                  f"candidate {x['fixed_by_a_candidate']}, typed {x['typed']}, acc@1 {result['acc1_before']:.3f} -> "
                  f"{x['acc1_after']:.3f}")
    print(dumps(result))


if __name__ == "__main__":
    main()
