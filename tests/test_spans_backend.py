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
