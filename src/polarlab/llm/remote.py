"""Remote backend: any OpenAI-compatible server (vLLM, Ollama, llama-server, OpenAI, Azure).

Scoring mode asks for ``logprobs``/``top_logprobs`` of the first answer tokens and turns them
into a label distribution (see :func:`dist_from_top_logprobs`). A server that returns no
log-probs (or rejects the parameter) is used in generation mode instead: the reply text is
parsed, the reply is flagged ``no_logprobs``, the source warns and sets
``LLMRunStats.logprobs_fallback``.

Errors: 429, 408, 409, 5xx, timeouts and dropped connections are retried ``max_retries`` times
with exponential backoff (``backoff_s * 2**attempt``, capped at ``backoff_max_s``; a
``Retry-After`` header is honoured up to the cap). 401/403 raise :class:`LLMAuthError`, 404
raises :class:`LLMModelNotFoundError`, a server that cannot be reached raises
:class:`LLMUnreachableError`. The API key is read from the environment variable *named* in the
configuration; it is never logged, never part of a cache key or row.
"""
from __future__ import annotations

import math
import os
import random
import threading
import time
import warnings
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np

from .backend import BackendReply
from .errors import (LLMAuthError, LLMConfigError, LLMError, LLMModelNotFoundError,
                     LLMUnreachableError, TransientLLMError)
from .prompt import RenderedPrompt

_RETRY_STATUS = {408, 409, 429}
_SKIP_CHARS = " \t\r\n\"'*`_:.-#>([{"


def _sanitize_url(url: str) -> str:
    """scheme://host:port/path — no user info, query or fragment (they may hold secrets)."""
    p = urlsplit(url)
    host = p.hostname or ""
    if p.port:
        host = f"{host}:{p.port}"
    return urlunsplit((p.scheme, host, p.path.rstrip("/"), "", ""))


def _norm_token(tok: str) -> str:
    return tok.replace("\u2581", " ").replace("\u0120", " ").strip(_SKIP_CHARS).lower()


def dist_from_top_logprobs(positions: list[list[tuple[str, float]]],
                           words: tuple[str, ...]) -> tuple[np.ndarray, float] | None:
    """Label distribution from the top log-probs of the first answer tokens.

    Parameters:
        positions: per generated position, the ``(token, logprob)`` alternatives the server
            listed (top-k), in order.
        words: the k answer words.

    Rule: the first position where some listed token (stripped of spaces, quotes, ``*`` and
    case) is a non-empty prefix of exactly one answer word is the answer position; positions
    of pure markup/whitespace before it are skipped. Each label gets the summed probability of
    its tokens there. A label none of whose tokens is listed gets the smallest listed
    probability — an upper bound of its true probability, since it was not in the top k.
    The result is normalised over the labels.

    Returns:
        (distribution (k,), label mass = summed probability of the label tokens) or None when
        no position names a label.
    """
    lw = [w.strip().lower() for w in words]
    for pos in positions:
        if not pos:
            continue
        mass = np.zeros(len(words))
        hit = False
        for tok, lp in pos:
            t = _norm_token(tok)
            if not t:
                continue
            match = [j for j, w in enumerate(lw) if w.startswith(t)]
            if len(match) == 1:
                mass[match[0]] += math.exp(lp)
                hit = True
        if hit:
            floor = min(math.exp(lp) for _, lp in pos)
            label_mass = float(mass.sum())
            mass[mass == 0] = floor
            return mass / mass.sum(), label_mass
        if any(_norm_token(tok) for tok, _ in pos):
            # the model started with a real word that is no label: no distribution
            return None
    return None


class OpenAIBackend:
    """An OpenAI-compatible server through the ``openai`` client.

    Parameters:
        model: the server's model name.
        base_url: e.g. ``http://127.0.0.1:8000/v1``; None = the client's default (OpenAI).
        api_key_env: NAME of the environment variable holding the key; None = no key
            (local servers). The key itself is never stored on this object's public state.
        endpoint: "chat" (``/chat/completions``) or "completions" (``/completions``).
        max_concurrency: parallel requests (thread pool in the LLM source).
        max_retries: retries of retryable errors per prompt.
        backoff_s, backoff_max_s: exponential backoff base and cap, seconds.
        timeout_s: per-request timeout.
        top_logprobs: alternatives per position asked in scoring mode (OpenAI allows 20 on
            chat, 5 on completions).
        max_tokens: generation-mode answer length; scoring asks ``score_tokens``.
        max_prompt_tokens: prompt budget; longer prompts have their example text cut.
            Token counts are estimated as ``ceil(chars / 4)`` (no server tokenizer).
    """

    def __init__(self, model: str, base_url: str | None = None, *, api_key_env: str | None = None,
                 endpoint: str = "chat", max_concurrency: int = 4, max_retries: int = 5,
                 backoff_s: float = 1.0, backoff_max_s: float = 30.0, timeout_s: float = 60.0,
                 top_logprobs: int = 20, max_tokens: int = 16, score_tokens: int = 4,
                 max_prompt_tokens: int | None = None, temperature: float = 0.0) -> None:
        try:
            import openai  # noqa: F401
        except ImportError as e:  # pragma: no cover - declared dependency
            raise LLMConfigError("the openai package is not installed", column="backend",
                                 fix='pip install "openai>=1.30"') from e
        if endpoint not in ("chat", "completions"):
            raise LLMConfigError(f"unknown endpoint {endpoint!r}", column="endpoint",
                                 fix='use endpoint = "chat" or "completions"')
        self.model = model
        self.model_id = model
        self.base_url = base_url
        self.api_key_env = api_key_env
        self.endpoint = endpoint
        self.max_concurrency = max(1, int(max_concurrency))
        self.max_retries = int(max_retries)
        self.backoff_s = float(backoff_s)
        self.backoff_max_s = float(backoff_max_s)
        self.timeout_s = float(timeout_s)
        self.top_logprobs = int(top_logprobs)
        self.max_tokens = int(max_tokens)
        self.score_tokens = int(score_tokens)
        self.max_prompt_tokens = max_prompt_tokens
        self.temperature = float(temperature)
        self.no_logprobs = False  # set when the server rejected the logprobs parameter
        self._lock = threading.Lock()
        self._client = self._make_client()

    def __repr__(self) -> str:
        return (f"OpenAIBackend(model={self.model!r}, base_url={self.base_url!r}, "
                f"api_key_env={self.api_key_env!r}, endpoint={self.endpoint!r})")

    def _make_client(self):
        import openai
        if self.api_key_env:
            key = os.environ.get(self.api_key_env)
            if not key:
                raise LLMConfigError(f"environment variable {self.api_key_env} is not set",
                                     column="api_key_env",
                                     fix=f"export {self.api_key_env}=<your key>, or set api_key_env "
                                         "to the variable that holds it (omit it for servers without keys)")
        else:
            key = "no-key"
        return openai.OpenAI(api_key=key, base_url=self.base_url, max_retries=0,
                             timeout=self.timeout_s)

    # -- protocol -------------------------------------------------------------------------
    def params(self, mode: str) -> dict:
        p: dict[str, Any] = {"backend": "openai", "endpoint": self.endpoint, "mode": mode,
                             "temperature": self.temperature,
                             "base_url": _sanitize_url(self.base_url or "https://api.openai.com/v1")}
        if mode == "scoring":
            p.update(top_logprobs=self.top_logprobs, max_tokens=self.score_tokens)
        else:
            p.update(max_tokens=self.max_tokens)
        return p

    def count_tokens(self, text: str) -> int:
        return math.ceil(len(text) / 4)

    def score(self, prompt: RenderedPrompt, words: tuple[str, ...]) -> BackendReply:
        if self.no_logprobs:
            reply = self._call(prompt.text, self.score_tokens, logprobs=False)
            reply.status = "no_logprobs" if reply.status == "ok" else reply.status
            return reply
        try:
            reply = self._call(prompt.text, self.score_tokens, logprobs=True)
        except _LogprobsRejected:
            with self._lock:
                if not self.no_logprobs:
                    warnings.warn(f"server {self.base_url} rejected log-probs for model {self.model}; "
                                  "scoring mode falls back to generation mode (parsed text)",
                                  RuntimeWarning, stacklevel=2)
                self.no_logprobs = True
            reply = self._call(prompt.text, self.score_tokens, logprobs=False)
            reply.status = "no_logprobs" if reply.status == "ok" else reply.status
            return reply
        if reply.status == "ok":
            positions = (reply.extra or {}).pop("positions", None)
            if positions is None:
                reply.status = "no_logprobs"
            else:
                got = dist_from_top_logprobs(positions, words)
                if got is not None:
                    reply.dist, mass = got
                    reply.extra = {"label_mass": mass}
        if reply.extra is not None:
            reply.extra.pop("positions", None)
        return reply

    def generate(self, prompt: RenderedPrompt) -> BackendReply:
        reply = self._call(prompt.text, self.max_tokens, logprobs=False)
        if reply.extra is not None:
            reply.extra.pop("positions", None)
        return reply

    # -- calls ----------------------------------------------------------------------------
    def _request(self, prompt: str, max_tokens: int, logprobs: bool):
        kw: dict[str, Any] = dict(model=self.model, max_tokens=max_tokens,
                                  temperature=self.temperature)
        if self.endpoint == "chat":
            if logprobs:
                kw.update(logprobs=True, top_logprobs=self.top_logprobs)
            return self._client.chat.completions.create(
                messages=[{"role": "user", "content": prompt}], **kw)
        if logprobs:
            kw.update(logprobs=self.top_logprobs)
        return self._client.completions.create(prompt=prompt, **kw)

    def _call(self, prompt: str, max_tokens: int, logprobs: bool) -> BackendReply:
        import openai
        t0 = time.perf_counter()
        attempt = 0
        while True:
            try:
                resp = self._request(prompt, max_tokens, logprobs)
                break
            except openai.APIStatusError as e:
                status = e.status_code
                if status in (401, 403):
                    where = (f"the key in ${self.api_key_env}" if self.api_key_env
                             else "no API key (api_key_env is not set)")
                    raise LLMAuthError(f"server {self.base_url} refused {where} (HTTP {status})",
                                       column="api_key_env",
                                       fix="check the key / set api_key_env to the variable "
                                           "holding a valid key") from None
                if status == 404:
                    raise LLMModelNotFoundError(
                        f"server {self.base_url} answered 404 for model {self.model!r} "
                        f"on /{'chat/completions' if self.endpoint == 'chat' else 'completions'}",
                        column="model",
                        fix="check the model name (the server lists them at /models) and that "
                            "base_url ends with the API root, e.g. http://host:8000/v1") from None
                if status == 400 and logprobs and "logprob" in str(e).lower():
                    raise _LogprobsRejected() from None
                if status in _RETRY_STATUS or status >= 500:
                    attempt = self._backoff(attempt, e, f"HTTP {status}")
                    continue
                raise LLMError(f"server {self.base_url} answered HTTP {status}: {_short(e)}") from None
            except openai.APITimeoutError as e:
                attempt = self._backoff(attempt, e, "timeout")
            except openai.APIConnectionError as e:
                if attempt >= self.max_retries:
                    raise LLMUnreachableError(
                        f"no OpenAI-compatible server answers at {self.base_url} ({_short(e)})",
                        column="base_url",
                        fix="start the server, or fix base_url (e.g. http://127.0.0.1:8000/v1)") from None
                attempt = self._backoff(attempt, e, "connection error")
        reply = _parse_response(resp, self.endpoint)
        reply.seconds = time.perf_counter() - t0
        reply.retries = attempt
        return reply

    def _backoff(self, attempt: int, err: Exception, what: str) -> int:
        if attempt >= self.max_retries:
            raise TransientLLMError(f"{what} from {self.base_url} after {attempt + 1} attempts: "
                                    f"{_short(err)}")
        delay = min(self.backoff_max_s, self.backoff_s * (2 ** attempt))
        retry_after = _retry_after(err)
        if retry_after is not None:
            delay = min(self.backoff_max_s, max(delay, retry_after))
        time.sleep(delay * (1.0 + 0.1 * random.random()))
        return attempt + 1


class _LogprobsRejected(Exception):
    pass


def _short(e: Exception) -> str:
    s = str(e)
    return s if len(s) < 300 else s[:300] + "..."


def _retry_after(e: Exception) -> float | None:
    resp = getattr(e, "response", None)
    if resp is None:
        return None
    try:
        v = resp.headers.get("retry-after")
        return float(v) if v is not None else None
    except (TypeError, ValueError, AttributeError):
        return None


def _parse_response(resp: Any, endpoint: str) -> BackendReply:
    """Text, token usage and top log-probs of a (chat) completion; malformed → status."""
    try:
        usage = getattr(resp, "usage", None)
        tin = int(getattr(usage, "prompt_tokens", 0) or 0) if usage is not None else 0
        tout = int(getattr(usage, "completion_tokens", 0) or 0) if usage is not None else 0
        choices = getattr(resp, "choices", None)
        if not choices:
            return BackendReply(text="", status="malformed", tokens_in=tin, tokens_out=tout)
        ch = choices[0]
        positions = None
        if endpoint == "chat":
            msg = getattr(ch, "message", None)
            text = getattr(msg, "content", None) if msg is not None else None
            lp = getattr(ch, "logprobs", None)
            content = getattr(lp, "content", None) if lp is not None else None
            if content:
                positions = [[(t.token, float(t.logprob)) for t in (c.top_logprobs or [])]
                             or [(c.token, float(c.logprob))] for c in content]
        else:
            text = getattr(ch, "text", None)
            lp = getattr(ch, "logprobs", None)
            top = getattr(lp, "top_logprobs", None) if lp is not None else None
            if top:
                positions = [[(t, float(v)) for t, v in (d or {}).items()] for d in top]
        if not isinstance(text, str) or not text.strip():
            return BackendReply(text=text if isinstance(text, str) else "", status="malformed",
                                tokens_in=tin, tokens_out=tout)
        return BackendReply(text=text, tokens_in=tin, tokens_out=tout,
                            extra={"positions": positions})
    except Exception as e:  # a body the client could not map to the schema
        return BackendReply(text="", status="malformed", extra={"error": _short(e)})
