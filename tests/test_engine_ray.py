"""The Ray engine on a real local Ray cluster (2 worker CPUs on 127.0.0.1): same label matrix as the local
engine, and still complete and identical when a worker dies mid-stage."""
from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from polarlab.data import from_pandas
from polarlab.engine import LocalEngine, make_engine
from polarlab.errors import ConfigError
from polarlab.sources import ABSTAIN, KeywordSource, RegexSource, labeling_function
from polarlab.task import Task

ray = pytest.importorskip("ray")
TASK = Task(labels=("ham", "spam"), name="t")


@pytest.fixture(scope="module")
def engine():
    eng = make_engine("ray", num_cpus=2, partition_rows=250)
    yield eng
    eng.close()


def _data(n: int = 1_000):
    rng = np.random.default_rng(0)
    words = np.array(["buy", "now", "song", "love", "http://x.io", "check", "out", "great", "video", "free"])
    texts = [" ".join(rng.choice(words, size=rng.integers(2, 8))) for _ in range(n)]
    return from_pandas(pd.DataFrame({"text": texts}), TASK, text_column="text")


def _sources(marker: str | None = None):
    @labeling_function()
    def long_text(x):
        if marker is not None and x.id.endswith("7") and not os.path.exists(marker):
            open(marker, "w").close()
            os._exit(1)                  # the worker process dies: Ray must retry the partition
        if len(x.text.split()) > 6:
            raise ValueError("too long")  # a recorded per-row failure, like any LF bug
        return 0 if len(x.text.split()) > 4 else ABSTAIN

    return [KeywordSource("kw_buy", ["buy", "free"], label="spam"), RegexSource("rx_link", r"https?://", label="spam"),
            KeywordSource("kw_song", ["song", "love"], label="ham"), long_text]


def test_ray_engine_matches_local(engine):
    ds = _data()
    local = LocalEngine(progress=False).apply_sources(ds, _sources(), TASK)
    remote = engine.apply_sources(ds, _sources(), TASK)
    assert np.array_equal(local.L, remote.L)
    assert [(f.source, f.row) for f in local.failures] == [(f.source, f.row) for f in remote.failures]
    assert len(local.failures) > 0 and len(engine.partition_seconds) == 4


def test_killed_worker_partition_is_retried(engine, tmp_path):
    ds = _data()
    marker = str(tmp_path / "killed-once")
    local = LocalEngine(progress=False).apply_sources(ds, _sources(), TASK)
    remote = engine.apply_sources(ds, _sources(marker), TASK)
    assert os.path.exists(marker)                # a worker really died
    assert np.array_equal(local.L, remote.L)


def test_ray_predict_proba_by_partition(engine):
    from polarlab.labelmodels import make_label_model

    ds = _data()
    L = LocalEngine(progress=False).apply_sources(ds, _sources(), TASK).L
    model = make_label_model("snorkel", 2).fit(L)
    assert np.allclose(engine.predict_proba(model, L, None), model.predict_proba(L), atol=1e-12)


def test_unknown_engine_kind():
    with pytest.raises(ConfigError, match="engine"):
        make_engine("spark")
