"""Regex span sources and Python span functions (``@span_function()``)."""
from __future__ import annotations

import re
from typing import Callable, Iterable

from ...errors import ConfigError
from ..tokenize import tokenize
from ..types import Span, SpanDoc
from .base import longest_non_overlapping, snap_to_tokens


class RegexSpanSource:
    """Spans where a regular expression matches (group ``group``; 0 = the whole match), kept
    when both ends fall on token boundaries; overlaps keep the longest."""

    def __init__(self, name: str, pattern: str, label: str, *, flags: int = 0, group: int | str = 0) -> None:
        try:
            self._re = re.compile(pattern, flags)
        except re.error as e:
            raise ConfigError(f"bad regular expression for {name!r}: {e}", column="pattern",
                              fix="fix the pattern (Python re syntax)") from None
        self.name, self.label, self.pattern, self.group = name, label, pattern, group

    def find(self, doc: SpanDoc) -> list[Span]:
        spans = [Span(m.start(self.group), m.end(self.group), self.label, self.name)
                 for m in self._re.finditer(doc.text) if m.group(self.group)]
        return longest_non_overlapping(snap_to_tokens(spans, tokenize(doc.text)))


class SpanFunction:
    """A Python function ``f(doc) -> iterable of (start, end) or (start, end, label) or Span``
    as a span source (made by :func:`span_function`)."""

    def __init__(self, fn: Callable[[SpanDoc], Iterable], name: str, label: str) -> None:
        self.fn, self.name, self.label = fn, name, label
        self.__doc__ = fn.__doc__

    def __call__(self, doc: SpanDoc):
        return self.fn(doc)

    def find(self, doc: SpanDoc) -> list[Span]:
        out = []
        for item in self.fn(doc) or ():
            if isinstance(item, Span):
                out.append(Span(item.start, item.end, item.label, self.name))
                continue
            try:
                s, e, *rest = item
                out.append(Span(int(s), int(e), str(rest[0]) if rest else self.label, self.name))
            except (TypeError, ValueError):
                raise ConfigError(f"span function {self.name!r} returned {item!r}", row=doc.id,
                                  fix="yield (start, end), (start, end, label) or Span objects") from None
        return longest_non_overlapping(snap_to_tokens(out, tokenize(doc.text)))


def span_function(name: str | None = None, label: str = "ENTITY") -> Callable[[Callable], SpanFunction]:
    """Decorator: turn ``f(doc) -> spans`` into a span source named ``name`` (default the
    function's name) proposing ``label``.

    Example::

        @span_function(label="Disease")
        def syndromes(doc):
            for m in re.finditer(r"\\b[A-Z]\\w+ syndrome\\b", doc.text):
                yield m.start(), m.end()
    """
    def wrap(fn: Callable) -> SpanFunction:
        return SpanFunction(fn, name or fn.__name__, label)
    return wrap
