"""The SQLite answer cache: round trip, audit (no overwrite), corruption, quarantine."""
from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest

from polarlab.errors import InputError
from polarlab.llm import AnswerCache, CacheCorruptError, CachedAnswer, cache_key, quarantine_cache


def row(key: str, raw: str = "spam", dist=(0.2, 0.8)) -> CachedAnswer:
    return CachedAnswer(key=key, model="m", params={"mode": "scoring"}, prompt=f"prompt {key}",
                        mode="scoring", raw_text=raw, dist=list(dist) if dist else None,
                        tokens_in=12, tokens_out=1, seconds=0.5, truncated=True,
                        extra={"label_mass": 0.9})


def test_round_trip_and_persistence(tmp_path):
    path = tmp_path / "state" / "llm_cache.sqlite"
    with AnswerCache(path) as c:
        c.put(row("k1"))
        c.put(row("k2", raw="ham", dist=None))
        assert len(c) == 2 and "k1" in c and "nope" not in c
    with AnswerCache(path) as c:  # a new connection (another process, after a crash) sees them
        got = c.get_many(["k1", "k2", "k3"])
        assert set(got) == {"k1", "k2"}
        a = got["k1"]
        assert a.dist == [0.2, 0.8] and a.raw_text == "spam" and a.truncated
        assert a.params == {"mode": "scoring"} and a.extra == {"label_mass": 0.9}
        assert a.tokens_in == 12 and a.created > 0
        assert got["k2"].dist is None


def test_answers_are_never_overwritten(tmp_path):
    with AnswerCache(tmp_path / "c.sqlite") as c:
        c.put(row("k", raw="first"))
        c.put(row("k", raw="second"))
        assert c.get("k").raw_text == "first" and len(c) == 1


def test_key_depends_on_model_params_and_prompt():
    k = cache_key("m", {"a": 1, "b": 2}, "p")
    assert k == cache_key("m", {"b": 2, "a": 1}, "p")  # canonical JSON
    assert len({k, cache_key("m2", {"a": 1, "b": 2}, "p"), cache_key("m", {"a": 2, "b": 2}, "p"),
                cache_key("m", {"a": 1, "b": 2}, "p ")}) == 4


def test_corrupt_file_is_a_clear_error_and_quarantine_moves_it(tmp_path):
    path = tmp_path / "llm_cache.sqlite"
    garbage = b"this is not a database, just bytes " * 200
    path.write_bytes(garbage)
    with pytest.raises(CacheCorruptError) as e:
        AnswerCache(path)
    msg = str(e.value)
    assert str(path) in msg and "quarantine_cache" in msg
    assert isinstance(e.value, InputError)
    assert path.read_bytes() == garbage  # nothing deleted or rewritten
    moved = quarantine_cache(path)
    assert not path.exists() and moved.name.startswith("llm_cache.sqlite.corrupt-")
    assert moved.read_bytes() == garbage
    with AnswerCache(path) as c:  # a fresh cache starts at the old place
        c.put(row("k"))
        assert len(c) == 1


def test_foreign_sqlite_file_is_refused(tmp_path):
    path = tmp_path / "c.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE answers (key TEXT PRIMARY KEY, something TEXT)")
    db.commit()
    db.close()
    with pytest.raises(CacheCorruptError, match="lacks columns"):
        AnswerCache(path)


def test_quarantine_from_the_command_line(tmp_path):
    path = tmp_path / "c.sqlite"
    path.write_bytes(b"junk" * 100)
    out = subprocess.run([sys.executable, "-m", "polarlab.llm.cache", "quarantine", str(path)],
                         capture_output=True, text=True, check=True)
    assert not path.exists()
    assert ".corrupt-" in out.stdout and (tmp_path / out.stdout.strip().split("/")[-1]).exists()


def test_quarantine_keeps_wal_companions(tmp_path):
    path = tmp_path / "c.sqlite"
    path.write_bytes(b"x" * 10)
    (tmp_path / "c.sqlite-wal").write_bytes(b"wal")
    moved = quarantine_cache(path)
    assert (tmp_path / (moved.name + "-wal")).read_bytes() == b"wal"
    assert not (tmp_path / "c.sqlite-wal").exists()
