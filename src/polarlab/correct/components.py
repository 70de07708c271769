"""Correction components by name: what each puts in a re-ask prompt, or how it answers without the LLM.

A strategy (:mod:`polarlab.correct.strategy`) is a set of components joined with ``+``. The built-ins
(``verify``, ``evidence``, ``fewshot``, ``retrieval``, ``harmonizer``) are registered below, in their
canonical order; a plugin adds one without editing polarlab::

    from polarlab.correct.components import CorrectionComponent, register_correction_component

    def shout(batch):                       # once per batch of re-asked rows
        def add(r, i, prompt):              # then once per row: edit its prompt parts
            prompt.evidence += ("Answer in capitals.",)
        return add

    register_correction_component(CorrectionComponent("shout", prepare=shout))

after which ``strategy = "shout"`` or ``"evidence+shout"`` works in ``[correct]`` and ``--correct``
(or list a function doing that under the ``polarlab.plugins`` entry-point group, :mod:`polarlab.plugins`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Sequence

import numpy as np

from ..data.dataset import Dataset, Example
from ..matrix.label_matrix import LabelMatrix
from ..task import Task
from .config import CorrectionConfig
from .evidence import answer_word_task, rule_evidence
from .fewshot import auto_few_shot
from .pool import DemoPool
from .retrieval import nearest_confident, retrieved_evidence, retrieved_few_shot


@dataclass
class Batch:
    """What the components of a strategy see of the rows being re-asked (see ``build_requests``).

    Attributes:
        rows: shape (b,), positions in ``data``.  previous: shape (n,), the LLM's current answers.
        matrix: the n-row label matrix or None.  X: shape (n, d) or None.  pool: the demonstration pool or None.
        pool_rows: shape (n,) pool position of each row (-1 = not in the pool) or None.
    """

    rows: np.ndarray
    data: Dataset
    task: Task
    previous: np.ndarray
    config: CorrectionConfig
    matrix: LabelMatrix | None = None
    sources: Mapping[str, Any] = field(default_factory=dict)
    skip_columns: Sequence[str] = ()
    X: np.ndarray | None = None
    pool: DemoPool | None = None
    pool_rows: np.ndarray | None = None


@dataclass
class PromptParts:
    """The parts of one row's re-ask prompt that components edit (then a ``PromptRequest``)."""

    few_shot: tuple[tuple[Example, int], ...] = ()
    evidence: tuple[str, ...] = ()
    previous_answer: int | None = None


RowEditor = Callable[[int, int, PromptParts], None]
"""``add(r, i, parts)``: edit the prompt of the r-th re-asked row (row ``i`` of the data)."""


@dataclass(frozen=True)
class CorrectionComponent:
    """One correction component.

    Attributes:
        name: its name in strategies (case-insensitive; stored in lower case).
        prepare: ``prepare(batch) -> add``, for a component that edits the prompt (batch-level work such
            as choosing demonstrations happens here once). None for a component that asks no LLM.
        answer: ``answer(proba (b, k)) -> labels (b,)``, for a component that answers without the LLM from
            the harmonizer's h(x) of the selected rows (``harmonizer``). Exactly one of prepare/answer.
        needs: inputs the component reads: any of ``"pool"``, ``"matrix"``, ``"X"``.
        aliases: other accepted spellings.
    """

    name: str
    prepare: Optional[Callable[[Batch], RowEditor]] = None
    answer: Optional[Callable[[np.ndarray], np.ndarray]] = None
    needs: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", self.name.strip().lower())
        object.__setattr__(self, "aliases", tuple(a.strip().lower() for a in self.aliases))
        if not self.name or any(c in self.name for c in "+,"):
            raise TypeError(f"correction component name {self.name!r}: give a word without '+' or ','")
        if (self.prepare is None) == (self.answer is None):
            raise TypeError(f"correction component {self.name!r}: give exactly one of prepare= (edits the prompt) "
                            "or answer= (answers without the LLM)")
        bad = set(self.needs) - set(NEEDS)
        if bad:
            raise TypeError(f"correction component {self.name!r}: unknown needs {sorted(bad)}; use {list(NEEDS)}")

    @property
    def asks_llm(self) -> bool:
        return self.prepare is not None


#: What a component may need, and the message when it is missing.
NEEDS = {"pool": ("a demonstration pool", "pool", "pass pool=DemoPool(train data, X, h(x), LLM votes)"),
         "matrix": ("the label matrix of the rows", "matrix", "pass the LabelMatrix the risk was computed from"),
         "X": ("the features of the rows", "X", "pass X (the features the harmonizer used)")}

#: name -> component, in canonical order (registration order).
CORRECTION_COMPONENTS: dict[str, CorrectionComponent] = {}


def register_correction_component(component: CorrectionComponent) -> None:
    """Make ``component.name`` (and its aliases) usable in correction strategies (replaces an earlier one)."""
    CORRECTION_COMPONENTS[component.name] = component


def find_component(name: str) -> CorrectionComponent | None:
    """The component called ``name`` or one of its aliases (case-insensitive), or None."""
    key = name.strip().lower()
    if key in CORRECTION_COMPONENTS:
        return CORRECTION_COMPONENTS[key]
    return next((c for c in CORRECTION_COMPONENTS.values() if key in c.aliases), None)


# -- the built-ins ----------------------------------------------------------------------------------------
def _verify(b: Batch) -> RowEditor:
    """Show the model its previous answer and ask it to confirm or revise it (self-verification)."""
    def add(r: int, i: int, parts: PromptParts) -> None:
        if b.previous[i] >= 0:
            parts.previous_answer = int(b.previous[i])
    return add


def _evidence(b: Batch) -> RowEditor:
    """The sources that fired on the example, one readable sentence each (``source.describe``)."""
    words_task = answer_word_task(b.task)

    def add(r: int, i: int, parts: PromptParts) -> None:
        parts.evidence += rule_evidence(b.matrix.L[i], b.matrix.names, b.sources, words_task, skip=b.skip_columns,
                                        max_lines=b.config.max_evidence, fallback_task=b.task)
    return add


def _fewshot(b: Batch) -> RowEditor:
    """Demonstrations sampled from the pool by POLAR score, labelled by the harmonizer (the same for all rows)."""
    shots = auto_few_shot(b.pool, b.task.n_classes, b.config)

    def add(r: int, i: int, parts: PromptParts) -> None:
        parts.few_shot += shots
    return add


def _retrieval(b: Batch) -> RowEditor:
    """The k nearest confident pool examples with their harmonized labels (demonstrations or evidence)."""
    exclude = None if b.pool_rows is None else np.asarray(b.pool_rows, dtype=np.int64)[b.rows]
    neighbours = nearest_confident(b.pool, np.asarray(b.X)[b.rows], b.config.retrieval_k, b.config.confident,
                                   exclude=exclude)

    def add(r: int, i: int, parts: PromptParts) -> None:
        if b.config.retrieval_as == "few_shot":
            parts.few_shot += retrieved_few_shot(b.pool, neighbours[r], b.config)
        else:
            parts.evidence += retrieved_evidence(b.pool, neighbours[r], b.task, b.config)
    return add


def _harmonizer(proba: np.ndarray) -> np.ndarray:
    """No LLM call: the harmonizer's label, argmax h(x)."""
    return np.asarray(proba).argmax(axis=1)


for _c in (CorrectionComponent("verify", prepare=_verify, aliases=("self-verify", "self_verify")),
           CorrectionComponent("evidence", prepare=_evidence, needs=("matrix",), aliases=("rules",)),
           CorrectionComponent("fewshot", prepare=_fewshot, needs=("pool",), aliases=("few-shot", "few_shot")),
           CorrectionComponent("retrieval", prepare=_retrieval, needs=("pool", "X"), aliases=("knn",)),
           CorrectionComponent("harmonizer", answer=_harmonizer)):
    register_correction_component(_c)
