"""Readers and writers of span corpora: PubTator, CoNLL (BIO) and JSONL (spaCy / Label Studio).

Every reader returns a list of :class:`SpanDoc` whose gold spans are character offsets into
``doc.text``; every writer writes atomically (:mod:`polarlab.export.atomic`). Bad input stops
with a :class:`polarlab.errors.DataError` naming the file, line and what to do.

(When the shared ``polarlab.data.pubtator`` module lands, :func:`read_pubtator` can delegate to
it; the span task only needs ``list[SpanDoc]``.)
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from ..data.pubtator import check_types, is_relation_line
from ..errors import DataError
from ..export.atomic import write_text
from ..io.jsonl import json_objects
from ..io.jsonout import dumps
from .tokenize import spans_to_tags, tag_names, tags_to_spans, tokenize
from .types import Span, SpanDoc

SpansOf = Callable[[SpanDoc], Sequence[Span]]


def _gold(doc: SpanDoc) -> Sequence[Span]:
    return doc.spans


def _need(path: Path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise DataError("file not found", file=str(path), fix="check the path")
    return path


# ---------------------------------------------------------------------------------- PubTator
def read_pubtator(path: str | Path, label: str | None = "Disease", annotated: str = "all",
                  types: Sequence[str] = ()) -> list[SpanDoc]:
    """Read a PubTator file (``PMID|t|title``, ``PMID|a|abstract``, then one
    ``PMID<TAB>start<TAB>end<TAB>mention<TAB>type[<TAB>ids]`` line per mention; blank line between
    documents; relation lines, :func:`polarlab.data.pubtator.is_relation_line`, are skipped). ``doc.text`` is
    title + " " + abstract, which is what the offsets count.

    Args:
        label: the label every mention gets (NCBI-disease's four mention types are all diseases);
            None keeps each mention's own type as its label. The original type and concept ids are
            kept in ``doc.meta["mentions"]``.
        annotated: ``"all"``: every document carries gold (one without mention lines has no entity);
            ``"with_mentions"``: a document without any mention line was not annotated (``has_gold`` False:
            scoring leaves it out). PubTator cannot say it otherwise; :func:`mark_annotated` takes a list of ids.
        types: keep only the mentions of these types (case-insensitive; empty = every type), e.g. ``["Disease"]``
            in a BC5CDR file that also has Chemical mentions; the others are not gold spans (nor in
            ``doc.meta["mentions"]``). A document whose mention lines are all of other types is still annotated.

    Raises:
        DataError: a malformed file (naming the file and line).
        ConfigError: one of ``types`` that no mention of the file has (naming the key ``data.mention_types`` and
            the types the file has).
    """
    if annotated not in ("all", "with_mentions"):
        raise DataError(f"annotated = {annotated!r}", column="annotated", fix='use "all" or "with_mentions"')
    path = _need(path)
    docs: list[SpanDoc] = []
    cur: dict | None = None
    want = {t.strip().lower() for t in types}
    seen: set[str] = set()

    def close() -> None:
        if cur is not None:
            if cur["title"] is None or cur["abstract"] is None:
                raise DataError(f"document {cur['id']} lacks its title or abstract line", file=str(path),
                                line=cur['line'], fix="each document needs PMID|t| and PMID|a| lines")
            text = cur["title"] + " " + cur["abstract"]
            spans, mentions = [], []
            for ln, s, e, mention, typ, ids in cur["mentions"]:
                if want and typ.lower() not in want:
                    continue
                if not 0 <= s < e <= len(text):
                    raise DataError(f"span {s}-{e} is outside the text of document {cur['id']} ({len(text)} "
                                    "characters)", file=str(path), line=ln,
                                    fix="offsets count characters of title + ' ' + abstract, end exclusive")
                if text[s:e] != mention:
                    if text[s:e].strip() != mention.strip() or not mention.strip():
                        raise DataError(f"mention {mention!r} at {s}-{e} does not match the text "
                                        f"({text[s:e]!r})", file=str(path), line=ln,
                                        fix="offsets count characters of title + ' ' + abstract")
                    # the same words with other white space around them (NCBI-disease's train file has
                    # 'seizures " plus "  ' over 'seizures " plus " '): the span is the words' own extent
                    inner = text[s:e]
                    s += len(inner) - len(inner.lstrip())
                    e -= len(inner) - len(inner.rstrip())
                spans.append(Span(s, e, label or typ, "gold"))
                mentions.append({"start": s, "end": e, "type": typ, "ids": ids})
            docs.append(SpanDoc(cur["id"], text, sorted(spans), {"title_len": len(cur["title"]), "mentions": mentions},
                                has_gold=annotated == "all" or bool(cur["mentions"])))

    with path.open(encoding="utf-8") as fh:
        for ln, raw in enumerate(fh, start=1):
            line = raw.rstrip("\n").rstrip("\r")
            if not line.strip():
                continue
            if "|t|" in line[:40] or "|a|" in line[:40]:
                pmid, kind, rest = line.split("|", 2)
                if cur is None or cur["id"] != pmid or (kind == "t" and cur["title"] is not None):
                    close()
                    cur = {"id": pmid, "title": None, "abstract": None, "mentions": [], "line": ln}
                cur["title" if kind == "t" else "abstract"] = rest
                continue
            parts = line.split("\t")
            if is_relation_line(parts):
                continue                    # a relation (BC5CDR's CID lines), not a span
            if cur is None or len(parts) < 5 or parts[0] != cur["id"]:
                raise DataError(f"unexpected line {line[:60]!r}", file=str(path), line=ln,
                                fix="mention lines are PMID<TAB>start<TAB>end<TAB>text<TAB>type after "
                                    "the document's |t| and |a| lines")
            try:
                s, e = int(parts[1]), int(parts[2])
            except ValueError:
                raise DataError(f"offsets {parts[1]!r}, {parts[2]!r} are not integers", file=str(path),
                                line=ln, fix="write character offsets as integers") from None
            cur["mentions"].append((ln, s, e, parts[3], parts[4], parts[5] if len(parts) > 5 else ""))
            seen.add(parts[4])
    close()
    if types:
        check_types(types, seen, str(path), "data.mention_types")
    return docs


def read_id_list(path: str | Path) -> dict[str, int]:
    """Document ids, one per line (blank lines and ``#`` comments skipped): id -> its 1-based line."""
    path = _need(path)
    out: dict[str, int] = {}
    with path.open(encoding="utf-8-sig") as fh:
        for n, raw in enumerate(fh, start=1):
            line = raw.split("#", 1)[0].strip()
            if line:
                out.setdefault(line, n)
    return out


def mark_annotated(docs: Sequence[SpanDoc], ids_file: str | Path) -> list[SpanDoc]:
    """``docs`` with ``has_gold`` True for the documents whose ids the file ``ids_file`` lists
    (:func:`read_id_list`) and False for the others (not annotated: left out of scoring), in place.

    Raises:
        DataError: the file lists an id no document has (a typo would leave an annotated document unscored
            silently), naming the file and line; or it lists none.
    """
    ids = read_id_list(ids_file)
    if not ids:
        raise DataError("no document ids", file=str(ids_file), fix="list the annotated documents' ids, one per line")
    known = {d.id for d in docs}
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise DataError(f"document id {unknown[0]!r} is not in the corpus" + (f" (nor {len(unknown) - 1} more)"
                                                                             if len(unknown) > 1 else ""),
                        file=str(ids_file), line=ids[unknown[0]],
                        fix="list ids of the [data] file's documents (its PMID|t| lines), one per line")
    for d in docs:
        d.has_gold = d.id in ids
    return list(docs)


def write_pubtator(docs: Iterable[SpanDoc], path: str | Path, spans_of: SpansOf = _gold) -> None:
    """Write documents (and ``spans_of(doc)``, default the gold spans) as PubTator."""
    out: list[str] = []
    for d in docs:
        tl = d.meta.get("title_len")
        title, abstract = (d.text[:tl], d.text[tl + 1:]) if tl is not None else ("", d.text)
        if tl is None:      # no title: keep offsets valid ("" + " " + text shifts by one)
            title, abstract = d.text.split(" ", 1) if " " in d.text else (d.text, "")
        out += [f"{d.id}|t|{title}", f"{d.id}|a|{abstract}"]
        for s in sorted(spans_of(d)):
            out.append(f"{d.id}\t{s.start}\t{s.end}\t{d.text[s.start:s.end]}\t{s.label}")
        out.append("")
    write_text(path, "\n".join(out) + "\n")


# ---------------------------------------------------------------------------------- CoNLL
def read_conll(path: str | Path, doc_separator: str = "-DOCSTART-") -> list[SpanDoc]:
    """Read a CoNLL file: one token per line (first column the token, last column its BIO tag,
    e.g. ``B-Disease``), blank lines between sentences, ``-DOCSTART-`` lines between documents
    (a file without them is one document per sentence). ``doc.text`` joins tokens with spaces and
    sentences with newlines; token offsets are kept in ``doc.meta["tokens"]`` (shape (n, 2))."""
    path = _need(path)
    docs: list[SpanDoc] = []
    has_docstart = any(l.startswith(doc_separator) for l in path.read_text(encoding="utf-8").splitlines())
    sents: list[list[tuple[str, str, int]]] = []
    sent: list[tuple[str, str, int]] = []

    def flush_doc() -> None:
        nonlocal sents
        if sent:
            sents.append(list(sent))
            sent.clear()
        if not sents:
            return
        text, offs, tags = "", [], []
        for si, s in enumerate(sents):
            if si:
                text += "\n"
            for ti, (tok, tag, ln) in enumerate(s):
                if ti:
                    text += " "
                offs.append((len(text), len(text) + len(tok)))
                text += tok
                tags.append((tag, ln))
        types = sorted({t[2:] for t, _ in tags if t != "O"})
        names = tag_names(types)
        idx = []
        for tag, ln in tags:
            if tag != "O" and (tag[:2] not in ("B-", "I-") or tag not in names):
                raise DataError(f"tag {tag!r} is not O, B-<type> or I-<type>", file=str(path),
                                line=ln, fix="write BIO tags in the last column")
            idx.append(names.index(tag))
        o = np.asarray(offs, dtype=np.int64).reshape(-1, 2)
        docs.append(SpanDoc(str(len(docs)), text, tags_to_spans(idx, o, types, "gold"),
                            {"tokens": o, "sentences": [len(s) for s in sents]}))
        sents = []

    with path.open(encoding="utf-8") as fh:
        for ln, raw in enumerate(fh, start=1):
            line = raw.rstrip("\n").rstrip("\r")
            if line.startswith(doc_separator):
                flush_doc()
                continue
            if not line.strip():
                if sent:
                    sents.append(list(sent))
                    sent.clear()
                    if not has_docstart:
                        flush_doc()
                continue
            cols = line.split("\t") if "\t" in line else line.split()
            if len(cols) < 2:
                raise DataError(f"line {line[:60]!r} has no tag column", file=str(path), line=ln,
                                fix="write 'token<TAB>tag' (tag last)")
            sent.append((cols[0], cols[-1], ln))
    flush_doc()
    return docs


def write_conll(docs: Iterable[SpanDoc], path: str | Path, types: Sequence[str] | None = None,
                spans_of: SpansOf = _gold) -> None:
    """Write ``token<TAB>tag`` lines (``-DOCSTART-`` between documents). Tokens are the ones
    read from CoNLL when present (``doc.meta["tokens"]``), else polarlab's tokenizer's; sentence
    breaks are kept for CoNLL-read documents."""
    docs = list(docs)
    if types is None:
        types = sorted({s.label for d in docs for s in spans_of(d)})
    names = tag_names(types)
    out: list[str] = []
    for d in docs:
        offs = d.meta.get("tokens")
        offs = tokenize(d.text) if offs is None else np.asarray(offs)
        tags = spans_to_tags(spans_of(d), offs, types)
        sizes = d.meta.get("sentences") or [len(offs)]
        out += ["-DOCSTART-\tO", ""]
        i = 0
        for n in sizes:
            for a, b in offs[i:i + n]:
                out.append(f"{d.text[a:b]}\t{names[tags[i]]}")
                i += 1
            out.append("")
    write_text(path, "\n".join(out))


# ---------------------------------------------------------------------------------- JSONL
def read_jsonl(path: str | Path) -> list[SpanDoc]:
    """Read JSON lines in spaCy style ``{"id", "text", "spans": [{"start", "end", "label"}]}``
    (``"entities"`` also accepted) or Label Studio style ``{"id", "data": {"text"},
    "annotations": [{"result": [{"value": {"start", "end", "labels": [...]}}]}]}`` (the first
    annotation; ``predictions`` when there is none). A line with none of these keys (Label Studio: no annotation
    or prediction) has no gold (``has_gold`` False: left out of scoring); ``"spans": []`` is gold with no span."""
    path = _need(path)
    docs: list[SpanDoc] = []
    fix = 'one object per line: {"id", "text", "spans": [{"start", "end", "label"}]}'
    for ln, rec in json_objects(path, fix=fix):
        if isinstance(rec.get("data"), dict):               # Label Studio task
            text = rec["data"].get("text")
            anns = rec.get("annotations") or rec.get("predictions") or []
            has_gold = bool(anns)
            items = [{"start": r["value"]["start"], "end": r["value"]["end"],
                      "label": (r["value"].get("labels") or [""])[0]}
                     for r in (anns[0].get("result", []) if anns else []) if "start" in r.get("value", {})]
        else:
            text = rec.get("text")
            has_gold = "spans" in rec or "entities" in rec
            items = rec.get("spans", rec.get("entities", []))
            items = [dict(zip(("start", "end", "label"), it)) if isinstance(it, (list, tuple)) else it
                     for it in (items or [])]
        if not isinstance(text, str):
            raise DataError("no text", file=str(path), line=ln,
                            fix='give "text" (spaCy style) or "data": {"text": ...} (Label Studio)')
        spans = []
        for k, it in enumerate(items):
            s, e = _offsets(it, path, ln, k)
            if not 0 <= s < e <= len(text):
                raise DataError(f"span {s}-{e} is outside the text ({len(text)} characters)",
                                file=str(path), line=ln, fix="offsets count characters of text")
            spans.append(Span(s, e, str(it.get("label", "")), "gold"))
        docs.append(SpanDoc(str(rec.get("id", len(docs))), text, sorted(spans), has_gold=has_gold))
    return docs


def _offsets(item, path: Path, line: int, k: int) -> tuple[int, int]:
    """``item``'s integer ``start`` and ``end`` (DataError naming the file, line and span otherwise)."""
    fix = 'each span is {"start": int, "end": int, "label": str} (or [start, end, label]), character offsets'
    if not isinstance(item, dict) or "start" not in item or "end" not in item:
        raise DataError(f"span {k} has no start and end ({str(item)[:60]})", file=str(path), line=line, fix=fix)
    try:
        s, e = item["start"], item["end"]
        if isinstance(s, bool) or isinstance(e, bool) or int(s) != s or int(e) != e:
            raise ValueError
        return int(s), int(e)
    except (TypeError, ValueError):
        raise DataError(f"span {k}: start {item['start']!r} and end {item['end']!r} are not integers",
                        file=str(path), line=line, fix=fix) from None


def write_jsonl(docs: Iterable[SpanDoc], path: str | Path, spans_of: SpansOf = _gold,
                style: str = "spacy", extra: Callable[[SpanDoc, Span], dict] | None = None) -> None:
    """Write JSON lines, ``style`` ``"spacy"`` or ``"label_studio"`` (spans as annotations).
    ``extra(doc, span)`` adds fields to each span (e.g. probability and risk). Writing gold (the default
    ``spans_of``), a document without gold (``has_gold`` False) gets no ``"spans"`` (no annotation), as read."""
    if style not in ("spacy", "label_studio"):
        raise DataError(f"unknown JSONL style {style!r}", column="style", fix="use 'spacy' or 'label_studio'")
    lines = []
    for d in docs:
        items = []
        for s in sorted(spans_of(d)):
            more = extra(d, s) if extra else {}
            if style == "spacy":
                items.append({"start": s.start, "end": s.end, "label": s.label, "text": d.text[s.start:s.end], **more})
            else:
                items.append({"type": "labels", "from_name": "label", "to_name": "text",
                              "value": {"start": s.start, "end": s.end, "text": d.text[s.start:s.end],
                                        "labels": [s.label]}, **more})
        rec = ({"id": d.id, "text": d.text, "spans": items} if style == "spacy"
               else {"id": d.id, "data": {"text": d.text}, "annotations": [{"result": items}]})
        if spans_of is _gold and not d.has_gold:
            rec.pop("spans" if style == "spacy" else "annotations")
        lines.append(dumps(rec, ensure_ascii=False))
    write_text(path, "\n".join(lines) + ("\n" if lines else ""))
