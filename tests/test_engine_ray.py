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


def _project(folder, engine_table: str):
    ds = _data(600)
    d = folder
    d.mkdir(parents=True, exist_ok=True)
    ds.frame[["id", "text"]].to_csv(d / "data.csv", index=False)
    (d / "lfs.py").write_text(
        "from polarlab import ABSTAIN, labeling_function\n\n"
        "@labeling_function()\ndef wordy(x):\n    return 0 if len(x.text.split()) > 4 else ABSTAIN\n")
    (d / "polarlab.toml").write_text(f"""
[task]
labels = ["ham", "spam"]

[data]
path = "data.csv"
id_column = "id"

[[sources]]
type = "keyword"
name = "kw_buy"
keywords = ["buy", "free"]
label = "spam"

[[sources]]
type = "regex"
name = "rx_link"
pattern = "https?://"
label = "spam"

[[sources]]
type = "python"
file = "lfs.py"

[labelmodel]
methods = ["mv", "snorkel"]

{engine_table}
""")
    return d / "polarlab.toml"


def test_project_with_ray_engine_gives_the_local_labels(engine, tmp_path, monkeypatch):
    from polarlab.engine.ray_engine import RayEngine
    from polarlab.pipeline import run
    from polarlab.project import load_project

    local = run(load_project(_project(tmp_path / "local", "")), progress=False)
    calls = []
    apply = RayEngine.apply_sources
    monkeypatch.setattr(RayEngine, "apply_sources", lambda self, *a, **k: calls.append(1) or apply(self, *a, **k))
    remote = run(load_project(_project(tmp_path / "ray", '[engine]\nkind = "ray"\npartition_rows = 100')),
                 progress=False)
    assert calls, "the run never reached Ray (its [engine] table was dropped before the run)"
    assert np.array_equal(local.matrices["train"].L, remote.matrices["train"].L)
    for m in ("mv", "snorkel"):
        assert np.allclose(local.probas[m]["train"], remote.probas[m]["train"], atol=1e-6)


def test_engine_table_is_checked(tmp_path):
    from polarlab.project import load_project

    with pytest.raises(ConfigError, match="engine"):
        load_project(_project(tmp_path / "a", '[engine]\nkind = "spark"'))
    with pytest.raises(ConfigError, match="partitions"):
        load_project(_project(tmp_path / "b", '[engine]\npartitions = 3'))
