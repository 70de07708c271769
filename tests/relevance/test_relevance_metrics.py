"""nDCG@10 / Recall@100 on hand-made runs, checked against ir_measures (pytrec_eval)."""
from __future__ import annotations

import numpy as np
import pytest

from polarlab.relevance import evaluate, ndcg_at_k, recall_at_k
from polarlab.relevance.ranking import Ranking, top_k

ir_measures = pytest.importorskip("ir_measures")

QRELS = {"q1": {"a": 1, "c": 2}, "q2": {"x": 1}, "q3": {"m": 1, "n": 1, "o": 1}}
RUN = {
    "q1": {"b": 0.9, "c": 0.8, "a": 0.1, "d": 0.05},              # relevant at ranks 2 and 3
    "q2": {"y": 3.0, "z": 2.0, **{f"w{i}": 1.0 - i / 100 for i in range(20)}, "x": -1.0},  # rank 23: out of the top 10
    "q3": {"n": 5.0, "m": 4.0},                                     # 2 of 3 found
}


def _theirs(run, qrels, measure):
    return ir_measures.calc_aggregate([measure], qrels, run)[measure]


@pytest.mark.parametrize("k", [1, 3, 10])
def test_ndcg_matches_ir_measures(k):
    assert ndcg_at_k(RUN, QRELS, k) == pytest.approx(_theirs(RUN, QRELS, ir_measures.nDCG @ k), abs=1e-9)


@pytest.mark.parametrize("k", [2, 10, 100])
def test_recall_matches_ir_measures(k):
    assert recall_at_k(RUN, QRELS, k) == pytest.approx(_theirs(RUN, QRELS, ir_measures.R @ k), abs=1e-9)


def test_hand_computed_values():
    # q1: gains (0, 2, 1) at ranks 1..3; ideal (2, 1)
    dcg = 2 / np.log2(3) + 1 / np.log2(4)
    idcg = 2 + 1 / np.log2(3)
    q3 = (1 + 1 / np.log2(3)) / (1 + 1 / np.log2(3) + 1 / np.log2(4))
    assert ndcg_at_k(RUN, QRELS, 10) == pytest.approx((dcg / idcg + 0.0 + q3) / 3)
    assert recall_at_k(RUN, QRELS, 10) == pytest.approx((1 + 0 + 2 / 3) / 3)
    assert recall_at_k(RUN, QRELS, 100) == pytest.approx((1 + 1 + 2 / 3) / 3)


def test_query_missing_from_the_run_scores_zero():
    run = {q: v for q, v in RUN.items() if q != "q3"}
    without_q3 = ndcg_at_k(RUN, QRELS, 10) * 3 - ndcg_at_k(RUN, {"q3": QRELS["q3"]}, 10)
    assert evaluate(run, QRELS)["ndcg@10"] == pytest.approx(without_q3 / 3)


def test_top_k_and_ranking_run():
    scores = np.array([[0.1, 0.9, 0.5, 0.3], [1.0, 0.0, 2.0, -1.0]])
    idx, val = top_k(scores, 3)
    assert idx.tolist() == [[1, 2, 3], [2, 0, 1]]
    assert val[0].tolist() == [0.9, 0.5, 0.3]

    class D:
        doc_ids = ["a", "b", "c", "d"]
    run = Ranking(["q1", "q2"], idx, val).to_run(D())
    assert list(run["q2"]) == ["c", "a", "b"] and run["q1"]["b"] == 0.9


def test_ndcg_per_query_averages_to_ndcg_and_matches_ir_measures():
    from polarlab.relevance import ndcg_per_query
    per = ndcg_per_query(RUN, QRELS, 10)
    assert set(per) == set(QRELS)
    assert np.mean(list(per.values())) == pytest.approx(ndcg_at_k(RUN, QRELS, 10))
    theirs = {m.query_id: m.value for m in ir_measures.iter_calc([ir_measures.nDCG @ 10], QRELS, RUN)}
    for q in QRELS:
        assert per[q] == pytest.approx(theirs[q], abs=1e-9)


def test_paired_bootstrap_interval():
    from polarlab.relevance import paired_bootstrap
    rng = np.random.default_rng(1)
    base = {f"q{i}": float(v) for i, v in enumerate(rng.uniform(0, 1, 200))}
    better = {q: v + 0.05 + float(rng.normal(0, 0.02)) for q, v in base.items()}
    c = paired_bootstrap(better, base, n_boot=2000)
    assert c["queries"] == 200 and c["lo"] < c["diff"] < c["hi"]
    assert c["lo"] > 0 and c["p_not_better"] == 0.0                 # clearly better: the interval is above 0
    noise = {q: v + float(rng.normal(0, 0.05)) for q, v in base.items()}
    n = paired_bootstrap(noise, base, n_boot=2000)
    assert n["lo"] < 0 < n["hi"]                                     # noise: the interval straddles 0
    only = paired_bootstrap({"q0": 1.0, "zz": 0.0}, base, n_boot=100)   # only shared queries are paired
    assert only["queries"] == 1
    with pytest.raises(ValueError, match="share no query"):
        paired_bootstrap({"zz": 1.0}, base)
