"""LLM backends by name: the keys each takes in an ``llm`` source table, and how to build it.

``backend = "local"`` (embedded llama.cpp) and ``backend = "openai"`` (any OpenAI-compatible server) are
registered here. A plugin adds a backend without editing polarlab::

    from polarlab.llm.backends import BackendSettings, register_llm_backend

    class EchoSettings(BackendSettings):
        answer: str = "spam"

    register_llm_backend("echo", EchoSettings, lambda cfg: EchoBackend(cfg.answer))

(or lists a function doing that under the ``polarlab.plugins`` entry-point group, :mod:`polarlab.plugins`).
Then ``[[sources]] type = "llm", backend = "echo", answer = "ham"`` works, and a key of no backend
(or of another one) is refused with its key path. ``cfg`` is the validated table (the backend's keys beside
the common keys of :class:`polarlab.llm.settings.LLMSettings`); the factory returns a
:class:`~polarlab.llm.backend.Backend`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Callable, Literal, Optional, Union

from pydantic import Field, field_validator

from ..config.base import Section
from ..errors import ConfigError
from .backend import Backend
from .remote import check_base_url


class BackendSettings(Section):
    """The keys a backend adds to an ``llm`` source table (subclass it; every key declared and typed)."""


BackendFactory = Callable[[Any], Backend]


@dataclass(frozen=True)
class LLMBackendType:
    """A registered backend: its settings model and its factory."""

    name: str
    settings: type[BackendSettings]
    build: BackendFactory


LLM_BACKENDS: dict[str, LLMBackendType] = {}


def register_llm_backend(name: str, settings: type[BackendSettings], build: BackendFactory) -> None:
    """Make ``backend = name`` available in ``llm`` source tables (replaces an earlier ``name``).

    Args:
        name: the value of ``backend``.
        settings: the model of the keys this backend takes (a :class:`BackendSettings` subclass).
        build: ``build(cfg) -> Backend``; ``cfg`` holds the validated table.
    """
    if not (isinstance(settings, type) and issubclass(settings, BackendSettings)):
        raise TypeError(f"the settings of backend {name!r} must subclass BackendSettings, not {settings!r}")
    LLM_BACKENDS[name] = LLMBackendType(name, settings, build)


def _set(cfg: Any, names: tuple[str, ...]) -> dict[str, Any]:
    """The keys among ``names`` that the table set (the backends keep their own defaults)."""
    return {k: getattr(cfg, k) for k in names if k in cfg.model_fields_set}


class LocalSettings(BackendSettings):
    """``backend = "local"``: the embedded llama.cpp model (Gemma 3 270M by default)."""

    gguf: Optional[str] = Field(None, description="path to a GGUF model (default: the packaged Gemma 3 270M)")
    n_ctx: Optional[int] = Field(None, ge=64, description="context length in tokens (default 2048)")
    n_threads: Optional[Union[int, Literal["auto"]]] = Field(
        None, description='CPU threads, or "auto" (default): the available CPUs less those other processes keep busy')
    processes: Optional[Union[Annotated[int, Field(ge=1)], Literal["auto"]]] = Field(
        None, description='single-thread model processes sharing a run, or "auto" (default): one per available '
                          'CPU (at most 8, and as many as fit in half the available memory), for runs of 32+ '
                          'calls; 1 = one model with n_threads threads')
    reuse_prefix: Optional[bool] = Field(None, description="reuse the shared prompt prefix's evaluation "
                                                           "(default true)")
    chat_template: Optional[str] = Field(None, description='"auto" (the GGUF\'s template, default) or "none" '
                                                           "(raw text)")
    max_tokens: Optional[int] = Field(None, ge=1, description="generation-mode answer length (default 8)")


def _local(cfg: LocalSettings) -> Backend:
    from .local import LlamaCppBackend

    return LlamaCppBackend(cfg.gguf, **_set(cfg, ("n_ctx", "n_threads", "processes", "reuse_prefix",
                                                   "chat_template", "max_tokens")))


class OpenAISettings(BackendSettings):
    """``backend = "openai"``: any OpenAI-compatible server (vLLM, Ollama, llama-server, OpenAI, Azure)."""

    model: str = Field(description="the server's model name")
    base_url: Optional[str] = Field(None, description='API root, e.g. "http://127.0.0.1:8000/v1" '
                                                      "(default: OpenAI)")
    api_key_env: Optional[str] = Field(None, description="NAME of the environment variable holding the key "
                                                         "(omit: no key)")
    endpoint: Optional[Literal["chat", "completions"]] = Field(
        None, description='"chat" (default) or "completions" (raw prompt; scoring reads log-probs with echo)')
    max_concurrency: Optional[int] = Field(None, ge=1, description="parallel requests (default 4)")
    max_retries: Optional[int] = Field(None, ge=0, description="retries on 429/5xx/timeouts (default 5)")
    backoff_s: Optional[float] = Field(None, ge=0.0, description="first backoff delay, doubled each retry "
                                                                 "(default 1)")
    backoff_max_s: Optional[float] = Field(None, ge=0.0, description="backoff cap in seconds (default 30)")
    timeout_s: Optional[float] = Field(None, gt=0.0, description="per-request timeout in seconds (default 60)")
    top_logprobs: Optional[int] = Field(None, ge=1, description="alternatives per token in scoring mode "
                                                                "(default 20)")
    max_prompt_tokens: Optional[int] = Field(None, ge=1, description="prompt budget (chars/4); longer texts "
                                                                     "are cut (default: no limit)")
    max_tokens: Optional[int] = Field(None, ge=1, description="generation-mode answer length (default 16)")

    @field_validator("base_url", mode="before")
    @classmethod
    def _url(cls, v: Any) -> Any:
        """Checked with the file, before any file is written (any value: a number gets the same message)."""
        try:
            check_base_url(v)
        except ConfigError as e:
            raise ValueError(f"{e.message}. Fix: {e.fix}") from None
        return v


def _openai(cfg: OpenAISettings) -> Backend:
    from .remote import OpenAIBackend

    return OpenAIBackend(cfg.model, **_set(cfg, ("base_url", "api_key_env", "endpoint", "max_concurrency",
                                                 "max_retries", "backoff_s", "backoff_max_s", "timeout_s",
                                                 "top_logprobs", "max_tokens", "max_prompt_tokens")))


def build_llm_backend(name: str, keys: dict[str, Any], *, where: str = "llm") -> Backend:
    """A backend from its registered name and its own keys (checked by its settings model).

    For callers that hold an LLM outside an ``llm`` source table (e.g. the span task's LLM source).

    Raises:
        ConfigError: an unknown backend, or a key that the backend does not take / has the wrong type
            (the message names ``where`` and the key).
    """
    from ..config.base import validate

    if name not in LLM_BACKENDS:
        raise ConfigError(f"unknown LLM backend {name!r}", column=f"{where}.backend",
                          fix=f"use one of {sorted(LLM_BACKENDS)}, or register one with register_llm_backend")
    bt = LLM_BACKENDS[name]
    table = {k: v for k, v in keys.items() if v is not None}
    cfg = validate(bt.settings, table, file=None, prefix=where, table=f"[{where}]")
    return bt.build(cfg)


def probe_backend(backend: Backend, *, where: str = "llm") -> None:
    """Check in seconds, before any slow work, that ``backend`` can answer: a backend with ``probe`` (a server:
    :meth:`polarlab.llm.remote.OpenAIBackend.probe`) is asked once; one without (the embedded model, whose GGUF
    file is checked when it is built) passes. A run that may need no server (its answers cached) catches the error and
    hands it to :func:`polarlab.llm.offline.offline_or_raise`.

    Raises:
        LLMConfigError (a ConfigError): the server is unreachable, refuses the key or does not list the model;
            its key is given under ``where`` (``where = "linking.llm.options"``: ``linking.llm.options.base_url``).
    """
    from .errors import LLMConfigError

    probe = getattr(backend, "probe", None)
    if not callable(probe):
        return
    try:
        probe()
    except LLMConfigError as e:
        column = f"{where}.{e.column}" if e.column else where
        raise type(e)(e.message, file=e.file, row=e.row, column=column, fix=e.fix, line=e.line) from None


register_llm_backend("local", LocalSettings, _local)
register_llm_backend("openai", OpenAISettings, _openai)
