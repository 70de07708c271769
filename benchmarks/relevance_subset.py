"""Write a smaller BEIR folder cut from a BEIR dataset, for CPU-starved runs of `polarlab bench relevance`.

Keeps the first N train and N test queries (qrels order), every abstract they cite, and the first M other
abstracts of the corpus (file order; no retriever is involved in the choice, so no method is favoured).

    python benchmarks/relevance_subset.py ../shared/data/scifact /tmp/scifact_mini --train 100 --test 100 --other 700

Prints one JSON object (the subset's sizes) as its last line.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from polarlab.io.jsonout import dumps  # strict JSON last line: NaN / ±inf as null


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src", type=Path)
    ap.add_argument("dst", type=Path)
    ap.add_argument("--train", type=int, default=100)
    ap.add_argument("--test", type=int, default=100)
    ap.add_argument("--other", type=int, default=700)
    a = ap.parse_args()
    docs = [json.loads(x) for x in (a.src / "corpus.jsonl").open(encoding="utf-8")]
    queries = {q["_id"]: q for q in map(json.loads, (a.src / "queries.jsonl").open(encoding="utf-8"))}

    def rows(split: str, n: int):
        lines = [x.rstrip("\n").split("\t") for x in (a.src / "qrels" / f"{split}.tsv").open(encoding="utf-8")][1:]
        keep = list(dict.fromkeys(r[0] for r in lines))[:n]
        return [r for r in lines if r[0] in keep], keep

    tr, trq = rows("train", a.train)
    te, teq = rows("test", a.test)
    cited = {r[1] for r in tr + te}
    corpus = [d for d in docs if d["_id"] in cited] + [d for d in docs if d["_id"] not in cited][:a.other]
    (a.dst / "qrels").mkdir(parents=True, exist_ok=True)
    (a.dst / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in corpus), encoding="utf-8")
    (a.dst / "queries.jsonl").write_text("".join(json.dumps(queries[q]) + "\n" for q in trq + teq), encoding="utf-8")
    for split, rr in (("train", tr), ("test", te)):
        (a.dst / "qrels" / f"{split}.tsv").write_text(
            "query-id\tcorpus-id\tscore\n" + "".join("\t".join(r) + "\n" for r in rr), encoding="utf-8")
    print(dumps({"docs": len(corpus), "train_queries": len(trq), "test_queries": len(teq),
                      "train_qrels": len(tr), "test_qrels": len(te)}))


if __name__ == "__main__":
    main()
