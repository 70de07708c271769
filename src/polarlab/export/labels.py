"""Write final labels (CSV / JSONL / Parquet by extension) and metrics.json, atomically."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ConfigError
from ..matrix.label_matrix import LabelMatrix
from ..task import Task
from ..io.atomic import atomic_path, write_text
from ..io.jsonout import dumps

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".parquet": "parquet"}


def labels_frame(ids: list[str], proba: np.ndarray, task: Task, matrix: LabelMatrix | None = None,
                 extra: dict[str, Any] | None = None) -> pd.DataFrame:
    """The labels table.

    Args:
        ids: n example ids.
        proba: (n, k) class distributions from the label model.
        task: the task (label names).
        matrix: optional label matrix whose votes are added as ``vote_<source>`` columns
            (label names; empty where the source abstained).
        extra: more columns of length n (e.g. ``split``, ``risk``, ``gold``).

    Returns:
        Columns ``id``, ``label`` (name), ``label_index``, ``probability`` (of that label),
        ``p_<label>`` per class, then extras and votes.
    """
    proba = np.asarray(proba, dtype=np.float64)
    pred = proba.argmax(axis=1)
    out = pd.DataFrame({"id": ids, "label": [task.labels[i] for i in pred], "label_index": pred,
                        "probability": proba[np.arange(len(pred)), pred]})
    for c, name in enumerate(task.labels):
        out[f"p_{name}"] = proba[:, c]
    for key, values in (extra or {}).items():
        out[key] = list(values)
    if matrix is not None:
        names = np.array(list(task.labels) + [""], dtype=object)
        for j, src in enumerate(matrix.names):
            out[f"vote_{src}"] = names[matrix.L[:, j]]  # -1 indexes the trailing "" (abstain)
    return out


def write_table(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write ``frame`` to ``path`` as CSV, JSONL or Parquet (by suffix); atomic."""
    path = Path(path)
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise ConfigError(f"unknown output type {path.suffix!r}", file=str(path),
                          fix=f"end the file name with one of {sorted(FORMATS)}")
    with atomic_path(path) as tmp:
        if kind == "csv":
            frame.to_csv(tmp, index=False)
        elif kind == "jsonl":
            frame.to_json(tmp, orient="records", lines=True, force_ascii=False)
        else:
            frame.to_parquet(tmp, index=False)
    return path


def to_json(obj: Any) -> str:
    """Strict JSON text of ``obj`` (indented): numpy scalars converted, NaN / ±inf as null."""
    return dumps(obj, indent=2)


def write_json(obj: Any, path: str | Path) -> Path:
    """Write ``obj`` as strict JSON (NaN / ±inf → null), atomically."""
    write_text(path, to_json(obj) + "\n")
    return Path(path)
