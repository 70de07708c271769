"""Correction strategies: what a re-ask puts in the prompt (or the no-call harmonizer fallback).

A *strategy* is one or more *components* joined with ``+``; a *strategy list* separates
strategies with ``,``. Each strategy in a list is evaluated separately, from the same start;
the components of one strategy go into one request::

    "verify"                     self-verification alone
    "evidence+fewshot"           one request with rule evidence and auto few-shot demonstrations
    "verify,evidence,harmonizer" three strategies, evaluated separately

Components (CLI names):

``verify``      show the model its previous answer (``PromptRequest.previous_answer``) and ask it
                to confirm or revise it (self-verification).
``evidence``    the sources that fired on the example, one readable sentence each
                (``source.describe``), as ``PromptRequest.evidence`` (POLAR's dynamic
                self-supervision).
``fewshot``     demonstrations sampled from the training split by POLAR score, labelled by the
                harmonizer: per class, "confirmed" (LLM agrees with h, low risk) and "hard"
                (high LLM risk, h confident) examples (``PromptRequest.few_shot``).
``retrieval``   the k nearest confident training examples (cosine on the features) with their
                harmonized labels, as demonstrations (default) or evidence lines.
``harmonizer``  no LLM call: take the harmonizer's label (argmax h(x)) for the selected rows.
                Cannot be combined with the others.

The components come from a registry (:mod:`polarlab.correct.components`); a plugin adds one with
:func:`~polarlab.correct.components.register_correction_component`. A component that asks no LLM
(like ``harmonizer``) cannot be combined with another.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from ..errors import ConfigError
from .components import CORRECTION_COMPONENTS, CorrectionComponent, find_component


@dataclass(frozen=True)
class Strategy:
    """One correction strategy: a set of components asked in one request.

    Attributes:
        parts: the components' names, in canonical order (the registration order of
            :data:`~polarlab.correct.components.CORRECTION_COMPONENTS`).
    """

    parts: tuple[str, ...]

    def __post_init__(self) -> None:
        parts = []
        for p in self.parts:
            c = find_component(p)
            if c is None:
                raise ConfigError(f"unknown correction strategy {p!r}", column="correct",
                                  fix=f"use one of {list(CORRECTION_COMPONENTS)}, joined with '+' to combine "
                                      "(e.g. evidence+fewshot) and ',' to list several")
            parts.append(c.name)
        if not parts:
            raise ConfigError("empty correction strategy", column="correct",
                              fix="name a strategy, e.g. verify")
        alone = [p for p in dict.fromkeys(parts) if not CORRECTION_COMPONENTS[p].asks_llm]
        if alone and len(set(parts)) > 1:
            raise ConfigError(f"{alone[0]!r} cannot be combined with {sorted(set(parts) - {alone[0]})}",
                              column="correct",
                              fix=f"list it as a separate strategy: e.g. --correct evidence,{alone[0]}")
        object.__setattr__(self, "parts", tuple(c for c in CORRECTION_COMPONENTS if c in set(parts)))

    @property
    def components(self) -> tuple[CorrectionComponent, ...]:
        """The registered components, in canonical order."""
        return tuple(CORRECTION_COMPONENTS[p] for p in self.parts)

    @property
    def name(self) -> str:
        """Canonical name, components joined with ``+`` (e.g. ``"evidence+fewshot"``)."""
        return "+".join(self.parts)

    @property
    def asks_llm(self) -> bool:
        """False for a strategy that answers without the LLM (``harmonizer``)."""
        return any(c.asks_llm for c in self.components)

    def answer_without_llm(self, proba: np.ndarray) -> np.ndarray:
        """The labels (b,) of a no-LLM strategy from h(x) of the selected rows, ``proba`` (b, k)."""
        if self.asks_llm:
            raise ConfigError(f"strategy {self.name!r} asks the LLM", column="correct",
                              fix="answer_without_llm is for strategies such as harmonizer")
        return np.asarray(self.components[0].answer(proba), dtype=np.int64)

    def __contains__(self, part: str) -> bool:
        return part in self.parts

    def __str__(self) -> str:
        return self.name

    @staticmethod
    def parse(spec: "str | Strategy") -> "Strategy":
        """``"evidence+fewshot"`` → Strategy(("evidence", "fewshot"))."""
        if isinstance(spec, Strategy):
            return spec
        return Strategy(tuple(p for p in str(spec).split("+") if p.strip()))


def parse_strategies(spec: str | Sequence[str | Strategy] | Iterable[str | Strategy]) -> list[Strategy]:
    """A strategy list: ``"verify,evidence+fewshot"`` or a sequence of strategy specs.

    Duplicates (same components) are dropped, the first occurrence kept.

    Raises:
        ConfigError: an unknown component, an empty list, ``harmonizer`` combined with another.
    """
    items = [s for s in spec.split(",")] if isinstance(spec, str) else list(spec)
    out: list[Strategy] = []
    for s in items:
        if isinstance(s, str) and not s.strip():
            continue
        st = Strategy.parse(s)
        if st not in out:
            out.append(st)
    if not out:
        raise ConfigError("no correction strategy given", column="correct",
                          fix=f"name one or more of {list(CORRECTION_COMPONENTS)}, e.g. --correct verify,harmonizer")
    return out
