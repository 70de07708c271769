"""WRENCH benchmark directories: ``{train,valid,test}.json`` + ``label.json``.

Each split file maps an id to ``{"data": {"text": ..., ["entity1", "entity2", "span1", "span2"]},
"label": int, "weak_labels": [m ints]}``. The precomputed ``weak_labels`` are kept as vote columns.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from ..task import Task
from .dataset import Dataset
from .loaders import _read_text, from_pandas

SPLITS = ("train", "valid", "test")


def wrench_task(directory: str | Path, instruction: str = "") -> Task:
    """The task a WRENCH directory describes (labels from ``label.json``; relation if entities exist)."""
    directory = Path(directory)
    path = directory / "label.json"
    try:
        mapping = json.loads(_read_text(path))
    except json.JSONDecodeError as e:
        raise DataError(f"invalid JSON: {e.msg}", file=str(path), fix="restore label.json") from None
    labels = [mapping[k] for k in sorted(mapping, key=int)]
    kind = "text"
    for split in SPLITS:
        f = directory / f"{split}.json"
        if f.exists():
            first = next(iter(_load_json(f).values()), {})
            kind = "relation" if "entity1" in first.get("data", {}) else "text"
            break
    return Task(labels=tuple(labels), kind=kind, name=directory.name, instruction=instruction)


def _load_json(path: Path) -> dict:
    try:
        data = json.loads(_read_text(path))
    except json.JSONDecodeError as e:
        raise DataError(f"invalid JSON at line {e.lineno}: {e.msg}", file=str(path),
                        fix="restore the file from the WRENCH release") from None
    if not isinstance(data, dict):
        raise DataError("expected a JSON object mapping id -> example", file=str(path),
                        fix="use WRENCH's format")
    return data


def load_wrench_split(path: str | Path, task: Task) -> Dataset:
    """One WRENCH split file as a Dataset whose ``weak_labels`` are the precomputed votes."""
    path = Path(path)
    data = _load_json(path)
    rows, weak = [], []
    m = None
    for key, rec in data.items():
        d = rec.get("data")
        if not isinstance(d, dict) or "text" not in d:
            raise DataError("no data.text", file=str(path), row=key, column="data.text",
                            fix="each example needs {\"data\": {\"text\": ...}}")
        wl = rec.get("weak_labels")
        if wl is None:
            raise DataError("no weak_labels", file=str(path), row=key, column="weak_labels",
                            fix="each WRENCH example lists its weak labels")
        if m is None:
            m = len(wl)
        elif len(wl) != m:
            raise DataError(f"{len(wl)} weak labels where earlier rows have {m}", file=str(path), row=key,
                            column="weak_labels", fix="every row needs one vote per labeling function")
        bad = [v for v in wl if not (v == -1 or 0 <= v < task.n_classes)]
        if bad:
            raise DataError(f"weak label {bad[0]} outside -1..{task.n_classes - 1}", file=str(path), row=key,
                            column="weak_labels", fix="votes must be class indices or -1")
        row = {"id": str(key), "text": d["text"], "label": rec.get("label")}
        for f in ("entity1", "entity2", "span1", "span2"):
            if f in d:
                row[f] = d[f]
        rows.append(row)
        weak.append(wl)
    frame = pd.DataFrame(rows)
    relation = "entity1" in frame.columns
    ds = from_pandas(frame, task, id_column="id",
                     entity_columns=("entity1", "entity2") if relation else None,
                     span_columns=("span1", "span2") if "span1" in frame.columns else None,
                     name=path.stem, source=str(path))
    m = m or 0
    ds.weak_labels = np.asarray(weak, dtype=np.int64).reshape(len(rows), m)
    ds.weak_label_names = [f"lf_{j}" for j in range(m)]
    return ds


def load_wrench(directory: str | Path, task: Task | None = None) -> dict[str, Dataset]:
    """Load every split present in a WRENCH directory.

    Returns:
        split name -> Dataset, for the splits that exist (``train`` may be absent, e.g. chemprot).

    Raises:
        DataError: missing directory/label.json, or splits with different numbers of labeling functions.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise DataError("WRENCH directory not found", file=str(directory),
                        fix="point to a folder holding train/valid/test.json and label.json")
    task = task or wrench_task(directory)
    out = {s: load_wrench_split(directory / f"{s}.json", task) for s in SPLITS
           if (directory / f"{s}.json").exists()}
    if not out:
        raise DataError("no train/valid/test.json", file=str(directory), fix="add at least one split file")
    widths = {s: d.weak_labels.shape[1] for s, d in out.items()}
    if len(set(widths.values())) > 1:
        raise DataError(f"splits have different numbers of weak labels: {widths}", file=str(directory),
                        column="weak_labels", fix="regenerate the splits with the same labeling functions")
    names = _lf_names(directory, next(iter(widths.values())))
    for d in out.values():
        d.weak_label_names = names
    return out


def _lf_names(directory: Path, m: int) -> list[str]:
    """LF names from readme.txt's "Labeling functions list" when it lists exactly m; else lf_0.."""
    readme = directory / "readme.txt"
    if readme.exists():
        lines = readme.read_text(encoding="utf-8", errors="replace").splitlines()
        for i, line in enumerate(lines):
            if "labeling functions list" in line.lower():
                names = []
                for item in lines[i + 1:]:
                    item = item.strip().rstrip(",")
                    if not item:
                        if names:
                            break
                        continue
                    if " " in item or ":" in item:
                        break
                    names.append(item)
                if len(names) == m and len(set(names)) == m:
                    return names
    return [f"lf_{j}" for j in range(m)]
