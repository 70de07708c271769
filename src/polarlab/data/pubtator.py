"""PubTator documents (NCBI-disease / BC5CDR format) with their mention spans.

A document is ``PMID|t|title``, ``PMID|a|abstract``, then one line per mention:
``PMID<TAB>start<TAB>end<TAB>mention<TAB>type<TAB>ids`` (offsets into ``title + " " + abstract``,
end exclusive; composite concepts join ids with ``|`` or ``+``, BC5CDR's optional 7th column of
the individual mentions is ignored; ``-1`` is a mention without a concept id, kept as the id
:data:`NO_ID`). Relation lines are skipped (:func:`is_relation_line`: BC5CDR's ``PMID<TAB>CID<TAB>id1<TAB>id2``,
also with more columns, as BioRED's ``PMID<TAB>Association<TAB>id1<TAB>id2<TAB>Novel``); blank lines separate
documents; a title or abstract may contain ``|``; Windows line endings and a UTF-8 byte-order mark
are read; a document without mentions is kept. Mentions of several types (``Chemical``,
``Disease``) may share a file: :func:`keep_types` keeps some.

Stable API::

    docs = read_pubtator("NCBItestset_corpus.txt")
    for doc in docs:
        doc.id, doc.text
        for start, end, text, type_, ids in doc.mentions: ...
"""
from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, NamedTuple, Sequence

from ..errors import ConfigError, DataError

_ID_SPLIT = re.compile(r"[|+,;]")
_RELATION_TYPE = re.compile(r"[A-Z][A-Za-z_-]+")
NO_ID = "-1"
"""The id of an annotated mention without a concept (BC5CDR's ``-1``): it has gold, and no term is right."""


class Mention(NamedTuple):
    """A span of a document: ``text == document.text[start:end]``.

    ``ids`` are the concept ids (a composite mention has several; empty when none given).
    """

    start: int
    end: int
    text: str
    type: str
    ids: tuple[str, ...]


@dataclass
class Document:
    """A PubTator document. ``text`` is ``title + " " + abstract`` (the offsets' reference)."""

    id: str
    title: str
    abstract: str = ""
    mentions: list[Mention] = field(default_factory=list)

    @property
    def text(self) -> str:
        return f"{self.title} {self.abstract}" if self.abstract else self.title


def split_ids(value: str) -> tuple[str, ...]:
    """``"D001943|D010051"`` -> ``("D001943", "D010051")`` (also ``+``, ``,``, ``;``); ``"-1"`` -> ``("-1",)``
    (:data:`NO_ID`, a mention without a concept; beside other ids it is dropped); ``""`` -> ()."""
    parts = [p.strip() for p in _ID_SPLIT.split(value or "")]
    ids = tuple(p for p in parts if p and p != NO_ID)
    return ids or ((NO_ID,) if NO_ID in parts else ())


def is_relation_line(cols: Sequence[str]) -> bool:
    """Whether a PubTator line, split at tabs into ``cols``, is a relation (skipped) rather than a mention.

    A relation is ``PMID<TAB>type<TAB>id1<TAB>id2`` and maybe more columns (BioRED adds a novelty column); a mention
    is ``PMID<TAB>start<TAB>end<TAB>text<TAB>type[<TAB>ids...]``. Four columns are a relation unless the second is
    an integer (then a mention with missing columns, an error); more are a relation when the second column is a
    relation type, a capitalised word of letters, ``_`` or ``-`` (``CID``, ``Association``,
    ``Positive_Correlation``), never an offset: a mention line with a bad offset (``x``, ``12a``) stays an error.
    """
    if len(cols) == 4:
        return not cols[1].isdigit()
    return len(cols) > 4 and _RELATION_TYPE.fullmatch(cols[1]) is not None


def read_pubtator(path: str | os.PathLike, check_text: bool = True) -> list[Document]:
    """Read a PubTator file.

    Args:
        path: the file.
        check_text: require ``mention == text[start:end]`` for every mention (surrounding
            whitespace ignored; the mention's text is taken from the document).

    Returns:
        the documents in file order (a PMID repeated in the file gives two documents).

    Raises:
        DataError: naming the file, line and fix, for a malformed line, a mention of an unknown
            document, a span outside the text, or (with ``check_text``) a span whose text differs.
    """
    path = Path(path)
    if not path.exists():
        raise DataError("PubTator file not found", file=str(path), fix="check the path")
    try:
        with path.open(encoding="utf-8-sig") as fh:          # universal newlines: \n, \r\n, \r
            return _read_lines(path, fh, check_text)
    except UnicodeDecodeError as e:
        raise DataError(f"not UTF-8 text ({e.reason} at byte {e.start})", file=str(path),
                        fix="save the file as UTF-8 (e.g. iconv -f cp1252 -t utf-8)") from None


def _read_lines(path: Path, lines: Iterable[str], check_text: bool) -> list[Document]:
    """The documents of a PubTator file's lines (see :func:`read_pubtator`)."""
    docs: list[Document] = []
    current: Document | None = None
    for n, raw in enumerate(lines, start=1):
        line = raw.rstrip("\n").rstrip("\r")
        if not line.strip():
            current = None
            continue
        head = line.split("|", 2)
        if len(head) == 3 and head[1] in ("t", "a") and "\t" not in head[0]:
            pmid, kind, body = head
            if kind == "t" or current is None or current.id != pmid:
                current = Document(id=pmid, title=body if kind == "t" else "")
                docs.append(current)
                if kind == "a":
                    current.abstract = body
            else:
                current.abstract = body
            continue
        cols = line.split("\t")
        if is_relation_line(cols):
            continue
        if len(cols) < 5:
            raise DataError(f"expected 'PMID|t|title', 'PMID|a|abstract' or 6 tab-separated mention "
                            f"columns, got {len(cols)} column(s)", file=str(path), line=n,
                            fix="use the PubTator format (PMID, start, end, mention, type, ids)")
        if current is None or cols[0] != current.id:
            raise DataError(f"mention of document {cols[0]} outside that document's block", file=str(path),
                            line=n, fix="put mention lines right after their document's title/abstract")
        try:
            start, end = int(cols[1]), int(cols[2])
        except ValueError:
            raise DataError(f"offsets {cols[1]!r}, {cols[2]!r} are not integers", file=str(path),
                            line=n, fix="give character offsets start<TAB>end") from None
        text = current.text
        if not 0 <= start < end <= len(text):
            raise DataError(f"span {start}-{end} is outside the text of document {current.id} "
                            f"({len(text)} characters)", file=str(path), line=n,
                            fix="offsets count characters of title + ' ' + abstract, end exclusive")
        if check_text and text[start:end].strip() != cols[3].strip():
            raise DataError(f"span {start}-{end} reads {text[start:end]!r}, the line says {cols[3]!r}",
                            file=str(path), line=n,
                            fix="fix the offsets (title + ' ' + abstract, end exclusive) or the mention")
        current.mentions.append(Mention(start, end, text[start:end], cols[4], split_ids(cols[5] if len(cols) > 5 else "")))
    if not docs:
        raise DataError("no documents", file=str(path), fix="give 'PMID|t|title' and 'PMID|a|abstract' lines")
    return docs


def check_types(types: Sequence[str], seen: Iterable[str], where: str | None = None,
                column: str = "linking.entity_types", file: str | None = None) -> set[str]:
    """The mention types to keep, lower-cased, after checking that each of ``types`` is one of ``seen``.

    Args:
        types: the types asked for (case-insensitive; empty = every type).
        seen: the type of every mention the documents have (none: nothing to check).
        where: the files read, for the message.
        column: the key that asked for ``types`` (``"linking.entity_types"``, ``"data.mention_types"``).
        file: the project file that holds ``column``: the error names it as its file and ``where`` in the
            message (None: the error's file is ``where``).

    Raises:
        ConfigError: a type no mention has (a typo, or another corpus's type), naming the files, the key and the
            types seen.
    """
    want = {t.strip().lower() for t in types}
    found = sorted(set(seen))
    missing = sorted(t for t in types if t.strip().lower() not in {f.lower() for f in found})
    if found and missing:
        read = f" in {where}" if file is not None and where else ""
        raise ConfigError(f"no mention of type {missing}{read}; the mentions' types are {found}",
                          file=file if file is not None else where, column=column,
                          fix=f"name some of {found} (or leave the key out for all)")
    return want


def file_mention_types(paths: Iterable[str | os.PathLike]) -> set[str]:
    """The mention types of PubTator files, from a scan of their mention lines (no document is built, no offset
    checked), to check a project's types before a run starts. A file that is missing, not UTF-8 or not PubTator
    (its first line is not ``PMID|t|title``: plain text, JSONL) adds none: its reader refuses or reads it later."""
    seen: set[str] = set()
    for p in paths:
        try:
            with Path(p).open(encoding="utf-8-sig") as fh:
                first = next((ln for ln in fh if ln.strip()), "")
                head = first.split("|", 2)
                if len(head) < 3 or head[1] != "t" or "\t" in head[0]:
                    continue
                for raw in fh:
                    cols = raw.rstrip("\r\n").split("\t")
                    if len(cols) >= 5 and not is_relation_line(cols):
                        seen.add(cols[4])
        except (OSError, UnicodeDecodeError):
            continue
    return seen


def check_file_types(types: Sequence[str], paths: Sequence[str | os.PathLike], column: str,
                     project_file: str | os.PathLike | None = None) -> None:
    """Before a run: each of ``types`` (the project's ``column``) is a mention type of the PubTator ``paths``
    (:func:`file_mention_types`; nothing to check when ``types`` is empty or the files have no mentions).

    Raises:
        ConfigError: naming ``project_file``, ``column``, the files and the types they have.
    """
    if types:
        check_types(types, file_mention_types(paths), ", ".join(str(p) for p in paths), column,
                    None if project_file is None else str(project_file))


def keep_types(docs: Sequence[Document], types: Sequence[str], where: str | None = None,
               column: str = "linking.entity_types") -> list[Document]:
    """The documents with only their mentions of ``types`` (case-insensitive; empty = all types).

    Raises:
        ConfigError: a type that no mention has (:func:`check_types`: naming ``column`` and the types the
            documents have).
    """
    if not types:
        return list(docs)
    want = check_types(types, (m.type for d in docs for m in d.mentions), where, column)
    return [Document(d.id, d.title, d.abstract, [m for m in d.mentions if m.type.lower() in want]) for d in docs]


def mention_types(docs: Iterable[Document]) -> dict[str, int]:
    """Mention type -> number of mentions, most frequent first."""
    counts = Counter(m.type for d in docs for m in d.mentions)
    return dict(counts.most_common())


def mention_lines(paths: Iterable[str | os.PathLike]) -> dict[tuple[str, int, int], tuple[str, int]]:
    """(document id, start, end) -> (file, 1-based line) of every mention line of the PubTator ``paths`` (the
    first when several give the same mention); files that are missing or not UTF-8 are skipped (the reader has
    refused them already). For messages that point at a mention's line."""
    out: dict[tuple[str, int, int], tuple[str, int]] = {}
    for p in paths:
        try:
            with Path(p).open(encoding="utf-8-sig") as fh:
                for n, raw in enumerate(fh, start=1):
                    cols = raw.rstrip("\r\n").split("\t")
                    if len(cols) >= 5 and cols[1].isdigit() and cols[2].isdigit():
                        out.setdefault((cols[0], int(cols[1]), int(cols[2])), (str(p), n))
        except (OSError, UnicodeDecodeError):
            continue
    return out


def read_corpus(paths: Iterable[str | os.PathLike]) -> list[Document]:
    """Documents of several PubTator files, in order."""
    out: list[Document] = []
    for p in paths:
        out += read_pubtator(p)
    return out
