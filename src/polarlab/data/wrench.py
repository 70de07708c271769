"""WRENCH benchmark directories: ``{train,valid,test}.json`` + ``label.json``.

Each split file maps an id to ``{"data": {"text": ..., ["entity1", "entity2", "span1", "span2"]},
"label": int, "weak_labels": [m ints]}``. The precomputed ``weak_labels`` are kept as vote columns.

Tabular WRENCH datasets (e.g. census) store ``{"data": {"feature": [d numbers]}}`` instead of a text:
they load as examples without text whose numeric vectors are ``Dataset.features`` (n, d); every row
must have d finite numbers.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from ..validation import check_votes
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
    rows, weak, feats = [], [], []
    m = d_feat = None
    tabular = None
    for key, rec in data.items():
        d = rec.get("data") if isinstance(rec, dict) else None
        if not isinstance(d, dict) or ("text" not in d and "feature" not in d):
            raise DataError("no data.text (or data.feature for tabular data)", file=str(path), row=key,
                            column="data.text",
                            fix="each example needs {\"data\": {\"text\": ...}} or {\"data\": {\"feature\": [numbers]}}")
        if tabular is None:
            tabular = "text" not in d
        elif tabular != ("text" not in d):
            raise DataError("rows mix data.text and data.feature", file=str(path), row=key, column="data",
                            fix="a split is either text or tabular throughout")
        wl = rec.get("weak_labels")
        if wl is None:
            raise DataError("no weak_labels", file=str(path), row=key, column="weak_labels",
                            fix="each WRENCH example lists its weak labels")
        if m is None:
            m = len(wl)
        elif len(wl) != m:
            raise DataError(f"{len(wl)} weak labels where earlier rows have {m}", file=str(path), row=key,
                            column="weak_labels", fix="every row needs one vote per labeling function")
        try:
            check_votes(wl, n_classes=task.n_classes, ndim=1, what="weak_labels", error=DataError)
        except DataError as e:      # name the file, the example's key and the labeling function
            msg = e.message if e.row is None else \
                f"weak label {wl[e.row]} of labeling function {e.row} is outside -1..{task.n_classes - 1}"
            raise DataError(msg, file=str(path), row=key, column="weak_labels", fix=e.fix) from None
        if tabular:
            vec = _feature_vector(d["feature"], path, key)
            if d_feat is None:
                d_feat = len(vec)
            elif len(vec) != d_feat:
                raise DataError(f"{len(vec)} features where earlier rows have {d_feat}", file=str(path), row=key,
                                column="data.feature", fix="every row needs a feature vector of the same length")
            feats.append(vec)
        row = {"id": str(key), "text": "" if tabular else d["text"], "label": rec.get("label")}
        for f in ("entity1", "entity2", "span1", "span2", "type1", "type2", "entity1_type", "entity2_type"):
            if f in d:
                row[f] = d[f]
        rows.append(row)
        weak.append(wl)
    if tabular:
        return _tabular_dataset(rows, weak, feats, m or 0, path)
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


def _feature_vector(value: object, path: Path, key: str) -> np.ndarray:
    """One row's ``data.feature`` as finite floats, or a DataError naming the row."""
    try:
        vec = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError("data.feature is not a list of numbers", file=str(path), row=key, column="data.feature",
                        fix="store each tabular example as {\"feature\": [numbers]}") from None
    if vec.ndim != 1 or vec.size == 0:
        raise DataError(f"data.feature has shape {vec.shape}, expected a flat list of numbers", file=str(path),
                        row=key, column="data.feature", fix="store one flat vector per example")
    if not np.all(np.isfinite(vec)):
        j = int(np.flatnonzero(~np.isfinite(vec))[0])
        raise DataError(f"data.feature[{j}] is NaN or infinite", file=str(path), row=key, column="data.feature",
                        fix="impute or drop the missing value")
    return vec


def _tabular_dataset(rows: list[dict], weak: list, feats: list[np.ndarray], m: int, path: Path) -> Dataset:
    """A Dataset of examples without text (``text`` empty) whose ``features`` are the numeric vectors."""
    frame = pd.DataFrame(rows, columns=["id", "text", "label"])
    gold = frame["label"]
    frame["label"] = [-1 if g is None or (isinstance(g, float) and np.isnan(g)) else int(g) for g in gold]
    frame["text"] = frame["text"].astype(str)
    ds = Dataset(frame=frame, name=path.stem, source=str(path),
                 weak_labels=np.asarray(weak, dtype=np.int64).reshape(len(rows), m),
                 weak_label_names=[f"lf_{j}" for j in range(m)],
                 features=np.vstack(feats) if feats else np.zeros((0, 0)))
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
    dims = {s: d.features.shape[1] for s, d in out.items() if d.features is not None}
    if len(set(dims.values())) > 1:
        raise DataError(f"splits have feature vectors of different lengths: {dims}", file=str(directory),
                        column="data.feature", fix="use the same features in every split")
    if dims and len(dims) != len(out):
        raise DataError("some splits are tabular (data.feature) and others text", file=str(directory),
                        column="data", fix="use one kind of example in every split")
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
