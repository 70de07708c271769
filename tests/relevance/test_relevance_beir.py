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


@pytest.mark.parametrize("line, what", [("{not json\n", "invalid JSON"), ('{"title": "x"}\n', "needs the keys")])
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


def test_a_missing_split_is_optional_only_when_asked(tmp_path):
    root = write_beir(tmp_path, DOCS, QUERIES, {"train": [("q1", "d1", 1)]})
    data = load_beir(root, optional=("test",))
    assert data.qrels == {"train": {"q1": {"d1": 1}}}
    with pytest.raises(DataError) as e:
        load_beir(root, named_by={"test": "[relevance] test_split"})
    msg = str(e.value)
    assert "test.tsv" in msg and "[relevance] test_split = 'test'" in msg and "remove [relevance] test_split" in msg
    assert "out of the splits" not in msg


def test_a_split_the_settings_name_must_exist_and_a_default_one_may_be_missing(tmp_path):
    """qrels are optional for a relevance run; a split named in [relevance] is not: its missing file is one
    DataError naming the key (test_split, not the Python argument 'splits'), before any slow work."""
    from polarlab.relevance import make_config
    from polarlab.relevance.experiment import _Run

    root = write_beir(tmp_path, DOCS, QUERIES, {"train": [("q1", "d1", 1)]})
    for key in ("test_split", "train_split"):
        split = "dev" if key == "test_split" else "train2"
        with pytest.raises(DataError) as e:
            _Run(make_config(data=str(root), **{key: split}), tmp_path / "s", None, print)
        msg = str(e.value)
        assert f"[relevance] {key} = '{split}'" in msg and f"qrels/{split}.tsv" in msg and "splits" not in msg
    with pytest.raises(DataError, match=r"\[relevance\] test_split = 'test'"):   # named, even with the default name
        _Run(make_config(data=str(root), test_split="test"), tmp_path / "s", None, print)
    run = _Run(make_config(data=str(root)), tmp_path / "s", None, print)    # left at its default: skipped
    assert run.test_qrels is None and run.train_q == ["q1"] and run.splits.why_skip("supervised") is None
    assert run.splits.train_queries_from() == f"the queries of {root / 'qrels' / 'train.tsv'}"
    assert "test.tsv" in run.splits.why_skip("fusion") and run.splits.why_skip("polar") is None


def test_the_queries_labelled_without_train_qrels(tmp_path):
    """No train qrels: every query that is not a test query is labelled (all of them with no qrels at all),
    the first train_queries of them when capped; supervised is skipped."""
    from polarlab.relevance import make_config
    from polarlab.relevance.experiment import _Run

    queries = QUERIES + [{"_id": "q3", "text": "aspirin colds"}]
    only_test = write_beir(tmp_path / "a", DOCS, queries, {"test": [("q2", "d2", 1), ("q3", "d1", 0)]})
    run = _Run(make_config(data=str(only_test)), tmp_path / "s", None, print)
    assert run.train_q == ["q1", "q3"] and run.test_q == ["q2"]      # q3 has no relevant test pair: not a test query
    assert "train.tsv" in run.splits.why_skip("supervised") and run.splits.why_skip("fusion") is None
    assert run.splits.train_queries_from().endswith("train.tsv is missing or has no relevant pair): every query "
                                                    "that is not a test query")
    none = write_beir(tmp_path / "b", DOCS, queries, {})
    run = _Run(make_config(data=str(none), train_queries=2), tmp_path / "s", None, print)
    assert run.train_q == ["q1", "q2"] and run.test_q == [] and run.test_qrels is None
    assert set(run.splits.skipped_metrics(["polar"])) == {"test metrics", "risk calibration"}
    assert run.splits.train_queries_from().endswith("every query (no test qrels either)")
    assert run.splits.skipped_metrics([]) == {}


def test_nothing_to_label_when_every_query_is_a_test_query(tmp_path):
    from polarlab.relevance import make_config, run_relevance

    root = write_beir(tmp_path, DOCS, QUERIES, {"test": [("q1", "d1", 1), ("q2", "d2", 1)]})
    with pytest.raises(DataError, match="no queries to label") as e:
        run_relevance(make_config(data=str(root), methods=["bm25", "polar"]), state_dir=tmp_path / "s")
    assert "queries.jsonl" in str(e.value) and "train.tsv" in e.value.fix
    res = run_relevance(make_config(data=str(root), methods=["bm25", "supervised"]), state_dir=tmp_path / "s")
    assert list(res["retrievers"]) == ["bm25"] and list(res["skipped"]["methods"]) == ["supervised"]
    assert res["skipped"]["metrics"] == {} and 0 <= res["retrievers"]["bm25"]["ndcg@10"] <= 1
