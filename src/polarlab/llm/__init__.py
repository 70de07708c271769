"""LLM labelers: an LLM as a supervision source, cached, resumable, calibrated.

Backends: :class:`LlamaCppBackend` (embedded llama.cpp; Gemma 3 270M by default) and
:class:`OpenAIBackend` (any OpenAI-compatible server). :class:`LLMSource` turns a backend into a
source (``apply`` for the label matrix, ``ask`` for the correction stage); :func:`from_config`
builds one from a project-file table. Every answer is kept in a SQLite :class:`AnswerCache`.

The embedded backend is imported lazily (it needs ``pip install "polarlab[local]"``).
"""
from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

# Names are imported lazily (PEP 562): ``python -m polarlab.llm.cache`` then runs the cache module
# without it being imported first by this package (which made runpy print a RuntimeWarning), and the
# embedded backend is only imported when used.
_WHERE = {
    "Backend": "backend", "BackendReply": "backend",
    "AnswerCache": "cache", "CachedAnswer": "cache", "cache_key": "cache", "quarantine_cache": "cache",
    "CONTENT_FREE_INPUTS": "calibrate", "calibrate": "calibrate", "content_free_distribution": "calibrate",
    "content_free_requests": "calibrate",
    "from_config": "config",
    "CacheCorruptError": "errors", "LLMAuthError": "errors", "LLMConfigError": "errors", "LLMError": "errors",
    "LLMModelNotFoundError": "errors", "LLMPromptError": "errors", "LLMUnreachableError": "errors",
    "TransientLLMError": "errors",
    "parse_answer": "parse",
    "PromptBuilder": "prompt", "RenderedPrompt": "prompt",
    "OpenAIBackend": "remote",
    "ABSTAIN": "request", "Answer": "request", "PromptRequest": "request",
    "LLMSource": "source",
    "LLMRunStats": "stats",
    "LlamaCppBackend": "local", "default_gguf": "local",
}

__all__ = sorted(_WHERE)

# ``calibrate`` is both a submodule and a function: import the function now, or the submodule (once
# imported by another module) would shadow it as ``polarlab.llm.calibrate``.
from .calibrate import calibrate  # noqa: E402

if TYPE_CHECKING:  # pragma: no cover
    from .backend import Backend, BackendReply
    from .cache import AnswerCache, CachedAnswer, cache_key, quarantine_cache
    from .calibrate import CONTENT_FREE_INPUTS, calibrate, content_free_distribution, content_free_requests
    from .config import from_config
    from .errors import (CacheCorruptError, LLMAuthError, LLMConfigError, LLMError, LLMModelNotFoundError,
                         LLMPromptError, LLMUnreachableError, TransientLLMError)
    from .local import LlamaCppBackend, default_gguf
    from .parse import parse_answer
    from .prompt import PromptBuilder, RenderedPrompt
    from .remote import OpenAIBackend
    from .request import ABSTAIN, Answer, PromptRequest
    from .source import LLMSource
    from .stats import LLMRunStats


def __getattr__(name: str):
    if name in _WHERE:
        value = getattr(import_module(f".{_WHERE[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
