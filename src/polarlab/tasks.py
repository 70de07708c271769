"""Task kinds: what an example is made of, and how it is shown to an LLM. One object per kind, in a registry.

Code that depends on the kind asks the kind object (``task_kind(task.kind)``) instead of testing
``task.kind == "relation"``; a new kind (mention linking, query–passage relevance) registers itself::

    register_task_kind(TaskKind(name="relevance", default_instruction="Is the passage relevant to the query?",
                                entity_roles=("query",), prompt_lines=lambda ex: f"Query: {ex.entity1}\\n"))
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from .text import one_line


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
    return f"Entity 1: {one_line(ex.entity1 or '')}\nEntity 2: {one_line(ex.entity2 or '')}\n"


TASK_KINDS: dict[str, TaskKind] = {}


def register_task_kind(kind: TaskKind) -> None:
    """Make ``[task] kind = kind.name`` available (replaces an earlier registration of the name)."""
    TASK_KINDS[kind.name] = kind


def task_kind(name: str) -> TaskKind:
    """The registered kind ``name`` (KeyError when unknown; :class:`polarlab.task.Task` validates first)."""
    return TASK_KINDS[name]


#: Task kinds whose projects run with a runner of their own rather than the classification stage list:
#: kind -> "module:function", imported on first use. The function is
#: ``run_project(path: Path, output_dir: Path | None, progress: bool) -> dict[str, Path]`` (files written).
PROJECT_RUNNERS: dict[str, str] = {}


def register_project_runner(kind: str, target: str) -> None:
    """Make ``polarlab run`` hand a project with ``[task] kind = kind`` to ``target`` ("module:function")."""
    PROJECT_RUNNERS[kind] = target


def known_kinds() -> list[str]:
    """Every ``[task] kind`` a project file may name: the registered task kinds and the kinds with a runner of
    their own (linking, relevance, spans)."""
    return sorted(set(TASK_KINDS) | set(PROJECT_RUNNERS))


def project_runner(kind: str | None) -> Callable[..., dict] | None:
    """The runner registered for ``kind``, or None (the kind runs through the stage list)."""
    import importlib

    target = PROJECT_RUNNERS.get(kind or "")
    if target is None:
        return None
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


#: Task kinds with a runner of their own -> "module:attribute" of their :class:`polarlab.jobs.kind.JobKind`: how
#: ``polarlab status``, ``report`` and ``export`` read such a project (imported on first use).
PROJECT_JOBS: dict[str, str] = {}


def register_project_job(kind: str, target: str) -> None:
    """Make ``polarlab status`` / ``report`` / ``export`` read a ``[task] kind = kind`` project through ``target``
    ("module:attribute", a :class:`polarlab.jobs.kind.JobKind`)."""
    PROJECT_JOBS[kind] = target


def project_job(kind: str | None) -> Any:
    """The :class:`polarlab.jobs.kind.JobKind` registered for ``kind``, or None (a classification kind)."""
    import importlib

    target = PROJECT_JOBS.get(kind or "")
    if target is None:
        return None
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


register_project_runner("linking", "polarlab.linking.run:run_project")
register_project_runner("relevance", "polarlab.relevance.experiment:run_project")
register_project_runner("spans", "polarlab.spans.run:run_project")
register_project_job("linking", "polarlab.linking.job:JOB")
register_project_job("relevance", "polarlab.relevance.job:JOB")
register_project_job("spans", "polarlab.spans.job:JOB")

register_task_kind(TaskKind("text", "Classify the text into one of the labels."))
register_task_kind(TaskKind("relation", "Classify the relation between the two marked entities into one of the labels.",
                            uses_entities=True, prompt_lines=_entity_lines))
