"""BEIR loading and its bad inputs."""
from __future__ import annotations

import pytest

from polarlab.errors import DataError
from polarlab.relevance import load_beir
from polarlab.relevance.beir import load_corpus

from beir_fixtures import write_beir

DOCS = [{"_id": "d1", "title": "Aspirin", "text": "Aspirin lowers fever."},
        {"_id": "d2", "title": "", "text": "Vitamin C and colds."}]
QUERIES = [{"_id": "q1", "text": "aspirin fever"}, {"_id": "q2", "text": "vitamin c"}]


def test_loads_corpus_queries_and_qrels(tmp_path):
    root = write_beir(tmp_path, DOCS, QUERIES, {"train": [("q1", "d1", 1)], "test": [("q2", "d2", 1), ("q2", "d1", 0)]})
    data = load_beir(root)
    assert data.doc_ids == ["d1", "d2"] and data.n_docs == 2
    assert data.queries == {"q1": "aspirin fever", "q2": "vitamin c"}
    assert data.qrels["train"] == {"q1": {"d1": 1}}
    assert data.qrels["test"] == {"q2": {"d2": 1}}          # grade 0 is not relevant
    assert data.split_queries("test") == ["q2"]
    assert data.doc_text(0) == "Aspirin. Aspirin lowers fever."
    assert data.doc_text(1) == "Vitamin C and colds."
    assert data.doc_text(0, max_chars=12) == "Aspirin."


def test_qrels_naming_an_unknown_document(tmp_path):
    root = write_beir(tmp_path, DOCS, QUERIES, {"train": [("q1", "d1", 1), ("q1", "d9", 1)], "test": []})
    with pytest.raises(DataError) as e:
        load_beir(root)
    msg = str(e.value)
    assert "'d9'" in msg and "train.tsv" in msg and ", line 3, " in msg and "row" not in msg and "corpus-id" in msg


def test_qrels_naming_an_unknown_query(tmp_path):
    root = write_beir(tmp_path, DOCS, QUERIES, {"train": [("q7", "d1", 1)], "test": []})
    with pytest.raises(DataError, match="query 'q7' is not in queries.jsonl"):
        load_beir(root)


def test_empty_corpus(tmp_path):
    root = write_beir(tmp_path, [], QUERIES, {"train": [], "test": []})
    with pytest.raises(DataError, match="the corpus is empty"):
        load_beir(root)


@pytest.mark.parametrize("line, what", [("{not json\n", "not valid JSON"), ('{"title": "x"}\n', "needs the keys")])
def test_bad_corpus_line(tmp_path, line, what):
    write_beir(tmp_path, DOCS, QUERIES, {"train": [], "test": []})
    with (tmp_path / "corpus.jsonl").open("a") as fh:
        fh.write(line)
    with pytest.raises(DataError, match=what) as e:
        load_corpus(tmp_path / "corpus.jsonl")
    assert str(e.value).startswith(f"file {tmp_path / 'corpus.jsonl'}, line 3: ")   # a line, not a row


def test_duplicate_document_and_missing_split(tmp_path):
    root = write_beir(tmp_path, DOCS + DOCS[:1], QUERIES, {"train": []})
    with pytest.raises(DataError, match="duplicate document id 'd1'") as e:
        load_beir(root)
    assert f"row {len(DOCS)} (line {len(DOCS) + 1})" in str(e.value)   # 0-based row, 1-based line
    root = write_beir(tmp_path / "b", DOCS, QUERIES, {"train": []})
    with pytest.raises(DataError, match="qrels file not found"):
        load_beir(root)                                     # no qrels/test.tsv
    assert load_beir(root, splits=("train",)).qrels == {"train": {}}
