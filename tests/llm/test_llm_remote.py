"""Remote backend against a real OpenAI-protocol HTTP server on 127.0.0.1."""
from __future__ import annotations

import sqlite3

import numpy as np
import pandas as pd
import pytest

from llm_fake_server import prompt_hash
from polarlab.data.dataset import Dataset, Example
from polarlab.errors import ConfigError
from polarlab.sources.base import Source
from polarlab.llm import (LLMAuthError, LLMModelNotFoundError, LLMSource, LLMUnreachableError,
                          OpenAIBackend, PromptRequest, from_config)
from polarlab.task import Task

pytestmark = pytest.mark.slow

TASK = Task(labels=("ham", "spam"), instruction="Is the message spam?", name="sms")
TEXTS = ["see you at lunch", "WIN a free phone now", "call me later", "claim your prize",
         "ok thanks", "free entry to win cash"]
GOLD = [0, 1, 0, 1, 0, 1]
KEY = "sk-TEST-SECRET-7c1f9e4b2a"


def data(texts=TEXTS, gold=GOLD) -> Dataset:
    return Dataset(pd.DataFrame({"id": [f"m{i}" for i in range(len(texts))], "text": texts,
                                 "label": gold}))


def backend(srv, **kw) -> OpenAIBackend:
    kw.setdefault("model", "fake-model")
    kw.setdefault("backoff_s", 0.001)
    kw.setdefault("backoff_max_s", 0.01)
    kw.setdefault("max_retries", 3)
    return OpenAIBackend(base_url=kw.pop("base_url", srv.base_url), **kw)


def test_scoring_mode_uses_logprobs(srv, tmp_path):
    src = LLMSource(backend(srv), cache=tmp_path / "c.sqlite", progress=False)
    assert isinstance(src, Source)
    out = src.apply(data(), TASK)
    assert out.votes.tolist() == GOLD
    assert out.proba.shape == (6, 2)
    np.testing.assert_allclose(out.proba.sum(axis=1), 1.0)
    # calibration: content-free prompts were asked (3), the distribution moved towards spam
    ans = src.ask(src.requests_for(data(), TASK), TASK)
    assert all(a.cached for a in ans)
    for a in ans:
        assert a.proba[1] > a.proba_uncalibrated[1]
    st = src.last_stats
    assert st.calls == 0 and st.cache_hits == 6 + 3 and not st.logprobs_fallback
    assert src.total_stats.calls == 9


def test_completions_endpoint_scoring(srv, tmp_path):
    src = LLMSource(backend(srv, endpoint="completions"), cache=tmp_path / "c.sqlite",
                    calibrate=False, progress=False)
    out = src.apply(data(), TASK)
    assert out.votes.tolist() == GOLD
    # the distribution is read from top_logprobs: p(spam) = e^-0.1/(e^-0.1+e^-2.5) for spam texts
    exp = np.exp(-0.1) / (np.exp(-0.1) + np.exp(-2.5))
    assert out.proba[1, 1] == pytest.approx(exp)


def test_generation_mode(srv, tmp_path):
    src = LLMSource(backend(srv), mode="generation", cache=tmp_path / "c.sqlite", progress=False)
    out = src.apply(data(), TASK)
    assert out.votes.tolist() == GOLD
    assert np.isnan(out.proba).all()
    assert src.last_stats.calls == 6  # no calibration prompts in generation mode


def test_fallback_to_generation_without_logprobs(srv, tmp_path):
    srv.configure(logprobs=False)
    src = LLMSource(backend(srv), cache=tmp_path / "c.sqlite", progress=False)
    with pytest.warns(RuntimeWarning, match="fell back to generation"):
        out = src.apply(data(), TASK)
    assert out.votes.tolist() == GOLD
    assert np.isnan(out.proba).all()
    assert src.last_stats.logprobs_fallback
    assert src.last_stats.fallback_answers == 6


def test_fallback_when_server_rejects_logprobs(srv, tmp_path):
    srv.configure(reject_logprobs=True)
    src = LLMSource(backend(srv), cache=tmp_path / "c.sqlite", calibrate=False, progress=False)
    with pytest.warns(RuntimeWarning):
        out = src.apply(data(), TASK)
    assert out.votes.tolist() == GOLD
    assert src.last_stats.logprobs_fallback


@pytest.mark.parametrize("status", [429, 503])
def test_retry_then_success(srv, tmp_path, status):
    srv.configure(fail_first=2, fail_status=status)
    src = LLMSource(backend(srv, max_concurrency=3), cache=tmp_path / "c.sqlite",
                    calibrate=False, progress=False)
    out = src.apply(data(), TASK)
    assert out.votes.tolist() == GOLD and not out.failures
    assert src.last_stats.retries == 2 * 6
    assert sorted(srv.requests.values()) == [3] * 6
    assert sorted(srv.served.values()) == [1] * 6


def test_retries_exhausted_is_a_failure_not_cached(srv, tmp_path):
    srv.configure(fail_first=10)
    src = LLMSource(backend(srv, max_retries=1), cache=tmp_path / "c.sqlite",
                    calibrate=False, progress=False)
    out = src.apply(data(), TASK)
    assert (out.votes == -1).all()
    assert len(out.failures) == 6 and "429" in out.failures[0].error
    assert len(src.cache) == 0
    srv.configure()  # the server recovers: the next run asks again and succeeds
    out = src.apply(data(), TASK)
    assert out.votes.tolist() == GOLD and src.last_stats.calls == 6


def test_wrong_key_is_a_clear_error(srv, tmp_path, monkeypatch):
    srv.configure(api_key=KEY)
    monkeypatch.setenv("FAKE_LLM_KEY", "sk-wrong")
    src = LLMSource(backend(srv, api_key_env="FAKE_LLM_KEY"), cache=tmp_path / "c.sqlite",
                    progress=False)
    with pytest.raises(LLMAuthError) as e:
        src.apply(data(), TASK)
    assert "FAKE_LLM_KEY" in str(e.value) and "401" in str(e.value)
    assert "sk-wrong" not in str(e.value)
    assert isinstance(e.value, ConfigError)


def test_missing_key_variable_is_a_clear_error(srv, monkeypatch):
    monkeypatch.delenv("FAKE_LLM_KEY_UNSET", raising=False)
    with pytest.raises(ConfigError, match="FAKE_LLM_KEY_UNSET"):
        backend(srv, api_key_env="FAKE_LLM_KEY_UNSET")


def test_wrong_model_is_a_clear_error(srv, tmp_path):
    src = LLMSource(backend(srv, model="no-such-model"), cache=tmp_path / "c.sqlite", progress=False)
    with pytest.raises(LLMModelNotFoundError, match="no-such-model"):
        src.apply(data(), TASK)


def test_unreachable_server_is_a_clear_error(tmp_path):
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    be = OpenAIBackend("fake-model", f"http://127.0.0.1:{port}/v1", max_retries=1, backoff_s=0.001)
    src = LLMSource(be, cache=tmp_path / "c.sqlite", progress=False)
    with pytest.raises(LLMUnreachableError, match=f"127.0.0.1:{port}"):
        src.apply(data(), TASK)


def test_malformed_and_empty_replies_abstain_and_are_recorded(srv, tmp_path):
    texts = ["ok EMPTY", "win BLANK", "win big"]
    src = LLMSource(backend(srv), cache=tmp_path / "c.sqlite", calibrate=False, progress=False)
    out = src.apply(data(texts, [0, 1, 1]), TASK)
    assert out.votes.tolist() == [-1, -1, 1]
    assert not out.failures
    db = sqlite3.connect(tmp_path / "c.sqlite")
    statuses = sorted(r[0] for r in db.execute("SELECT status FROM answers"))
    assert statuses == ["malformed", "malformed", "ok"]
    src.apply(data(texts, [0, 1, 1]), TASK)
    assert src.last_stats.calls == 0


def test_api_key_never_in_cache_file(srv, tmp_path, monkeypatch):
    srv.configure(api_key=KEY)
    monkeypatch.setenv("FAKE_LLM_KEY", KEY)
    cache = tmp_path / "state" / "llm_cache.sqlite"
    src = LLMSource(backend(srv, api_key_env="FAKE_LLM_KEY"), cache=cache, progress=False)
    out = src.apply(data(), TASK)
    assert out.votes.tolist() == GOLD
    assert all(h == f"Bearer {KEY}" for h in srv.auth_headers)  # the key was really used
    files = list(cache.parent.iterdir())
    assert files
    for f in files:
        assert KEY.encode() not in f.read_bytes(), f
    assert KEY not in repr(src) and KEY not in repr(src.backend)


def test_cost_accounting(srv, tmp_path):
    src = LLMSource(backend(srv), cache=tmp_path / "c.sqlite", calibrate=False, progress=False,
                    price_in_per_1k=2.0, price_out_per_1k=10.0)
    src.apply(data(), TASK)
    st = src.last_stats
    assert st.tokens_in == sum(len(p.split()) for p in srv.prompts.values())
    assert st.tokens_out == 6
    assert st.cost == pytest.approx(st.tokens_in / 1000 * 2.0 + 6 / 1000 * 10.0)
    src.apply(data(), TASK)
    assert src.last_stats.cost == 0.0 and src.last_stats.cache_hits == 6


def test_ask_with_evidence_and_previous_answer(srv, tmp_path):
    src = LLMSource(backend(srv), cache=tmp_path / "c.sqlite", calibrate=False, progress=False)
    fs = ((Example("d1", "free prize inside"), 1), (Example("d2", "lunch at noon?"), 0))
    reqs = [PromptRequest(Example("a", "win a car"), few_shot=fs, evidence=("rule `win` fired",),
                          previous_answer=0, tag="self-verify"),
            PromptRequest(Example("b", "see you"), tag="plain")]
    ans = src.ask(reqs, TASK)
    assert [a.label for a in ans] == [1, 0] and [a.tag for a in ans] == ["self-verify", "plain"]
    assert not any(a.cached for a in ans)
    sent = srv.prompts[prompt_hash(src.render(TASK, reqs[0]).text)]
    assert "- rule `win` fired" in sent and "Previous answer: ham." in sent
    assert "Text: free prize inside\nAnswer: spam" in sent
    again = src.ask(reqs, TASK)
    assert all(a.cached for a in again) and src.last_stats.calls == 0


def test_duplicate_prompts_are_asked_once(srv, tmp_path):
    src = LLMSource(backend(srv), cache=tmp_path / "c.sqlite", calibrate=False, progress=False)
    out = src.apply(data(["win now", "win now", "hello"], [1, 1, 0]), TASK)
    assert out.votes.tolist() == [1, 1, 0]
    assert src.last_stats.calls == 2 and sum(srv.requests.values()) == 2


def test_from_config_openai(srv, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_LLM_KEY", "anything")
    src = from_config({"type": "llm", "name": "gpt", "backend": "openai", "model": "fake-model",
                       "base_url": srv.base_url, "api_key_env": "FAKE_LLM_KEY", "mode": "scoring",
                       "calibrate": True, "max_concurrency": 2, "price_in_per_1k": 0.5,
                       "few_shot": [{"text": "free money", "label": "spam"}], "progress": False},
                      state_dir=tmp_path)
    assert src.name == "gpt" and isinstance(src.backend, OpenAIBackend)
    out = src.apply(data(), TASK)
    assert out.votes.tolist() == GOLD
    assert (tmp_path / "llm_cache.sqlite").is_file()
    assert src.last_stats.cost is not None and src.last_stats.cost > 0
