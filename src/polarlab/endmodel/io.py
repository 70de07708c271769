"""Save and load end models: a directory with ``endmodel.json`` (kind, options, task, label names,
anything extra such as metrics) and the weights (``weights.npz`` or ``weights.pt``).

The directory is written beside the target and renamed into place, so a crash leaves the old
model or the new one, never half of one.
"""
from __future__ import annotations

import dataclasses
import json
import secrets
import shutil
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..export.labels import to_json
from ..task import Task
from .base import END_MODELS, EndModel

FORMAT = "polarlab-endmodel"
VERSION = 1
META = "endmodel.json"


def task_to_dict(task: Task) -> dict[str, Any]:
    """The task as a JSON-able dict (tuples become lists)."""
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(task).items()
            if v is not None}


def replace_dir(tmp: Path, target: Path) -> None:
    """Move the finished directory ``tmp`` to ``target``, replacing what was there."""
    old = None
    if target.exists():
        old = target.parent / f".{target.name}.{secrets.token_hex(4)}.old"
        target.rename(old)
    tmp.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def save_end_model(model: EndModel, directory: str | Path, extra: dict[str, Any] | None = None) -> Path:
    """Write ``model`` to ``directory`` (created or replaced)."""
    target = Path(directory)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.{secrets.token_hex(4)}.tmp"
    tmp.mkdir()
    try:
        model._save_weights(tmp)
        meta = {"format": FORMAT, "version": VERSION, "kind": model.kind, "params": model.params(),
                "task": task_to_dict(model.task), "labels": list(model.task.labels), **(extra or {})}
        (tmp / META).write_text(to_json(meta) + "\n", encoding="utf-8")
        replace_dir(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def read_meta(directory: str | Path) -> dict[str, Any]:
    """``endmodel.json`` of a saved model, checked."""
    path = Path(directory) / META
    if not path.exists():
        raise InputError(f"no {META} in {directory}", file=str(directory),
                         fix="give a directory written by EndModel.save / the end-model stage")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise InputError(f"invalid JSON: {e.msg}", file=str(path), fix="save the model again") from None
    if meta.get("format") != FORMAT or meta.get("kind") not in END_MODELS:
        raise InputError(f"not a polarlab end model (format {meta.get('format')!r}, kind {meta.get('kind')!r})",
                         file=str(path), fix="save the model again with this version of polarlab")
    return meta


def load_end_model(directory: str | Path) -> EndModel:
    """The end model saved in ``directory``, ready to predict (task and label names restored)."""
    from . import logreg, transformer  # noqa: F401  (registers the kinds)

    meta = read_meta(directory)
    task = Task.from_dict(meta["task"])
    model = END_MODELS[meta["kind"]](task, **meta.get("params", {}))
    model._load_weights(Path(directory))
    model.meta_ = meta
    return model
