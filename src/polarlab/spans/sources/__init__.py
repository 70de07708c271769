"""Span sources: dictionaries/ontologies, regexes, Python span functions, LLMs."""
from .base import SpanSource, longest_non_overlapping, snap_to_tokens
from .dictionary import DictionarySpanSource, disease_ontology_names, plural_variants
from .llm import LLMSpanSource, parse_names
from .rules import RegexSpanSource, SpanFunction, span_function

__all__ = ["SpanSource", "DictionarySpanSource", "RegexSpanSource", "SpanFunction", "span_function",
           "LLMSpanSource", "disease_ontology_names", "plural_variants", "parse_names",
           "snap_to_tokens", "longest_non_overlapping"]
