"""A plugin LLM backend: registered with its own typed keys, validated with key paths, documented, and run
as an ``llm`` source from a project table (a fake model: the registry and the source around it are real)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from polarlab import Task, apply_sources, from_pandas
from polarlab.errors import ConfigError
from polarlab.llm.backend import BackendReply
from polarlab.llm.backends import LLM_BACKENDS, BackendSettings, register_llm_backend
from polarlab.sources.config import sources_from_config

TASK = Task(labels=("ham", "spam"), name="spam")


class KeywordLLM:
    """Answers ``word_label`` when the example contains ``word``, else the other label (generation mode)."""

    max_concurrency = 1
    max_prompt_tokens = None

    def __init__(self, word: str, word_label: str) -> None:
        self.word, self.word_label = word, word_label
        self.model_id = f"keyword-llm:{word}"
        self.calls = 0

    def params(self, mode: str) -> dict:
        return {"backend": "keyword-llm", "word": self.word, "label": self.word_label}

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def score(self, prompt, words):  # pragma: no cover - the test asks in generation mode
        raise AssertionError("generation mode only")

    def generate(self, prompt) -> BackendReply:
        self.calls += 1
        other = next(w for w in TASK.labels if w != self.word_label)
        return BackendReply(text=self.word_label if self.word in prompt.suffix.lower() else other)


class KeywordLLMSettings(BackendSettings):
    """``backend = "keyword-llm"``: a test model that answers by one word."""

    word: str
    word_label: str = "spam"


@pytest.fixture
def keyword_backend(monkeypatch):
    monkeypatch.setitem(LLM_BACKENDS, "keyword-llm", None)     # removed again after the test
    built: list[KeywordLLM] = []

    def build(cfg: KeywordLLMSettings) -> KeywordLLM:
        built.append(KeywordLLM(cfg.word, cfg.word_label))
        return built[-1]

    register_llm_backend("keyword-llm", KeywordLLMSettings, build)
    return built


def test_plugin_backend_runs_an_llm_source(tmp_path: Path, keyword_backend) -> None:
    table = {"type": "llm", "name": "kw_llm", "backend": "keyword-llm", "word": "free", "mode": "generation",
             "progress": False}
    [src] = sources_from_config([table], base_dir=tmp_path, state_dir=tmp_path)
    data = from_pandas(pd.DataFrame({"text": ["free money now", "nice song", "FREE tickets", "hello"]}), TASK)
    lm = apply_sources(data, [src], TASK, progress=False)
    assert lm.L[:, 0].tolist() == [1, 0, 1, 0]
    assert keyword_backend[0].calls == 4
    assert (tmp_path / "llm_cache.sqlite").is_file()        # the real answer cache around the plugin's model
    [again] = sources_from_config([{**table, "word_label": "ham"}], base_dir=tmp_path, state_dir=tmp_path)
    assert apply_sources(data, [again], TASK, progress=False).L[:, 0].tolist() == [0, 1, 0, 1]


@pytest.mark.parametrize("extra,key,needle", [
    ({"word": "x", "word_labl": "ham"}, "word_labl", "did you mean 'word_label'"),
    ({"word": 3}, "word", "not a string"),
    ({"word": "x", "gguf": "m.gguf"}, "gguf", 'for backend = "local"'),
    ({"word": "x", "base_url": "http://x"}, "base_url", 'for backend = "openai"'),
    ({}, "word", "required"),
])
def test_plugin_backend_keys_are_typed(keyword_backend, extra: dict, key: str, needle: str) -> None:
    from polarlab.sources.config import validate_source

    with pytest.raises(ConfigError) as e:
        validate_source({"type": "llm", "backend": "keyword-llm", **extra}, 1, "p.toml")
    assert e.value.column == f"sources[1].{key}" and needle in str(e.value)
    assert not keyword_backend                                # refused before anything was built


def test_builtin_backends_refuse_the_plugins_keys_and_unknown_backends(keyword_backend) -> None:
    from polarlab.sources.config import validate_source

    with pytest.raises(ConfigError, match='for backend = "keyword-llm"') as e:
        validate_source({"type": "llm", "backend": "local", "word": "free"}, 0, "p.toml")
    assert e.value.column == "sources[0].word"
    with pytest.raises(ConfigError, match="did you mean 'keyword-llm'") as e:
        validate_source({"type": "llm", "backend": "keyword-lm"}, 0, "p.toml")
    assert e.value.column == "sources[0].backend"


def test_plugin_backend_is_documented(keyword_backend) -> None:
    from polarlab.config.docs import render

    text = render()
    assert '#### `backend = "keyword-llm"`' in text and "| `word` | str | **required** |" in text


def test_settings_must_subclass_backend_settings(monkeypatch) -> None:
    monkeypatch.setitem(LLM_BACKENDS, "bad", None)
    with pytest.raises(TypeError, match="BackendSettings"):
        register_llm_backend("bad", dict, lambda cfg: None)       # type: ignore[arg-type]


def test_plugin_backend_in_a_project_run(tmp_path: Path, keyword_backend) -> None:
    """The whole job: the project file names the plugin backend; the sources stage builds and applies it."""
    from polarlab import load_project
    from polarlab.pipeline import run

    from test_project import make_project

    p = make_project(tmp_path)
    p.write_text(p.read_text().replace("[labelmodel]", '[[sources]]\ntype = "llm"\nname = "kw_llm"\n'
                                       'backend = "keyword-llm"\nword = "check"\nmode = "generation"\n'
                                       'progress = false\n\n[labelmodel]'))
    result = run(load_project(p), progress=False)
    for split, lm in result.matrices.items():
        texts = result.splits[split].texts
        expected = [1 if "check" in t.lower() else 0 for t in texts]
        assert lm.column("kw_llm").tolist() == expected, split
    assert sum(b.calls for b in keyword_backend) == sum(len(d) for d in result.splits.values())
    p.write_text(p.read_text().replace('word = "check"', 'word = 7'))
    with pytest.raises(ConfigError) as e:
        load_project(p)
    assert e.value.column.endswith(".word") and e.value.file == str(p)


BACKEND_SAMPLES = {"local": ({}, "n_ctx", "big"), "openai": ({"model": "m"}, "max_retries", "many")}


def test_every_builtin_backend_is_covered() -> None:
    assert set(BACKEND_SAMPLES) == set(LLM_BACKENDS)


@pytest.mark.parametrize("backend", sorted(BACKEND_SAMPLES))
@pytest.mark.parametrize("mistake", ["unknown", "type"])
def test_each_backend_refuses_unknown_keys_and_wrong_types(backend: str, mistake: str) -> None:
    from polarlab.sources.config import validate_source

    base, key, bad = BACKEND_SAMPLES[backend]
    table = {"type": "llm", "name": "l", "backend": backend, **base}
    validate_source(table, 2, "p.toml")                                     # the sample itself is valid
    table.update({"colour": 1} if mistake == "unknown" else {key: bad})
    with pytest.raises(ConfigError) as e:
        validate_source(table, 2, "p.toml")
    assert e.value.file == "p.toml" and e.value.column == f"sources[2].{'colour' if mistake == 'unknown' else key}"
