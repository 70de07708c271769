"""Find ontology names in raw text: Aho–Corasick, word boundaries, longest non-overlapping match."""
from __future__ import annotations

from dataclasses import dataclass

from .terms import Ontology


@dataclass(frozen=True)
class NameMatch:
    """A name found in a text: ``text[start:end]`` (end exclusive) names the terms ``ids``
    (more than one id = an ambiguous surface form)."""

    start: int
    end: int
    text: str
    ids: tuple[str, ...]


class NameMatcher:
    """Matches an ontology's names and synonyms in texts.

    Args:
        ontology: the terms whose names are searched.
        min_length: names shorter than this are not searched.
        case_sensitive_upto: names of at most this many characters, and all-upper-case names
            (abbreviations such as ``"DIL"``), must match with their case; others match
            case-insensitively.

    Matching runs on the lower-cased text with one automaton (``pyahocorasick``); a hit counts only
    at word boundaries (no letter or digit on either side; hyphens count as spaces on both sides); overlapping hits keep the longest
    (then the leftmost).
    """

    def __init__(self, ontology: Ontology, min_length: int = 3, case_sensitive_upto: int = 4) -> None:
        import ahocorasick

        self.min_length = int(min_length)
        self.case_sensitive_upto = int(case_sensitive_upto)
        entries: dict[str, list[tuple[str, str, bool]]] = {}
        for tid, term in ontology.terms.items():
            for name in ([term.name] if term.name else []) + term.synonyms:
                if len(name) < self.min_length:
                    continue
                exact_case = len(name) <= self.case_sensitive_upto or (name.isupper() and any(c.isalpha() for c in name))
                entries.setdefault(name.lower().replace("-", " "), []).append((tid, name, exact_case))
        self._auto = ahocorasick.Automaton()
        for key, vals in entries.items():
            if len(key) == len(key.lower()):      # lower() must keep offsets (true for nearly all names)
                self._auto.add_word(key, (len(key), tuple(vals)))
        self.n_names = len(self._auto)
        if self.n_names:
            self._auto.make_automaton()

    def find(self, text: str) -> list[NameMatch]:
        """Matches in ``text``, sorted by start offset."""
        if not self.n_names:
            return []
        hay = text.lower()
        if len(hay) != len(text):               # rare characters whose lower case is longer
            hay = "".join(c.lower() if len(c.lower()) == 1 else c for c in text)
        hay = hay.replace("-", " ")             # "ataxia-telangiectasia" = "ataxia telangiectasia"
        hits: list[tuple[int, int, tuple[str, ...]]] = []
        for last, (length, vals) in self._auto.iter(hay):
            start, end = last - length + 1, last + 1
            if (start > 0 and hay[start - 1].isalnum()) or (end < len(hay) and hay[end].isalnum()):
                continue
            surface = text[start:end].replace("-", " ")
            ids = tuple(dict.fromkeys(tid for tid, name, exact in vals
                                      if not exact or surface == name.replace("-", " ")))
            if ids:
                hits.append((start, end, ids))
        hits.sort(key=lambda h: (-(h[1] - h[0]), h[0]))
        taken: list[tuple[int, int, tuple[str, ...]]] = []
        for h in hits:
            if all(h[1] <= s or h[0] >= e for s, e, _ in taken):
                taken.append(h)
        taken.sort()
        return [NameMatch(s, e, text[s:e], ids) for s, e, ids in taken]
