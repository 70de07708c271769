"""Correction of the riskiest spans: the LLM is re-asked about one span with its sentence.

:func:`spans_by_risk` lists every output span from the riskiest down (the review queue reads
it). :func:`verify_spans` asks, for each of the top spans, "Is '<span>' the name of a
<noun> in this sentence? Answer yes or no." and reads P(yes) from the backend's scoring mode
(one prompt evaluation, no generation; answers cached in the same SQLite cache). A span whose
P(yes) is below ``threshold`` is dropped.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ..llm.backend import Backend
from ..llm.cache import AnswerCache, CachedAnswer, cache_key
from ..llm.offline import require_keys_cached
from ..llm.errors import LLMError
from ..llm.prompt import RenderedPrompt
from ..text import one_line
from .sources.llm import sentences
from .types import Span, SpanDoc

PROMPT_VERSION = "span-verify-v1"


@dataclass(frozen=True)
class RankedSpan:
    """One output span with its document index, probability and POLAR risk."""

    doc: int
    span: Span
    probability: float
    risk: float


def spans_by_risk(spans: Sequence[Sequence[Span]], probs: Sequence[np.ndarray]) -> list[RankedSpan]:
    """Every span (per document, sorted, with ``probs[i]`` aligned) ordered by risk, highest first."""
    out = [RankedSpan(i, s, float(p), 1.0 - float(p))
           for i, (S, P) in enumerate(zip(spans, probs)) for s, p in zip(sorted(S), P)]
    return sorted(out, key=lambda r: (-r.risk, r.doc, r.span.start))


def _context_range(doc: SpanDoc, span: Span) -> tuple[int, int]:
    """Character range of the span's sentence (or 200 characters either side)."""
    for a, b in sentences(doc.text):
        if a <= span.start and span.end <= b:
            return a, b
    return max(0, span.start - 200), span.end + 200


def _context(doc: SpanDoc, span: Span) -> str:
    a, b = _context_range(doc, span)
    return doc.text[a:b]


@dataclass
class SpanVerifier:
    """Re-asks an LLM about single spans (yes/no scoring), with the shared answer cache."""

    backend: Backend
    cache: str | Path = ":memory:"
    noun: str = "disease, syndrome or disorder"
    threshold: float = 0.5

    def __post_init__(self) -> None:
        self._cache = AnswerCache(self.cache)
        self.stats = {"calls": 0, "cached": 0, "errors": 0, "seconds": 0.0}

    def prompt(self, doc: SpanDoc, span: Span) -> RenderedPrompt:
        pre = (f"Decide whether the quoted words are the name of a {self.noun} in the sentence. "
               f"Answer yes or no.\n\n")
        return RenderedPrompt(pre, f"Sentence: {one_line(_context(doc, span))}\n"
                                   f"Words: \"{one_line(doc.text[span.start:span.end])}\"\nAnswer:")

    def _key(self, doc: SpanDoc, span: Span) -> tuple[RenderedPrompt, dict, str]:
        """(prompt, parameters, cache key) of the re-ask about ``span``."""
        p = self.prompt(doc, span)
        params = {**self.backend.params("scoring"), "task": PROMPT_VERSION}
        return p, params, cache_key(self.backend.model_id, params, p.text)

    def key(self, doc: SpanDoc, span: Span) -> str:
        """The cache key of the re-ask about ``span``."""
        return self._key(doc, span)[2]

    def cached(self, keys: Sequence[str]) -> set[str]:
        """Those of ``keys`` whose answer is in the cache."""
        return set(self._cache.get_many(keys))

    def p_yes(self, doc: SpanDoc, span: Span) -> float | None:
        p, params, key = self._key(doc, span)
        row = self._cache.get(key)
        if row is None:
            t0 = time.perf_counter()
            try:
                r = self.backend.score(p, ("yes", "no"))
            except LLMError:
                self.stats["errors"] += 1
                return None
            self.stats["calls"] += 1
            self.stats["seconds"] += time.perf_counter() - t0
            row = CachedAnswer(key=key, model=self.backend.model_id, params=params, prompt=p.text, mode="scoring",
                               raw_text=r.text, dist=[float(x) for x in r.dist], tokens_in=r.tokens_in,
                               seconds=r.seconds, extra=r.extra)
            self._cache.put(row)
        else:
            self.stats["cached"] += 1
        return float(row.dist[0]) if row.dist else None


def verify_spans(docs: Sequence[SpanDoc], spans: Sequence[Sequence[Span]], probs: Sequence[np.ndarray],
                 verifier: SpanVerifier, budget: int) -> tuple[list[list[Span]], list[dict]]:
    """Re-ask about the ``budget`` riskiest spans; drop those the LLM rejects.

    Returns:
        (the corrected spans per document, one audit row per re-asked span: doc, start, end,
        text, risk, p_yes, kept).
    """
    out = [list(S) for S in spans]
    audit = []
    chosen = spans_by_risk(spans, probs)[:max(0, int(budget))]
    # the re-asks are known only now (the riskiest harmonized spans): an offline re-run stops here, before the
    # first re-ask, when some are not cached (a verifier without a backend, as a logic test's, is never offline)
    require_keys_cached(getattr(verifier, "backend", None),
                        lambda: [verifier.key(docs[r.doc], r.span) for r in chosen],
                        lambda keys: verifier.cached(keys), "(the span correction's re-asks)",
                        drop="set [correct] budget = 0")
    for r in chosen:
        d = docs[r.doc]
        py = verifier.p_yes(d, r.span)
        keep = py is None or py >= verifier.threshold
        if not keep:
            out[r.doc] = [s for s in out[r.doc] if s.key != r.span.key]
        audit.append({"doc": d.id, "start": r.span.start, "end": r.span.end, "text": d.covered(r.span),
                      "risk": r.risk, "p_yes": py, "kept": keep})
    return out, audit
