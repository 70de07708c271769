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
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

from ..errors import ConfigError

#: Components, in the order they appear in a canonical strategy name.
COMPONENTS = ("verify", "evidence", "fewshot", "retrieval", "harmonizer")
#: Components that ask the LLM.
LLM_COMPONENTS = frozenset({"verify", "evidence", "fewshot", "retrieval"})
_ALIASES = {"few-shot": "fewshot", "few_shot": "fewshot", "self-verify": "verify",
            "self_verify": "verify", "rules": "evidence", "knn": "retrieval"}


@dataclass(frozen=True)
class Strategy:
    """One correction strategy: a set of components asked in one request.

    Attributes:
        parts: the components, in canonical order (see :data:`COMPONENTS`).
    """

    parts: tuple[str, ...]

    def __post_init__(self) -> None:
        parts = []
        for p in self.parts:
            q = _ALIASES.get(p.strip().lower(), p.strip().lower())
            if q not in COMPONENTS:
                raise ConfigError(f"unknown correction strategy {p!r}", column="correct",
                                  fix=f"use one of {list(COMPONENTS)}, joined with '+' to combine "
                                      "(e.g. evidence+fewshot) and ',' to list several")
            parts.append(q)
        if not parts:
            raise ConfigError("empty correction strategy", column="correct",
                              fix="name a strategy, e.g. verify")
        if "harmonizer" in parts and len(set(parts)) > 1:
            raise ConfigError(f"'harmonizer' cannot be combined with {sorted(set(parts) - {'harmonizer'})}",
                              column="correct",
                              fix="list it as a separate strategy: e.g. --correct evidence,harmonizer")
        object.__setattr__(self, "parts", tuple(c for c in COMPONENTS if c in set(parts)))

    @property
    def name(self) -> str:
        """Canonical name, components joined with ``+`` (e.g. ``"evidence+fewshot"``)."""
        return "+".join(self.parts)

    @property
    def asks_llm(self) -> bool:
        """False only for the ``harmonizer`` strategy (no LLM call)."""
        return bool(LLM_COMPONENTS & set(self.parts))

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
                          fix=f"name one or more of {list(COMPONENTS)}, e.g. --correct verify,harmonizer")
    return out
