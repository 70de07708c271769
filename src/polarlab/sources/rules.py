"""Keyword and regex rules declared as data, applied to a whole column at once.

Matching runs in RE2 through ``pyarrow.compute`` (C++, no Python call per row). A pattern RE2
cannot compile (look-arounds, back-references) falls back to Python's ``re``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ..data.dataset import Dataset
from ..errors import ConfigError
from ..task import Task
from .base import ABSTAIN, SourceOutput

#: RE2 class of characters that are not part of a word (Unicode letters, digits, underscore).
_NOT_WORD = r"[^\pL\pN_]"


def _match(data: Dataset, column: str, pattern: str, ignore_case: bool) -> np.ndarray:
    """Boolean mask (n,) of rows whose ``column`` matches ``pattern`` anywhere."""
    import pyarrow as pa
    import pyarrow.compute as pc

    data = data.without_gold()  # sources never see gold: column = "label" is "no such column"
    arr = data.arrow(column)
    try:
        mask = pc.match_substring_regex(arr, pattern, ignore_case=ignore_case)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        rx = re.compile(pattern, re.IGNORECASE if ignore_case else 0)
        return np.fromiter((rx.search(t) is not None for t in data.frame[column].astype(str)),
                           dtype=bool, count=len(data))
    return mask.to_numpy(zero_copy_only=False).astype(bool)


@dataclass
class RegexSource:
    """Votes ``label`` where ``pattern`` matches the column, abstains elsewhere.

    Attributes:
        name: unique source name.
        pattern: a regular expression (RE2 syntax runs vectorised; other Python syntax falls back).
        label: the class voted on a match (index or name).
        ignore_case: case-insensitive matching (default True).
        column: the dataset column to search (default ``text``).
        explain: optional sentence for reports and correction prompts.
    """

    name: str
    pattern: str
    label: int | str
    ignore_case: bool = True
    column: str = "text"
    explain: str | None = None

    def __post_init__(self) -> None:
        try:
            re.compile(self.pattern)
        except re.error as e:
            raise ConfigError(f"invalid regex {self.pattern!r}: {e}", column=self.name,
                              fix="fix the pattern (remember to escape special characters)") from None

    def apply(self, data: Dataset, task: Task) -> SourceOutput:
        label = task.label_index(self.label, column=self.name)
        hit = _match(data, self.column, self.pattern, self.ignore_case)
        return SourceOutput(votes=np.where(hit, label, ABSTAIN).astype(np.int64))

    def describe(self, task: Task, label: int) -> str:
        return self.explain or (f"Rule '{self.name}': the text matches the pattern /{self.pattern}/, "
                                f"which suggests {task.labels[label]}.")


@dataclass
class KeywordSource:
    """Votes ``label`` where any keyword occurs (as a whole word by default), abstains elsewhere.

    Attributes:
        name: unique source name.
        keywords: words or phrases; matched literally.
        label: the class voted on a match (index or name).
        ignore_case: case-insensitive matching (default True).
        whole_word: match only at word boundaries (default True).
        column: the dataset column to search (default ``text``).
        explain: optional sentence for reports and correction prompts.
    """

    name: str
    keywords: list[str]
    label: int | str
    ignore_case: bool = True
    whole_word: bool = True
    column: str = "text"
    explain: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.keywords, str):
            self.keywords = [self.keywords]
        self.keywords = [k for k in self.keywords if k]
        if not self.keywords:
            raise ConfigError("a keyword source needs at least one keyword", column=self.name,
                              fix="add keywords = [\"...\"]")

    @property
    def pattern(self) -> str:
        body = "|".join(re.escape(k) for k in sorted(self.keywords, key=len, reverse=True))
        # Not \b: it never matches after a keyword ending in a non-word character ("c++") and RE2's
        # \b is ASCII-only ("ber" would match in "über"). A keyword must not touch a letter/digit/_.
        return rf"(?:^|{_NOT_WORD})(?:{body})(?:{_NOT_WORD}|$)" if self.whole_word else f"(?:{body})"

    def apply(self, data: Dataset, task: Task) -> SourceOutput:
        label = task.label_index(self.label, column=self.name)
        hit = _match(data, self.column, self.pattern, self.ignore_case)
        return SourceOutput(votes=np.where(hit, label, ABSTAIN).astype(np.int64))

    def describe(self, task: Task, label: int) -> str:
        words = ", ".join(f"'{k}'" for k in self.keywords[:8])
        more = " …" if len(self.keywords) > 8 else ""
        return self.explain or (f"Rule '{self.name}': the text contains {words}{more}, "
                                f"which suggests {task.labels[label]}.")
