"""Tabular ontology files: one term (or one xref) per row, merged by id.

Columns are found by header name (case-insensitive): ``id`` (required); the name from
``name`` or ``label`` (required); ``synonyms``/``synonym`` ('|'-separated); ``description``/
``definition``/``def``; ``xref``/``xrefs`` ('|'-separated); ``subClassOf``/``parent``/``parents``.
Rows repeating an id add to the same term (the Disease Ontology's ``allXREFinDO.tsv`` holds one
xref per row; ``HumanDO.tsv`` one parent per row). ``.csv`` files are comma-separated.
"""
from __future__ import annotations

import csv
from pathlib import Path

from ..errors import InputError
from .terms import Ontology, Term

COLUMNS = {
    "id": ("id",),
    "name": ("name", "label"),
    "synonyms": ("synonyms", "synonym"),
    "definition": ("description", "definition", "def"),
    "xrefs": ("xref", "xrefs"),
    "parents": ("subclassof", "parent", "parents"),
}


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split("|") if v.strip()]


def read_tsv(path: str | Path) -> Ontology:
    """Read a TSV/CSV ontology table (see the module docstring for its columns).

    Raises:
        InputError: missing file, no ``id`` or no name column, or a row without id or name.
    """
    path = Path(path)
    if not path.exists():
        raise InputError("ontology file not found", file=str(path), fix="check the path")
    delim = "," if path.suffix.lower() == ".csv" else "\t"
    onto = Ontology(files=[str(path)])
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh, delimiter=delim)
        header = next(reader, None)
        if not header:
            raise InputError("empty ontology table", file=str(path), fix="give a header row: id, name, ...")
        lower = [h.strip().lower() for h in header]
        col = {key: next((lower.index(a) for a in aliases if a in lower), None) for key, aliases in COLUMNS.items()}
        if col["id"] is None:
            raise InputError(f"no id column in header {header}", file=str(path), column="id",
                             fix="name the term-id column 'id'")
        if col["name"] is None:
            raise InputError(f"no name column in header {header}: an ontology without names cannot be matched",
                             file=str(path), column="name", fix="add a 'name' (or 'label') column")

        def get(row: list[str], key: str) -> str:
            j = col[key]
            return row[j].strip() if j is not None and j < len(row) else ""

        for n, row in enumerate(reader, start=2):
            if not row or not any(c.strip() for c in row):
                continue
            tid, name = get(row, "id"), " ".join(get(row, "name").split())
            if not tid:
                raise InputError("row without id", file=str(path), line=n, column=header[col["id"]],
                                 fix="give every row a term id")
            if not name:
                raise InputError(f"term {tid} has no name", file=str(path), line=n,
                                 column=header[col["name"]], fix="give every term a name")
            term = Term(id=tid, name=name, definition=get(row, "definition"), sources=[str(path)])
            for s in _split(get(row, "synonyms")):
                term.add_synonym(s)
            term.xrefs = set(_split(get(row, "xrefs")))
            term.parents = set(_split(get(row, "parents")))
            onto.add(term)
    if not len(onto):
        raise InputError("no terms", file=str(path), fix="give one row per term")
    return onto
