"""Dictionary / ontology span source: every occurrence of a known name (Aho–Corasick), with case
and plural variants, at token boundaries; overlapping matches keep the longest.

:func:`disease_ontology_names` reads the Disease Ontology's names and synonyms (OBO subsets via
obonet, plus the labels of every term in ``HumanDO.tsv``). When the shared ``polarlab.ontology``
module lands it can supply the names instead; the source only needs an iterable of strings.
"""
from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Iterable

from ...errors import ConfigError
from ..tokenize import tokenize
from ..types import Span, SpanDoc
from .base import longest_non_overlapping, snap_to_tokens

_SYN_RE = re.compile(r'^"(.*)"\s+(EXACT|RELATED|NARROW|BROAD)')


def plural_variants(name: str) -> set[str]:
    """The name and simple English plural/singular forms of its last word."""
    out = {name}
    head, _, last = name.rpartition(" ")
    pre = head + " " if head else ""
    if len(last) < 4:
        return out
    if last.endswith("ies"):
        out.add(pre + last[:-3] + "y")
    elif last.endswith("y") and last[-2:-1] not in "aeiou":
        out.add(pre + last[:-1] + "ies")
    elif last.endswith("s"):
        if not last.endswith(("ss", "sis", "us")):
            out.add(pre + last[:-1])
    else:
        out.add(pre + last + ("es" if last.endswith(("x", "ch", "sh")) else "s"))
    return out


class DictionarySpanSource:
    """Spans where a dictionary name occurs.

    Args:
        name: source name.
        names: the dictionary (names, synonyms).
        label: the entity type of every match.
        ignore_case: match case-insensitively (names of 3 characters or fewer, typically
            acronyms, are still matched with their case).
        plurals: also match simple plural/singular variants.
        min_length: names shorter than this are dropped (1-2 letter names match noise).
    """

    def __init__(self, name: str, names: Iterable[str], label: str, *, ignore_case: bool = True,
                 plurals: bool = True, min_length: int = 3) -> None:
        import ahocorasick

        self.name, self.label, self.ignore_case = name, label, ignore_case
        self._auto = ahocorasick.Automaton()
        self.n_names = 0
        for raw in names:
            n = " ".join(str(raw).split())
            if len(n) < min_length:
                continue
            for v in (plural_variants(n) if plurals else {n}):
                exact_case = len(v) <= 3 or not ignore_case
                key = v if exact_case else v.lower()
                if key not in self._auto:
                    self._auto.add_word(key, (len(key), exact_case))
                    self.n_names += 1
        if self.n_names == 0:
            raise ConfigError(f"dictionary source {name!r} has no names", column="names",
                              fix="give at least one name of 3 or more characters")
        self._auto.make_automaton()

    def __repr__(self) -> str:
        return f"DictionarySpanSource({self.name!r}, {self.n_names} names, label={self.label!r})"

    def find(self, doc: SpanDoc) -> list[Span]:
        text = doc.text
        low = text.lower() if self.ignore_case else text
        found = []
        for hay, want_exact in ((low, False), (text, True)):
            for end, (n, exact_case) in self._auto.iter(hay):
                if exact_case == want_exact or not self.ignore_case:
                    found.append(Span(end + 1 - n, end + 1, self.label, self.name))
        return longest_non_overlapping(snap_to_tokens(found, tokenize(text)))


def _obo_names(path: Path) -> list[str]:
    import obonet

    g = obonet.read_obo(str(path))
    out = []
    for _, data in g.nodes(data=True):
        if data.get("name"):
            out.append(data["name"])
        for syn in data.get("synonym", []):
            m = _SYN_RE.match(syn)
            if m and m.group(2) in ("EXACT", "RELATED"):
                out.append(m.group(1))
    return out


def ontology_names(path: str | Path, exclude: Iterable[str] = ()) -> list[str]:
    """The names a dictionary span source matches from ``[[sources]] ontology``: a Disease Ontology folder
    (``*.obo`` subsets, ``HumanDO.tsv``) as :func:`disease_ontology_names` reads it, or any ontology file or
    folder :func:`polarlab.ontology.load_ontology` reads (OBO, or a TSV/CSV table with ``id``, ``name``,
    ``synonyms`` columns: the linking task's format): every term's name and synonyms. Names in ``exclude``
    (lower-case) are left out.

    Raises:
        InputError: a missing path, a folder with no ontology file, a malformed file (naming it).
    """
    from ...ontology import load_ontology

    p = Path(path)
    if p.is_dir() and (any(p.glob("*.obo")) or (p / "HumanDO.tsv").is_file()):
        return disease_ontology_names(p, exclude)
    onto = load_ontology(p)
    drop = {e.lower() for e in exclude}
    names = [n for i in onto.ids for n in onto.names(i)]
    return [n for n in dict.fromkeys(names) if n.lower() not in drop]


def disease_ontology_names(directory: str | Path, exclude: Iterable[str] = ()) -> list[str]:
    """Names and EXACT/RELATED synonyms from every ``*.obo`` in ``directory``, plus the label of
    every term in ``HumanDO.tsv`` when present. Deduplicated, in a stable order; names in
    ``exclude`` (compared lower-case; e.g. bare head words like "disease") are left out."""
    d = Path(directory)
    obos = sorted(d.glob("*.obo"))
    tsv = d / "HumanDO.tsv"
    if not obos and not tsv.is_file():
        raise ConfigError("no Disease Ontology files (*.obo, HumanDO.tsv)", file=str(d),
                          fix="point to the folder with the DO subsets and HumanDO.tsv")
    names: list[str] = []
    for p in obos:
        names += _obo_names(p)
    if tsv.is_file():
        with tsv.open(encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh, delimiter="\t"):
                if row.get("label"):
                    names.append(row["label"].strip('"'))
    drop = {e.lower() for e in exclude}
    return [n for n in dict.fromkeys(names) if n.lower() not in drop]
