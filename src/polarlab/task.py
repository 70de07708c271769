"""The labeling task: what the labels are, what the inputs are, how to ask an LLM."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from .errors import ConfigError

TaskKind = Literal["text", "relation"]
from .constants import ABSTAIN  # noqa: E402  (defined once)


@dataclass(frozen=True)
class Task:
    """A classification task.

    Attributes:
        labels: class names; class ``i`` is ``labels[i]``.
        kind: ``"text"`` (classify the text) or ``"relation"`` (classify the relation
            between ``entity1`` and ``entity2`` in the text).
        instruction: one sentence telling an LLM what to decide.
        name: a short name used in reports and cache keys.
        text_column: input column holding the text (when loading tables).
        entity_columns: input columns holding entity1/entity2 (relation tasks).
        verbalizers: optional words an LLM should answer for each label
            (defaults to the label names).
    """

    labels: tuple[str, ...]
    kind: TaskKind = "text"
    instruction: str = ""
    name: str = "task"
    text_column: str = "text"
    entity_columns: tuple[str, str] = ("entity1", "entity2")
    verbalizers: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        labels = tuple(str(x) for x in self.labels)
        object.__setattr__(self, "labels", labels)
        if len(labels) < 2:
            raise ConfigError("a task needs at least two labels", column="labels",
                              fix="list every class name, e.g. labels = [\"ham\", \"spam\"]")
        if len(set(labels)) != len(labels):
            raise ConfigError(f"duplicate label names in {list(labels)}", column="labels",
                              fix="give every class a distinct name")
        from .tasks import TASK_KINDS, known_kinds

        if self.kind not in TASK_KINDS:
            raise ConfigError(f"unknown task kind {self.kind!r}", column="kind",
                              fix=f"use one of {known_kinds()}")
        if self.verbalizers is not None:
            verbs = tuple(str(v) for v in self.verbalizers)
            object.__setattr__(self, "verbalizers", verbs)
            if len(verbs) != len(labels):
                raise ConfigError(f"{len(verbs)} verbalizers for {len(labels)} labels",
                                  column="verbalizers", fix="give one verbalizer per label")
        if not self.instruction:
            object.__setattr__(self, "instruction", self.kind_spec.default_instruction)

    @property
    def kind_spec(self):
        """The :class:`polarlab.tasks.TaskKind` object of ``kind``."""
        from .tasks import task_kind

        return task_kind(self.kind)

    @property
    def n_classes(self) -> int:
        return len(self.labels)

    @property
    def answer_words(self) -> tuple[str, ...]:
        """The word an LLM answers for each label (verbalizers, else label names)."""
        return self.verbalizers or self.labels

    def label_index(self, value: object, *, file: str | None = None,
                    row: int | str | None = None, column: str | None = None) -> int:
        """Map a label given as index or name to its index; ``ABSTAIN`` stays ``-1``.

        Raises:
            ConfigError: the value is neither a valid index nor a label name.
        """
        if isinstance(value, np.integer):
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            if value == ABSTAIN or 0 <= value < self.n_classes:
                return int(value)
        elif isinstance(value, str):
            if value in self.labels:
                return self.labels.index(value)
            low = [x.lower() for x in self.labels]
            if value.lower() in low:
                return low.index(value.lower())
            if value.strip().lstrip("-").isdecimal():        # not "²", which int() refuses
                return self.label_index(int(value), file=file, row=row, column=column)
        import difflib

        guess = difflib.get_close_matches(str(value), list(self.labels), n=1, cutoff=0.6)
        raise ConfigError(f"label {value!r} is not one of {list(self.labels)}", file=file, row=row,
                          column=column, fix=(f"did you mean {guess[0]!r}? " if guess else "")
                          + f"use a label name or an index 0..{self.n_classes - 1}")

    @staticmethod
    def from_dict(d: dict) -> "Task":
        """Build a task from the ``[task]`` table of a project file."""
        known = {"labels", "kind", "instruction", "name", "text_column", "entity_columns", "verbalizers"}
        unknown = set(d) - known
        if unknown:
            raise ConfigError(f"unknown key(s) {sorted(unknown)} in [task]", column="task",
                              fix=f"use only {sorted(known)}")
        if "labels" not in d:
            raise ConfigError("[task] has no labels", column="task.labels",
                              fix="add labels = [\"neg\", \"pos\"]")
        kw = dict(d)
        kw["labels"] = tuple(kw["labels"])
        if "entity_columns" in kw:
            kw["entity_columns"] = tuple(kw["entity_columns"])
        if "verbalizers" in kw:
            kw["verbalizers"] = tuple(kw["verbalizers"])
        return Task(**kw)
