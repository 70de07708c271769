"""Label Studio: tasks JSON with predictions (export), finished annotations (import).

Export: a list of tasks ``{"data": {"text", "polarlab_id", "split", "risk", "label", "shown_label",
"label_source", "reviewed", "provenance"}, "predictions": [{"model_version", "score", "result": [choices]}]}``
(a reviewed row's prediction is its reviewers' label, ``model_version`` ``"polarlab-human"``; ``shown_label``
repeats ``label`` under a name JSON-MIN keeps, where the answer takes the key ``label``) plus the labeling config
(``<Choices>`` over ``<Text>``) beside it, built and validated with ``label-studio-sdk``'s
``LabelInterface`` when installed. Import it in Label Studio, annotate, export as JSON.

Import: Label Studio's JSON export (a list of tasks with ``annotations``; each annotation has
``result`` with ``{"type": "choices", "value": {"choices": [label]}}``, ``completed_by``,
``created_at``/``updated_at``, ``was_cancelled``) or its JSON-MIN export (flat rows with the
choice under the control's name, ``annotator``, ``created_at``/``updated_at``). Every finished
annotation becomes a :class:`HumanVote` (tool ``"label_studio"``) with the label polarlab exported for its
task (``shown``: ``data.shown_label``, else ``data.label`` of the JSON export, else the ``polarlab-*``
prediction), so the report compares the answers with it.
"""
from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

from ..errors import DataError
from ..task import Task
from ..io.atomic import write_text
from ..io.jsonout import dumps
from .provenance import HumanVote, LabeledData, shown_in_export

FROM_NAME, TO_NAME = "label", "text"


def label_config(task: Task) -> str:
    """The labeling config: one single-choice question over the text."""
    choices = "".join(f"<Choice value={quoteattr(lab)}/>" for lab in task.labels)
    return (f'<View><Text name="{TO_NAME}" value="$text"/>'
            f'<Choices name="{FROM_NAME}" toName="{TO_NAME}" choice="single">{choices}</Choices></View>')


def _interface(task: Task):
    """label-studio-sdk's LabelInterface of :func:`label_config`, or None when the SDK is absent."""
    try:
        from label_studio_sdk.label_interface import LabelInterface
    except ImportError:  # pragma: no cover - optional
        return None
    return LabelInterface(label_config(task))


def _choice(task: Task, li, label: str) -> dict[str, Any]:
    if li is not None:
        return li.get_control(FROM_NAME).label([label])._dict()
    return {"from_name": FROM_NAME, "to_name": TO_NAME, "type": "choices", "value": {"choices": [label]}}


def to_tasks(data: LabeledData) -> list[dict[str, Any]]:
    """Label Studio tasks, one per example, the exported label as a prediction scored 1 - risk: the
    model's (``model_version`` ``polarlab-<method>``), or on a reviewed row the reviewers' label
    (``polarlab-human``, score = the share of reviewers who gave it)."""
    frame = data.frame()
    fin = data.final()
    li = _interface(data.task)
    tasks = []
    for i, row in enumerate(frame.itertuples(index=False)):
        d = {"text": row.text, "polarlab_id": row.id, "risk": float(row.risk),
             "label": row.label, "shown_label": row.label, "label_source": row.label_source,
             "reviewed": bool(row.reviewed), "provenance": json.loads(row.provenance)}
        if data.split is not None:
            d["split"] = row.split
        pred = {"model_version": f"polarlab-{fin.source[i]}", "score": 1.0 - float(fin.risk[i]),
                "result": [_choice(data.task, li, row.label)]}
        if li is not None:
            errors = li.validate_prediction(pred, return_errors=True)
            if errors:  # pragma: no cover - the config and the labels come from the same task
                raise DataError(f"Label Studio rejects the prediction: {errors}", row=row.id)
        tasks.append({"data": d, "predictions": [pred]})
    return tasks


def write_tasks(data: LabeledData, path: str | Path) -> Path:
    """``path`` (tasks JSON) and ``<stem>.label_config.xml`` beside it; atomic."""
    path = Path(path)
    write_text(path.with_name(path.stem + ".label_config.xml"), label_config(data.task) + "\n")
    write_text(path, dumps(to_tasks(data), ensure_ascii=False, indent=1) + "\n")
    return path


def _load(path: Path) -> list:
    if not path.exists():
        raise DataError("no such file", file=str(path), fix="give the JSON file Label Studio exported")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise DataError(f"invalid JSON at line {e.lineno}: {e.msg}", file=str(path),
                        fix="export the project again from Label Studio as JSON") from None
    if not isinstance(data, list):
        raise DataError("expected a JSON list of tasks", file=str(path),
                        fix="export from Label Studio with the JSON or JSON-MIN format")
    return data


def _mtime(path: Path) -> str:
    return datetime.fromtimestamp(os.path.getmtime(path), timezone.utc).isoformat(timespec="seconds")


def _who(ann: dict[str, Any]) -> str:
    user = ann.get("created_username") or ann.get("annotator") or ann.get("completed_by")
    if isinstance(user, dict):
        user = user.get("email") or user.get("username") or user.get("id")
    if user is None or str(user).strip() == "":
        return "label-studio-user"
    return str(user) if not isinstance(user, int) else f"label-studio-user-{user}"


def _example_id(rec: dict[str, Any], text_ids: dict[str, str] | None, path: Path, i: int) -> str:
    data = rec.get("data", rec)
    if "polarlab_id" in data:
        return str(data["polarlab_id"])
    if text_ids is not None and str(data.get(TO_NAME)) in text_ids:
        return text_ids[str(data.get(TO_NAME))]
    raise DataError("cannot tell which example this task is (no data.polarlab_id, text not in the project)",
                    file=str(path), row=i, column="data.polarlab_id",
                    fix="import tasks exported by polarlab (they carry polarlab_id), or texts of this project")


def _shown(rec: dict[str, Any], task: Task) -> tuple[int | None, str | None]:
    """The label polarlab exported for this task and whose it was (see :func:`shown_in_export`)."""
    data = rec.get("data", rec)
    source = data.get("label_source")
    if "shown_label" in data:
        return shown_in_export(task, data["shown_label"], source)
    if "data" in rec and source is not None:          # the JSON export of an older polarlab export
        return shown_in_export(task, data.get("label"), source)
    for pred in rec.get("predictions") or []:
        version = pred.get("model_version") if isinstance(pred, dict) else None
        if isinstance(version, str) and version.startswith("polarlab-"):
            for res in pred.get("result") or []:
                choices = (res.get("value") or {}).get("choices") or []
                if res.get("type") == "choices" and len(choices) == 1:
                    return shown_in_export(task, choices[0], version[len("polarlab-"):])
    return None, None


def _split(rec: dict[str, Any]) -> str | None:
    s = rec.get("data", rec).get("split")
    return None if s is None else str(s)


def read_annotations(path: str | Path, task: Task, text_ids: dict[str, str] | None = None,
                     from_name: str | None = None) -> list[HumanVote]:
    """Human votes from a Label Studio JSON or JSON-MIN export.

    Args:
        path: the export file.
        task: the project's task (label names).
        text_ids: text -> example id, to match tasks that carry no ``polarlab_id``.
        from_name: the ``<Choices>`` control's name (default: any choices result; JSON-MIN: ``"label"``).

    Raises:
        DataError: naming the file, task index and field of the first problem.
    """
    path = Path(path)
    out: list[HumanVote] = []
    when_default = _mtime(path)
    for i, rec in enumerate(_load(path)):
        if not isinstance(rec, dict):
            raise DataError("a task is not a JSON object", file=str(path), row=i, fix="export as JSON")
        if "annotations" not in rec and "data" not in rec:          # JSON-MIN
            key = from_name or FROM_NAME
            if key not in rec:
                continue
            ex = _example_id(rec, text_ids, path, i)
            values = rec[key] if isinstance(rec[key], list) else [rec[key]]
            when = rec.get("updated_at") or rec.get("created_at") or when_default
            shown, shown_from = _shown(rec, task)
            for v in values:
                out.append(HumanVote(ex, task.label_index(v, file=str(path), row=i, column=key), _who(rec),
                                     str(when), "label_studio", _split(rec), shown, shown_from))
            continue
        ex = _example_id(rec, text_ids, path, i)
        shown, shown_from = _shown(rec, task)
        for ann in rec.get("annotations") or []:
            if ann.get("was_cancelled"):
                continue
            when = str(ann.get("updated_at") or ann.get("created_at") or when_default)
            for res in ann.get("result") or []:
                if res.get("type") != "choices" or (from_name and res.get("from_name") != from_name):
                    continue
                choices = (res.get("value") or {}).get("choices") or []
                if len(choices) != 1:
                    raise DataError(f"{len(choices)} choices in one answer", file=str(path), row=i,
                                    column="annotations.result.value.choices",
                                    fix="use a single-choice <Choices> control")
                label = task.label_index(choices[0], file=str(path), row=i, column="annotations.result.value.choices")
                out.append(HumanVote(ex, label, _who(ann), when, "label_studio", _split(rec), shown, shown_from))
    return out


def read_tasks(path: str | Path) -> list[dict[str, Any]]:
    """The tasks of a tasks JSON (as :func:`write_tasks` wrote it)."""
    return _load(Path(path))
