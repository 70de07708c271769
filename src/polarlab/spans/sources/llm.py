"""The LLM as a span source: it lists the entity names it sees (strict one-line format), and
each name is checked against the text and mapped back to character offsets.

Format asked for: the names copied from the text, separated by `` | ``, or ``none``. A name
that does not occur in the text (case-insensitively, on token boundaries) is rejected and
counted (``stats["rejected"]``); one that does marks every occurrence. The same backends
(:class:`polarlab.llm.LlamaCppBackend` — Gemma 3 270M by default — or any OpenAI-compatible
server) and the same SQLite :class:`polarlab.llm.AnswerCache` as the classification task: a
re-run makes no calls, a killed run resumes.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from ...llm.backend import Backend
from ...llm.cache import AnswerCache, CachedAnswer, cache_key
from ...llm.errors import LLMError
from ...llm.prompt import RenderedPrompt
from ...text import one_line
from ..tokenize import tokenize
from ..types import Span, SpanDoc
from .base import longest_non_overlapping, snap_to_tokens

PROMPT_VERSION = "spans-v1"
#: Hand-written demonstrations (not from any benchmark): (text, names or ()).
DEFAULT_DEMOS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "Disease": (
        ("Germline mutations in BRCA1 cause hereditary breast and ovarian cancer. Carriers were "
         "screened by MRI.", ("hereditary breast and ovarian cancer",)),
        ("The ATP7B gene was sequenced in 20 healthy volunteers.", ()),
        ("Wilson disease (WD) is an autosomal recessive disorder of copper transport; WD patients "
         "develop liver cirrhosis.", ("Wilson disease", "WD", "autosomal recessive disorder", "liver cirrhosis")),
    ),
}


def sentences(text: str) -> list[tuple[int, int]]:
    """Sentence character ranges: breaks after . ! ? followed by space and an upper-case letter
    or digit (small models answer far better about one sentence than about an abstract)."""
    out, start = [], 0
    for m in re.finditer(r"[.!?]\s+(?=[A-Z0-9])", text):
        out.append((start, m.start() + 1))
        start = m.end()
    if text[start:].strip():
        out.append((start, len(text.rstrip())))
    return out


def parse_names(reply: str) -> list[str]:
    """Names in a reply ``"a | b | c"`` (or ``none``); stray quotes, bullets and end dots dropped."""
    reply = reply.strip()
    if not reply or reply.lower().strip(" .") in ("none", "no", "n/a"):
        return []
    out = []
    for part in re.split(r"\s*\|\s*|\s*;\s*", reply):
        p = part.strip().strip("\"'`*-•").strip().rstrip(".,:")
        if p and p.lower() != "none":
            out.append(p)
    return list(dict.fromkeys(out))


def find_name(text: str, name: str) -> list[tuple[int, int]]:
    """Every case-insensitive occurrence of ``name`` in ``text`` (whitespace-flexible)."""
    pat = r"\s+".join(re.escape(w) for w in name.split())
    return [(m.start(), m.end()) for m in re.finditer(pat, text, flags=re.IGNORECASE)] if pat else []


@dataclass
class LLMSpanSource:
    """Spans an LLM names.

    Args:
        backend: an LLM backend (e.g. ``LlamaCppBackend(max_tokens=96)``).
        label: the entity type asked for.
        cache: SQLite cache path (``":memory:"`` for throw-away).
        name: source name.
        noun: how the prompt calls the entities (default ``"disease, syndrome or disorder"``).
        demos: demonstrations (text, names); default the hand-written ones for ``label``.

    Attributes:
        stats: calls, cached, rejected names (not in the text), accepted names, seconds, errors.
    """

    backend: Backend
    label: str = "Disease"
    cache: str | Path = ":memory:"
    name: str = "llm"
    noun: str = "disease, syndrome or disorder"
    demos: Sequence[tuple[str, Sequence[str]]] | None = None
    stats: dict = field(default_factory=lambda: {"calls": 0, "cached": 0, "accepted": 0, "rejected": 0,
                                                 "errors": 0, "seconds": 0.0})

    def __post_init__(self) -> None:
        self._cache = AnswerCache(self.cache)
        if self.demos is None:
            self.demos = DEFAULT_DEMOS.get(self.label, ())

    def prefix(self) -> str:
        lines = [f"List every {self.noun} name mentioned in the text, copied exactly as written. "
                 f"Separate names with ' | '. Answer 'none' if there is none.", ""]
        for text, names in self.demos:
            lines += [f"Text: {one_line(text)}", f"Names: {' | '.join(names) if names else 'none'}", ""]
        return "\n".join(lines) + "\n"

    def prompt(self, text: str) -> RenderedPrompt:
        return RenderedPrompt(self.prefix(), f"Text: {one_line(text)}\nNames:")

    def _key(self, text: str) -> tuple[RenderedPrompt, dict, str]:
        """(prompt, parameters, cache key) of one sentence ``text``."""
        p = self.prompt(text)
        params = {**self.backend.params("generation"), "task": PROMPT_VERSION}
        return p, params, cache_key(self.backend.model_id, params, p.text)

    def cache_keys(self, docs: Sequence[SpanDoc]) -> list[str]:
        """The distinct cache keys of every prompt :meth:`find` sends for ``docs`` (one per sentence), in order."""
        return list(dict.fromkeys(self._key(d.text[a:b])[2] for d in docs for a, b in sentences(d.text)))

    def cached(self, keys: Sequence[str]) -> set[str]:
        """Those of ``keys`` whose answer is in the cache."""
        return set(self._cache.get_many(keys))

    def reply(self, text: str, doc_id: str = "") -> str | None:
        """The model's raw reply for one sentence ``text`` (cached), None when the call failed."""
        p, params, key = self._key(text)
        row = self._cache.get(key)
        if row is not None:
            self.stats["cached"] += 1
            return row.raw_text or ""
        t0 = time.perf_counter()
        try:
            r = self.backend.generate(p)
        except LLMError:
            self.stats["errors"] += 1
            return None
        self.stats["calls"] += 1
        self.stats["seconds"] += time.perf_counter() - t0
        self._cache.put(CachedAnswer(key=key, model=self.backend.model_id, params=params, prompt=p.text,
                                     mode="generation", raw_text=r.text, dist=None, tokens_in=r.tokens_in,
                                     tokens_out=r.tokens_out, seconds=r.seconds, status=r.status,
                                     extra={"doc": doc_id}))
        return r.text

    def find(self, doc: SpanDoc) -> list[Span]:
        """Ask about each sentence; a name marks its occurrences in that sentence."""
        spans = []
        offs = tokenize(doc.text)
        for a, b in sentences(doc.text):
            text = self.reply(doc.text[a:b], doc.id)
            if text is None:
                continue
            for nm in parse_names(text):
                hits = [Span(a + s, a + e, self.label, self.name) for s, e in find_name(doc.text[a:b], nm)]
                hits = snap_to_tokens(hits, offs)
                self.stats["accepted" if hits else "rejected"] += 1
                spans += hits
        return longest_non_overlapping(spans)
