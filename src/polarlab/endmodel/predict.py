"""Label new data with a saved end model, in batches, with a progress bar.

``polarlab predict MODEL DATA [--out FILE]``: DATA is CSV / JSONL / Parquet with a text column (the
task's ``text_column``, else ``text``); the output has ``id``, ``label``, ``probability`` and one
``p_<label>`` column per class (:func:`polarlab.export.labels.labels_frame`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd

from ..data.dataset import Dataset
from ..errors import DataError
from ..export.labels import labels_frame, write_table
from .base import EndModel


def check_paths(data: str | Path, out: str | Path | None = None) -> None:
    """Refuse a missing / unknown data file or an unknown output type (before any model is loaded)."""
    from ..data.loaders import TABLE_SUFFIXES
    from ..errors import ConfigError
    from ..export.labels import FORMATS

    data = Path(data)
    if not data.is_file():
        raise DataError("no such file", file=str(data), fix="give the path of a CSV, JSONL or Parquet file")
    if data.suffix.lower() not in TABLE_SUFFIXES:
        raise DataError(f"unknown data type {data.suffix!r}", file=str(data), fix=f"use one of {sorted(TABLE_SUFFIXES)}")
    if out is not None and Path(out).suffix.lower() not in FORMATS:
        raise ConfigError(f"unknown output type {Path(out).suffix!r}", file=str(out),
                          fix=f"end the file name with one of {sorted(FORMATS)}")


def read_data(path: str | Path, model: EndModel, text_column: str | None = None,
              id_column: str | None = None) -> Dataset:
    """The rows to label, validated (texts present, ids unique) before any model work."""
    from ..data.loaders import load_table

    check_paths(path)
    return load_table(Path(path), model.task, text_column=text_column, label_column=None, id_column=id_column)


def batches(n: int, size: int) -> Iterator[slice]:
    for s in range(0, n, size):
        yield slice(s, min(s + size, n))


def predict_proba_batched(model: EndModel, data: Dataset, batch_size: int = 1024, progress: bool = True
                          ) -> np.ndarray:
    """(n, k) probabilities, ``batch_size`` rows at a time (memory stays bounded by one batch)."""
    from ..features.embedding import texts_of

    texts = texts_of(data)
    out = np.zeros((len(texts), model.task.n_classes))
    if progress:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

        bar = Progress("predict", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), transient=True)
    else:
        bar = None
    with (bar if bar is not None else _Null()):
        tid = bar.add_task("predict", total=len(texts)) if bar is not None else None
        for sl in batches(len(texts), batch_size):
            out[sl] = model.predict_proba_encoded(model.encode(texts[sl]))
            if bar is not None:
                bar.advance(tid, sl.stop - sl.start)
    return out


class _Null:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def predict_file(model: EndModel, data_path: str | Path, out: str | Path | None = None, *,
                 text_column: str | None = None, id_column: str | None = None, batch_size: int = 1024,
                 progress: bool = True) -> tuple[pd.DataFrame, Path | None]:
    """Label the rows of ``data_path``; write them to ``out`` (CSV/JSONL/Parquet by suffix) if given.

    Returns:
        (the predictions table, the path written or None).
    """
    check_paths(data_path, out)
    data = read_data(data_path, model, text_column, id_column)
    proba = predict_proba_batched(model, data, batch_size, progress)
    frame = labels_frame(data.ids, proba, model.task)
    return frame, (write_table(frame, out) if out is not None else None)
