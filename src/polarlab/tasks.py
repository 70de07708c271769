"""Task kinds: what an example is made of, and how it is shown to an LLM. One object per kind, in a registry.

Code that depends on the kind asks the kind object (``task_kind(task.kind)``) instead of testing
``task.kind == "relation"``; a new kind (mention linking, query–passage relevance) registers itself::

    register_task_kind(TaskKind(name="relevance", default_instruction="Is the passage relevant to the query?",
                                entity_roles=("query",), prompt_lines=lambda ex: f"Query: {ex.entity1}\\n"))
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


@dataclass(frozen=True)
class TaskKind:
    """A kind of classification task.

    Attributes:
        name: the ``[task] kind`` value.
        default_instruction: the LLM instruction when the project gives none.
        uses_entities: examples carry ``entity1``/``entity2`` (loaders require the task's entity columns).
        prompt_lines: extra lines shown after ``Text:`` in a prompt, from an :class:`polarlab.data.Example`.
    """

    name: str
    default_instruction: str
    uses_entities: bool = False
    prompt_lines: Callable[[Any], str] = lambda ex: ""


def _entity_lines(ex: Any) -> str:
    return f"Entity 1: {_one_line(ex.entity1 or '')}\nEntity 2: {_one_line(ex.entity2 or '')}\n"


TASK_KINDS: dict[str, TaskKind] = {}


def register_task_kind(kind: TaskKind) -> None:
    """Make ``[task] kind = kind.name`` available (replaces an earlier registration of the name)."""
    TASK_KINDS[kind.name] = kind


def task_kind(name: str) -> TaskKind:
    """The registered kind ``name`` (KeyError when unknown; :class:`polarlab.task.Task` validates first)."""
    return TASK_KINDS[name]


register_task_kind(TaskKind("text", "Classify the text into one of the labels."))
register_task_kind(TaskKind("relation", "Classify the relation between the two marked entities into one of the labels.",
                            uses_entities=True, prompt_lines=_entity_lines))
