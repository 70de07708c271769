"""The remote path end to end: the LLM judge and `polarlab bench relevance --llm URL` against real
OpenAI-compatible HTTP servers (the repository's fake server, and llama-cpp-python's own server running the
packaged Gemma 3 270M), with the SQLite answer cache."""
from __future__ import annotations

import re

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "llm"))
from llama_server import llama_cpp_server  # noqa: E402
from llm_fake_server import FakeServer  # noqa: E402

from polarlab.cli.main import app  # noqa: E402
from polarlab.llm.config import from_config  # noqa: E402
from polarlab.relevance import load_beir  # noqa: E402
from polarlab.relevance.judge import RelevanceJudge  # noqa: E402


@pytest.fixture(scope="module")
def server():
    s = FakeServer().start()
    yield s
    s.stop()


def test_judge_through_server_and_cache(server, tiny_beir, tmp_path):
    data = load_beir(tiny_beir)
    pairs = [(q, d) for q in data.split_queries("train")[:3] for d in (0, 1)]
    src = from_config({"type": "llm", "backend": "openai", "base_url": server.base_url, "model": "fake-model",
                       "progress": False}, tmp_path)
    judge = RelevanceJudge(src)
    first = judge.judge(data, pairs)
    assert first.backend_calls >= len(pairs)                  # + content-free calibration prompts
    assert np.isfinite(first.p_relevant).all() and set(first.votes.tolist()) <= {0, 1}
    asked = [p for p in server.prompts.values() if "Claim: " in p]
    assert len(asked) == len(pairs) and all("Document: " in p and "Labels: no, yes" in p for p in asked)
    # a new process (new source object) on the same cache file asks nothing again
    src2 = from_config({"type": "llm", "backend": "openai", "base_url": server.base_url, "model": "fake-model",
                        "progress": False}, tmp_path)
    again = RelevanceJudge(src2).judge(data, pairs)
    assert again.backend_calls == 0
    np.testing.assert_allclose(again.p_relevant, first.p_relevant)


@pytest.mark.slow
def test_bench_relevance_cli_with_remote_llm(server, tiny_beir, tmp_path):
    out = tmp_path / "res.json"
    r = CliRunner().invoke(app, ["bench", "relevance", str(tiny_beir), "--llm", server.base_url,
                                 "--llm-model", "fake-model", "--methods", "bm25,dense,fusion,polar,llm_rerank",
                                 "--rerank-depth", "3", "--budget", "8", "--state-dir", str(tmp_path / "state"),
                                 "--json", str(out)])
    assert r.exit_code == 0, r.output
    last = json.loads(r.output.strip().splitlines()[-1])
    assert last == json.loads(out.read_text())
    ret = last["retrievers"]
    assert list(ret) == ["bm25", "dense", "fusion", "polar", "llm_rerank"]
    for m in ret.values():
        assert 0 <= m["ndcg@10"] <= 1 and 0 <= m["recall@100"] <= 1 and m["seconds"] >= 0
    n_test = len(load_beir(tiny_beir).split_queries("test"))
    assert ret["llm_rerank"]["llm_calls"] == 3 * n_test and ret["bm25"]["llm_calls"] == 0
    assert ret["polar"]["llm_calls"] == 8 and last["risk"]["polar"]["n"] == 8
    assert "risk of the LLM judgements (polar, 8 pairs" in r.output
    assert last["llm_backend_calls"] >= 3 * n_test + 8
    assert sum(server.served.values()) >= 3 * n_test


def test_bench_relevance_bad_input_fails_before_any_work(tmp_path):
    (tmp_path / "qrels").mkdir()
    (tmp_path / "corpus.jsonl").write_text("")
    (tmp_path / "queries.jsonl").write_text('{"_id": "q", "text": "x"}\n')
    r = CliRunner().invoke(app, ["bench", "relevance", str(tmp_path), "--llm", "http://127.0.0.1:9/v1",
                                 "--state-dir", str(tmp_path / "s")])
    assert r.exit_code == 2
    assert "the corpus is empty" in r.output


@pytest.mark.slow
def test_bench_relevance_against_llama_cpp_server(tiny_beir, tmp_path):
    """A real server and model, chat endpoint (yes/no from the top log-probs of the first answer token); a second
    run of the same command is answered by the cache and retrains nothing. (The completions endpoint scores by
    echo, and llama-cpp-python's server ranks the whole 262k vocabulary in Python for every prompt token:
    minutes per relevance prompt, too slow for a test.)"""
    pytest.importorskip("llama_cpp")
    n_test = len(load_beir(tiny_beir).split_queries("test"))
    with llama_cpp_server(n_threads=1) as url:
        args = ["bench", "relevance", str(tiny_beir), "--llm", url, "--llm-model", "gemma",
                "--methods", "bm25,polar,llm_rerank", "--budget", "4", "--rerank-depth", "1",
                "--state-dir", str(tmp_path / "state")]
        first = CliRunner().invoke(app, args)
        assert first.exit_code == 0, first.output
        res = json.loads(first.output.strip().splitlines()[-1])
        again = CliRunner().invoke(app, args)
    assert again.exit_code == 0, again.output
    ret = res["retrievers"]
    assert ret["polar"]["llm_calls"] == 4 and ret["llm_rerank"]["llm_calls"] == n_test
    assert res["llm_backend_calls"] >= 4 + n_test
    risk = res["risk"]["polar"]
    assert risk["n"] == 4 and risk["polar"]["ece"] is not None      # a P(yes) on every judged pair
    res2 = json.loads(again.output.strip().splitlines()[-1])
    assert res2["llm_backend_calls"] == 0 and res2["retrievers"]["polar"]["reused_model"]
    assert {m: r["ndcg@10"] for m, r in res2["retrievers"].items()} == {m: r["ndcg@10"] for m, r in ret.items()}


def test_an_unreachable_llm_server_stops_the_run_before_the_first_stage(tiny_beir, tmp_path, monkeypatch, dead_port):
    """A wrong [relevance] llm URL fails in the probe, in seconds, naming the relevance key, not after BM25, the
    corpus encoding and the pool (minutes on a real corpus)."""
    from polarlab.errors import ConfigError
    from polarlab.llm.errors import LLMUnreachableError
    from polarlab.relevance import experiment, make_config, run_relevance

    port = dead_port

    def no_slow_work(*a, **k):
        raise AssertionError("the first stage ran before the LLM server was checked")

    monkeypatch.setattr(experiment._Run, "first_stage", no_slow_work)
    cfg = make_config(data=str(tiny_beir), llm=f"http://127.0.0.1:{port}/v1", methods=["bm25", "polar"])
    with pytest.raises(LLMUnreachableError) as e:
        run_relevance(cfg, state_dir=tmp_path / "s")
    assert isinstance(e.value, ConfigError) and e.value.column == "relevance.llm"
    assert f"127.0.0.1:{port}" in str(e.value) and "--llm" in e.value.fix
    with pytest.raises(AssertionError, match="first stage"):      # no LLM method: no server asked
        run_relevance(make_config(data=str(tiny_beir), llm=f"http://127.0.0.1:{port}/v1", methods=["bm25"]),
                      state_dir=tmp_path / "s")


def test_a_rerun_whose_llm_answers_are_all_cached_needs_no_server(tiny_beir, tmp_path, dead_port):
    """A first run asks a real HTTP server and fills the SQLite answer cache; with the server gone (its port now
    refuses connections) the same run reads every judgement from the cache (a warning) and gives the same results;
    with one answer lost from the cache it stops at that pair with the probe's error, naming the relevance key."""
    import sqlite3

    from polarlab.llm.errors import LLMUnreachableError
    from polarlab.relevance import make_config, run_relevance

    cfg = make_config(data=str(tiny_beir), llm=f"http://127.0.0.1:{dead_port}/v1", llm_model="fake-model",
                      methods=["bm25", "llm_rerank"], rerank_depth=3)
    server = FakeServer().start(port=dead_port)
    try:
        first = run_relevance(cfg, state_dir=tmp_path / "s")
    finally:
        server.stop()
    n = sum(server.served.values())
    assert first["retrievers"]["llm_rerank"]["llm_calls"] >= 3 and n >= 3
    with pytest.warns(UserWarning, match=rf"going on with the {n} answer\(s\) of model 'fake-model'"):
        again = run_relevance(cfg, state_dir=tmp_path / "s")
    assert first["llm_backend_calls"] == n and again["llm_backend_calls"] == 0
    assert again["retrievers"]["llm_rerank"]["ndcg@10"] == first["retrievers"]["llm_rerank"]["ndcg@10"]
    db = sqlite3.connect(tmp_path / "s" / "llm_cache.sqlite")
    with db:
        db.execute("DELETE FROM answers WHERE rowid = (SELECT MAX(rowid) FROM answers)")
    db.close()
    with pytest.raises(LLMUnreachableError) as e, pytest.warns(UserWarning, match="going on"):
        run_relevance(cfg, state_dir=tmp_path / "s")
    assert e.value.column == "relevance.llm" and "--llm" in e.value.fix
    # the reranked pairs are known after retrieval: checked then, before the first call, with the count
    assert re.match(r"1 of \d+ prompt\(s\) of the relevance LLM \(judging or reranking pairs\) have no answer",
                    e.value.message) and "nothing was asked" in e.value.message
    assert "leave llm_labels, polar, polar_self_training, llm_rerank out of [relevance] methods" in e.value.fix
