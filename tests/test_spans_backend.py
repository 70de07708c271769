"""The span task's LLM source takes its model from the LLM backend registry, like every ``llm`` source."""
from __future__ import annotations

from pathlib import Path

import pytest

from polarlab.errors import ConfigError
from polarlab.llm.backends import LLM_BACKENDS, BackendSettings, register_llm_backend
from polarlab.spans.config import SourceSpec
from polarlab.spans.run import _llm


class _EchoSettings(BackendSettings):
    word: str


class _Echo:
    model_id = "echo"

    def __init__(self, word: str) -> None:
        self.word = word


def test_a_registered_backend_serves_the_span_llm_source(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setitem(LLM_BACKENDS, "echo", None)
    register_llm_backend("echo", _EchoSettings, lambda cfg: _Echo(cfg.word))
    spec = SourceSpec(type="llm", name="llm", backend="echo", backend_options={"word": "disease"})
    src = _llm(spec, tmp_path, [])
    assert isinstance(src.backend, _Echo) and src.backend.word == "disease"


def test_an_unknown_backend_or_key_is_refused_with_the_source_named(tmp_path: Path, monkeypatch) -> None:
    with pytest.raises(ConfigError) as e:
        _llm(SourceSpec(type="llm", name="llm2", backend="nope"), tmp_path, [])
    assert "sources.llm2.backend" in str(e.value) and "local" in str(e.value)
    monkeypatch.setitem(LLM_BACKENDS, "echo", None)
    register_llm_backend("echo", _EchoSettings, lambda cfg: _Echo(cfg.word))
    with pytest.raises(ConfigError) as e:
        _llm(SourceSpec(type="llm", name="llm3", backend="echo", backend_options={"word": "x", "wrod": "x"}), tmp_path, [])
    assert "wrod" in str(e.value)


def test_an_unreachable_llm_server_stops_the_span_job_before_any_slow_work(tmp_path: Path, monkeypatch, dead_port) -> None:
    """A wrong base_url fails in seconds in the probe, naming the key, not after the retries of the first
    document's prompt (LLMUnreachableError wrapped as 'span source failed ... Fix: ... Fix: ...')."""
    import polarlab.spans.run as run
    from polarlab.llm.errors import LLMUnreachableError

    port = dead_port

    def no_slow_work(*a, **k):
        raise AssertionError("the span sources ran before the LLM server was checked")

    monkeypatch.setattr(run, "apply_span_sources", no_slow_work)
    doc = tmp_path / "docs.txt"
    doc.write_text("1|t|Wilson disease.\n1|a|A rare disease.\n1\t0\t14\tWilson disease\tDisease\tD1\n", encoding="utf-8")
    project = tmp_path / "polarlab.toml"
    project.write_text(f'[task]\nkind = "spans"\n[data]\npath = "docs.txt"\n'
                       f'[[sources]]\ntype = "regex"\nname = "disease"\npattern = "\\\\w+ disease"\n'
                       f'[[sources]]\ntype = "llm"\nname = "llm"\nbackend = "openai"\n'
                       f'backend_options = {{model = "m", base_url = "http://127.0.0.1:{port}/v1"}}\n', encoding="utf-8")
    with pytest.raises(LLMUnreachableError) as e:
        run.run_project(project, tmp_path / "out")
    assert isinstance(e.value, ConfigError) and e.value.column == "sources[1].backend_options.base_url"
    assert f"127.0.0.1:{port}" in str(e.value) and str(e.value).count("Fix:") == 1
    from typer.testing import CliRunner

    from polarlab.cli.main import app

    res = CliRunner().invoke(app, ["run", str(project), "--out", str(tmp_path / "out")])
    assert res.exit_code == 2        # the key is the project file's: the CLI names that file
    assert f"file {project}, key 'sources[1].backend_options.base_url'" in " ".join(res.output.split())
    project.write_text(project.read_text(encoding="utf-8").replace("base_url =", "baseurl ="), encoding="utf-8")
    res = CliRunner().invoke(app, ["run", str(project), "--out", str(tmp_path / "out")])
    assert "key 'sources[1].backend_options.baseurl': unknown key 'baseurl'" in " ".join(res.output.split())


def test_a_rerun_whose_llm_answers_are_all_cached_needs_no_server(tmp_path: Path, dead_port, monkeypatch) -> None:
    """The span job's first run asks a real HTTP server and fills the SQLite answer cache; with the server gone
    the same run reads every answer from the cache (a warning; a missing one would stop it, as below) and writes
    the same spans; with one answer lost from the cache it stops before any source runs, with the probe's key,
    how many prompts are missing and the fix."""
    import sqlite3
    import sys

    import polarlab.spans.run as run
    from polarlab.llm.errors import LLMUnreachableError

    sys.path.insert(0, str(Path(__file__).resolve().parent / "llm"))
    from llm_fake_server import FakeServer

    (tmp_path / "docs.txt").write_text("1|t|Wilson disease.\n1|a|A ham allergy is rare. It is a disease.\n\n"
                                       "2|t|Menkes disease.\n2|a|Copper is low.\n", encoding="utf-8")
    project = tmp_path / "polarlab.toml"
    project.write_text(f'[task]\nkind = "spans"\n[data]\npath = "docs.txt"\n'
                       f'[[sources]]\ntype = "regex"\nname = "disease"\npattern = "\\\\w+ disease"\n'
                       f'[[sources]]\ntype = "llm"\nname = "llm"\nbackend = "openai"\n'
                       f'backend_options = {{model = "fake-model", base_url = "http://127.0.0.1:{dead_port}/v1"}}\n',
                       encoding="utf-8")
    server = FakeServer().start(port=dead_port)
    try:
        first = run.run_project(project, tmp_path / "a", progress=False)["spans"].read_text(encoding="utf-8")
    finally:
        server.stop()
    n = sum(server.served.values())
    assert n == 5                                             # one prompt per sentence
    with pytest.warns(UserWarning, match=rf"going on with the {n} answer\(s\) of model 'fake-model'"):
        again = run.run_project(project, tmp_path / "b", progress=False)["spans"].read_text(encoding="utf-8")
    assert again == first
    caches = list(tmp_path.rglob("llm_cache.sqlite"))
    assert len(caches) == 1
    db = sqlite3.connect(caches[0])
    with db:
        db.execute("DELETE FROM answers WHERE rowid = (SELECT MAX(rowid) FROM answers)")
    db.close()
    def slow_work(*a, **k):
        raise AssertionError("the sources ran before the cache was checked")

    monkeypatch.setattr(run, "apply_span_sources", slow_work)
    with pytest.raises(LLMUnreachableError) as e, pytest.warns(UserWarning, match="going on"):
        run.run_project(project, tmp_path / "c", progress=False)
    assert e.value.column == "sources[1].backend_options.base_url"
    # checked up front (every sentence's prompt is known), before any source runs, with the count and the fix
    assert e.value.message.startswith("1 of 5 prompt(s) of the LLM span source 'llm' (sources[1]) over 2 "
                                      "document(s) have no answer of model 'fake-model' in the answer cache")
    assert "nothing was asked" in e.value.message and "remove its [[sources]] table (sources[1])" in e.value.fix
    assert not (tmp_path / "c").exists() or not any((tmp_path / "c").iterdir())     # nothing written


def test_the_span_correction_checks_its_re_asks_before_the_first_one_when_offline(tmp_path: Path, dead_port) -> None:
    """Offline (the server failed its probe, some answers cached): the correction's re-asks, known only after the
    harmonizer, are counted before the first one; one missing stops it naming the step and the fix, and all cached
    are read from the cache without a call."""
    import numpy as np

    from polarlab.llm.backends import probe_backend
    from polarlab.llm.cache import AnswerCache, CachedAnswer
    from polarlab.llm.errors import LLMUnreachableError
    from polarlab.llm.offline import offline_or_raise
    from polarlab.llm.remote import OpenAIBackend
    from polarlab.spans.correct import SpanVerifier, verify_spans
    from polarlab.spans.types import Span, SpanDoc

    be = OpenAIBackend("fake-model", f"http://127.0.0.1:{dead_port}/v1", max_retries=0)
    with pytest.raises(LLMUnreachableError) as probed:
        probe_backend(be, where="sources[1].backend_options")
    cache = tmp_path / "llm_cache.sqlite"
    with AnswerCache(cache) as c:
        c.put(CachedAnswer(key="other", model="fake-model", params={}, prompt="p", mode="scoring", raw_text="no",
                           dist=[0.1, 0.9]))
        with pytest.warns(UserWarning, match="going on"):
            off = offline_or_raise(be, probed.value, c, step="the LLM span source 'llm' (sources[1])")
    ver = SpanVerifier(off, cache=cache)
    docs, spans, probs = [SpanDoc("1", "Wilson disease is rare.")], [[Span(0, 14, "Disease")]], [np.array([0.4])]
    with pytest.raises(LLMUnreachableError) as e:
        verify_spans(docs, spans, probs, ver, budget=1)
    assert e.value.message.startswith("1 of 1 prompt(s) of the LLM span source 'llm' (sources[1]) (the span "
                                      "correction's re-asks) have no answer")
    assert e.value.fix.endswith("set [correct] budget = 0") and ver.stats["calls"] == ver.stats["errors"] == 0
    with AnswerCache(cache) as c:
        c.put(CachedAnswer(key=ver.key(docs[0], spans[0][0]), model="fake-model", params={}, prompt="p",
                           mode="scoring", raw_text="yes", dist=[0.9, 0.1]))
    fixed, audit = verify_spans(docs, spans, probs, SpanVerifier(off, cache=cache), budget=1)
    assert audit[0]["p_yes"] == pytest.approx(0.9) and audit[0]["kept"] and fixed == [[Span(0, 14, "Disease")]]
