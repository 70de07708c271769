"""Logic around the models: config, cheap sources, triplets, fusion, the self-training picker, POLAR on pairs."""
from __future__ import annotations

import numpy as np
import pytest

from polarlab.errors import ConfigError
from polarlab.relevance import from_project_tables, load_relevance_project, make_config
from polarlab.relevance.candidates import rrf_fuse
from polarlab.relevance.harmonize import harmonize
from polarlab.relevance.labels import triplets_from_qrels, triplets_from_scores
from polarlab.relevance.pool import Pool
from polarlab.relevance.ranking import Ranking
from polarlab.relevance.selftrain import AdaptiveSelfTraining
from polarlab.relevance.sources import cheap_votes, rank_vote


def _pool(qids, docs, rank_fused=None) -> Pool:
    n = len(qids)
    rf = np.asarray(rank_fused if rank_fused is not None else np.arange(1, n + 1))
    z = np.zeros(n)
    return Pool(list(qids), np.asarray(docs), rf, rf, rf, z, z, z + 0.8, z)


def test_config_refuses_unknown_keys_and_bad_values():
    with pytest.raises(ConfigError, match="unknown key 'budgett'"):
        make_config(data="x", budgett=3)
    with pytest.raises(ConfigError, match="relevance.budget"):
        make_config(data="x", budget=-1)
    with pytest.raises(ConfigError, match="relevance.methods"):
        make_config(data="x", methods=["bm25", "colbert"])
    with pytest.raises(ConfigError, match="did you mean 'budget'"):
        make_config(data="x", budgett=3)
    with pytest.raises(ConfigError) as e:                   # a typo: refused when read, not when the LLM is asked
        make_config(data="x", llm="locl")
    assert e.value.column == "relevance.llm" and "neither \"local\" nor an http(s) URL" in str(e.value)
    assert make_config(data="x", llm="https://example.org/v1").llm == "https://example.org/v1"


def test_config_from_project_tables(tmp_path):
    cfg = from_project_tables({"task": {"kind": "relevance"}, "data": {"beir": "data/scifact"},
                               "relevance": {"budget": 50, "methods": ["bm25", "polar"]}},
                              file=tmp_path / "polarlab.toml")
    assert cfg.data == str(tmp_path / "data" / "scifact") and cfg.budget == 50 and cfg.methods == ["bm25", "polar"]
    with pytest.raises(ConfigError, match="kind"):
        from_project_tables({"task": {"kind": "text"}, "data": {"beir": "d"}})
    with pytest.raises(ConfigError, match="one key: beir"):
        from_project_tables({"task": {"kind": "relevance"}, "data": {"path": "d"}})
    with pytest.raises(ConfigError) as e:     # a typo is named at its key, with the key meant
        from_project_tables({"task": {"kind": "relevance"}, "data": {"bier": "d"}})
    assert e.value.column == "data.bier" and "did you mean 'beir'?" in e.value.fix
    with pytest.raises(ConfigError) as e:     # was TypeError: make_config() got multiple values for 'data'
        from_project_tables({"task": {"kind": "relevance"}, "data": {"beir": "d"}, "relevance": {"data": "e"}})
    assert e.value.column == "relevance.data" and "[data] beir" in e.value.fix


def test_relevance_project_file(tmp_path):
    f = tmp_path / "polarlab.toml"
    f.write_text('[task]\nkind = "relevance"\n[data]\nbeir = "scifact"\n[relevance]\nbudget = 10\n')
    cfg = load_relevance_project(f)
    assert cfg.budget == 10 and cfg.data == str(tmp_path / "scifact")
    f.write_text('[task]\nkind = "relevance"\n[data]\nbeir = "scifact"\n[relevance]\nrounds = "two"\n')
    with pytest.raises(ConfigError, match="relevance.rounds") as e:
        load_relevance_project(f)
    assert "polarlab.toml" in str(e.value)


def test_an_unknown_table_names_every_table_a_relevance_project_has(tmp_path):
    """The fix listed [task], [data] and [relevance], leaving out [project] (state_dir), which the README's
    example has; a misspelt table gets the one it resembles, [output] where the outputs go."""
    f = tmp_path / "polarlab.toml"
    body = '[task]\nkind = "relevance"\n[data]\nbeir = "scifact"\n[project]\nstate_dir = "s"\n'
    f.write_text(body)
    load_relevance_project(f)
    f.write_text(body + '[relevence]\nbudget = 10\n')
    with pytest.raises(ConfigError) as e:
        load_relevance_project(f)
    assert e.value.column == "relevence" and "did you mean [relevance]?" in e.value.fix
    assert "[project]" in e.value.fix
    f.write_text(body + '[output]\ndir = "o"\n')
    with pytest.raises(ConfigError) as e:
        load_relevance_project(f)
    assert "--out" in e.value.fix


def test_rank_vote_and_cheap_sources():
    assert rank_vote(np.array([1, 2, 10, 11, 101])).tolist() == [1, -1, -1, 0, 0]
    votes = cheap_votes(_pool(["q"] * 3, [0, 1, 2]))
    assert set(votes) == {"bm25_rank", "dense_rank", "word_overlap", "title_overlap"}
    assert votes["word_overlap"].tolist() == [1, 1, 1] and votes["title_overlap"].tolist() == [0, 0, 0]


def test_triplets_from_scores_positives_and_hard_negatives():
    pool = _pool(["a", "a", "a", "b", "b"], [10, 11, 12, 20, 21])
    p = np.array([0.2, 0.9, 0.05, np.nan, 0.7])
    t = triplets_from_scores(pool, p)
    assert [(x.qid, x.pos, x.neg) for x in t] == [("a", 11, 12), ("b", 21, None)]


def test_triplets_with_several_hard_negatives():
    pool = _pool(["a"] * 5, [10, 11, 12, 13, 14])
    p = np.array([0.9, 0.05, 0.3, 0.0, 0.1])
    t = triplets_from_scores(pool, p, n_neg=3)
    assert [(x.pos, x.negatives) for x in t] == [(10, (11, 13, 14))]      # best-ranked P <= 0.1 first
    assert triplets_from_scores(pool, p, n_neg=0)[0].negatives == ()
    q = triplets_from_qrels(pool, {"a": {"d10": 1}}, {f"d{i}": i for i in range(10, 15)}, n_neg=2)
    assert [(x.pos, x.negatives) for x in q] == [(10, (11, 12))]


def test_comparisons_state_the_target_verdict():
    from polarlab.relevance.experiment import comparisons
    qs = [f"q{i}" for i in range(100)]
    dense = {q: 0.5 for q in qs}
    fusion = {q: 0.6 for q in qs}
    trained = {q: 0.55 + 0.01 * (i % 3) for i, q in enumerate(qs)}
    hybrid = {q: 0.62 + 0.01 * (i % 3) for i, q in enumerate(qs)}
    per = {"dense": dense, "fusion": fusion, "polar_self_training": trained, "polar_self_training+bm25": hybrid,
           "llm_rerank": {q: 0.3 for q in qs[:10]}}
    c = comparisons(per, {"polar_self_training": {"llm_calls": 400}}, 400, n_boot=500)
    assert c["polar_self_training vs dense"]["lo"] > 0
    assert c["polar_self_training vs fusion"]["hi"] < 0
    assert c["llm_rerank vs fusion"]["queries"] == 10 and c["llm_rerank vs fusion"]["diff"] == pytest.approx(-0.3)
    assert c["target"] == {"retriever": "polar_self_training", "llm_calls": 400, "budget": 400,
                           "within_call_limit": True, "dense_beats_minilm": True, "dense_beats_fusion": False,
                           "hybrid_beats_fusion": True}
    assert "polar vs dense" not in c                                   # methods that did not run are left out


def test_triplets_from_qrels_skip_relevant_negatives():
    pool = _pool(["a", "a", "a"], [0, 1, 2])
    t = triplets_from_qrels(pool, {"a": {"d1": 1, "d9": 1}}, {"d0": 0, "d1": 1, "d2": 2, "d9": 9})
    assert [(x.pos, x.neg) for x in t] == [(1, 0), (9, 0)]


def test_rrf_fuse():
    a = Ranking(["q"], np.array([[1, 2, 3]]), np.array([[3.0, 2.0, 1.0]]))
    b = Ranking(["q"], np.array([[3, 1, 4]]), np.array([[0.9, 0.8, 0.1]]))
    f = rrf_fuse([a, b], k=3)
    assert f.doc_idx.tolist() == [[1, 3, 2]]
    assert f.scores[0, 0] == pytest.approx(1 / 61 + 1 / 62)


def test_self_training_picks_uncertain_pairs_spread_over_queries():
    pool = _pool(["a", "a", "a", "b", "b"], [0, 1, 2, 3, 4])
    st = AdaptiveSelfTraining(budget=10, per_query=1)
    p_ret = np.array([0.5, 0.45, 0.05, 0.6, 0.4])
    asked = np.array([False, False, False, True, False])
    assert st._pick(pool, p_ret, asked, 5).tolist() == [0, 4]      # one per query, asked pairs skipped
    assert st._pick(pool, p_ret, asked, 1).tolist() == [0]


def test_harmonize_gives_probabilities_and_llm_risk():
    rng = np.random.default_rng(0)
    n = 300
    y = rng.random(n) < 0.3
    X = np.column_stack([y + rng.normal(0, 0.5, n), rng.normal(size=(n, 3))]).astype(np.float32)
    noisy = lambda acc: np.where(rng.random(n) < acc, y, ~y).astype(int)  # noqa: E731
    llm = noisy(0.8)
    llm[::3] = -1
    h = harmonize(X, {"s1": noisy(0.85), "s2": noisy(0.75), "llm": llm})
    assert h.p_relevant.shape == (n,) and ((h.p_relevant >= 0) & (h.p_relevant <= 1)).all()
    assert np.isnan(h.llm_risk[::3]).all() and np.isfinite(h.llm_risk[1::3]).all()
    assert ((h.p_relevant >= 0.5) == y).mean() > 0.8
    wrong = (llm >= 0) & (llm != y)
    right = (llm >= 0) & (llm == y)
    assert h.llm_risk[wrong].mean() > h.llm_risk[right].mean()


def test_corpus_encoding_is_cached_block_by_block(tmp_path):
    """A killed corpus encoding resumes at its block: finished blocks are read back, not recomputed."""
    from polarlab.relevance.candidates import _BlockCached

    class Counting:
        model_id, dim = "fake", 2

        def __init__(self):
            self.seen: list[str] = []

        def encode(self, texts):
            self.seen += list(texts)
            return np.array([[len(t), 1.0] for t in texts], dtype=np.float32)

    emb = Counting()
    texts = ["a", "bb", "ccc", "dddd", "eeeee"]
    out = _BlockCached(emb, tmp_path, block=2).encode(texts)
    assert out[:, 0].tolist() == [1, 2, 3, 4, 5] and emb.seen == texts
    emb.seen.clear()
    again = _BlockCached(emb, tmp_path, block=2).encode(texts[:4] + ["ffffff"])
    assert emb.seen == ["ffffff"] and again[:, 0].tolist() == [1, 2, 3, 4, 6]


def test_auroc_noise_band_of_an_uninformative_score():
    from polarlab.relevance.experiment import auroc_noise
    from polarlab.risk.calibration import auroc

    labels = np.array([1] * 50 + [0] * 50)
    band = auroc_noise(labels)
    assert band == pytest.approx(2 * np.sqrt(101 / (12 * 50 * 50)))
    # random scores land inside 0.5 ± band about 95 % of the time
    rng = np.random.default_rng(0)
    inside = np.mean([abs(auroc(rng.random(100), labels) - 0.5) <= band for _ in range(400)])
    assert 0.9 <= inside <= 0.99
    assert np.isnan(auroc_noise(np.array([1, 1, 1])))


def test_bm25_prints_no_debug_lines(tiny_beir, caplog):
    """bm25s sets its logger to DEBUG when imported: every run printed "DEBUG Building index from IDs objects"."""
    import logging

    from polarlab.relevance import load_beir
    from polarlab.relevance.candidates import BM25Retriever

    data = load_beir(tiny_beir)
    logging.getLogger("bm25s").setLevel(logging.DEBUG)        # as bm25s leaves it when imported
    with caplog.at_level(logging.DEBUG):                      # a handler that shows everything, as the CLI's does
        ranking = BM25Retriever().fit(data).retrieve(data, data.split_queries("test"), 5)
    assert not [r for r in caplog.records if r.name.startswith("bm25s") and r.levelno < logging.WARNING]
    assert ranking.doc_idx.shape == (len(data.split_queries("test")), 5)


def test_bench_out_writes_what_a_project_run_writes(tiny_beir, tmp_path):
    """`polarlab bench relevance --out DIR` writes metrics.json through the project run's writer (the same result as
    the JSON line); no POLAR method, no labels file (the labels files: test_relevance_pipeline.py)."""
    import json

    from typer.testing import CliRunner

    from polarlab.cli.main import app

    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["bench", "relevance", str(tiny_beir), "--methods", "bm25", "--state-dir",
                                 str(tmp_path / "s"), "--out", str(out)])
    assert r.exit_code == 0, r.output
    last = json.loads(r.output.strip().splitlines()[-1])
    assert sorted(p.name for p in out.iterdir()) == ["metrics.json"]
    assert json.loads((out / "metrics.json").read_text()) == last and "labels" not in last
    assert 0 <= last["retrievers"]["bm25"]["ndcg@10"] <= 1
    assert f"wrote metrics: {out / 'metrics.json'}" in r.output


def test_metrics_json_and_the_json_line_are_strict_json_when_a_metric_is_not_finite(tiny_beir, tmp_path,
                                                                                     monkeypatch):
    """A real bm25 run whose Recall@100 is NaN (what the metric gives for an empty query set): metrics.json and the
    last stdout line hold null there, and no NaN / Infinity token a strict parser (jq, JSON.parse) refuses."""
    import json

    from typer.testing import CliRunner

    import polarlab.relevance.metrics as metrics
    from polarlab.cli.main import app

    monkeypatch.setattr(metrics, "recall_at_k", lambda run, qrels, k=100: float("nan"))

    def refuse(token):
        raise ValueError(f"non-standard JSON token {token}")

    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["bench", "relevance", str(tiny_beir), "--methods", "bm25", "--state-dir",
                                 str(tmp_path / "s"), "--out", str(out)])
    assert r.exit_code == 0, r.output
    written = json.loads((out / "metrics.json").read_text(), parse_constant=refuse)
    last = json.loads(r.output.strip().splitlines()[-1], parse_constant=refuse)
    assert written["retrievers"]["bm25"]["recall@100"] is None and written == last
    assert 0 <= written["retrievers"]["bm25"]["ndcg@10"] <= 1            # the finite values are kept


def test_bench_pool_depth_reaches_the_config_and_a_bad_one_is_named(tiny_beir, tmp_path):
    """`polarlab bench relevance --pool-depth N` sets the config's pool_depth (the JSON line's "config" shows it);
    a value the config refuses is one error naming the key."""
    import json

    from typer.testing import CliRunner

    from polarlab.cli.main import app
    from polarlab.relevance import make_config

    args = ["bench", "relevance", str(tiny_beir), "--methods", "bm25", "--state-dir", str(tmp_path / "s")]
    r = CliRunner().invoke(app, args + ["--pool-depth", "3"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output.strip().splitlines()[-1])["config"]["pool_depth"] == 3
    r = CliRunner().invoke(app, args)
    default = make_config(None, data=str(tiny_beir)).pool_depth
    assert json.loads(r.output.strip().splitlines()[-1])["config"]["pool_depth"] == default != 3
    r = CliRunner().invoke(app, args + ["--pool-depth", "1"])
    assert r.exit_code != 0 and "pool_depth" in r.output
