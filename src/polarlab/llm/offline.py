"""A re-run whose LLM answers are all cached needs no server.

The span, linking and relevance tasks ask an LLM server once (:func:`~polarlab.llm.backends.probe_backend`)
before any slow work, so that a wrong URL, a refused key or an unknown model stops a fresh run in seconds.
Which prompts they send is known only later (the linker's options come after its training, the judged pairs
after retrieval), so a failed probe cannot tell by itself whether the run needs the server.
:func:`offline_or_raise` decides by the answer cache:

- the cache holds no answer of the backend's model (a fresh run, or a new model): the probe's error stops the
  run now, as before;
- it holds some (a re-run): a warning says so and the run goes on with :class:`OfflineBackend`. A run whose
  answers are all cached then finishes without the server; the first prompt whose answer is not cached asks
  the server again (in seconds: the probe) and, if it still does not answer, stops the run with the probe's
  error, its message saying that the cached answers were used and this one is missing. Answers given before
  are in the cache, so nothing paid is lost.

(The label task needs none of this: its prompts are known before it asks anything, and
:class:`~polarlab.llm.source.LLMSource` probes only when some answer is missing.)
"""
from __future__ import annotations

import threading
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

from .backend import Backend
from .cache import AnswerCache
from .errors import LLMConfigError


def cached_answers(cache: AnswerCache | str | Path | None, model_id: str) -> int:
    """How many answers of ``model_id`` the answer cache ``cache`` (an open cache or its file) holds; 0 for no
    cache, an in-memory one or a file that does not exist (it is not created)."""
    if cache is None:
        return 0
    if isinstance(cache, AnswerCache):
        return cache.n_answers(model_id)
    if str(cache) == ":memory:" or not Path(cache).is_file():
        return 0
    with AnswerCache(cache) as c:
        return c.n_answers(model_id)


class OfflineBackend:
    """``backend`` after its server failed the probe with ``error``, for a run that reads its answers from the
    cache: the same model id, parameters and token counts (so the same cache keys), but the first call (or
    ``probe``) probes the server again and, if it still fails, raises ``error``, and so does every later call.

    Args:
        backend: the backend whose ``probe`` failed.
        error: the probe's error, as the run names it (its key in the project file).
        cache: the answer cache, named in the error.
    """

    def __init__(self, backend: Backend, error: LLMConfigError, cache: AnswerCache | str | Path) -> None:
        where = cache.path if isinstance(cache, AnswerCache) else cache
        self.backend = backend
        self.error: LLMConfigError | None = replace(
            error, message=f"{error.message}; the run went on with the answers of model {backend.model_id!r} "
                           f"cached in {where}, but this prompt's answer is not among them")
        self._asked = False
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"OfflineBackend({self.backend!r})"

    def __getattr__(self, name: str) -> Any:
        if name in ("backend", "error", "_asked", "_lock"):   # not set yet (copy, pickle): no recursion
            raise AttributeError(name)
        value = getattr(self.backend, name)
        if name == "run_many":      # only where the backend has it: callers choose their path by its presence
            return lambda calls: self._live().run_many(calls)
        return value

    def _live(self) -> Backend:
        """The backend, once its server answers the probe; else raises the error."""
        with self._lock:
            if self.error is not None and not self._asked:
                self._asked = True
                try:
                    self.backend.probe()    # the server may be back
                    self.error = None
                except LLMConfigError:
                    pass
            if self.error is not None:
                raise self.error
        return self.backend

    def probe(self) -> None:
        self._live()

    def score(self, prompt, words):
        return self._live().score(prompt, words)

    def generate(self, prompt):
        return self._live().generate(prompt)


def offline_or_raise(backend: Backend, error: LLMConfigError, cache: AnswerCache | str | Path | None) -> Backend:
    """What a run does when ``backend``'s probe failed with ``error``: raise it when ``cache`` holds no answer of
    ``backend``'s model (nothing to go on with: a fresh run stops in seconds); else warn and return an
    :class:`OfflineBackend` (the run reads its answers from the cache; one it lacks raises ``error``).

    Raises:
        LLMConfigError: ``error``, when the cache holds no answer of this model.
    """
    n = cached_answers(cache, backend.model_id)
    if not n:
        raise error from None
    where = cache.path if isinstance(cache, AnswerCache) else cache
    warnings.warn(f"{error.column or 'llm'}: {error.message}; going on with the {n} answer(s) of model "
                  f"{backend.model_id!r} cached in {where}: a prompt whose answer is not there will stop the run "
                  f"with this error", stacklevel=2)
    return OfflineBackend(backend, error, cache)
