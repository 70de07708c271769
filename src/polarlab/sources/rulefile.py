"""Rule files: one rule per line, ``pattern->label`` (the format of DataSculpt's LLM-written labeling functions).

::

    # a keyword (here a stemmed one) and the class it votes: a label name, or an index that is not a name
    subscrib->1
    check out->spam
    # comment lines (starting with #) and blank lines are skipped

Each line becomes one source, named after the line (``"subscrib->1"``, with an optional prefix). How the pattern
is matched is a key of :data:`MATCHERS`: ``stemmed`` (DataSculpt's keyword LFs: the phrase among the text's
Porter-stemmed token n-grams, :class:`~polarlab.sources.stemmed.StemmedKeywordSource`), ``keyword`` (whole words,
any case, :class:`~polarlab.sources.rules.KeywordSource`), ``substring`` (anywhere, any case) or ``regex``
(:class:`~polarlab.sources.rules.RegexSource`). A line repeated with the same label is read once and reported in
:attr:`RuleFile.duplicates`; the same pattern with different labels is kept (both vote) and reported in
:attr:`RuleFile.conflicts`.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..errors import InputError, PolarlabError
from ..task import Task
from .base import Source
from .rules import KeywordSource, RegexSource
from .stemmed import WORD, Stemmer, StemmedKeywordSource

log = logging.getLogger(__name__)

ARROW = "->"

#: matching name -> build(name, pattern, label, shared) -> source; ``shared`` holds what the file's sources share.
Matcher = Callable[[str, str, "int | str", dict[str, Any]], Source]


def _stemmer(shared: dict[str, Any]) -> Stemmer:
    if "stemmer" not in shared:
        shared["stemmer"] = Stemmer()
    return shared["stemmer"]


MATCHERS: dict[str, Matcher] = {
    "stemmed": lambda name, p, label, shared: StemmedKeywordSource(name, [p], label, stemmer=_stemmer(shared)),
    "keyword": lambda name, p, label, shared: KeywordSource(name, [p], label),
    "substring": lambda name, p, label, shared: KeywordSource(name, [p], label, whole_word=False),
    "regex": lambda name, p, label, shared: RegexSource(name, p, label),
}


@dataclass
class RuleFile:
    """What :func:`read_rule_file` read.

    Attributes:
        path: the file.
        matching: the key of :data:`MATCHERS` used.
        sources: one source per distinct rule, in file order.
        lines: the 1-based line of each source.
        duplicates: ``(line, first_line, rule)`` of each repeated rule (skipped).
        conflicts: ``(line, first_line, rule)`` of each pattern already read with another label (kept).
        unmatchable: ``(line, rule)`` of each ``stemmed`` rule with a token the processed text never holds (not
            made of word characters only, e.g. ``e-mail``): kept, but it never fires (a warning is logged).
    """

    path: Path
    matching: str
    sources: list[Source] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    duplicates: list[tuple[int, int, str]] = field(default_factory=list)
    conflicts: list[tuple[int, int, str]] = field(default_factory=list)
    unmatchable: list[tuple[int, str]] = field(default_factory=list)

    def labels(self, task: Task) -> list[int]:
        """The class index each source votes, shape (m,)."""
        return [task.label_index(s.label, file=str(self.path), column=s.name) for s in self.sources]

    def summary(self) -> dict[str, Any]:
        """JSON-able counts: rules, duplicates and conflicts (with their lines)."""
        return {"file": str(self.path), "matching": self.matching, "rules": len(self.sources),
                "duplicates": [list(d) for d in self.duplicates], "conflicts": [list(c) for c in self.conflicts]}


def read_rule_file(path: str | Path, *, matching: str = "stemmed", task: Task | None = None,
                   prefix: str = "") -> RuleFile:
    """Read ``pattern->label`` lines into sources (see the module docstring).

    Args:
        path: the rule file (UTF-8).
        matching: how patterns are matched, a key of :data:`MATCHERS`.
        task: when given, every label is checked against its classes here (with the line of a bad one).
        prefix: put before each source's name (to keep names unique across files).

    Raises:
        InputError: no such file, not UTF-8, no rule in it, an unknown ``matching``, or a line without ``->``,
            with an empty pattern or label, a label the task does not have, or a pattern the matcher rejects (file
            and line named).
    """
    path = Path(path)
    if matching not in MATCHERS:
        raise InputError(f"unknown rule matching {matching!r}", file=str(path), column="matching",
                         fix=f"use one of {sorted(MATCHERS)}")
    if not path.is_file():
        raise InputError("rule file not found", file=str(path), fix="check the path")
    out = RuleFile(path=path, matching=matching)
    first_line: dict[str, int] = {}               # pattern -> the line it first appears on
    kept: set[tuple[str, str]] = set()            # (pattern, label) already a source
    shared: dict[str, Any] = {}
    try:
        text = path.read_text(encoding="utf-8-sig")        # a byte-order mark is not part of the first pattern
    except UnicodeDecodeError as e:
        raise InputError(f"not UTF-8 text ({e.reason} at byte {e.start})", file=str(path),
                         fix="save the rule file as UTF-8") from None
    except OSError as e:
        raise InputError(f"cannot read the rule file ({e.strerror or e})", file=str(path),
                         fix="check the file's permissions") from None
    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        pattern, label = _split(line, path, n)
        if task is not None:
            try:
                task.label_index(label)
            except PolarlabError:
                raise InputError(f"label {label!r} is not one of {list(task.labels)}", file=str(path), line=n,
                                 fix=f"end the line with ->INDEX (0..{task.n_classes - 1}) or ->LABEL NAME") from None
        rule = f"{pattern}{ARROW}{label}"
        if (pattern, label) in kept:
            out.duplicates.append((n, first_line[pattern], rule))
            continue
        if pattern in first_line:
            out.conflicts.append((n, first_line[pattern], rule))
        first_line.setdefault(pattern, n)
        kept.add((pattern, label))
        try:
            source = MATCHERS[matching](prefix + rule, pattern, label, shared)   # resolved as task.label_index does
        except PolarlabError as e:
            raise InputError(f"rule {rule!r} cannot be used: {getattr(e, 'message', e)}", file=str(path), line=n,
                             fix=getattr(e, "fix", None) or "fix or delete the line") from None
        out.sources.append(source)
        out.lines.append(n)
        if matching == "stemmed" and not all(WORD.match(t) for t in pattern.lower().split()):
            out.unmatchable.append((n, rule))
    if not out.sources:
        raise InputError("the rule file holds no rule", file=str(path),
                         fix="write one rule per line as pattern->label, e.g. subscrib->1")
    if out.duplicates or out.conflicts:
        log.warning("%s: %d repeated rule(s) skipped, %d pattern(s) voting more than one class kept", path,
                    len(out.duplicates), len(out.conflicts))
    if out.unmatchable:
        log.warning("%s: %d stemmed rule(s) can never fire (a token that is not word characters only), lines %s",
                    path, len(out.unmatchable), [n for n, _ in out.unmatchable])
    return out


def _split(line: str, path: Path, n: int) -> tuple[str, str]:
    """``pattern->label`` split at the last arrow (a regex may contain one); both parts stripped, non-empty."""
    if ARROW not in line:
        raise InputError(f"{line!r} is not a rule: no '{ARROW}'", file=str(path), line=n,
                         fix="write one rule per line as pattern->label, e.g. subscrib->1")
    pattern, label = (part.strip() for part in line.rsplit(ARROW, 1))
    if not pattern or not label:
        raise InputError(f"{line!r} has an empty {'pattern' if not pattern else 'label'}", file=str(path), line=n,
                         fix="write one rule per line as pattern->label, e.g. subscrib->1")
    if label.startswith("-"):
        raise InputError(f"{line!r} votes {label}, which is not a class", file=str(path), line=n,
                         fix="end the line with a class index (0, 1, ...) or a label name")
    if "{{A}}" in pattern or "{{B}}" in pattern:
        raise InputError(f"{line!r} uses entity placeholders ({{{{A}}}}/{{{{B}}}}), which this reader does not fill in",
                         file=str(path), line=n, fix="keep text-classification rules only")
    return pattern, label
