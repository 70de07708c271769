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

Keys (all optional except where said):

==================  =========  ======================================================================
key                 backends   meaning
==================  =========  ======================================================================
type                all        must be "llm"
name                all        source name (default "llm")
backend             all        "local" (default; embedded llama.cpp) or "openai" (any
                               OpenAI-compatible server: vLLM, Ollama, llama-server, OpenAI, Azure)
mode                all        "scoring" (default; label log-probs) or "generation" (parsed text)
calibrate           all        contextual calibration of scoring distributions (default true)
few_shot            all        list of {text=..., label=name-or-index[, entity1=..., entity2=...]}
content_free        all        content-free inputs for calibration (default ["N/A", "", "[MASK]"])
min_confidence      all        abstain when the top probability is below this (default 0)
price_in_per_1k     all        price per 1000 prompt tokens (cost accounting)
price_out_per_1k    all        price per 1000 completion tokens
cache               all        cache file, relative to the state dir (default "llm_cache.sqlite")
progress            all        show a progress bar (default true)
fault_tolerant      all        true: calls that failed for good on too many rows are a warning, not
                               an error (default false)
max_failure_share   all        the run fails when calls failed for good on at least this share of
                               the rows (default 1: only when every call failed)
gguf                local      path to a GGUF model (default: the packaged Gemma 3 270M)
n_ctx               local      context length in tokens (default 2048)
n_threads           local      CPU threads, or "auto" (default: available CPUs less the busy ones)
reuse_prefix        local      reuse the shared prompt prefix's evaluation (default true)
chat_template       local      "auto" (the GGUF's template, default) or "none" (raw text)
max_tokens          both       generation-mode answer length in tokens (default 8 local, 16 openai)
model               openai     the server's model name (required for openai)
base_url            openai     API root, e.g. "http://127.0.0.1:8000/v1" (default: OpenAI)
api_key_env         openai     NAME of the environment variable holding the key (omit: no key)
endpoint            openai     "chat" (default; the server applies the model's chat template) or
                               "completions" (raw prompt; scoring reads each label's log-prob with
                               ``echo``); a base_url ending in /completions names it too
max_concurrency     openai     parallel requests (default 4)
max_retries         openai     retries on 429/5xx/timeouts (default 5)
backoff_s           openai     first backoff delay in seconds, doubled each retry (default 1)
backoff_max_s       openai     backoff cap in seconds (default 30)
timeout_s           openai     per-request timeout in seconds (default 60)
top_logprobs        openai     alternatives per token asked in scoring mode (default 20)
max_prompt_tokens   openai     prompt budget (tokens estimated as chars/4); longer example texts
                               are cut (default: no limit)
==================  =========  ======================================================================
"""
from __future__ import annotations

from pathlib import Path

from .errors import LLMConfigError
from .source import LLMSource

COMMON_KEYS = {"type", "name", "backend", "mode", "calibrate", "few_shot", "content_free",
               "min_confidence", "price_in_per_1k", "price_out_per_1k", "cache", "progress",
               "max_tokens", "fault_tolerant", "max_failure_share"}
LOCAL_KEYS = {"gguf", "n_ctx", "n_threads", "reuse_prefix", "chat_template"}
OPENAI_KEYS = {"model", "base_url", "api_key_env", "endpoint", "max_concurrency", "max_retries",
               "backoff_s", "backoff_max_s", "timeout_s", "top_logprobs", "max_prompt_tokens"}
DEFAULT_CACHE = "llm_cache.sqlite"


def from_config(d: dict, state_dir: str | Path) -> LLMSource:
    """Build an LLM source from a ``{type="llm", ...}`` table (keys: see the module docstring).

    Parameters:
        d: the table.
        state_dir: the project's state folder; the cache lives there.

    Raises:
        ConfigError (:class:`LLMConfigError`): an unknown key, a key of the other backend,
            a missing ``model`` for ``backend = "openai"``, a bad value.
    """
    d = dict(d)
    where = f"sources.{d.get('name', 'llm')}"
    if d.get("type", "llm") != "llm":
        raise LLMConfigError(f"type {d.get('type')!r} is not an LLM source", column=f"{where}.type",
                             fix='use type = "llm"')
    backend = d.get("backend", "local")
    if backend not in ("local", "openai"):
        raise LLMConfigError(f"unknown backend {backend!r}", column=f"{where}.backend",
                             fix='use backend = "local" (embedded model) or "openai" (any '
                                 'OpenAI-compatible server)')
    allowed = COMMON_KEYS | (LOCAL_KEYS if backend == "local" else OPENAI_KEYS)
    for k in d:
        if k in allowed:
            continue
        other = "openai" if backend == "local" else "local"
        if k in (OPENAI_KEYS if backend == "local" else LOCAL_KEYS):
            raise LLMConfigError(f"key {k!r} is for backend = \"{other}\", not \"{backend}\"",
                                 column=f"{where}.{k}",
                                 fix=f"remove {k!r}, or set backend = \"{other}\"")
        raise LLMConfigError(f"unknown key {k!r}", column=f"{where}.{k}",
                             fix=f"remove it; known keys: {sorted(allowed)}")

    if backend == "local":
        from .local import LlamaCppBackend
        kw = {k: d[k] for k in ("n_ctx", "n_threads", "reuse_prefix", "chat_template", "max_tokens")
              if k in d}
        be = LlamaCppBackend(d.get("gguf"), **kw)
    else:
        if not d.get("model"):
            raise LLMConfigError("an openai backend needs a model name", column=f"{where}.model",
                                 fix='add model = "<the server\'s model name>"')
        from .remote import OpenAIBackend
        kw = {k: d[k] for k in ("base_url", "api_key_env", "endpoint", "max_concurrency",
                                "max_retries", "backoff_s", "backoff_max_s", "timeout_s",
                                "top_logprobs", "max_tokens", "max_prompt_tokens") if k in d}
        be = OpenAIBackend(str(d["model"]), **kw)

    cache_path = Path(d.get("cache", DEFAULT_CACHE))
    if not cache_path.is_absolute():
        cache_path = Path(state_dir) / cache_path
    kw = {k: d[k] for k in ("name", "mode", "calibrate", "min_confidence", "price_in_per_1k",
                            "price_out_per_1k", "progress", "fault_tolerant", "max_failure_share") if k in d}
    if "content_free" in d:
        kw["content_free"] = tuple(str(x) for x in d["content_free"])
    few_shot = d.get("few_shot", [])
    if not isinstance(few_shot, list):
        raise LLMConfigError("few_shot must be a list of {text=..., label=...} tables",
                             column=f"{where}.few_shot", fix='few_shot = [{text="...", label="spam"}]')
    return LLMSource(be, few_shot=few_shot, cache=cache_path, **kw)
