"""Build an :class:`LLMSource` from a project-file table.

Example (``polarlab.toml``)::

    [[sources]]
    type = "llm"
    name = "gemma"
    backend = "local"            # embedded llama.cpp, Gemma 3 270M by default

    [[sources]]
    type = "llm"
    name = "gpt"
    backend = "openai"
    model = "gpt-4o-mini"
    base_url = "https://api.openai.com/v1"
    api_key_env = "OPENAI_API_KEY"
    price_in_per_1k = 0.00015
    price_out_per_1k = 0.0006

The keys: the common ones of :class:`polarlab.llm.settings.LLMSettings` and those of the table's backend
(:mod:`polarlab.llm.backends`, where a plugin registers more); all listed in ``docs/config.md``.
"""
from __future__ import annotations

from pathlib import Path

from ..config.base import validate
from ..errors import ConfigError
from .errors import LLMConfigError
from .settings import build_llm_source, llm_settings_for
from .source import LLMSource


def from_config(d: dict, state_dir: str | Path) -> LLMSource:
    """Build an LLM source from a ``{type="llm", ...}`` table.

    Parameters:
        d: the table.
        state_dir: the project's state folder; the cache lives there.

    Raises:
        LLMConfigError (a ConfigError): an unknown key, a key of another backend, a missing ``model`` for
            ``backend = "openai"``, a value of the wrong type (the message names the key and the fix).
    """
    where = f"sources.{d.get('name', 'llm')}" if isinstance(d, dict) else "sources"
    if not isinstance(d, dict) or d.get("type", "llm") != "llm":
        kind = d.get("type") if isinstance(d, dict) else d
        raise LLMConfigError(f"type {kind!r} is not an LLM source", column=f"{where}.type", fix='use type = "llm"')
    table = {"type": "llm", **d}
    try:
        cfg = validate(llm_settings_for(table), table, file=None, prefix=where, table=f"[{where}]")
    except ConfigError as e:
        raise LLMConfigError(e.message, column=e.column, fix=e.fix) from None
    return build_llm_source(cfg, state_dir)
