"""The LLM linker: the model chooses among the other linkers' top candidates of a mention.

Per mention, the candidates are the union of the source linkers' top ``n_candidates`` entities,
fused by reciprocal rank (ties by entity position) and cut to ``n_candidates`` in that
deterministic order. The prompt is a multiple choice: the mention marked in its sentence
(``[M] ... [/M]``, the linkers' own context form), the numbered preferred names of the candidates
and "answer with the number". The answer is scored, not generated: the backend's probability of
each option's number as the next token (:meth:`polarlab.llm.backend.Backend.score`, as the
classification LLM source scores its label words), so the linker ranks its candidates by that
distribution and scores each by its probability, one more voting column for POLAR.

The same backends as the project's other LLM sources (:class:`polarlab.llm.LlamaCppBackend` —
Gemma 3 270M by default — or any OpenAI-compatible server) and the same SQLite
:class:`polarlab.llm.AnswerCache`: a re-run makes no calls, a killed run resumes.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from ...llm.backend import Backend, BackendReply
from ...llm.cache import AnswerCache, CachedAnswer, cache_key
from ...llm.offline import require_cached
from ...llm.errors import LLMError
from ...llm.prompt import RenderedPrompt
from ...ontology.terms import Ontology
from ...text import one_line
from ..mentions import MARK_CLOSE, MARK_OPEN, MentionSet
from .base import Ranking, rrf_scores

PROMPT_VERSION = "linking-choice-v1"
DEBIAS = ("none", "position")
INSTRUCTION = ("Which term does the marked mention ({open} ... {close}) refer to? Read the text, then choose one "
               "of the numbered terms. Answer with the number only.")


def fuse_candidates(rankings: list[Ranking], n: int, rrf_k: float = 60.0) -> np.ndarray:
    """shape (n_mentions, n): the union of the rankings' entities, ordered by reciprocal-rank fusion
    ``sum_j 1 / (rrf_k + rank_j)`` (ties: the smaller entity position first), cut to ``n``; -1 pads."""
    n_m = rankings[0].entities.shape[0] if rankings else 0
    out = np.full((n_m, n), -1, dtype=np.int64)
    for i in range(n_m):
        fused = rrf_scores(rankings, i, rrf_k)
        top = sorted(fused, key=lambda e: (-fused[e], e))[:n]
        out[i, :len(top)] = top
    return out


@dataclass
class LLMLinker:
    """A mention links to the candidate the LLM gives the highest probability.

    Args:
        backend: an LLM backend that scores answer words (``score``).
        ontology: the ontology (the candidates' preferred names are the options).
        sources: linker name -> linker whose top candidates are the options (not the LLM itself).
        n_candidates: options per mention (the fused top-N of the sources).
        window: characters of context each side of the mention in the prompt.
        cache: SQLite answer cache path (``":memory:"`` for throw-away).
        name: the name reported.
        debias: ``"none"``: the model's distribution over the options as it is; ``"position"``: divided by its
            mean over the mentions linked together that have as many options (the model's prior for each
            position, estimated on these mentions without gold, as PriDe does: Zheng et al. 2023, arXiv
            2309.03882) and renormalised — a small model gives the first option most of its mass whatever it
            names. No extra call either way.

    Attributes:
        stats: calls (model evaluations), cached (answers read from the cache), single (one option
            only: no call), errors (calls that failed: the mention abstains), seconds (time in calls).
    """

    backend: Backend
    ontology: Ontology
    sources: dict
    n_candidates: int = 5
    window: int = 80
    cache: str | Path = ":memory:"
    name: str = "llm"
    debias: str = "none"
    stats: dict = field(default_factory=lambda: {"calls": 0, "cached": 0, "single": 0, "errors": 0,
                                                 "seconds": 0.0})

    def __post_init__(self) -> None:
        if self.n_candidates < 2 or self.n_candidates > 9:
            raise ValueError("n_candidates is 2..9 (the options are numbered 1..9)")
        if self.debias not in DEBIAS:
            raise ValueError(f"debias is one of {DEBIAS}, not {self.debias!r}")
        self._cache = AnswerCache(self.cache)
        self._ids = self.ontology.ids
        self._memo: tuple | None = None

    # -- prompt -------------------------------------------------------------------------------
    def label(self, e: int) -> str:
        """The option text of entity position ``e``: its preferred name (else its id)."""
        names = self.ontology.names(self._ids[e])
        return one_line(names[0]) if names else self._ids[e]

    def prompt(self, context: str, mention: str, options: list[str]) -> RenderedPrompt:
        """The multiple-choice prompt: shared instruction (prefix), then text, mention and options."""
        prefix = INSTRUCTION.format(open=MARK_OPEN, close=MARK_CLOSE) + "\n\n"
        lines = [f"Text: {one_line(context)}", f"Mention: \"{one_line(mention)}\"", "Terms:"]
        lines += [f"{j + 1}. {o}" for j, o in enumerate(options)]
        lines.append("Answer:")
        return RenderedPrompt(prefix, "\n".join(lines))

    # -- answers --------------------------------------------------------------------------------
    def candidates(self, mentions: MentionSet) -> np.ndarray:
        """shape (n, n_candidates): each mention's options (entity positions, -1 pads)."""
        rankings = [lk.rank(mentions, self.n_candidates) for lk in self.sources.values()]
        return fuse_candidates(rankings, self.n_candidates)

    def choose(self, mentions: MentionSet) -> tuple[np.ndarray, np.ndarray]:
        """(options shape (n, N), probabilities shape (n, N): the LLM's distribution over each mention's
        options, NaN where there is no option or the call failed). Remembered for the last MentionSet."""
        if self._memo is not None and self._memo[0] is mentions:
            return self._memo[1], self._memo[2]
        cand = self.candidates(mentions)
        prob = np.full(cand.shape, np.nan)
        contexts = mentions.contexts_at(self.window)
        params = {**self.backend.params("scoring"), "task": PROMPT_VERSION}
        todo: list[tuple[int, RenderedPrompt, tuple[str, ...], str]] = []
        for i in range(len(mentions)):
            k = int((cand[i] >= 0).sum())
            if k == 0:
                continue
            if k == 1:
                prob[i, 0] = 1.0
                self.stats["single"] += 1
                continue
            p = self.prompt(contexts[i], mentions.surfaces[i], [self.label(int(e)) for e in cand[i, :k]])
            words = tuple(str(j + 1) for j in range(k))
            key = cache_key(self.backend.model_id, {**params, "words": list(words)}, p.text)
            todo.append((i, p, words, key))
        found = self._cache.get_many([t[3] for t in todo])
        # the options come from the other linkers (after their training): an offline re-run is checked here,
        # before the first call (polarlab.llm.offline)
        require_cached(self.backend, sum(t[3] not in found for t in todo), len(todo),
                       f"over {len(mentions)} mention(s)")
        missing = []
        for i, p, words, key in todo:
            row = found.get(key)
            if row is not None and row.dist is not None:
                prob[i, :len(words)] = row.dist
                self.stats["cached"] += 1
            else:
                missing.append((i, p, words, key))
        for j, reply in self._ask([(p, w) for _, p, w, _ in missing]):
            i, p, words, key = missing[j]
            if reply is None or reply.dist is None:
                self.stats["errors"] += 1
                continue
            prob[i, :len(words)] = reply.dist
            # stored as each reply comes: a killed run resumes where it stopped
            self._cache.put(CachedAnswer(key=key, model=self.backend.model_id, params={**params, "words": list(words)},
                                         prompt=p.text, mode="scoring", raw_text=reply.text,
                                         dist=[float(x) for x in reply.dist], tokens_in=reply.tokens_in,
                                         seconds=reply.seconds, status=reply.status,
                                         extra={"doc": mentions.doc_ids[i], "start": int(mentions.starts[i])}))
        self._memo = (mentions, cand, prob)
        return cand, prob

    def _ask(self, calls: list[tuple[RenderedPrompt, tuple[str, ...]]]) -> Iterator[tuple[int, BackendReply | None]]:
        """``(position, reply)`` of each of ``calls`` as it finishes (any order; reply None where the call
        failed with an :class:`LLMError`)."""
        if not calls:
            return
        t0 = time.perf_counter()
        run_many = getattr(self.backend, "run_many", None)
        try:
            if callable(run_many) and self.backend.max_concurrency <= 1:
                from ...llm.local_pool import Call

                for i, reply, err in run_many([Call("score", p, w) for p, w in calls]):
                    self.stats["calls"] += 1
                    yield i, (reply if err is None else None)
            else:
                for i, (p, w) in enumerate(calls):
                    self.stats["calls"] += 1
                    try:
                        reply = self.backend.score(p, w)
                    except LLMError:
                        reply = None
                    yield i, reply
        finally:
            self.stats["seconds"] += time.perf_counter() - t0

    def position_prior(self, prob: np.ndarray, cand: np.ndarray) -> dict[int, np.ndarray]:
        """Number of options k -> the mean distribution over the k positions of the mentions with k options
        that were asked (no gold)."""
        k_of = (cand >= 0).sum(axis=1)
        asked = np.isfinite(prob).sum(axis=1) >= 2
        return {int(k): np.nanmean(prob[(k_of == k) & asked, :k], axis=0)
                for k in np.unique(k_of[asked])}

    def distribution(self, mentions: MentionSet) -> tuple[np.ndarray, np.ndarray]:
        """(options, probabilities) as :meth:`choose`, debiased as ``debias`` says."""
        cand, prob = self.choose(mentions)
        if self.debias == "none":
            return cand, prob
        out = prob.copy()
        k_of = (cand >= 0).sum(axis=1)
        for k, prior in self.position_prior(prob, cand).items():
            rows = (k_of == k) & (np.isfinite(prob).sum(axis=1) >= 2)
            q = prob[rows, :k] / np.maximum(prior, 1e-12)
            out[rows, :k] = q / q.sum(axis=1, keepdims=True)
        return cand, out

    # -- the linker protocol --------------------------------------------------------------------
    def rank(self, mentions: MentionSet, k: int) -> Ranking:
        """The options ordered by the LLM's (debiased) probability (ties: option order), top ``k``; a
        mention without options or whose call failed abstains (-1)."""
        cand, prob = self.distribution(mentions)
        n = len(mentions)
        ent = np.full((n, k), -1, dtype=np.int64)
        sc = np.full((n, k), np.nan)
        for i in range(n):
            ok = np.flatnonzero((cand[i] >= 0) & np.isfinite(prob[i]))
            order = ok[np.argsort(-prob[i, ok], kind="stable")][:k]
            ent[i, :len(order)] = cand[i, order]
            sc[i, :len(order)] = prob[i, order]
        return Ranking(ent, sc)

    def score(self, mentions: MentionSet, candidates: np.ndarray) -> np.ndarray:
        """shape (n, c): the LLM's (debiased) probability of each candidate (0 when it was no option; NaN for -1)."""
        cand, prob = self.distribution(mentions)
        out = np.zeros(candidates.shape)
        for i in range(candidates.shape[0]):
            p = {int(e): float(v) for e, v in zip(cand[i], prob[i]) if e >= 0 and np.isfinite(v)}
            out[i] = [p.get(int(e), 0.0) for e in candidates[i]]
        out[candidates < 0] = np.nan
        return out
