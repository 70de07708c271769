"""from_config: keys, errors naming the key and the fix."""
from __future__ import annotations

import pytest

from polarlab.errors import ConfigError
from polarlab.llm import from_config


@pytest.mark.parametrize("table,needle", [
    ({"type": "llm", "backend": "openai", "model": "m", "temprature": 0}, "temprature"),
    ({"type": "llm", "backend": "local", "base_url": "http://x"}, "base_url"),
    ({"type": "llm", "backend": "openai", "model": "m", "gguf": "x.gguf"}, "gguf"),
    ({"type": "llm", "backend": "openai"}, "model"),
    ({"type": "llm", "backend": "anthropic-magic"}, "backend"),
    ({"type": "llm", "backend": "openai", "model": "m", "mode": "vibes"}, "mode"),
    ({"type": "keywords"}, "type"),
])
def test_bad_tables_are_config_errors(table, needle, tmp_path):
    with pytest.raises(ConfigError) as e:
        from_config(table, tmp_path)
    assert needle in str(e.value) and "Fix:" in str(e.value)


def test_wrong_backend_key_says_which_backend(tmp_path):
    with pytest.raises(ConfigError, match='backend = "openai"'):
        from_config({"type": "llm", "backend": "local", "api_key_env": "X"}, tmp_path)


def test_openai_table_builds_a_source(tmp_path):
    src = from_config({"type": "llm", "name": "g", "backend": "openai", "model": "m",
                       "base_url": "http://127.0.0.1:9/v1", "mode": "generation",
                       "cache": "sub/answers.sqlite", "max_concurrency": 3}, tmp_path)
    assert src.name == "g" and src.mode == "generation" and src.backend.max_concurrency == 3
    assert (tmp_path / "sub" / "answers.sqlite").is_file()
