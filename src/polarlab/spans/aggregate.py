"""Span label models: token votes → token tag distributions → BIO-valid spans.

Registry :data:`SPAN_MODELS`: ``"majority"`` (skweak's convention for sequence labelling: a
source that does not fire on a token says "nothing found", not "O", so O wins only where no
source fires and the entity tags are voted among the sources that fire — a union with plurality
over B-/I-/types), ``"majority_plain"`` (plain plurality with every non-firing source voting O;
an entity needs half of the sources), ``"dawid_skene"`` (token-level Dawid–Skene, crowd-kit EM, then Viterbi under BIO
constraints: a label model that knows spans), ``"polar_spans"`` (:class:`~.span_harmonize.SpanLevelHarmonizer`,
the POLAR harmonizer over candidate spans, the default harmonizer) and ``"polar"``
(:class:`~.harmonize.SpanHarmonizer`, the POLAR harmonizer on token features), and ``"polar_auto"``
(:class:`~.span_harmonize.LevelChoice`: both, the one that agrees best with held-out sources, or
majority vote; the default). The first three have
``fit(votes, X)`` and ``predict_proba(votes, X)`` (N, k); the harmonizers have ``fit(votes, X)`` and
``predict_spans(votes, X)`` (spans and P(span exactly right) per document).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from ..labelmodels.dawid_skene import DawidSkene
from ..labelmodels.majority import MajorityVote
from .decode import span_probability, viterbi
from .types import Span
from .votes import SpanVotes


class MajoritySpans:
    """Plurality of token votes (ties: an entity tag beats O).

    Args:
        o_votes: ``"when_silent"`` (skweak's convention: O votes count only on tokens where no
            source fires) or ``"always"`` (plain plurality).
    """

    decode = "argmax"

    def __init__(self, o_votes: str = "when_silent") -> None:
        self.o_votes = o_votes

    def fit(self, votes: SpanVotes, X: np.ndarray | None = None) -> "MajoritySpans":
        return self

    def predict_proba(self, votes: SpanVotes, X: np.ndarray | None = None) -> np.ndarray:
        L = votes.L
        if self.o_votes == "when_silent":
            L = np.where((L == 0) & (L > 0).any(axis=1, keepdims=True), -1, L)
        return MajorityVote(votes.k).fit(L).predict_proba(L)


class DawidSkeneSpans:
    """Token-level Dawid–Skene (EM over the sources' BIO votes); decoded by BIO Viterbi."""

    decode = "viterbi"

    def __init__(self, n_iter: int = 50) -> None:
        self.n_iter = n_iter

    def fit(self, votes: SpanVotes, X: np.ndarray | None = None) -> "DawidSkeneSpans":
        self.model_ = DawidSkene(votes.k, n_iter=self.n_iter).fit(votes.L)
        return self

    def predict_proba(self, votes: SpanVotes, X: np.ndarray | None = None) -> np.ndarray:
        return self.model_.predict_proba(votes.L)


def decode_tags(proba: np.ndarray, votes: SpanVotes, how: str) -> np.ndarray:
    """Tags of every token, shape (N,): ``"viterbi"`` per document, or ``"argmax"`` with ties
    going to the non-O tag of highest probability."""
    if how == "argmax":
        bonus = np.zeros(proba.shape[1])
        bonus[1:] = 1e-9
        return (proba + bonus).argmax(axis=1)
    tags = np.zeros(proba.shape[0], dtype=np.int64)
    for i in range(len(votes.docs)):
        r = votes.rows(i)
        tags[r] = viterbi(proba[r])
    return tags


def spans_with_probability(proba: np.ndarray, votes: SpanVotes, how: str, source: str
                           ) -> tuple[list[list[Span]], list[np.ndarray]]:
    """Decoded spans per document and, for each, P(span exactly right) under ``proba``."""
    spans = votes.decode(decode_tags(proba, votes, how), source)
    probs = [np.array([span_probability(proba[votes.rows(i)], votes.offsets[i], s, votes.types)
                       for s in sorted(spans[i])]) for i in range(len(spans))]
    return [sorted(s) for s in spans], probs


def _polar(**kw):
    from .harmonize import SpanHarmonizer
    return SpanHarmonizer(**kw)


def _polar_auto(**kw):
    from .span_harmonize import LevelChoice
    return LevelChoice(**kw)


def _polar_spans(**kw):
    from .span_harmonize import SpanLevelHarmonizer
    return SpanLevelHarmonizer(**kw)


SPAN_MODELS: dict[str, Callable[..., object]] = {
    "majority": MajoritySpans,
    "majority_plain": lambda: MajoritySpans("always"),
    "dawid_skene": DawidSkeneSpans,
    "polar": _polar,
    "polar_spans": _polar_spans,
    "polar_auto": _polar_auto,
}

#: ``[harmonizer] level`` → the harmonizer of :data:`SPAN_MODELS` it runs.
HARMONIZER_LEVELS = {"auto": "polar_auto", "span": "polar_spans", "token": "polar"}
