"""Errors of the LLM stage.

All derive from :class:`polarlab.errors.PolarlabError`; the ones a user fixes by changing input
(a key, a model name, a URL, a cache file) derive from :class:`polarlab.errors.InputError` so
their message names *where* and *what to do*.
"""
from __future__ import annotations

from ..errors import ConfigError, InputError, PolarlabError


class LLMError(PolarlabError):
    """An LLM backend failed in a way retries did not fix."""


class LLMConfigError(ConfigError):
    """The LLM source is configured wrongly (wrong key, model name, URL, missing package)."""


class LLMAuthError(LLMConfigError):
    """The server refused the API key (HTTP 401/403)."""


class LLMModelNotFoundError(LLMConfigError):
    """The server does not know the model (HTTP 404)."""


class LLMUnreachableError(LLMConfigError):
    """No server answers at the configured base URL."""


class LLMPromptError(InputError):
    """A prompt cannot be built (e.g. the instruction alone exceeds the context)."""


class CacheCorruptError(InputError):
    """The SQLite answer cache cannot be read. Move it aside with ``quarantine_cache(path)``."""


class TransientLLMError(LLMError):
    """A call failed with a retryable error (429, 5xx, timeout) and retries ran out."""
