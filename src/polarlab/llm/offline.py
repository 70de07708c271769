"""A re-run whose LLM answers are all cached needs no server; one that lacks answers says so before it asks.

The span, linking and relevance tasks ask an LLM server once (:func:`~polarlab.llm.backends.probe_backend`)
before any slow work, so that a wrong URL, a refused key or an unknown model stops a fresh run in seconds.
When the probe fails, :func:`offline_or_raise` decides by the answer cache:

- the cache holds no answer of the backend's model (a fresh run, or a new model): the probe's error stops the
  run now, as before;
- it holds some (a re-run): a warning says so and the run goes on with :class:`OfflineBackend`.

Each step that asks the LLM then counts its uncached prompts *before it asks any*
(:func:`require_cached`): none missing, it reads every answer from the cache; some missing, the server is
probed once more (it may be back) and, if it still does not answer, one error names how many of the step's
prompts are missing, the step, and the fix (start the server, or leave the step out). Nothing is asked
before that and no output is written. Where a step's prompts are known:

- spans: every sentence of the documents the LLM source reads, before any source runs (checked up front,
  :func:`polarlab.spans.run.build_source`); the span correction's re-asks are the riskiest harmonized spans,
  known after the harmonizer: checked then, before the first re-ask;
- linking: the options of each mention come from the other linkers after their training, so the LLM
  linker's prompts are checked after training, before its first call (test mentions, then the pseudo-dev
  mentions);
- relevance: the judged pairs come from retrieval, so each LLM step (labels of the pool, reranking) is
  checked when its pairs are known, before its first call.

(The label task needs none of this: its prompts are known before it asks anything, and
:class:`~polarlab.llm.source.LLMSource` probes only when some answer is missing.)
"""
from __future__ import annotations

import threading
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Collection, Sequence

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
    A step that knows its prompts calls :meth:`require` first, so that it asks nothing when some are missing.

    Args:
        backend: the backend whose ``probe`` failed.
        error: the probe's error, as the run names it (its key in the project file).
        cache: the answer cache, named in the error.
        step: what asks the LLM, as the error names it (e.g. ``"the LLM span source 'llm' (sources[2])"``).
        drop: how to run without it (e.g. ``'set [linking.llm] backend = "none"'``), for the error's fix.
    """

    def __init__(self, backend: Backend, error: LLMConfigError, cache: AnswerCache | str | Path,
                 step: str = "the LLM", drop: str | None = None) -> None:
        where = cache.path if isinstance(cache, AnswerCache) else cache
        self.backend = backend
        self.probe_error, self.where, self.step, self.drop = error, where, step, drop
        self.error: LLMConfigError | None = replace(
            error, message=f"{error.message}; the run went on with the answers of model {backend.model_id!r} "
                           f"cached in {where}, but this prompt's answer is not among them")
        self._asked = False
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"OfflineBackend({self.backend!r})"

    def __getattr__(self, name: str) -> Any:
        if name in ("backend", "error", "_asked", "_lock", "probe_error", "where", "step", "drop"):
            # not set yet (copy, pickle): no recursion
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

    def require(self, missing: int, total: int, what: str = "", drop: str | None = None) -> None:
        """Before a step asks anything: ``missing`` of its ``total`` prompts are not in the cache. None missing:
        nothing to do. Else the server is probed once more and, if it still does not answer, one
        :class:`LLMConfigError` (the probe's key) names the count, the step (``what`` added to its name) and
        the fix (``drop``, else the backend's, says how to run without the step); nothing has been asked."""
        if missing <= 0:
            return
        try:
            self._live()
        except LLMConfigError:
            e = self.probe_error
            step = f"{self.step} {what}".strip()
            fix = "run it where the LLM server answers" + (f" ({e.fix})" if e.fix else "")
            drop = drop or self.drop
            if drop:
                fix += f", or run without this step: {drop}"
            raise replace(e, message=f"{missing} of {total} prompt(s) of {step} have no answer of model "
                                     f"{self.backend.model_id!r} in the answer cache {self.where}, and the LLM "
                                     f"server does not answer ({e.message}); nothing was asked",
                          fix=fix) from None

    def score(self, prompt, words):
        return self._live().score(prompt, words)

    def generate(self, prompt):
        return self._live().generate(prompt)


def offline_or_raise(backend: Backend, error: LLMConfigError, cache: AnswerCache | str | Path | None,
                     step: str = "the LLM", drop: str | None = None) -> Backend:
    """What a run does when ``backend``'s probe failed with ``error``: raise it when ``cache`` holds no answer of
    ``backend``'s model (nothing to go on with: a fresh run stops in seconds); else warn and return an
    :class:`OfflineBackend` (the run reads its answers from the cache; a step whose prompts are not all there
    stops before it asks, :func:`require_cached`). ``step`` and ``drop`` name the step and how to leave it out,
    for that error.

    Raises:
        LLMConfigError: ``error``, when the cache holds no answer of this model.
    """
    n = cached_answers(cache, backend.model_id)
    if not n:
        raise error from None
    where = cache.path if isinstance(cache, AnswerCache) else cache
    warnings.warn(f"{error.column or 'llm'}: {error.message}; going on with the {n} answer(s) of model "
                  f"{backend.model_id!r} cached in {where}: a step whose prompts are not all there will stop "
                  f"before it asks, with this error", stacklevel=2)
    return OfflineBackend(backend, error, cache, step=step, drop=drop)


def require_cached(backend: Backend, missing: int, total: int, what: str = "", drop: str | None = None) -> None:
    """Before a step asks ``backend`` anything: when the backend is an :class:`OfflineBackend` (its server failed
    the probe) and ``missing`` of the step's ``total`` prompts are not cached, stop with one error naming the
    count, the step and the fix (:meth:`OfflineBackend.require`). Any other backend: nothing to check (it
    asks the server, which answered the probe)."""
    if isinstance(backend, OfflineBackend):
        backend.require(missing, total, what, drop)


def require_keys_cached(backend: Backend, keys: Callable[[], Sequence[str]],
                        cached: Callable[[Sequence[str]], Collection[str]], what: str = "",
                        drop: str | None = None) -> None:
    """:func:`require_cached` for a step whose cache keys cost something to build (a prompt per sentence, per
    span): ``keys()`` and ``cached(keys)`` (the keys whose answer is in the cache) are called only when
    ``backend`` is offline; a backend whose server answered is never checked."""
    if isinstance(backend, OfflineBackend):
        ks = list(dict.fromkeys(keys()))
        require_cached(backend, len(ks) - len(cached(ks)), len(ks), what, drop)
