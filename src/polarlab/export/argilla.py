"""Argilla: records with suggestions (export), finished responses (import).

A reviewed row's suggestion is its reviewers' label (agent ``"polarlab-human"``, score = the share of
reviewers who gave it), not the model's.

Export: a JSON list of records in Argilla 2's ``Record.to_dict()`` shape, so
``rg.Record.from_dict(d)`` (or ``dataset.records.log``) takes them as they are::

    {"id": "<split>/<example id>", "fields": {"text": ...},
     "metadata": {"polarlab_id", "split", "risk", "label_source", "reviewed", "provenance" (JSON text)},
     "suggestions": {"label": {"value": label, "score": 1 - risk, "agent": "polarlab-<method>"}},
     "responses": {"label": [{"value": label, "user_id": annotator}, ...]}, "vectors": {}}

Import: the same shape as Argilla 2 exports it (``dataset.records.to_json``, ``to_list(flatten=False)``),
or Argilla 1's FeedbackDataset records (``"responses": [{"values": {"label": {"value": ...}},
"user_id", "status", "updated_at"}]``); JSON list or JSON Lines. Submitted responses become
:class:`HumanVote` s (tool ``"argilla"``); discarded and draft ones are skipped. Argilla 2's record
dict carries no response time: the record's ``updated_at``/``inserted_at`` is used when present,
else the file's modification time. Each answer keeps the label polarlab suggested for its record (``shown``,
the ``polarlab-*`` suggestion), so the report compares the answers with it.
"""
from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..errors import DataError
from ..task import Task
from ..io.atomic import write_text
from ..io.jsonout import dumps
from .provenance import HumanVote, LabeledData, shown_in_export

QUESTION, FIELD = "label", "text"


def to_records(data: LabeledData) -> list[dict[str, Any]]:
    """Argilla records, one per example: the exported label as a suggestion scored 1 - risk (the model's,
    agent ``polarlab-<method>``; on a reviewed row the reviewers' label, agent ``polarlab-human``, score =
    the share of reviewers who gave it), human votes as responses."""
    frame = data.frame()
    fin = data.final()
    by_id = data.human_by_id()
    out = []
    for i, row in enumerate(frame.itertuples(index=False)):
        meta: dict[str, Any] = {"polarlab_id": row.id, "risk": float(row.risk), "label_source": row.label_source,
                                "reviewed": bool(row.reviewed), "provenance": row.provenance}
        key = (None, row.id)
        if data.split is not None:
            meta["split"] = row.split
            key = (row.split, row.id)
        responses = [{"value": data.task.labels[v.label], "user_id": v.annotator}
                     for v in sorted(by_id.get(key, []), key=lambda v: v.time)]
        out.append({"id": row.id if data.split is None else f"{row.split}/{row.id}", "fields": {FIELD: row.text}, "metadata": meta,
                    "suggestions": {QUESTION: {"value": row.label, "score": 1.0 - float(fin.risk[i]),
                                               "agent": f"polarlab-{fin.source[i]}"}},
                    "responses": {QUESTION: responses} if responses else {}, "vectors": {}, "_server_id": None})
    return out


def write_records(data: LabeledData, path: str | Path) -> Path:
    """The records as one JSON list; atomic."""
    write_text(path, dumps(to_records(data), ensure_ascii=False, indent=1) + "\n")
    return Path(path)


def read_records(path: str | Path) -> list[dict[str, Any]]:
    """Records from a JSON list or JSON Lines file."""
    path = Path(path)
    if not path.exists():
        raise DataError("no such file", file=str(path), fix="give the JSON file exported from Argilla")
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        data = []
        for n, line in enumerate(text.splitlines()):
            if line.strip():
                try:
                    data.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise DataError(f"invalid JSON: {e.msg}", file=str(path), line=n + 1,
                                    fix="export the records again (records.to_json)") from None
    if isinstance(data, dict):   # {"records": [...]}, or a JSON Lines file of one record
        data = data.get("records", [data])
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise DataError("expected a list of records", file=str(path), fix="export with dataset.records.to_json(path)")
    return data


def _responses(rec: dict[str, Any], question: str) -> list[tuple[Any, str, str | None]]:
    """(value, user, time) of the submitted answers to ``question`` in one record (Argilla 1 or 2)."""
    raw = rec.get("responses") or {}
    out = []
    if isinstance(raw, dict):                                   # Argilla 2: {question: [{value, user_id}]}
        for r in raw.get(question) or []:
            if r.get("status", "submitted") == "submitted":
                out.append((r.get("value"), str(r.get("user_id")), r.get("updated_at") or r.get("inserted_at")))
    else:                                                       # Argilla 1: [{values: {q: {value}}, user_id}]
        for r in raw:
            if r.get("status", "submitted") != "submitted" or question not in (r.get("values") or {}):
                continue
            out.append((r["values"][question].get("value"), str(r.get("user_id")),
                        r.get("updated_at") or r.get("inserted_at")))
    return out


def _shown(rec: dict[str, Any], task: Task, question: str) -> tuple[int | None, str | None]:
    """The label polarlab suggested for ``question`` in this record and whose it was (see :func:`shown_in_export`):
    Argilla 2's ``{"suggestions": {question: {value, agent}}}`` or Argilla 1's ``[{question_name, value, agent}]``."""
    raw = rec.get("suggestions") or {}
    found = raw.get(question) if isinstance(raw, dict) else next(
        (x for x in raw if isinstance(x, dict) and x.get("question_name") == question), None)
    agent = found.get("agent") if isinstance(found, dict) else None
    if not (isinstance(agent, str) and agent.startswith("polarlab-")):
        return None, None
    return shown_in_export(task, found.get("value"), agent[len("polarlab-"):])


def read_annotations(path: str | Path, task: Task, text_ids: dict[str, str] | None = None,
                     question: str = QUESTION) -> list[HumanVote]:
    """Human votes from an Argilla records export (see the module docstring).

    The example is ``metadata.polarlab_id`` (and ``metadata.split``) when the record has them (records
    exported by polarlab), else the record's ``id`` (``external_id`` in Argilla 1) when the project knows
    it (``text_ids`` values), else the example whose text equals the record's first field.
    """
    path = Path(path)
    default = datetime.fromtimestamp(os.path.getmtime(path), timezone.utc).isoformat(timespec="seconds")
    known = set(text_ids.values()) if text_ids is not None else None
    out: list[HumanVote] = []
    for i, rec in enumerate(read_records(path)):
        answers = _responses(rec, question)
        if not answers:
            continue
        meta = rec.get("metadata") or {}
        split = meta.get("split")
        ex = meta.get("polarlab_id") or rec.get("id") or rec.get("external_id")
        if "polarlab_id" not in meta and known is not None and str(ex) not in known:
            fields = rec.get("fields") or {}
            text = fields.get(FIELD, next(iter(fields.values()), None))
            ex = text_ids.get(str(text)) if text is not None else None
        if ex is None:
            raise DataError("cannot tell which example this record is (no id, text not in the project)",
                            file=str(path), row=i, column="id",
                            fix="import records exported by polarlab (id = example id), or texts of this project")
        when = rec.get("updated_at") or rec.get("inserted_at") or default
        shown, shown_from = _shown(rec, task, question)
        for value, user, t in answers:
            label = task.label_index(value, file=str(path), row=i, column=f"responses.{question}")
            out.append(HumanVote(str(ex), label, user, str(t or when), "argilla",
                                 None if split is None else str(split), shown, shown_from))
    return out
