"""Unlabelled text for self-supervision: PubTator, BEIR-style JSONL or plain-text files.

Only the *text* is read (a PubTator file's annotations are kept on the documents but never used by
the self-supervision). Formats, by file:

- ``*.jsonl`` / ``*.json``: one JSON object per line with ``text`` (and optional ``title``; the id
  is ``_id``, else ``id``, else the line number) — the BEIR ``corpus.jsonl`` format.
- ``*.txt`` whose first non-empty line looks like PubTator (``PMID|t|title``): PubTator.
- any other text file: plain text, one document per non-empty line (id ``<file stem>:<line>``).

    docs = read_unlabelled(["NCBItrainset_corpus.txt", "scifact/corpus.jsonl", "notes.txt"])
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Iterable

from ..data.pubtator import Document, read_pubtator
from ..errors import DataError
from ..io.jsonl import json_objects, read_utf8

_PUBTATOR_TITLE = re.compile(r"^[^|\t]+\|t\|")


def _first_line(path: Path) -> str:
    with path.open(encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.strip():
                return line
    return ""


def read_jsonl_texts(path: str | os.PathLike) -> list[Document]:
    """Documents of a BEIR-style JSONL file (``_id``/``id``, optional ``title``, ``text``)."""
    path = Path(path)
    docs: list[Document] = []
    fix = 'write one JSON object per line, e.g. {"_id": "1", "title": "...", "text": "..."}'
    for ln, row in json_objects(path, fix=fix):
        if not isinstance(row.get("text"), str):
            raise DataError("a row without a string 'text' field", file=str(path), line=ln, column="text",
                            fix="give each JSON object a 'text' (and optionally '_id' and 'title')")
        title = row.get("title") or ""
        if not isinstance(title, str):
            raise DataError("'title' is not a string", file=str(path), line=ln, column="title",
                            fix="give the title as a string or leave it out")
        doc_id = str(row.get("_id", row.get("id", f"{path.stem}:{ln}")))
        title, text = title.strip(), row["text"].strip()
        if title and text:
            docs.append(Document(doc_id, title, text))
        elif title or text:
            docs.append(Document(doc_id, title or text))
    return docs


def read_plain_texts(path: str | os.PathLike) -> list[Document]:
    """Documents of a plain-text file: one per non-empty line."""
    path = Path(path)
    lines = read_utf8(path).splitlines()
    return [Document(f"{path.stem}:{ln}", line.strip()) for ln, line in enumerate(lines, start=1) if line.strip()]


def read_unlabelled(paths: Iterable[str | os.PathLike]) -> list[Document]:
    """The documents of several unlabelled files (format by file, see the module), in order.

    Document ids are made unique without depending on the files' order: a document repeated with the
    same id and text (in one file or several) is read once; an id that names different texts is renamed
    ``<file stem>:<id>`` in every file it occurs in (``<file stem>:<id>#<k>`` when one file has several,
    numbered in text order).

    Raises:
        DataError: naming the file (and line) for a missing file, a file with no text, a JSONL line
            that is not an object with a ``text``, or a file that is not UTF-8.
    """
    read: list[tuple[Path, list[Document]]] = []
    for p in paths:
        path = Path(p)
        if not path.is_file():
            raise DataError("unlabelled text file not found", file=str(path),
                            fix="give a PubTator (.txt), BEIR JSONL (.jsonl) or plain-text file")
        if path.suffix.lower() in (".jsonl", ".json"):
            docs = read_jsonl_texts(path)
        elif _PUBTATOR_TITLE.match(_first_line(path)):
            docs = read_pubtator(path)
        else:
            docs = read_plain_texts(path)
        if not docs:
            raise DataError("no text in the unlabelled file", file=str(path),
                            fix="give a file with at least one document")
        read.append((path, docs))
    return unique_ids(read)


def read_link_corpus(paths: Iterable[str | os.PathLike], mentions: str = "spans") -> list[Document]:
    """The documents to link (``[linking] corpus``).

    With ``mentions = "spans"`` the mentions are the files' own: PubTator files (:func:`read_corpus`). With
    ``mentions = "match"`` they are found by ontology-name matching, so a file may also be BEIR-style JSONL or
    plain text, one document per line (:func:`read_unlabelled`; a PubTator file's spans are then gold only).

    Raises:
        DataError: a missing file, a malformed line; with ``"spans"``, a file that is not PubTator (naming the
            ``linking.mentions`` key that reads plain text).
    """
    from ..data.pubtator import read_corpus

    paths = [Path(p) for p in paths]
    for path in paths:
        if not path.is_file():
            raise DataError("corpus file not found", file=str(path),
                            fix="check [linking] corpus (paths are read from the project file's folder)")
    if mentions == "match":
        return read_unlabelled(paths)
    for path in paths:
        first = _first_line(path).lstrip("\ufeff")
        if first.strip() and not _PUBTATOR_TITLE.match(first):
            raise DataError("not a PubTator file (its first line is not 'PMID|t|title'), so it has no mention "
                            "spans to link", file=str(path), line=1,
                            fix="give PubTator documents with mention lines, or set [linking] mentions = \"match\" "
                                "to find the mentions by ontology-name matching in plain text (one document per "
                                "line) or JSONL")
    return read_corpus(paths)


def unique_ids(files: list[tuple[Path, list[Document]]]) -> list[Document]:
    """The documents of ``files`` (path, documents) with unique ids, the same whatever the files' order
    (see :func:`read_unlabelled`)."""
    texts: dict[str, set[str]] = {}
    for _, docs in files:
        for d in docs:
            texts.setdefault(d.id, set()).add(d.text)
    out: list[Document] = []
    seen: set[tuple[str, str]] = set()
    for path, docs in files:
        clash: dict[str, list[str]] = {}
        for d in docs:
            if len(texts[d.id]) > 1:
                clash.setdefault(d.id, []).append(d.text)
        for d in docs:
            doc_id = d.id
            if doc_id in clash:
                many = sorted(set(clash[doc_id]))
                doc_id = f"{path.stem}:{doc_id}" + (f"#{many.index(d.text) + 1}" if len(many) > 1 else "")
            if (doc_id, d.text) in seen:      # the same document again
                continue
            seen.add((doc_id, d.text))
            d.id = doc_id
            out.append(d)
    return out
