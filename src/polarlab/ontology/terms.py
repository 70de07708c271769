"""Ontology terms and the merged ontology (names, synonyms, definitions, cross-references)."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Iterable, Mapping

from ..errors import InputError


@dataclass
class Term:
    """One ontology concept.

    Attributes:
        id: the term's id, e.g. ``"DOID:9352"``.
        name: preferred name ("" when the term has none yet).
        synonyms: other names, in file order, without duplicates of ``name``.
        definition: free-text description ("" when none).
        xrefs: cross-references as ``PREFIX:LOCAL`` strings, e.g. ``"MESH:D003924"``.
        parents: ids (OBO ``is_a``) or labels (TSV ``subClassOf``) of the parent terms.
        sources: the files the term was read from.
    """

    id: str
    name: str = ""
    synonyms: list[str] = field(default_factory=list)
    definition: str = ""
    xrefs: set[str] = field(default_factory=set)
    parents: set[str] = field(default_factory=set)
    sources: list[str] = field(default_factory=list)

    def add_synonym(self, text: str) -> None:
        text = " ".join(str(text).split())
        if text and text != self.name and text not in self.synonyms:
            self.synonyms.append(text)

    def merge(self, other: "Term") -> None:
        """Take ``other``'s information into this term (this term's name wins; a different
        name of ``other`` becomes a synonym)."""
        if not self.name:
            self.name = other.name
            if self.name in self.synonyms:
                self.synonyms.remove(self.name)
        elif other.name:
            self.add_synonym(other.name)
        for s in other.synonyms:
            self.add_synonym(s)
        self.definition = self.definition or other.definition
        self.xrefs |= other.xrefs
        self.parents |= other.parents
        self.sources += [s for s in other.sources if s not in self.sources]


_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def normalize_name(text: str) -> str:
    """The key names and mentions are compared by: NFKC, lower case, punctuation -> space,
    ``'s`` dropped, a plural ``s`` dropped from words longer than 3 letters (not ``ss``/``us``/``is``).

    >>> normalize_name("Alzheimer's Diseases")
    'alzheimer disease'
    """
    t = unicodedata.normalize("NFKC", str(text)).lower().replace("'s ", " ").replace("\u2019s ", " ")
    if t.endswith("'s") or t.endswith("\u2019s"):
        t = t[:-2]
    words = _NON_ALNUM.sub(" ", t).split()
    out = [w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")) else w
           for w in words]
    return " ".join(out)


class Ontology:
    """Terms merged from one or more files (see :func:`polarlab.ontology.load_ontology`).

    Attributes:
        terms: id -> :class:`Term`, in first-seen order.
        files: the files read.
    """

    def __init__(self, terms: Mapping[str, Term] | Iterable[Term] = (), files: Iterable[str] = ()) -> None:
        items = terms.values() if isinstance(terms, Mapping) else terms
        self.terms: dict[str, Term] = {}
        for t in items:
            self.add(t)
        self.files = list(files)

    def add(self, term: Term) -> None:
        """Add ``term``, merging it into an existing term of the same id."""
        if term.id in self.terms:
            self.terms[term.id].merge(term)
        else:
            self.terms[term.id] = term

    def merge(self, other: "Ontology") -> "Ontology":
        for t in other.terms.values():
            self.add(t)
        self.files += [f for f in other.files if f not in self.files]
        return self

    def __len__(self) -> int:
        return len(self.terms)

    def __contains__(self, term_id: object) -> bool:
        return term_id in self.terms

    @property
    def ids(self) -> list[str]:
        """Term ids in order; the entity index used by linkers is the position in this list."""
        return list(self.terms)

    def term(self, term_id: str) -> Term:
        try:
            return self.terms[term_id]
        except KeyError:
            raise InputError(f"unknown ontology id {term_id!r}", column="id",
                             fix=f"use an id of the loaded ontology ({len(self)} terms from {self.files})") from None

    def names(self, term_id: str) -> list[str]:
        """The preferred name followed by the synonyms."""
        t = self.term(term_id)
        return ([t.name] if t.name else []) + list(t.synonyms)

    @property
    def synonyms(self) -> dict[str, list[str]]:
        """id -> synonyms (without the preferred name)."""
        return {i: list(t.synonyms) for i, t in self.terms.items()}

    @property
    def xrefs(self) -> dict[str, set[str]]:
        """id -> cross-references (``PREFIX:LOCAL``)."""
        return {i: set(t.xrefs) for i, t in self.terms.items()}

    def name_index(self) -> dict[str, list[str]]:
        """normalised name (:func:`normalize_name`) -> ids of the terms bearing it (preferred
        names first, then synonyms; an id appears once per key)."""
        index: dict[str, list[str]] = {}
        for pass_synonyms in (False, True):
            for i, t in self.terms.items():
                for n in (t.synonyms if pass_synonyms else [t.name]):
                    key = normalize_name(n)
                    if key:
                        ids = index.setdefault(key, [])
                        if i not in ids:
                            ids.append(i)
        return index

    def xref_index(self) -> dict[str, set[str]]:
        """cross-reference (upper-case prefix, e.g. ``MESH:D003924``) -> ids of the terms citing it."""
        index: dict[str, set[str]] = {}
        for i, t in self.terms.items():
            for x in t.xrefs:
                index.setdefault(canonical_xref(x), set()).add(i)
        return index

    def name_table(self) -> tuple[list[str], list[int]]:
        """Every (name, term position) pair: ``(names, entity)``, entity indexes :attr:`ids`."""
        names, ent = [], []
        for e, t in enumerate(self.terms.values()):
            for n in ([t.name] if t.name else []) + t.synonyms:
                names.append(n)
                ent.append(e)
        return names, ent


XREF_PREFIX_ALIASES: dict[str, str] = {"MSH": "MESH", "OMIM": "MIM"}
"""Upper-cased xref prefix -> the prefix it is compared as (HPO writes MeSH ``MSH:``, Mondo OMIM ``OMIM:``;
the Disease Ontology ``MESH:`` and ``MIM:``)."""


def canonical_xref(x: str) -> str:
    """``"mesh:D003924"`` -> ``"MESH:D003924"``, ``"MSH:D003924"`` -> ``"MESH:D003924"``, ``"OMIM:1"`` ->
    ``"MIM:1"`` (prefix upper-cased and read through :data:`XREF_PREFIX_ALIASES`, whitespace stripped)."""
    x = str(x).strip()
    if ":" in x:
        p, local = x.split(":", 1)
        p = p.strip().upper()
        return f"{XREF_PREFIX_ALIASES.get(p, p)}:{local.strip()}"
    return x
