"""Python labeling functions: ``@labeling_function()`` (Snorkel-style)."""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ..data.dataset import Dataset, Example
from ..errors import SourceError
from ..task import Task
from .base import ABSTAIN, SourceFailure, SourceOutput


def source_file(f: Any) -> str | None:
    """The file defining function ``f`` (for messages), or None."""
    try:
        return inspect.getsourcefile(f)
    except TypeError:
        return None


def check_vote(value: Any, task: Task, source: str, row: int, example_id: str, file: str | None = None) -> int:
    """A source's return value as a class index or -1; ``None`` means abstain.

    Label names are accepted (``"spam"``). Anything else is the source's bug, not the row's.
    ``file`` is named in the error: the file defining the source (or holding its votes).

    Raises:
        SourceError: the value is not a label of the task.
    """
    if value is None:
        return ABSTAIN
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        v = int(value)
        if v == ABSTAIN or 0 <= v < task.n_classes:
            return v
    elif isinstance(value, str) and value in task.labels:
        return task.labels.index(value)
    raise SourceError(f"source {source!r} returned {value!r}, not a label", file=file, row=row, column=source,
                      fix=f"return one of 0..{task.n_classes - 1}, a label name in {list(task.labels)}, "
                          f"or ABSTAIN (-1) (example id {example_id!r})")


@dataclass
class LabelingFunction:
    """A Python function ``f(x) -> label | ABSTAIN`` over an :class:`Example`.

    Attributes:
        name: unique source name.
        f: the function; ``x.text``, ``x.entity1``, ``x.<metadata column>`` are available.
        resources: extra keyword arguments passed to ``f``.
        pre: preprocessors ``p(x) -> x`` applied in order before ``f``.
        explain: a sentence explaining why the function votes as it does (default: its docstring).
    """

    name: str
    f: Callable[..., Any]
    resources: dict[str, Any] = field(default_factory=dict)
    pre: list[Callable[[Example], Example]] = field(default_factory=list)
    explain: str | None = None

    def __call__(self, x: Example) -> Any:
        for p in self.pre:
            x = p(x)
        return self.f(x, **self.resources)

    def apply(self, data: Dataset, task: Task) -> SourceOutput:
        votes = np.full(len(data), ABSTAIN, dtype=np.int64)
        failures: list[SourceFailure] = []
        for i, x in enumerate(data):
            try:
                value = self(x)
            except Exception as e:  # noqa: BLE001 - an LF's bug on one row is recorded, not fatal
                failures.append(SourceFailure(self.name, i, x.id, f"{type(e).__name__}: {e}"))
                continue
            votes[i] = check_vote(value, task, self.name, i, x.id, file=source_file(self.f))
        return SourceOutput(votes=votes, failures=failures)

    def describe(self, task: Task, label: int) -> str:
        why = self.explain or (self.f.__doc__ or "").strip().split("\n")[0]
        text = f"Rule '{self.name}' says {task.labels[label]}"
        return f"{text}: {why}" if why else f"{text}."


def labeling_function(name: str | None = None, resources: dict[str, Any] | None = None,
                      pre: list[Callable[[Example], Example]] | None = None,
                      explain: str | None = None) -> Callable[[Callable[..., Any]], LabelingFunction]:
    """Decorator turning ``f(x)`` into a :class:`LabelingFunction` named after ``f``.

    Example::

        @labeling_function()
        def check_out(x):
            "Spam comments ask readers to check out a link."
            return SPAM if "check out" in x.text.lower() else ABSTAIN
    """

    if callable(name) and not isinstance(name, str):
        from ..errors import ConfigError

        raise ConfigError(f"@labeling_function is used without parentheses on {getattr(name, '__name__', name)!r}",
                          file=source_file(name) if hasattr(name, "__code__") else None,
                          fix="write @labeling_function() (with parentheses), as Snorkel's decorator")

    def wrap(f: Callable[..., Any]) -> LabelingFunction:
        return LabelingFunction(name=name or f.__name__, f=f, resources=dict(resources or {}),
                                pre=list(pre or []), explain=explain)

    return wrap
