"""LLM labelers: an LLM as a supervision source, cached, resumable, calibrated.

Backends: :class:`LlamaCppBackend` (embedded llama.cpp; Gemma 3 270M by default) and
:class:`OpenAIBackend` (any OpenAI-compatible server). :class:`LLMSource` turns a backend into a
source (``apply`` for the label matrix, ``ask`` for the correction stage); :func:`from_config`
builds one from a project-file table. Every answer is kept in a SQLite :class:`AnswerCache`.

The embedded backend is imported lazily (it needs ``pip install "polarlab[local]"``).
"""
from __future__ import annotations

from .backend import Backend, BackendReply
from .cache import AnswerCache, CachedAnswer, cache_key, quarantine_cache
from .calibrate import CONTENT_FREE_INPUTS, calibrate, content_free_distribution, content_free_requests
from .config import from_config
from .errors import (CacheCorruptError, LLMAuthError, LLMConfigError, LLMError, LLMModelNotFoundError,
                     LLMPromptError, LLMUnreachableError, TransientLLMError)
from .parse import parse_answer
from .prompt import PromptBuilder, RenderedPrompt
from .remote import OpenAIBackend
from .request import ABSTAIN, Answer, PromptRequest
from .source import LLMSource
from .stats import LLMRunStats

__all__ = [
    "ABSTAIN", "Answer", "AnswerCache", "Backend", "BackendReply", "CONTENT_FREE_INPUTS",
    "CacheCorruptError", "CachedAnswer", "LLMAuthError", "LLMConfigError", "LLMError",
    "LLMModelNotFoundError", "LLMPromptError", "LLMRunStats", "LLMSource", "LLMUnreachableError",
    "LlamaCppBackend", "OpenAIBackend", "PromptBuilder", "PromptRequest", "RenderedPrompt",
    "TransientLLMError", "cache_key", "calibrate", "content_free_distribution",
    "content_free_requests", "default_gguf", "from_config", "parse_answer", "quarantine_cache",
]


def __getattr__(name: str):
    if name in ("LlamaCppBackend", "default_gguf"):
        from . import local
        return getattr(local, name)
    raise AttributeError(name)
