"""BEIR-layout retrieval data: ``corpus.jsonl``, ``queries.jsonl``, ``qrels/<split>.tsv`` (optional).

corpus.jsonl rows are ``{"_id", "title", "text"}``; queries.jsonl rows ``{"_id", "text"}``;
a qrels file is tab-separated ``query-id, corpus-id, score`` with a header line. Every problem
is reported before any slow work, naming the file and line.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Collection, Mapping

from ..errors import DataError
from ..io.jsonl import json_objects

Qrels = dict[str, dict[str, int]]   # query id -> {doc id: graded relevance}


@dataclass
class BeirData:
    """A retrieval benchmark in memory.

    Attributes:
        doc_ids: corpus ids, in file order (position = document index, shape (n_docs,)).
        titles, texts: per document, aligned with ``doc_ids``.
        queries: query id -> query text (all queries of queries.jsonl).
        qrels: split name -> :data:`Qrels` (only relevance > 0 kept).
        root: the folder it was loaded from.
    """

    doc_ids: list[str]
    titles: list[str]
    texts: list[str]
    queries: dict[str, str]
    qrels: dict[str, Qrels] = field(default_factory=dict)
    root: Path | None = None

    def __post_init__(self) -> None:
        self.doc_index = {d: i for i, d in enumerate(self.doc_ids)}

    @property
    def n_docs(self) -> int:
        return len(self.doc_ids)

    def doc_text(self, i: int, max_chars: int | None = None) -> str:
        """``title. text`` of document ``i``, cut to ``max_chars`` characters (at a word) if given."""
        title, text = self.titles[i].strip(), self.texts[i].strip()
        s = f"{title}. {text}" if title and not title.endswith(".") else f"{title} {text}".strip()
        if max_chars is not None and len(s) > max_chars:
            s = s[:max_chars].rsplit(" ", 1)[0]
        return s

    def split_queries(self, split: str) -> list[str]:
        """Ids of the queries that have qrels in ``split`` (sorted as in queries.jsonl)."""
        if split not in self.qrels:
            raise DataError(f"no qrels split {split!r} loaded", column="split",
                            fix=f"use one of {sorted(self.qrels)} (files qrels/<split>.tsv)")
        q = self.qrels[split]
        return [qid for qid in self.queries if qid in q]


def _read_jsonl(path: Path, required: tuple[str, ...]) -> list[tuple[int, dict]]:
    """The JSON objects of a BEIR ``.jsonl`` file with their 1-based line numbers (blank lines skipped)."""
    if not path.is_file():
        raise DataError("file not found", file=str(path),
                        fix="give a BEIR folder with corpus.jsonl, queries.jsonl and (optional) qrels/<split>.tsv")
    fix = 'write rows like {"_id": "1", "title": "...", "text": "..."}'
    rows = list(json_objects(path, fix=fix))
    for line_no, row in rows:
        if any(k not in row for k in required):
            raise DataError(f"a row needs the keys {list(required)}", file=str(path), line=line_no, fix=fix)
    return rows


def _read_qrels(path: Path, queries: dict[str, str], doc_index: dict[str, int]) -> Qrels:
    out: Qrels = {}
    with path.open(encoding="utf-8", newline="") as fh:
        for line_no, rec in enumerate(csv.reader(fh, delimiter="\t"), 1):
            if not rec or (line_no == 1 and rec[0].strip().lower() in ("query-id", "query_id", "qid")):
                continue
            if len(rec) < 3:
                raise DataError(f"{len(rec)} columns, expected 3 (query-id, corpus-id, score)",
                                file=str(path), line=line_no, fix="separate the columns by tabs")
            qid, did, score = rec[0].strip(), rec[1].strip(), rec[2].strip()
            try:
                s = int(float(score))
            except ValueError:
                raise DataError(f"score {score!r} is not a number", file=str(path), line=line_no,
                                column="score", fix="use integer relevance grades (0, 1, 2, ...)") from None
            if qid not in queries:
                raise DataError(f"query {qid!r} is not in queries.jsonl", file=str(path), line=line_no,
                                column="query-id", fix="add the query or remove the line")
            if did not in doc_index:
                raise DataError(f"document {did!r} is not in corpus.jsonl", file=str(path), line=line_no,
                                column="corpus-id", fix="add the document to the corpus or remove the line")
            if s > 0:
                out.setdefault(qid, {})[did] = s
    return out


def load_corpus(path: str | Path) -> tuple[list[str], list[str], list[str]]:
    """Ids, titles and texts of a corpus.jsonl (DataError: missing, bad line, empty, duplicate id)."""
    corpus_path = Path(path)
    docs = _read_jsonl(corpus_path, ("_id", "text"))
    if not docs:
        raise DataError("the corpus is empty", file=str(corpus_path), fix="add at least one document")
    doc_ids, titles, texts, seen = [], [], [], set()
    for i, (line_no, d) in enumerate(docs):
        did = str(d["_id"])
        if did in seen:
            raise DataError(f"duplicate document id {did!r}", file=str(corpus_path), row=i, line=line_no,
                            column="_id", fix="give every document a distinct _id")
        seen.add(did)
        doc_ids.append(did)
        titles.append(str(d.get("title") or ""))
        texts.append(str(d["text"] or ""))
    return doc_ids, titles, texts


def load_queries(path: str | Path) -> dict[str, str]:
    """Query id -> text of a queries.jsonl (DataError: missing, bad line, empty, duplicate id)."""
    qpath = Path(path)
    queries: dict[str, str] = {}
    for i, (line_no, q) in enumerate(_read_jsonl(qpath, ("_id", "text"))):
        qid = str(q["_id"])
        if qid in queries:
            raise DataError(f"duplicate query id {qid!r}", file=str(qpath), row=i, line=line_no, column="_id",
                            fix="give every query a distinct _id")
        queries[qid] = str(q["text"])
    if not queries:
        raise DataError("no queries", file=str(qpath), fix="add at least one query")
    return queries


def load_beir(root: str | Path, splits: tuple[str, ...] = ("train", "test"), *,
              optional: Collection[str] = (), named_by: Mapping[str, str] | None = None) -> BeirData:
    """Load a BEIR folder.

    Parameters:
        root: folder with corpus.jsonl, queries.jsonl and (optionally) qrels/.
        splits: qrels files to read (``qrels/<split>.tsv``); a missing one is an error unless it is in
            ``optional``, in which case it is not loaded (absent from ``qrels``).
        named_by: split -> the setting that named it (e.g. ``"[relevance] test_split"``), for the message
            about a missing file.

    Raises:
        DataError: missing file, bad JSON line, empty corpus or queries, duplicate id, qrels naming
            an unknown query or document.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError("not a folder", file=str(root), fix="give the BEIR dataset folder")
    doc_ids, titles, texts = load_corpus(root / "corpus.jsonl")
    queries = load_queries(root / "queries.jsonl")
    data = BeirData(doc_ids, titles, texts, queries, root=root)
    for split in splits:
        p = root / "qrels" / f"{split}.tsv"
        if not p.is_file():
            if split in optional:
                continue
            raise _missing_qrels(p, split, (named_by or {}).get(split))
        data.qrels[split] = _read_qrels(p, queries, data.doc_index)
    return data


def _missing_qrels(path: Path, split: str, key: str | None) -> DataError:
    """The error of a qrels file that was asked for and is not there, naming the setting that asked for it
    (``key``, e.g. ``"[relevance] test_split"``) when one did."""
    if key is None:
        return DataError("qrels file not found", file=str(path),
                         fix=f"add qrels/{split}.tsv, or leave {split!r} out of the splits to load")
    return DataError(f"qrels file not found ({key} = {split!r} names it)", file=str(path),
                     fix=f"add qrels/{split}.tsv, or remove {key} from the settings: the run then uses the default "
                         f"split's qrels if that file exists, and otherwise skips what needs them (one log line)")
