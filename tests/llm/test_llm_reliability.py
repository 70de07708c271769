"""Issue 11, remote LLM: URL checked up front, server probed before the first prompt, failures counted,
labels scored the way the server allows (real HTTP servers: the fake OpenAI server, and llama-cpp-python's own
server running the shipped Gemma GGUF)."""
from __future__ import annotations

import threading
import warnings
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from llama_server import free_port, llama_cpp_server
from typer.testing import CliRunner

from polarlab import Task, apply_sources
from polarlab.cli import main as cli
from polarlab.data.dataset import Dataset
from polarlab.errors import ConfigError, SourceError
from polarlab.llm import (LLMConfigError, LLMModelNotFoundError, LLMSource, LLMUnreachableError, OpenAIBackend,
                          from_config)

pytestmark = pytest.mark.slow

TASK = Task(labels=("ham", "spam"), instruction="Is the message spam?", name="sms")
TEXTS = ["see you at lunch", "WIN a free phone now", "call me later", "claim your prize", "ok thanks",
         "free entry to win cash"]
GOLD = [0, 1, 0, 1, 0, 1]


def data() -> Dataset:
    return Dataset(pd.DataFrame({"id": [f"m{i}" for i in range(6)], "text": TEXTS, "label": GOLD}))


def source(url: str, tmp_path: Path, **kw) -> LLMSource:
    be = {k: kw.pop(k) for k in list(kw) if k in ("endpoint", "max_retries", "backoff_s", "max_concurrency", "model")}
    be.setdefault("model", "fake-model")
    be.setdefault("backoff_s", 0.001)
    return LLMSource(OpenAIBackend(base_url=url, **be), cache=tmp_path / "c.sqlite", progress=False, **kw)


# --------------------------------------------------------------------------- checked before any work

@pytest.mark.parametrize("url", ["localhost:8000/v1", "ftp://host/v1", "http://", "not a url", 8000])
def test_base_url_that_is_not_a_url(url, tmp_path):
    with pytest.raises(LLMConfigError) as ei:
        from_config({"type": "llm", "name": "gpt", "backend": "openai", "model": "m", "base_url": url}, tmp_path)
    assert "base_url" in str(ei.value) and "http://127.0.0.1:8000/v1" in str(ei.value)
    assert not list(tmp_path.iterdir())  # no cache created


def test_bad_base_url_in_a_project_stops_before_any_work(tmp_path, monkeypatch):
    import polarlab.pipeline as pipeline

    fits: list = []
    monkeypatch.setattr(pipeline, "fit_label_models", lambda *a, **k: fits.append(1))
    (tmp_path / "d.csv").write_text("text,label\nwin now,spam\nhi,ham\n", encoding="utf-8")
    (tmp_path / "polarlab.toml").write_text(
        '[task]\nlabels = ["ham", "spam"]\n[data]\npath = "d.csv"\n'
        '[[sources]]\ntype = "llm"\nname = "gpt"\nbackend = "openai"\nmodel = "m"\nbase_url = "localhost:8000"\n'
        '[labelmodel]\nmethods = ["mv"]\n[output]\ndir = "out"\n', encoding="utf-8")
    r = CliRunner().invoke(cli.app, ["run", str(tmp_path / "polarlab.toml"), "--no-progress"])
    assert r.exit_code == 2, r.output
    msg = " ".join(r.stderr.split())
    assert "base_url" in msg and "'localhost:8000'" in msg and "Fix:" in msg
    assert not fits and not (tmp_path / "out").exists() and not (tmp_path / ".polarlab").exists()


def test_no_base_url_says_which_server_is_used():
    be = OpenAIBackend("gpt-4o-mini")
    assert "api.openai.com" in be.where and "no base_url" in be.where


def test_full_endpoint_url_names_the_endpoint(srv):
    be = OpenAIBackend("fake-model", srv.base_url + "/completions")
    assert be.endpoint == "completions" and be.base_url == srv.base_url and "raw prompt" in be.template
    assert OpenAIBackend("fake-model", srv.base_url + "/chat/completions/").endpoint == "chat"


def test_bench_llm_url_can_name_the_completions_endpoint(srv, tmp_path):
    """``polarlab bench wrench --llm http://host/v1/completions`` scores on the completions endpoint."""
    from polarlab.bench.wrench import make_llm_source

    llm = make_llm_source(srv.base_url + "/completions", tmp_path, "fake-model", progress=False)
    assert llm.backend.endpoint == "completions" and llm.backend.base_url == srv.base_url


def test_unreachable_server_fails_at_the_probe_before_any_prompt(tmp_path, monkeypatch):
    src = source(f"http://127.0.0.1:{free_port()}/v1", tmp_path, max_retries=5, backoff_s=1.0)
    sent: list = []
    monkeypatch.setattr(src.backend, "_request", lambda *a, **k: sent.append(a))
    with pytest.raises(LLMUnreachableError) as ei:
        src.apply(data(), TASK)
    assert "base_url" in str(ei.value) and "Fix:" in str(ei.value)
    assert sent == []  # no prompt, so no retry budget spent: the probe answered


def test_server_going_away_mid_run_spends_one_retry_budget(srv, tmp_path, monkeypatch):
    """After one call finds the server gone for good, no other prompt starts a retry budget of its own."""
    import openai

    src = source(srv.base_url, tmp_path, max_concurrency=3, max_retries=2, backoff_s=0.05, calibrate=False)
    real, attempts, lock = src.backend._request, [], threading.Lock()

    def request(*a, **k):  # the first prompt is answered; then the server is gone
        with lock:  # three worker threads call this: which call is the first must be decided atomically
            attempts.append(a[0])
            first = len(attempts) == 1
        if first:
            return real(*a, **k)
        raise openai.APIConnectionError(request=httpx.Request("POST", srv.base_url))  # openai >= 3.60 reads its headers

    monkeypatch.setattr(src.backend, "_request", request)
    many = Dataset(pd.DataFrame({"id": [str(i) for i in range(30)], "text": [f"row {i}" for i in range(30)],
                                 "label": [0] * 30}))
    with pytest.raises(LLMUnreachableError):
        src.apply(many, TASK)
    # the first answer, then at most one budget (1 + max_retries attempts) per worker thread
    assert len(attempts) - 1 <= 3 * (1 + 2)
    assert len(src.cache) == 1  # what was answered is kept


def test_model_the_server_does_not_list(srv, tmp_path):
    srv.configure(list_models=True, models=("fake-model", "other"))
    with pytest.raises(LLMModelNotFoundError) as ei:
        source(srv.base_url, tmp_path, model="fake-modle").apply(data(), TASK)
    assert "'fake-modle'" in str(ei.value) and "'other'" in str(ei.value) and "key 'model'" in str(ei.value)
    assert sum(srv.requests.values()) == 0  # not one prompt sent


# --------------------------------------------------------------------------- a server failing every prompt

def test_server_answering_501_to_every_prompt_fails_the_run(srv, tmp_path):
    srv.configure(fail_first=10 ** 6, fail_status=501)
    src = source(srv.base_url, tmp_path, max_concurrency=3, calibrate=False)
    with pytest.raises(SourceError) as ei:
        apply_sources(data(), [src], TASK, progress=False)
    msg = str(ei.value)
    assert "'llm'" in msg and "6 of 6" in msg and "501" in msg and 'endpoint = "completions"' in msg
    assert set(srv.requests.values()) == {1}  # 501 is not retried
    tolerant = source(srv.base_url, tmp_path, calibrate=False, fault_tolerant=True)
    L = apply_sources(data(), [tolerant], TASK, progress=False)
    assert (L.L == -1).all() and len(L.failures) == 6


# --------------------------------------------------------------------------- scoring the labels the server allows

def test_labels_missing_from_top_logprobs_fall_back_to_generation_with_a_count(srv, tmp_path):
    srv.configure(top_hides_labels=True)
    src = source(srv.base_url, tmp_path, calibrate=False)
    with pytest.warns(RuntimeWarning, match=r"6 of 6 answer\(s\) have no label distribution .*top 20") as w:
        out = src.apply(data(), TASK)
    assert out.votes.tolist() == GOLD  # answered by generation, not abstains
    assert not any("name no label" in str(x.message) for x in w)


def test_completions_endpoint_scores_every_label_by_echo(srv, tmp_path):
    src = source(srv.base_url, tmp_path, endpoint="completions", calibrate=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fallback, no abstain warning
        out = src.apply(data(), TASK)
    assert out.votes.tolist() == GOLD and not np.isnan(out.proba).any()
    assert src.backend.params("scoring")["scoring"] == "echo"
    # one request per (row, label), the label appended to the prompt
    assert len(srv.requests) == 12 and all(p.endswith((" ham", " spam")) for p in srv.prompts.values())


# --------------------------------------------------------------------------- llama-cpp-python's own server

@pytest.fixture(scope="module")
def llama_server():
    with llama_cpp_server() as url:
        yield url


def test_llama_cpp_server_completions_scoring_sees_every_label(llama_server, tmp_path):
    ds = data().head(4)
    src = source(llama_server, tmp_path, model="gemma", endpoint="completions", max_concurrency=1, calibrate=False)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        out = src.apply(ds, TASK)
    assert not np.isnan(out.proba).any() and (out.votes >= 0).all()  # a distribution on every row
    assert not [x for x in w if "no label distribution" in str(x.message)]
    np.testing.assert_allclose(out.proba.sum(axis=1), 1.0)


def test_llama_cpp_server_chat_never_abstains_silently(llama_server, tmp_path):
    ds = data().head(4)
    src = source(llama_server, tmp_path, model="gemma", max_concurrency=1, calibrate=False)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        out = src.apply(ds, TASK)
    no_dist = int(np.isnan(out.proba).all(axis=1).sum())
    abstains = int((out.votes == -1).sum())
    msgs = " ".join(str(x.message) for x in w)
    if no_dist:  # every row without a distribution was answered by generation, and counted
        assert f"{no_dist} of 4 answer(s) have no label distribution" in msgs
    if abstains:
        assert f"{abstains} of 4 answer(s) name no label" in msgs


def test_failure_policy_keys_of_an_llm_source(srv, tmp_path):
    table = {"type": "llm", "name": "gpt", "backend": "openai", "model": "fake-model", "base_url": srv.base_url}
    src = from_config({**table, "fault_tolerant": True, "max_failure_share": 0.5}, tmp_path)
    assert src.fault_tolerant is True and src.max_failure_share == 0.5
    for key, bad in (("fault_tolerant", "yes"), ("max_failure_share", 1.5)):
        with pytest.raises(ConfigError) as ei:
            from_config({**table, key: bad}, tmp_path)
        assert f"sources.gpt.{key}" in str(ei.value)
