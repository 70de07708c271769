"""Parse a generated answer to a label index.

Rules:
  1. Every label is looked for by its answer word (verbalizer) and by its name, case-insensitive,
     as a whole word; ``_``, ``-`` and spaces in a label match each other ("no_relation" matches
     "no relation").
  2. The label named first in the text wins; when two match at the same place the longer wins.
  3. If an uncertainty word ("unsure", "unknown", "not sure", "don't know", "cannot determine",
     "can't tell", "none", "n/a") comes before every label, or no label is named, the answer is
     an abstain (-1). A word that is itself a label name counts as that label, not as uncertainty.
"""
from __future__ import annotations

import re

from ..task import Task

from ..constants import ABSTAIN  # noqa: E402  (defined once)
UNSURE_WORDS = ("unsure", "unknown", "not sure", "don't know", "do not know", "cannot determine",
                "can't determine", "can't tell", "cannot tell", "uncertain", "none", "n/a")


def _pattern(word: str) -> str:
    parts = [re.escape(p) for p in re.split(r"[\s_\-]+", word.strip().lower()) if p]
    body = r"[\s_\-]+".join(parts)
    return rf"(?<![\w]){body}(?![\w])"


def parse_answer(text: str | None, task: Task) -> int:
    """Label index named first in ``text``, or -1 (abstain). See the module docstring."""
    if not text:
        return ABSTAIN
    low = text.lower()
    best: tuple[int, int, int] | None = None  # (position, -length, label)
    names: set[str] = set()
    for j in range(task.n_classes):
        for word in {task.answer_words[j], task.labels[j]}:
            if not word.strip():
                continue
            names.add(word.strip().lower())
            m = re.search(_pattern(word), low)
            if m:
                cand = (m.start(), -(m.end() - m.start()), j)
                if best is None or cand < best:
                    best = cand
    first_unsure = None
    for w in UNSURE_WORDS:
        if w in names:
            continue
        m = re.search(_pattern(w), low)
        if m and (first_unsure is None or m.start() < first_unsure):
            first_unsure = m.start()
    if best is None:
        return ABSTAIN
    if first_unsure is not None and first_unsure < best[0]:
        return ABSTAIN
    return best[2]
