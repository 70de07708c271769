"""OBO files (read with ``obonet``): names, synonyms, definitions, xrefs, ``is_a`` parents."""
from __future__ import annotations

import re
from pathlib import Path

from ..errors import InputError
from .terms import Ontology, Term

_QUOTED = re.compile(r'^"((?:[^"\\]|\\.)*)"\s*(.*)$')


def _quoted(value: str) -> tuple[str, str]:
    """``'"text" EXACT []'`` -> ``("text", "EXACT []")``; unquoted values come back whole."""
    m = _QUOTED.match(value.strip())
    if not m:
        return value.strip(), ""
    return m.group(1).replace('\\"', '"').replace("\\\\", "\\"), m.group(2)


def read_obo(path: str | Path, synonym_scopes: tuple[str, ...] = ("EXACT", "RELATED", "NARROW", "BROAD")
             ) -> Ontology:
    """Read an OBO file; obsolete terms are skipped.

    Args:
        path: the ``.obo`` file.
        synonym_scopes: synonym scopes kept as names (all four by default).

    Raises:
        InputError: missing or unparsable file, or a term without a name (naming its id).
    """
    import obonet

    path = Path(path)
    if not path.exists():
        raise InputError("ontology file not found", file=str(path), fix="check the path")
    try:
        graph = obonet.read_obo(str(path), ignore_obsolete=True)
    except Exception as e:  # obonet raises plain Exceptions on syntax errors
        raise InputError(f"not a readable OBO file ({e})", file=str(path),
                         fix="give an OBO 1.2/1.4 file with [Term] stanzas") from None
    onto = Ontology(files=[str(path)])
    for node, data in graph.nodes(data=True):
        if not data:          # only referenced (e.g. an is_a parent outside this file), not defined here
            continue
        name = " ".join(str(data.get("name", "")).split())
        if not name:
            raise InputError(f"term {node} has no name", file=str(path), row=str(node),
                             fix="give every [Term] a 'name:' line (or drop the term)")
        term = Term(id=str(node), name=name, sources=[str(path)])
        for syn in data.get("synonym", []):
            text, rest = _quoted(syn)
            scope = rest.split()[0] if rest.split() else "RELATED"
            if scope in synonym_scopes:
                term.add_synonym(text)
        if data.get("def"):
            term.definition = _quoted(data["def"])[0]
        term.xrefs = {x.split()[0] for x in data.get("xref", []) if x.strip()}
        term.parents = {p.split()[0] for p in data.get("is_a", [])}
        onto.add(term)
    if not len(onto):
        raise InputError("no [Term] stanzas", file=str(path), fix="give an OBO file with named terms")
    return onto
