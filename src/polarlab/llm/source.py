"""The LLM labeler as a supervision source.

Every prompt goes through the answer cache: re-running makes no backend call for an answered
prompt, and a crash loses nothing that was answered. Scoring-mode distributions are cached
uncalibrated; contextual calibration (on by default) is applied when answers are read, so it
can be switched without asking again.
"""
from __future__ import annotations

import time
import warnings
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ..data.dataset import Dataset, Example
from ..matrix.label_matrix import SourceFailure
from ..sources.base import SourceOutput
from ..task import Task
from .backend import Backend, BackendReply
from .cache import AnswerCache, CachedAnswer, cache_key
from .calibrate import CONTENT_FREE_INPUTS, calibrate, content_free_distribution, content_free_requests
from .errors import LLMConfigError, LLMError
from .offline import require_cached
from .parse import parse_answer
from .prompt import PromptBuilder, RenderedPrompt
from .request import ABSTAIN, Answer, PromptRequest
from .stats import LLMRunStats

MODES = ("scoring", "generation")


@dataclass
class _Item:
    """One distinct prompt to answer."""

    key: str
    prompt: RenderedPrompt


@dataclass
class _Prompts:
    """The rendered prompts of one :meth:`LLMSource.ask`.

    Attributes:
        items: cache key -> the distinct prompt to answer (content-free prompts first, then the requests').
        rendered: one rendered prompt per request, in order.
        keys: their cache keys, in order.
        content_free: prompt prefix (one per distinct demonstration set) -> the keys of its content-free prompts
            (empty without calibration).
    """

    items: dict[str, _Item]
    rendered: list[RenderedPrompt]
    keys: list[str]
    content_free: dict[str, list[str]]


class LLMSource:
    """An LLM that votes on every example (implements :class:`polarlab.sources.base.Source`).

    Parameters:
        backend: the model (:class:`LlamaCppBackend`, :class:`OpenAIBackend`, or any
            :class:`Backend`).
        name: the source's name in the label matrix.
        mode: "scoring" (label distribution from the verbalizers' log-probs; vote = argmax)
            or "generation" (free text parsed to a label; no distribution).
        calibrate: contextual calibration of scoring distributions (Zhao et al. 2021).
        few_shot: demonstrations shown in every prompt of :meth:`apply`: ``(Example, label)``
            pairs or dicts ``{"text": ..., "label": name-or-index, "entity1": ..., "entity2": ...}``.
        cache: an :class:`AnswerCache`, a path to its SQLite file, or None (in-memory: nothing
            survives the process — use a file for real runs).
        content_free: the content-free inputs of calibration.
        price_in_per_1k, price_out_per_1k: prices per 1000 prompt / completion tokens, for
            :attr:`LLMRunStats.cost`.
        min_confidence: scoring mode abstains when the top (calibrated) probability is below it.
        progress: show a progress bar while asking the backend.
        fault_tolerant: when True, calls that failed for good on too many rows are a warning in
            :func:`polarlab.matrix.apply_sources` instead of failing the run (None: its default, False).
        max_failure_share: the share of rows whose calls failed for good at which the run fails
            (None: the default of :func:`apply_sources`, 1.0 = only when every call failed).

    Attributes:
        last_stats: :class:`LLMRunStats` of the last ``apply``/``ask``.
        total_stats: summed over this object's runs.
    """

    def __init__(self, backend: Backend, *, name: str = "llm", mode: str = "scoring",
                 calibrate: bool = True, few_shot: Sequence[Any] = (),
                 cache: AnswerCache | str | Path | None = None,
                 content_free: tuple[str, ...] = CONTENT_FREE_INPUTS,
                 price_in_per_1k: float | None = None, price_out_per_1k: float | None = None,
                 min_confidence: float = 0.0, progress: bool = True,
                 builder: PromptBuilder | None = None, fault_tolerant: bool | None = None,
                 max_failure_share: float | None = None) -> None:
        if mode not in MODES:
            raise LLMConfigError(f"unknown mode {mode!r}", column="mode",
                                 fix='use mode = "scoring" or mode = "generation"')
        self.backend = backend
        self.name = name
        self.mode = mode
        self.calibrate = bool(calibrate)
        self.few_shot = list(few_shot)
        self.cache = cache if isinstance(cache, AnswerCache) else AnswerCache(cache or ":memory:")
        self.content_free = tuple(content_free)
        self.price_in_per_1k = price_in_per_1k
        self.price_out_per_1k = price_out_per_1k
        self.min_confidence = float(min_confidence)
        self.progress = progress
        self.builder = builder or PromptBuilder()
        if fault_tolerant is not None or max_failure_share is not None:
            from ..matrix.apply import check_failure_policy
            check_failure_policy(False if fault_tolerant is None else fault_tolerant,
                                 1.0 if max_failure_share is None else max_failure_share, where=f"sources.{name}.")
        self.fault_tolerant = fault_tolerant
        self.max_failure_share = max_failure_share
        self.last_stats = LLMRunStats()
        self.total_stats = LLMRunStats()

    def __repr__(self) -> str:
        return f"LLMSource(name={self.name!r}, backend={self.backend!r}, mode={self.mode!r})"

    # -- Source protocol ------------------------------------------------------------------
    def apply(self, data: Dataset, task: Task) -> SourceOutput:
        """Ask the LLM about every example.

        Returns:
            votes (n,) int64 (-1 = abstain), proba (n, k) (calibrated in scoring mode; NaN rows
            where there is no distribution), failures (calls that failed for good).

        Raises:
            LLMConfigError: ``data`` is tabular (numeric feature vectors, no text to show the LLM).
        """
        if isinstance(data, Dataset) and data.is_tabular and len(data):
            raise LLMConfigError(f"the LLM source {self.name!r} reads text, but {data.name!r} is tabular "
                                 "(data.feature vectors, no text)", column="sources",
                                 fix="drop the llm source for tabular data (bench wrench leaves it out by itself)")
        reqs = self.requests_for(data, task)
        answers = self.ask(reqs, task)
        votes = np.array([a.label for a in answers], dtype=np.int64)
        proba = (np.vstack([a.proba for a in answers]) if answers
                 else np.zeros((0, task.n_classes)))
        failures = [SourceFailure(self.name, i, r.example.id, a.error)
                    for i, (r, a) in enumerate(zip(reqs, answers)) if a.error]
        return SourceOutput(votes=votes, proba=proba, failures=failures)

    def describe(self, task: Task, label: int) -> str:
        """One sentence explaining a vote of ``label``."""
        if label == ABSTAIN:
            return f"The LLM labeler {self.name} ({self.backend.model_id}) gave no label."
        return (f"The LLM labeler {self.name} ({self.backend.model_id}) answers "
                f"{task.labels[label]!r}.")

    # -- requests -------------------------------------------------------------------------
    def few_shot_for(self, task: Task) -> tuple[tuple[Example, int], ...]:
        """The configured demonstrations as ``(Example, label index)`` pairs."""
        out = []
        for i, d in enumerate(self.few_shot):
            if isinstance(d, dict):
                unknown = set(d) - {"text", "label", "entity1", "entity2"}
                if unknown or "text" not in d or "label" not in d:
                    raise LLMConfigError(f"few-shot example {i} has keys {sorted(d)}",
                                         column=f"few_shot[{i}]",
                                         fix="give each as {text=..., label=...} (+ entity1/entity2)")
                ex = Example(id=f"few-shot-{i}", text=str(d["text"]), entity1=d.get("entity1"),
                             entity2=d.get("entity2"))
                y = task.label_index(d["label"], column=f"few_shot[{i}].label")
            else:
                ex, y = d
                y = task.label_index(y, column=f"few_shot[{i}].label")
            if y == ABSTAIN:
                raise LLMConfigError(f"few-shot example {i} has label -1", column=f"few_shot[{i}].label",
                                     fix="give demonstrations a real label")
            out.append((ex, y))
        return tuple(out)

    def requests_for(self, data: Dataset, task: Task) -> list[PromptRequest]:
        """One request per example of ``data`` with the configured demonstrations."""
        fs = self.few_shot_for(task)
        return [PromptRequest(ex, few_shot=fs, tag=ex.id) for ex in data]

    # -- asking ---------------------------------------------------------------------------
    def params(self, task: Task) -> dict:
        """Parameters in the cache key: backend's + mode + the answer words scored."""
        p = dict(self.backend.params(self.mode))
        p["mode"] = self.mode
        if self.mode == "scoring":
            p["words"] = list(task.answer_words)
        return p

    def render(self, task: Task, req: PromptRequest) -> RenderedPrompt:
        return self.builder.render(task, req, count_tokens=self.backend.count_tokens,
                                   max_tokens=self.backend.max_prompt_tokens)

    def ask(self, requests: Sequence[PromptRequest], task: Task, *,
            calibrate: bool | None = None) -> list[Answer]:
        """Answer ``requests`` through the cache; ask the backend only for uncached prompts.

        Each request is rendered exactly as given: its own ``few_shot`` (the source's configured
        demonstrations are *not* added; get them with :meth:`few_shot_for`), evidence and
        previous answer. Calibration uses content-free prompts with each request's
        demonstrations (3 extra prompts per distinct demonstration set, cached like any other).

        Parameters:
            requests: what to ask (see :class:`PromptRequest`).
            task: the task (labels, instruction, answer words).
            calibrate: override the source's calibration setting for this call.

        Returns:
            one :class:`Answer` per request, in order. Calls that failed for good (retries
            exhausted) give abstains with ``error`` set; they are not cached and are asked
            again on the next run.

        Raises:
            LLMConfigError: wrong key / model / URL (answers received before are kept).
        """
        t0 = time.perf_counter()
        stats = LLMRunStats(template=str(getattr(self.backend, "template", "")))
        do_cal = self.calibrate if calibrate is None else bool(calibrate)
        do_cal = do_cal and self.mode == "scoring"
        params = self.params(task)
        prompts = self._prompts(requests, task, params, do_cal)
        stats.requests = len(requests) + sum(len(v) for v in prompts.content_free.values())

        found = self.cache.get_many(prompts.items)
        missing = [prompts.items[k] for k in prompts.items if k not in found]
        require_cached(self.backend, len(missing), len(prompts.items))   # offline: stop before asking any
        errors: dict[str, str] = {}
        self._run(missing, task, params, found, errors, stats)
        stats.cache_hits = stats.requests - stats.calls

        p_cf = {prefix: content_free_distribution(np.array([self._dist(found.get(k), task) for k in keys]))
                for prefix, keys in prompts.content_free.items()}
        answers = self._answers(requests, prompts, task, found, errors, {it.key for it in missing},
                                p_cf if do_cal else {}, stats)
        if stats.logprobs_fallback:
            self._warn_fallback(prompts.keys, found, stats.fallback_answers, len(requests))
        self._warn_unparsed(answers, len(requests))
        stats.seconds = time.perf_counter() - t0
        stats.price(self.price_in_per_1k, self.price_out_per_1k)
        self.last_stats = stats
        self.total_stats.add(stats)
        return answers

    # -- the steps of ask -----------------------------------------------------------------
    def _prompts(self, requests: Sequence[PromptRequest], task: Task, params: dict, do_cal: bool) -> "_Prompts":
        """Render every request and, with ``do_cal``, the content-free prompts of each distinct demonstration set
        (prompt prefix); each distinct prompt text is one :class:`_Item` under its cache key."""
        model_id = self.backend.model_id
        items: dict[str, _Item] = {}

        def item(p: RenderedPrompt) -> str:
            k = cache_key(model_id, params, p.text)
            items.setdefault(k, _Item(k, p))
            return k

        cf_keys: dict[str, list[str]] = {}
        rendered: list[RenderedPrompt] = []
        for r in requests:
            p = self.render(task, r)
            rendered.append(p)
            if do_cal and p.prefix not in cf_keys:
                cf_keys[p.prefix] = [item(self.render(task, c))
                                     for c in content_free_requests(r, self.content_free)]
        keys = [item(p) for p in rendered]
        return _Prompts(items=items, rendered=rendered, keys=keys, content_free=cf_keys)

    def _answers(self, requests: Sequence[PromptRequest], prompts: "_Prompts", task: Task,
                 found: dict[str, CachedAnswer], errors: dict[str, str], asked: set[str],
                 p_cf: dict[str, np.ndarray], stats: LLMRunStats) -> list[Answer]:
        """One :class:`Answer` per request from its cached reply in ``found`` (or its error in ``errors``),
        calibrated by the content-free distribution ``p_cf`` of its prefix when there is one; ``cached`` is
        False for the keys ``asked`` of the backend in this call. Counts truncated prompts, abstains and
        answers without log-probabilities into ``stats``."""
        answers = []
        for r, p, k in zip(requests, prompts.rendered, prompts.keys):
            a = self._answer(found.get(k), task, r, p, k, p_cf.get(p.prefix), errors.get(k))
            a.cached = k not in asked
            answers.append(a)
            stats.truncated += int(p.truncated)
            stats.abstained += int(a.label == ABSTAIN)
            if found.get(k) is not None and found[k].status == "no_logprobs":
                stats.logprobs_fallback = True
                stats.fallback_answers += 1
        return answers

    def _warn_fallback(self, keys: list[str], found: dict[str, CachedAnswer], fallback_answers: int,
                       n_requests: int) -> None:
        """Warn (at the caller of :meth:`ask`) that answers fell back to generation mode, counted per reason."""
        why: dict[str, int] = {}
        for k in keys:
            row = found.get(k)
            if row is not None and row.status == "no_logprobs":
                reason = (row.extra or {}).get("fallback", "the backend gave no log-probabilities")
                why[reason] = why.get(reason, 0) + 1
        reasons = "; ".join(f"{n}: {r}" for r, n in why.items())
        warnings.warn(f"LLM source {self.name!r}: {fallback_answers} of {n_requests} answer(s) "
                      f"have no label distribution ({reasons}); scoring mode fell back to generation mode "
                      "for them (parsed text, no distribution)", RuntimeWarning, stacklevel=3)

    def _warn_unparsed(self, answers: list[Answer], n_requests: int) -> None:
        """Warn (at the caller of :meth:`ask`) when answers name no label (abstains that are not call failures)."""
        unparsed = sum(1 for a in answers if a.label == ABSTAIN and not a.error and np.isnan(a.proba).all())
        if unparsed:
            warnings.warn(f"LLM source {self.name!r}: {unparsed} of {n_requests} answer(s) name no label "
                          "(abstains)", RuntimeWarning, stacklevel=3)

    # -- internals ------------------------------------------------------------------------
    def _call(self, it: _Item, task: Task) -> BackendReply:
        if self.mode == "scoring":
            return self.backend.score(it.prompt, tuple(task.answer_words))
        return self.backend.generate(it.prompt)

    def _store(self, it: _Item, reply: BackendReply, params: dict, stats: LLMRunStats) -> CachedAnswer:
        row = CachedAnswer(
            key=it.key, model=self.backend.model_id, params=params, prompt=it.prompt.text,
            mode=self.mode, raw_text=reply.text,
            dist=None if reply.dist is None else [float(x) for x in reply.dist],
            tokens_in=reply.tokens_in, tokens_out=reply.tokens_out, seconds=reply.seconds,
            truncated=it.prompt.truncated, status=reply.status, created=time.time(),
            extra=reply.extra or None)
        self.cache.put(row)  # committed: survives a crash from here on
        stats.tokens_in += reply.tokens_in
        stats.tokens_out += reply.tokens_out
        stats.model_seconds += reply.seconds
        stats.retries += reply.retries
        return row

    def _run(self, missing: list[_Item], task: Task, params: dict, found: dict[str, CachedAnswer],
             errors: dict[str, str], stats: LLMRunStats) -> None:
        if not missing:
            return
        # group prompts with the same prefix so the embedded backend reuses its evaluation
        order = sorted(range(len(missing)), key=lambda i: (missing[i].prompt.prefix, i))
        todo = [missing[i] for i in order]
        probe = getattr(self.backend, "probe", None)
        if callable(probe):
            probe()  # in seconds: no server, a refused key or an unknown model stop the run here
        with _progress(self.progress, len(todo), f"{self.name}: asking {self.backend.model_id}") as bar:
            if self.backend.max_concurrency > 1 and len(todo) > 1:
                # the first call alone: what it shows (no log-probs, a wrong endpoint) holds for all
                it, todo = todo[0], todo[1:]
                stats.calls += 1
                self._settle(it, partial(self._call, it, task), found, errors, params, stats)
                bar(1)
            run_many = getattr(self.backend, "run_many", None)
            if self.backend.max_concurrency <= 1 and callable(run_many):
                # the embedded model: its own processes share the calls; this process stores every reply
                from .local_pool import Call

                words = tuple(task.answer_words)
                kind = "score" if self.mode == "scoring" else "generate"
                for i, reply, err in run_many([Call(kind, it.prompt, words) for it in todo]):
                    stats.calls += 1
                    self._settle(todo[i], partial(_reply_or_raise, reply, err), found, errors, params, stats)
                    bar(1)
                return
            if self.backend.max_concurrency <= 1:
                for it in todo:
                    stats.calls += 1
                    self._settle(it, partial(self._call, it, task), found, errors, params, stats)
                    bar(1)
                return
            pool = ThreadPoolExecutor(max_workers=self.backend.max_concurrency)
            futures: dict[Future, _Item] = {}
            try:
                for it in todo:
                    futures[pool.submit(self._call, it, task)] = it
                    stats.calls += 1
                pending = set(futures)
                fatal: BaseException | None = None
                while pending:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for f in done:
                        it = futures[f]
                        if f.cancelled():
                            stats.calls -= 1
                            continue
                        try:
                            self._settle(it, f.result, found, errors, params, stats)
                        except LLMConfigError as e:
                            if fatal is None:
                                fatal = e
                                for g in pending:
                                    g.cancel()
                            stats.calls -= 1
                            continue
                        bar(1)
                if fatal is not None:
                    raise fatal
            finally:
                pool.shutdown(wait=True, cancel_futures=True)

    def _settle(self, it: _Item, get: Callable[[], BackendReply], found: dict, errors: dict, params: dict,
                stats: LLMRunStats) -> None:
        """Store the reply ``get()`` returns, or record its :class:`LLMError` as a failure.

        :class:`LLMConfigError` (bad key, unknown model, unreachable server) propagates: no later call
        can succeed, and everything answered so far is already in the cache.
        """
        try:
            reply = get()
        except LLMConfigError:
            raise
        except LLMError as e:
            errors[it.key] = str(e)
            stats.failures += 1
        else:
            found[it.key] = self._store(it, reply, params, stats)

    @staticmethod
    def _dist(row: CachedAnswer | None, task: Task) -> np.ndarray:
        if row is None or row.dist is None or len(row.dist) != task.n_classes:
            return np.full(task.n_classes, np.nan)
        return np.asarray(row.dist, dtype=np.float64)

    def _answer(self, row: CachedAnswer | None, task: Task, req: PromptRequest, p: RenderedPrompt,
                key: str, p_cf: np.ndarray | None, error: str | None) -> Answer:
        k = task.n_classes
        nan = np.full(k, np.nan)
        if row is None:
            return Answer(label=ABSTAIN, proba=nan, raw="", cached=False, tag=req.tag, key=key,
                          proba_uncalibrated=nan.copy(), truncated=p.truncated,
                          error=error or "no answer", mode=self.mode)
        extra = dict(row.extra or {})
        extra["status"] = row.status
        if row.status == "malformed":
            return Answer(label=ABSTAIN, proba=nan, raw=row.raw_text or "", cached=True, tag=req.tag,
                          key=key, proba_uncalibrated=nan.copy(), truncated=row.truncated,
                          mode=self.mode, extra=extra)
        dist = self._dist(row, task)
        if not np.isnan(dist).any():
            q = calibrate(dist, p_cf) if p_cf is not None else dist.copy()
            label = int(np.argmax(q))
            if q[label] < self.min_confidence:
                label = ABSTAIN
            raw = row.raw_text or task.answer_words[int(np.argmax(dist))]
            return Answer(label=label, proba=q, raw=raw, cached=True, tag=req.tag, key=key,
                          proba_uncalibrated=dist, truncated=row.truncated, mode="scoring",
                          extra=extra)
        label = parse_answer(row.raw_text, task)
        return Answer(label=label, proba=nan, raw=row.raw_text or "", cached=True, tag=req.tag,
                      key=key, proba_uncalibrated=nan.copy(), truncated=row.truncated,
                      mode="generation", extra=extra)


class _progress:
    """A rich progress bar (or nothing); used as ``with _progress(...) as advance: advance(1)``."""

    def __init__(self, enabled: bool, total: int, description: str) -> None:
        self.enabled = enabled and total > 1
        self.total = total
        self.description = description
        self._p = None

    def __enter__(self):
        if not self.enabled:
            return lambda n: None
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        from ..progress import progress_bar
        self._p = progress_bar(True, TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                               TimeElapsedColumn(), TimeRemainingColumn(), transient=True)
        if self._p is None:             # output piped: no bar
            return lambda n: None
        self._p.start()
        tid = self._p.add_task(self.description, total=self.total)
        return lambda n: self._p.advance(tid, n)

    def __exit__(self, *exc) -> None:
        if self._p is not None:
            self._p.stop()


def _reply_or_raise(reply: BackendReply | None, error: str | None) -> BackendReply:
    """The reply of a call evaluated elsewhere, or its :class:`LLMError` raised again here."""
    if error is not None or reply is None:
        raise LLMError(error or "no reply")
    return reply
