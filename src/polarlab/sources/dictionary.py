"""Dictionary / ontology sources: a term list (or file) mapped to labels, matched with Aho–Corasick."""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..data.dataset import Dataset
from ..errors import ConfigError, DataError
from ..task import Task
from .base import ABSTAIN, SourceOutput


def read_terms(path: str | Path, default_label: int | str | None = None) -> dict[str, int | str]:
    """Read a term file: ``term<TAB>label`` (or ``term,label`` in .csv) per line, or bare terms.

    Bare terms take ``default_label``. Blank lines and lines starting with ``#`` are skipped.

    Raises:
        ConfigError: missing file, or a bare term with no default label.
    """
    path = Path(path)
    if not path.exists():
        raise ConfigError("dictionary file not found", file=str(path), fix="check the path")
    delim = "," if path.suffix.lower() == ".csv" else "\t"
    terms: dict[str, int | str] = {}
    with path.open(encoding="utf-8", newline="") as fh:
        for n, row in enumerate(csv.reader(fh, delimiter=delim), start=1):
            if not row or not row[0].strip() or row[0].startswith("#"):
                continue
            if len(row) >= 2 and row[1].strip():
                terms[row[0].strip()] = row[1].strip()
            elif default_label is not None:
                terms[row[0].strip()] = default_label
            else:
                raise ConfigError("term without a label", file=str(path), line=n,
                                  fix="write 'term<TAB>label' or give the source a label")
    return terms


@dataclass
class DictionarySource:
    """Votes the label of the dictionary terms found in the text.

    Attributes:
        name: unique source name.
        terms: term -> label (index or name). Build from a list with :meth:`from_list`
            or a file with :meth:`from_file`.
        ignore_case: case-insensitive matching (default True).
        whole_word: only count matches at word boundaries (default True).
        column: the dataset column to search.
        explain: optional sentence for reports and correction prompts.

    When terms of several labels occur, the label with the most matches wins; a tie abstains.
    """

    name: str
    terms: dict[str, int | str]
    ignore_case: bool = True
    whole_word: bool = True
    column: str = "text"
    explain: str | None = None
    _automaton: object = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.terms:
            raise ConfigError("a dictionary source needs at least one term", column=self.name,
                              fix="give terms or a non-empty file")

    @classmethod
    def from_list(cls, name: str, terms: list[str], label: int | str, **kw) -> "DictionarySource":
        return cls(name=name, terms={t: label for t in terms}, **kw)

    @classmethod
    def from_file(cls, name: str, path: str | Path, label: int | str | None = None, **kw) -> "DictionarySource":
        return cls(name=name, terms=read_terms(path, label), **kw)

    def _build(self, task: Task):
        import ahocorasick

        auto = ahocorasick.Automaton()
        for term, label in self.terms.items():
            key = term.lower() if self.ignore_case else term
            auto.add_word(key, (len(key), task.label_index(label, column=self.name)))
        auto.make_automaton()
        return auto

    def apply(self, data: Dataset, task: Task) -> SourceOutput:
        auto = self._build(task)
        data = data.without_gold()  # sources never see gold
        if self.column not in data.frame.columns:
            raise DataError(f"no column {self.column!r}; the columns are {list(data.frame.columns)}",
                            file=data.source, column=self.column, fix="name an existing column")
        votes = np.full(len(data), ABSTAIN, dtype=np.int64)
        k = task.n_classes
        for i, text in enumerate(data.frame[self.column].astype(str).tolist()):
            hay = text.lower() if self.ignore_case else text
            counts = [0] * k
            for end, (length, label) in auto.iter(hay):
                start = end - length + 1
                if self.whole_word and ((start > 0 and hay[start - 1].isalnum())
                                        or (end + 1 < len(hay) and hay[end + 1].isalnum())):
                    continue
                counts[label] += 1
            best = max(counts)
            if best and counts.count(best) == 1:
                votes[i] = counts.index(best)
        return SourceOutput(votes=votes)

    def describe(self, task: Task, label: int) -> str:
        examples = [t for t, lab in self.terms.items() if task.label_index(lab) == label][:5]
        shown = ", ".join(f"'{t}'" for t in examples)
        return self.explain or (f"Dictionary '{self.name}': the text mentions terms listed under "
                                f"{task.labels[label]} (such as {shown}).")
