"""Named-entity spans from rules, ontologies and LLMs (task kind ``spans``).

Documents in (PubTator, CoNLL, JSONL), typed character spans out. Sources propose spans
(:mod:`.sources`); one tokenizer turns them into token BIO votes (:mod:`.votes`); majority vote,
token-level Dawid–Skene and the POLAR span harmonizer (:mod:`.harmonize`, with its majority-vote
fallback) aggregate them; every output span gets a probability and a POLAR risk; the riskiest
can be re-checked by the LLM (:mod:`.correct`) and go to the review queue (:mod:`.review`).
:func:`run_spans` runs it all from a :class:`SpansConfig`.
"""
from .config import SpansConfig
from .correct import spans_by_risk, verify_spans
from .evaluate import span_scores
from .io import read_conll, read_jsonl, read_pubtator, write_conll, write_jsonl, write_pubtator
from .review import queue_spans, reviewed_spans
from .run import run_spans
from .tokenize import spans_to_tags, tags_to_spans, tokenize
from .types import Span, SpanDoc
from .votes import SpanVotes, apply_span_sources

__all__ = ["Span", "SpanDoc", "SpanVotes", "SpansConfig", "apply_span_sources", "queue_spans", "read_conll",
           "read_jsonl", "read_pubtator", "reviewed_spans", "run_spans", "span_scores", "spans_by_risk",
           "spans_to_tags", "tags_to_spans", "tokenize", "verify_spans", "write_conll", "write_jsonl", "write_pubtator"]
