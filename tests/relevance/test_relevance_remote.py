"""The remote path end to end: the LLM judge and `polarlab bench relevance --llm URL` against a real
OpenAI-compatible HTTP server (the repository's fake server), with the SQLite answer cache."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "llm"))
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
