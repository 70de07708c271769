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
DEFAULT_BASE_URL = "https://api.openai.com/v1"
PROBE_TIMEOUT_S = 30.0
#: a full endpoint URL given as base_url names the endpoint: ``.../v1/completions`` -> "completions"
_ENDPOINT_SUFFIXES = (("/chat/completions", "chat"), ("/completions", "completions"))


def check_base_url(base_url: object, where: str = "base_url") -> tuple[str | None, str | None]:
    """Check that ``base_url`` is an http(s) URL; split off an endpoint path given with it.

    Returns:
        (the API root, the endpoint the URL named or None); (None, None) for None.

    Raises:
        LLMConfigError: not a string, not http(s), or no host.
    """
    if base_url is None:
        return None, None
    fix = ('give the API root of an OpenAI-compatible server, e.g. base_url = "http://127.0.0.1:8000/v1" '
           '(or omit base_url for OpenAI\'s own API)')
    if not isinstance(base_url, str):
        raise LLMConfigError(f"base_url = {base_url!r} is not a URL", column=where, fix=fix)
    try:
        p = urlsplit(base_url.strip())
        p.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as e:
        raise LLMConfigError(f"base_url = {base_url!r} is not a URL ({e})", column=where, fix=fix) from None
    if p.scheme not in ("http", "https") or not p.hostname:
        raise LLMConfigError(f"base_url = {base_url!r} is not an http(s) URL", column=where, fix=fix)
    url = base_url.strip().rstrip("/")
    for suffix, endpoint in _ENDPOINT_SUFFIXES:
        if url.endswith(suffix):
            return url[: -len(suffix)], endpoint
    return url, None
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
        endpoint: "chat" (``/chat/completions``: the server wraps the prompt in the model's chat
            template) or "completions" (``/completions``: the prompt is sent as raw text, no chat
            template; scoring-mode reads each label's log-probability by appending it to the prompt
            with ``echo``). Default: the one a full endpoint URL in ``base_url`` names
            (``.../v1/completions``), else "chat".
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
                 endpoint: str | None = None, max_concurrency: int = 4, max_retries: int = 5,
                 backoff_s: float = 1.0, backoff_max_s: float = 30.0, timeout_s: float = 60.0,
                 top_logprobs: int = 20, max_tokens: int = 16, score_tokens: int = 4,
                 max_prompt_tokens: int | None = None, temperature: float = 0.0) -> None:
        try:
            import openai  # noqa: F401
        except ImportError as e:  # pragma: no cover - declared dependency
            raise LLMConfigError("the openai package is not installed", column="backend",
                                 fix='pip install "openai>=1.30"') from e
        base_url, named = check_base_url(base_url)
        endpoint = endpoint or named or "chat"
        if endpoint not in ("chat", "completions"):
            raise LLMConfigError(f"unknown endpoint {endpoint!r}", column="endpoint",
                                 fix='use endpoint = "chat" or "completions"')
        if named is not None and named != endpoint:
            raise LLMConfigError(f"base_url names the {named} endpoint but endpoint = {endpoint!r}",
                                 column="endpoint", fix="give base_url as the API root (e.g. .../v1)")
        self.model = model
        self.model_id = model
        self.base_url = base_url
        self.where = base_url or f"{DEFAULT_BASE_URL} (OpenAI's API: no base_url is set)"
        self.template = ("the server's chat template for the model" if endpoint == "chat"
                         else "none (raw prompt on /completions)")
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
        self._fatal: LLMConfigError | None = None  # the first call that showed no call can succeed
        self._stop = threading.Event()             # set with it: other threads stop retrying
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
        if mode == "scoring" and self.endpoint == "completions":
            p.update(scoring="echo")  # each label appended to the prompt, its log-probability read back
        elif mode == "scoring":
            p.update(top_logprobs=self.top_logprobs, max_tokens=self.score_tokens)
        else:
            p.update(max_tokens=self.max_tokens)
        return p

    def count_tokens(self, text: str) -> int:
        return math.ceil(len(text) / 4)

    def score(self, prompt: RenderedPrompt, words: tuple[str, ...]) -> BackendReply:
        """Label distribution of the answer to ``prompt``.

        ``chat``: the top log-probs at the answer position. ``completions``: every label appended to
        the prompt and its log-probability read back (``echo``), so a label the model would not put
        in its top k still gets its real score. Where neither can see the labels (no log-probs, or no
        label among the top k) the row is answered by generation instead (``status = "no_logprobs"``,
        ``extra["fallback"]`` says why); the LLM source warns with the count.
        """
        if self.no_logprobs:
            return self._fallback(prompt, "the server gives no log-probabilities")
        try:
            if self.endpoint == "completions":
                return self._score_echo(prompt, words)
            reply = self._call(prompt.text, self.score_tokens, logprobs=True)
        except _LogprobsRejected:
            with self._lock:
                if not self.no_logprobs:
                    warnings.warn(f"server {self.where} rejected log-probs for model {self.model}; "
                                  "scoring mode falls back to generation mode (parsed text)",
                                  RuntimeWarning, stacklevel=2)
                self.no_logprobs = True
            return self._fallback(prompt, "the server rejected log-probabilities")
        if reply.status == "ok":
            positions = (reply.extra or {}).pop("positions", None)
            if positions is None:
                return self._fallback(prompt, "the server gave no log-probabilities", reply)
            got = dist_from_top_logprobs(positions, words)
            if got is None:
                return self._fallback(prompt, f"no label word among the top {self.top_logprobs} log-probs "
                                              "at the answer position", reply)
            reply.dist, mass = got
            reply.extra = {"label_mass": mass}
        if reply.extra is not None:
            reply.extra.pop("positions", None)
        return reply

    def _score_echo(self, prompt: RenderedPrompt, words: tuple[str, ...]) -> BackendReply:
        """Score each label as a continuation of the prompt (completions endpoint, ``echo``)."""
        spent = BackendReply(text="")
        start = len(prompt.text)
        scores = []
        for w in words:
            cont = " " + w.strip()
            reply = self._call(prompt.text + cont, 1, logprobs=True, echo=True)
            _add_cost(spent, reply)
            offsets = (reply.extra or {}).pop("echo", None)
            score = _continuation_logprob(offsets, start, start + len(cont)) if reply.status == "ok" else None
            if score is None:
                return self._fallback(prompt, "the server did not echo the prompt's log-probabilities",
                                      spent)
            scores.append(score)
        lp = np.array(scores)
        dist = np.exp(lp - lp.max())
        dist /= dist.sum()
        spent.text = words[int(np.argmax(dist))]
        spent.dist = dist
        spent.extra = {"label_mass": float(np.exp(lp).sum()), "scored": "echo"}
        return spent

    def _fallback(self, prompt: RenderedPrompt, why: str, spent: BackendReply | None = None) -> BackendReply:
        """Answer ``prompt`` by generation (no distribution), adding the cost already ``spent``."""
        reply = self.generate(prompt)
        if spent is not None:
            _add_cost(reply, spent)
        if reply.status == "ok":
            reply.status = "no_logprobs"
        reply.extra = {**(reply.extra or {}), "fallback": why}
        return reply

    # -- probe ----------------------------------------------------------------------------
    def probe(self) -> None:
        """Check once, in seconds, that the server answers and lists the model.

        Lists the server's models (``GET /models``, no retries, a short timeout). A server that does
        not list models (404, or an empty list) is accepted; log-prob support is seen on the first
        call, which the LLM source makes before the others.

        Raises:
            LLMUnreachableError: nothing answers at ``base_url``.
            LLMAuthError: the key is refused.
            LLMModelNotFoundError: the server lists models and ``model`` is not among them.
        """
        import openai

        self._fatal = None
        self._stop.clear()
        client = self._client.with_options(timeout=min(self.timeout_s, PROBE_TIMEOUT_S), max_retries=0)
        try:
            ids = [str(m.id) for m in client.models.list().data]
        except (openai.APIConnectionError, openai.APITimeoutError) as e:
            raise self._unreachable(e) from None
        except openai.APIStatusError as e:
            if e.status_code in (401, 403):
                raise self._auth_error(e.status_code) from None
            return  # no model listing here: the first call tells
        except Exception:  # noqa: BLE001 - a listing the client cannot parse: the first call tells
            return
        if ids and self.model not in ids and not any(i.startswith(self.model + ":") for i in ids):
            shown = ids[:20] + (["..."] if len(ids) > 20 else [])
            raise LLMModelNotFoundError(f"server {self.where} does not list model {self.model!r}; it lists {shown}",
                                        column="model", fix="set model to one of the listed names")

    def _unreachable(self, e: Exception) -> LLMUnreachableError:
        return LLMUnreachableError(f"no OpenAI-compatible server answers at {self.where} ({_short(e)})",
                                   column="base_url",
                                   fix="start the server, or fix base_url (e.g. http://127.0.0.1:8000/v1)")

    def _auth_error(self, status: int) -> LLMAuthError:
        where = (f"the key in ${self.api_key_env}" if self.api_key_env
                 else "no API key (api_key_env is not set)")
        return LLMAuthError(f"server {self.where} refused {where} (HTTP {status})", column="api_key_env",
                            fix="check the key / set api_key_env to the variable holding a valid key")

    def generate(self, prompt: RenderedPrompt) -> BackendReply:
        reply = self._call(prompt.text, self.max_tokens, logprobs=False)
        if reply.extra is not None:
            reply.extra.pop("positions", None)
        return reply

    # -- calls ----------------------------------------------------------------------------
    def _request(self, prompt: str, max_tokens: int, logprobs: bool, echo: bool = False):
        kw: dict[str, Any] = dict(model=self.model, max_tokens=max_tokens,
                                  temperature=self.temperature)
        if self.endpoint == "chat":
            if logprobs:
                kw.update(logprobs=True, top_logprobs=self.top_logprobs)
            return self._client.chat.completions.create(
                messages=[{"role": "user", "content": prompt}], **kw)
        if echo:
            kw.update(echo=True, logprobs=1)
        elif logprobs:
            kw.update(logprobs=self.top_logprobs)
        return self._client.completions.create(prompt=prompt, **kw)

    def _fail(self, err: LLMConfigError) -> LLMConfigError:
        """Remember ``err``: every other thread's call stops now instead of using its own retries."""
        with self._lock:
            if self._fatal is None:
                self._fatal = err
            self._stop.set()
        return err

    def _call(self, prompt: str, max_tokens: int, logprobs: bool, echo: bool = False) -> BackendReply:
        import openai
        t0 = time.perf_counter()
        attempt = 0
        path = "chat/completions" if self.endpoint == "chat" else "completions"
        while True:
            if self._fatal is not None:
                raise self._fatal
            try:
                resp = self._request(prompt, max_tokens, logprobs, echo)
                break
            except openai.APIStatusError as e:
                status = e.status_code
                if status in (401, 403):
                    raise self._fail(self._auth_error(status)) from None
                if status == 404:
                    raise self._fail(LLMModelNotFoundError(
                        f"server {self.where} answered 404 for model {self.model!r} on /{path}",
                        column="model",
                        fix="check the model name (the server lists them at /models) and that "
                            "base_url ends with the API root, e.g. http://host:8000/v1")) from None
                if status == 400 and (logprobs or echo) and ("logprob" in str(e).lower() or
                                                             "echo" in str(e).lower()):
                    raise _LogprobsRejected() from None
                if status == 501:  # not implemented: retrying cannot help
                    other = "completions" if self.endpoint == "chat" else "chat"
                    raise LLMError(f"server {self.where} answered HTTP 501 (not implemented) on /{path}; "
                                   f"try endpoint = \"{other}\": {_short(e)}") from None
                if status in _RETRY_STATUS or status >= 500:
                    attempt = self._backoff(attempt, e, f"HTTP {status}")
                    continue
                raise LLMError(f"server {self.where} answered HTTP {status}: {_short(e)}") from None
            except openai.APITimeoutError as e:
                attempt = self._backoff(attempt, e, "timeout")
            except openai.APIConnectionError as e:
                if attempt >= self.max_retries:
                    raise self._fail(self._unreachable(e)) from None
                attempt = self._backoff(attempt, e, "connection error")
        reply = _parse_response(resp, self.endpoint, echo)
        reply.seconds = time.perf_counter() - t0
        reply.retries = attempt
        return reply

    def _backoff(self, attempt: int, err: Exception, what: str) -> int:
        if attempt >= self.max_retries:
            raise TransientLLMError(f"{what} from {self.where} after {attempt + 1} attempts: "
                                    f"{_short(err)}")
        delay = min(self.backoff_max_s, self.backoff_s * (2 ** attempt))
        retry_after = _retry_after(err)
        if retry_after is not None:
            delay = min(self.backoff_max_s, max(delay, retry_after))
        if self._stop.wait(delay * (1.0 + 0.1 * random.random())) and self._fatal is not None:
            raise self._fatal  # another call found that no call can succeed
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


def _add_cost(into: BackendReply, other: BackendReply) -> None:
    into.tokens_in += other.tokens_in
    into.tokens_out += other.tokens_out
    into.seconds += other.seconds
    into.retries += other.retries


def _continuation_logprob(offsets: list[tuple[int, float | None]] | None, start: int, end: int) -> float | None:
    """Summed log-prob of the echoed tokens that start in ``[start, end)`` (the appended label).

    ``offsets``: per echoed token, (character offset in the prompt, log-prob). None when no token
    starts there (the server did not echo, or a token straddles the prompt's end).
    """
    if not offsets:
        return None
    got = [lp for off, lp in offsets if start <= off < end]
    if not got or any(lp is None for lp in got):
        return None
    return float(sum(got))


def _parse_response(resp: Any, endpoint: str, echo: bool = False) -> BackendReply:
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
            if top and not echo:
                positions = [[(t, float(v)) for t, v in (d or {}).items()] for d in top]
            if echo:
                offs = getattr(lp, "text_offset", None) if lp is not None else None
                lps = getattr(lp, "token_logprobs", None) if lp is not None else None
                pairs = (list(zip((int(o) for o in offs), (None if v is None else float(v) for v in lps)))
                         if offs and lps and len(offs) == len(lps) else None)
                return BackendReply(text=text if isinstance(text, str) else "", tokens_in=tin,
                                    tokens_out=tout, extra={"echo": pairs})
        if not isinstance(text, str) or not text.strip():
            return BackendReply(text=text if isinstance(text, str) else "", status="malformed",
                                tokens_in=tin, tokens_out=tout)
        return BackendReply(text=text, tokens_in=tin, tokens_out=tout,
                            extra={"positions": positions})
    except Exception as e:  # a body the client could not map to the schema
        return BackendReply(text="", status="malformed", extra={"error": _short(e)})
