"""The project state store: a real SQLite file (WAL) plus content-addressed artifacts."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from polarlab.errors import StateError
from polarlab.state import SCHEMA_VERSION, ProjectState, content_hash


def frame(n: int = 4) -> pd.DataFrame:
    return pd.DataFrame({"id": [f"e{i}" for i in range(n)], "text": [f"text {i}" for i in range(n)],
                         "label": [i % 2 for i in range(n)]})


def test_examples_round_trip_and_hash_changes_with_content(tmp_path):
    st = ProjectState(tmp_path / "s")
    h1 = st.put_examples("train", frame())
    assert st.splits() == ["train"] and st.counts() == {"train": 4}
    assert st.example_ids("train") == ["e0", "e1", "e2", "e3"]
    pd.testing.assert_frame_equal(st.examples("train"), frame())
    f = frame()
    f.loc[2, "text"] = "changed"
    assert st.put_examples("train", f) != h1
    assert st.examples("train").loc[2, "text"] == "changed"
    with pytest.raises(KeyError):
        st.examples("test")


def test_wal_mode_and_schema_version(tmp_path):
    st = ProjectState(tmp_path)
    assert st.schema_version == SCHEMA_VERSION
    mode = sqlite3.connect(tmp_path / "state.sqlite").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_newer_schema_is_refused_with_the_file(tmp_path):
    ProjectState(tmp_path).close()
    db = sqlite3.connect(tmp_path / "state.sqlite")
    db.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION + 1),))
    db.commit()
    db.close()
    with pytest.raises(StateError, match="newer polarlab") as e:
        ProjectState(tmp_path)
    assert "state.sqlite" in str(e.value)


def test_older_schema_is_migrated(tmp_path, monkeypatch):
    from polarlab.state import schema, store

    ProjectState(tmp_path).close()
    db = sqlite3.connect(tmp_path / "state.sqlite")
    db.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION),))
    db.commit()
    db.close()
    # pretend this code is one version newer, with a migration that adds a table
    monkeypatch.setattr(store, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    monkeypatch.setitem(schema.MIGRATIONS, SCHEMA_VERSION, ["CREATE TABLE extra (x INTEGER)"])
    monkeypatch.setattr(store, "MIGRATIONS", schema.MIGRATIONS)
    st = ProjectState(tmp_path)
    assert st.schema_version == SCHEMA_VERSION + 1
    assert st._q("SELECT name FROM sqlite_master WHERE name='extra'")


def test_not_a_database_is_refused(tmp_path):
    (tmp_path / "state.sqlite").write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(StateError, match="cannot be read"):
        ProjectState(tmp_path)


def test_unwritable_state_folder_is_a_state_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StateError, match="cannot be written"):
        ProjectState(blocker / "state")


def test_source_votes_and_events_with_provenance(tmp_path):
    st = ProjectState(tmp_path)
    st.put_examples("train", frame())
    st.put_source_votes("train", "kw", np.array([1, -1, 0, 1]), key="k1", position=0)
    proba = np.array([[0.2, 0.8], [np.nan, np.nan], [0.9, 0.1], [0.4, 0.6]])
    st.put_source_votes("train", "llm", np.array([1, -1, 0, 1]), proba, key="k2", position=1)
    sv = st.source_votes("train", "llm")
    np.testing.assert_array_equal(sv.proba, proba)
    assert sv.key == "k2" and st.source_key("train", "kw") == "k1"
    L, names = st.votes("train")
    assert names == ["kw", "llm"] and L.tolist() == [[1, 1], [-1, -1], [0, 0], [1, 1]]

    st.add_vote_event("train", "e0", "llm", 0, kind="correction", strategy="fewshot")
    st.add_vote_event("train", "e1", "human", 1, kind="human", who="alice")
    st.add_vote_event("train", "e1", "human", 0, kind="human", who="bob")
    ev = st.vote_events("train")
    assert ev["kind"].tolist() == ["correction", "human", "human"]
    assert ev["previous"].tolist()[0] == 1             # the LLM's answer before the correction
    assert pd.isna(ev["previous"].tolist()[1])         # nobody had voted as "human" on e1
    assert ev["previous"].tolist()[2] == 1             # alice's vote, replaced by bob's
    assert ev["who"].tolist()[1:] == ["alice", "bob"] and ev["strategy"].tolist()[0] == "fewshot"
    assert (ev["created"] > 0).all()
    L, names = st.votes("train")
    assert names == ["kw", "llm", "human"]
    assert L[:, 1].tolist() == [0, -1, 0, 1] and L[:, 2].tolist() == [-1, 0, -1, -1]
    L0, _ = st.votes("train", events=False)
    assert L0[:, 1].tolist() == [1, -1, 0, 1]
    assert st.clear_vote_events("train", kind="correction") == 1
    assert st.votes("train")[0][0, 1] == 1


def test_bad_event_kind_rolls_back_the_whole_batch(tmp_path):
    st = ProjectState(tmp_path)
    st.put_examples("train", frame())
    with pytest.raises(ValueError):
        st.add_vote_events([{"split": "train", "example_id": "e0", "source": "h", "value": 1, "kind": "human"},
                            {"split": "train", "example_id": "e1", "source": "h", "value": 1, "kind": "oops"}])
    assert len(st.vote_events()) == 0


def test_distributions_features_risk(tmp_path):
    st = ProjectState(tmp_path)
    P = np.random.default_rng(0).dirichlet([1, 1, 1], size=5)
    st.put_distribution("polar", "test", P, key="x")
    st.put_distribution("mv", "test", P[::-1])
    np.testing.assert_array_equal(st.distribution("polar", "test"), P)
    assert set(st.distributions("mv")) == {"test"} and st.methods() == ["polar", "mv"]
    assert st.distribution("polar", "train") is None
    X = np.arange(12, dtype=np.float32).reshape(4, 3)
    key = content_hash("embedding", ["a", "b", "c", "d"])
    assert key != content_hash("embedding", ["a", "b", "c", "e"])
    st.put_features(key, X)
    np.testing.assert_array_equal(st.features(key), X)
    assert st.features("nope") is None
    r = np.array([0.1, np.nan, 0.7])
    st.put_risk("gemma", "test", r)
    np.testing.assert_array_equal(st.risk("gemma", "test"), r)
    assert st.risk_sources() == ["gemma"]


def test_stage_records_and_is_current(tmp_path):
    st = ProjectState(tmp_path)
    assert not st.is_current("label_models", "c", {"m": "h"})
    with st.transaction():
        st.put_distribution("mv", "train", np.eye(2))
        st.record_stage("label_models", config_hash="c", inputs={"m": "h"}, output_hash="o", seconds=0.5,
                        report={"n": np.int64(3)})
    rec = st.stage("label_models")
    assert rec.report == {"n": 3} and rec.seconds == 0.5 and rec.output_hash == "o"
    assert st.is_current("label_models", "c", {"m": "h"})
    assert not st.is_current("label_models", "c2", {"m": "h"})
    assert not st.is_current("label_models", "c", {"m": "h2"})
    run = st.start_run("p.toml", "cfg")
    st.log_stage(run, "label_models", "skipped", 0.0, "unchanged")
    st.finish_run(run, "ok", {"llm_calls": 0})
    assert st.runs()["status"].tolist() == ["ok"]
    assert st.stage_log(run)["action"].tolist() == ["skipped"]


def test_transaction_is_all_or_nothing(tmp_path):
    st = ProjectState(tmp_path)
    with pytest.raises(RuntimeError):
        with st.transaction():
            st.put_distribution("mv", "train", np.eye(2))
            st.record_stage("label_models", config_hash="c", inputs={}, output_hash="o", seconds=0.1)
            raise RuntimeError("crash in the middle of a stage")
    assert st.stage("label_models") is None and st.distribution("mv", "train") is None
    rep = st.check()
    assert rep.ok and len(rep.unreferenced) == 1    # the array file written before the crash, unreferenced


def test_integrity_check_finds_missing_and_corrupt_artifacts(tmp_path):
    st = ProjectState(tmp_path)
    st.put_distribution("mv", "train", np.eye(2))
    st.put_risk("llm", "train", np.array([0.5, 0.1]))
    assert st.check().ok and st.check().artifacts == 2
    ref = st._q1("SELECT ref FROM distributions")[0]
    st.artifacts.file(ref).write_bytes(b"garbage")
    ref2 = st._q1("SELECT ref FROM risk")[0]
    st.artifacts.file(ref2).unlink()
    rep = st.check()
    assert not rep.ok and len(rep.problems) == 2
    assert any("missing" in p for p in rep.problems) and any("hash" in p for p in rep.problems)


def test_threads_share_one_state(tmp_path):
    st = ProjectState(tmp_path)
    st.put_examples("train", frame(50))

    def vote(who: str) -> None:
        for i in range(50):
            st.add_vote_event("train", f"e{i}", "human", i % 2, kind="human", who=who)

    threads = [threading.Thread(target=vote, args=(w,)) for w in ("a", "b", "c")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(st.vote_events()) == 150


def test_readonly_open(tmp_path):
    with pytest.raises(StateError, match="no project state"):
        ProjectState(tmp_path / "none", readonly=True)
    ProjectState(tmp_path).put_examples("train", frame())
    ro = ProjectState(tmp_path, readonly=True)
    assert ro.counts() == {"train": 4}


def test_kill_9_during_a_write_leaves_a_consistent_state(tmp_path):
    """A process killed in the middle of a stage's transaction: the committed stage is there, the rest is not."""
    script = textwrap.dedent(f"""
        import os, signal, numpy as np
        from polarlab.state import ProjectState
        st = ProjectState({str(tmp_path)!r})
        with st.transaction():
            st.put_distribution("mv", "train", np.eye(3))
            st.record_stage("first", config_hash="c", inputs={{}}, output_hash="o", seconds=0.1)
        with st.transaction():
            st.put_distribution("polar", "train", np.ones((1000, 3)))
            os.kill(os.getpid(), signal.SIGKILL)
            st.record_stage("second", config_hash="c", inputs={{}}, output_hash="o", seconds=0.1)
    """)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    proc = subprocess.run([sys.executable, "-c", script], env=env)
    assert proc.returncode == -signal.SIGKILL
    st = ProjectState(tmp_path)
    assert st.stage("first") is not None and st.stage("second") is None
    assert st.distribution("polar", "train") is None
    np.testing.assert_array_equal(st.distribution("mv", "train"), np.eye(3))
    assert st.check().ok
