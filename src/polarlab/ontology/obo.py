"""OBO files (read with ``obonet``): names, synonyms, definitions, xrefs, ``is_a`` parents."""
from __future__ import annotations

import io
import re
from pathlib import Path

from ..errors import InputError
from .terms import Ontology, Term

_QUOTED = re.compile(r'^"((?:[^"\\]|\\.)*)"\s*(.*)$')
_STANZA = re.compile(r"^\[\w+\]")          # [Term], [Typedef], [Instance] (as obonet: the line starts with it)
_ONTOLOGY_TAG = re.compile(r"^\s*ontology\s*:")


def obo_text(text: str, name: str) -> str:
    """``text`` (an OBO file) as ``obonet`` reads it right and quietly: a blank line before every stanza line
    (``[Term]``, ...: the format does not need one, but obonet splits stanzas at blank lines, so a ``[Term]`` right
    under the header or the previous term was taken as one of its lines), and an ``ontology: name`` header line when
    the header has none or there is no header (obonet then logged "name and ontology keys are both missing" on the
    root logger, and "got no header information"). Terms and their lines are unchanged."""
    lines: list[str] = []
    for ln in text.splitlines():
        if _STANZA.match(ln) and lines and lines[-1].strip():
            lines.append("")
        lines.append(ln)
    first = next((i for i, ln in enumerate(lines) if _STANZA.match(ln)), len(lines))
    header, rest = lines[:first], lines[first:]
    if not any(_ONTOLOGY_TAG.match(ln) for ln in header):
        while header and not header[-1].strip():
            header.pop()
        header += [f"ontology: {name}", ""]    # in the header's last stanza: the one obonet keeps
    return "\n".join(header + rest) + "\n"


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
        text = path.read_text(encoding="utf-8-sig")   # a byte-order mark would hide a first [Term]
    except UnicodeDecodeError as e:
        raise InputError(f"not UTF-8 text ({e.reason} at byte {e.start})", file=str(path),
                         fix="save the ontology as UTF-8") from None
    try:
        graph = obonet.read_obo(io.StringIO(obo_text(text, path.stem)), ignore_obsolete=True)
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
