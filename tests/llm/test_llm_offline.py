"""A failed probe stops a fresh run, but a run whose answer cache holds answers of the model goes on from the
cache (polarlab.llm.offline): the same cache keys, and the first call that needs the server probes it again."""
from __future__ import annotations

import pytest
from llm_fake_server import FakeServer

from polarlab.llm.backends import probe_backend
from polarlab.llm.cache import AnswerCache, CachedAnswer
from polarlab.llm.errors import LLMUnreachableError
from polarlab.llm.offline import OfflineBackend, cached_answers, offline_or_raise, require_cached
from polarlab.llm.prompt import RenderedPrompt
from polarlab.llm.remote import OpenAIBackend


def _answer(key: str, model: str) -> CachedAnswer:
    return CachedAnswer(key=key, model=model, params={}, prompt="p", mode="generation", raw_text="ham", dist=None)


def test_the_probe_error_stands_unless_the_cache_holds_answers_of_this_model(tmp_path, dead_port):
    be = OpenAIBackend("fake-model", f"http://127.0.0.1:{dead_port}/v1", max_retries=0)
    with pytest.raises(LLMUnreachableError) as probed:
        probe_backend(be, where="x")
    err = probed.value
    cache = tmp_path / "llm_cache.sqlite"
    for c in (None, ":memory:", cache):                 # no cache: a fresh run stops here
        with pytest.raises(LLMUnreachableError) as e:
            offline_or_raise(be, err, c)
        assert e.value is err
    assert not cache.exists()                           # looking did not create it
    with AnswerCache(cache) as c:
        c.put(_answer("a", "other-model"))
    with pytest.raises(LLMUnreachableError):            # answers of another model do not count
        offline_or_raise(be, err, cache)
    with AnswerCache(cache) as c:
        c.put(_answer("b", "fake-model"))
        c.put(_answer("c", "fake-model"))
        assert cached_answers(c, "fake-model") == cached_answers(cache, "fake-model") == 2
    said = r"x\.base_url: no OpenAI-compatible server .*going on with the 2 answer\(s\) of model 'fake-model'"
    with pytest.warns(UserWarning, match=said):
        off = offline_or_raise(be, err, cache)
    assert isinstance(off, OfflineBackend)
    assert off.model_id == be.model_id and off.params("scoring") == be.params("scoring")   # the same cache keys
    assert off.max_concurrency == be.max_concurrency and off.count_tokens("a b c") == be.count_tokens("a b c")
    assert not hasattr(off, "run_many")                 # the server backend has none: callers see the same paths
    prompt = RenderedPrompt("", "Text: win a free prize\nLabels: ham, spam\nAnswer:")
    with pytest.raises(LLMUnreachableError) as e:
        off.generate(prompt)
    assert e.value.column == err.column == "x.base_url" and e.value.fix == err.fix
    assert "this prompt's answer is not among them" in e.value.message and str(cache) in e.value.message
    with pytest.raises(LLMUnreachableError):
        off.probe()                                     # asked once: every later call fails at once


def test_the_first_call_goes_through_when_the_server_is_back(tmp_path, dead_port):
    be = OpenAIBackend("fake-model", f"http://127.0.0.1:{dead_port}/v1", max_retries=0)
    with pytest.raises(LLMUnreachableError) as probed:
        be.probe()
    with AnswerCache(tmp_path / "c.sqlite") as c:
        c.put(_answer("b", "fake-model"))
        with pytest.warns(UserWarning):
            off = offline_or_raise(be, probed.value, c)
    server = FakeServer().start(port=dead_port)
    try:
        reply = off.generate(RenderedPrompt("", "Text: win a free prize\nLabels: ham, spam\nAnswer:"))
    finally:
        server.stop()
    assert reply.text.strip() == "spam" and sum(server.served.values()) == 1


def test_a_step_with_uncached_prompts_stops_before_it_asks_naming_the_count(tmp_path, dead_port):
    """require_cached: all cached -> nothing happens (no probe); some missing -> one error naming how many, the
    step and how to run without it; a backend whose server answered -> nothing to check."""
    be = OpenAIBackend("fake-model", f"http://127.0.0.1:{dead_port}/v1", max_retries=0)
    with pytest.raises(LLMUnreachableError) as probed:
        probe_backend(be, where="x")
    with AnswerCache(tmp_path / "c.sqlite") as c:
        c.put(_answer("b", "fake-model"))
        with pytest.warns(UserWarning, match="will stop before it asks"):
            off = offline_or_raise(be, probed.value, c, step="the LLM span source 'llm' (sources[1])",
                                   drop="remove its [[sources]] table")
    require_cached(off, 0, 7)                           # all cached: no probe, no error
    assert off.error is not None and not off._asked
    require_cached(be, 3, 7)                            # not offline: the live backend asks the server itself
    with pytest.raises(LLMUnreachableError) as e:
        require_cached(off, 3, 7, "over 2 document(s)")
    assert e.value.column == "x.base_url" and e.value.message.startswith(
        "3 of 7 prompt(s) of the LLM span source 'llm' (sources[1]) over 2 document(s) have no answer of model "
        "'fake-model' in the answer cache")
    assert "nothing was asked" in e.value.message
    assert e.value.fix.startswith("run it where the LLM server answers") and e.value.fix.endswith(
        "or run without this step: remove its [[sources]] table")
    with pytest.raises(LLMUnreachableError) as e:
        require_cached(off, 1, 2, drop="set [correct] budget = 0")
    assert e.value.fix.endswith("set [correct] budget = 0")
    server = FakeServer().start(port=dead_port)          # the server is back: a new backend's check passes
    try:
        with AnswerCache(tmp_path / "c.sqlite") as c, pytest.warns(UserWarning):
            back = offline_or_raise(be, probed.value, c)
        require_cached(back, 3, 7)
    finally:
        server.stop()
