"""A tiny BEIR folder cut from SciFact (../shared/data/scifact): a few train/test claims, their
relevant abstracts and some other abstracts."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

SCIFACT = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "scifact"


def write_beir(root: Path, docs: list[dict], queries: list[dict], qrels: dict[str, list[tuple[str, str, int]]]) -> Path:
    (root / "qrels").mkdir(parents=True, exist_ok=True)
    (root / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    (root / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries))
    for split, rows in qrels.items():
        (root / "qrels" / f"{split}.tsv").write_text(
            "query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t{s}\n" for q, d, s in rows))
    return root


def mini_scifact(root: Path, n_train: int, n_test: int, n_other: int) -> Path:
    if not SCIFACT.is_dir():
        pytest.skip(f"SciFact not found at {SCIFACT}")
    docs = [json.loads(x) for x in (SCIFACT / "corpus.jsonl").open()]
    queries = {q["_id"]: q for q in map(json.loads, (SCIFACT / "queries.jsonl").open())}

    def rows(split: str, n: int):
        lines = [x.rstrip("\n").split("\t") for x in (SCIFACT / "qrels" / f"{split}.tsv").open()][1:]
        keep = list(dict.fromkeys(r[0] for r in lines))[:n]
        return [(r[0], r[1], int(r[2])) for r in lines if r[0] in keep], keep

    tr, trq = rows("train", n_train)
    te, teq = rows("test", n_test)
    need = {r[1] for r in tr + te}
    corpus = [d for d in docs if d["_id"] in need] + [d for d in docs if d["_id"] not in need][:n_other]
    return write_beir(root, corpus, [queries[q] for q in trq + teq], {"train": tr, "test": te})
