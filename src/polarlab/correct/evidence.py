"""Rule evidence: the sources that fired on an example, one readable sentence each."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from ..errors import InputError
from ..task import Task


def answer_word_task(task: Task) -> Task:
    """``task`` with its answer words as label names, so that ``source.describe`` speaks the
    words the LLM answers with (e.g. TREC's ``ENTY`` → ``entity``). Unchanged when the task has
    no verbalizers or they are not distinct."""
    words = task.answer_words
    if task.verbalizers is None or len(set(words)) != len(words):
        return task
    return Task(labels=words, kind=task.kind, instruction=task.instruction, name=task.name,
                text_column=task.text_column, entity_columns=task.entity_columns)


def generic_sentence(name: str, task: Task, label: int) -> str:
    """The sentence for a matrix column without a source object (e.g. stored votes)."""
    return f"Source '{name}' says {task.labels[label]}."


def describe_vote(source: Any | None, name: str, task: Task, label: int,
                  fallback_task: Task | None = None) -> str:
    """``source.describe(task, label)``, or :func:`generic_sentence` when there is no source
    object or it has no ``describe``.

    A source that cannot describe itself with ``task`` (e.g. a dictionary whose terms name
    labels that the answer-word task does not know) is asked again with ``fallback_task``."""
    if source is not None and hasattr(source, "describe"):
        if fallback_task is None:
            return str(source.describe(task, label))
        try:
            return str(source.describe(task, label))
        except (InputError, ValueError, KeyError):
            return str(source.describe(fallback_task, label))
    return generic_sentence(name, task, label)


def rule_evidence(votes: np.ndarray, names: Sequence[str], sources: Mapping[str, Any], task: Task,
                  *, skip: Sequence[str] = (), max_lines: int = 8,
                  fallback_task: Task | None = None) -> tuple[str, ...]:
    """Evidence lines for one example.

    Parameters:
        votes: shape (m,), the example's row of the label matrix (-1 = abstain).
        names: the m source names (matrix column order).
        sources: name -> source object (``describe``); names missing here get a generic sentence.
        task: the task whose label words the sentences use (see :func:`answer_word_task`).
        skip: columns never shown (the LLM being corrected).
        max_lines: at most this many lines (matrix column order; duplicates dropped first).
        fallback_task: the task to describe with when a source fails with ``task`` (the real task
            when ``task`` is :func:`answer_word_task`).

    Returns:
        the sentences of the sources that voted, in column order; () when none fired.
    """
    out: list[str] = []
    for name, v in zip(names, np.asarray(votes).tolist()):
        if v < 0 or name in skip:
            continue
        s = describe_vote(sources.get(name), name, task, int(v), fallback_task)
        if s not in out:
            out.append(s)
    return tuple(out[:max_lines])
