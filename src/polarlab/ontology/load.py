"""``load_ontology``: read and merge ontology files (OBO and TSV/CSV) into one :class:`Ontology`."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterable

from ..errors import InputError
from .obo import read_obo
from .terms import Ontology
from .tsv import read_tsv

READERS: dict[str, Callable[[Path], Ontology]] = {".obo": read_obo, ".tsv": read_tsv, ".csv": read_tsv}
"""File suffix -> reader (add an entry to support another format)."""


def ontology_files(paths: str | os.PathLike | Iterable[str | os.PathLike]) -> list[Path]:
    """Expand ``paths`` (files or folders) into the ontology files to read, folders sorted by name."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.suffix.lower() in READERS)
            if not found:
                raise InputError("no ontology files in folder", file=str(p),
                                 fix=f"put files ending in {sorted(READERS)} there")
            files += found
        elif not p.exists():
            raise InputError("ontology file not found", file=str(p), fix="check the path")
        elif p.suffix.lower() not in READERS:
            raise InputError(f"unknown ontology format {p.suffix!r}", file=str(p), fix=f"use one of {sorted(READERS)}")
        else:
            files.append(p)
    if not files:
        raise InputError("no ontology files given", fix="give OBO or TSV files (or a folder of them)")
    return files


def load_ontology(paths: str | os.PathLike | Iterable[str | os.PathLike]) -> Ontology:
    """Read every file (or every ``.obo``/``.tsv``/``.csv`` in a folder) and merge them by term id.

    Information adds up: a term's synonyms, xrefs and parents are the union over the files; its
    preferred name and definition come from the first file that has them (other names become
    synonyms).

    Raises:
        InputError: a missing/unreadable file, or a term without any name.
    """
    merged = Ontology()
    for f in ontology_files(paths):
        merged.merge(READERS[f.suffix.lower()](f))
    nameless = [t.id for t in merged.terms.values() if not t.name]
    if nameless:
        raise InputError(f"{len(nameless)} term(s) without a name, e.g. {nameless[0]}", file=str(merged.files),
                         fix="give every term a name")
    return merged
