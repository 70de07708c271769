"""Label new data with a saved end model, in batches, with a progress bar.

``polarlab predict MODEL DATA [--out FILE]``: DATA is CSV / JSONL / Parquet with a text column (the
project's ``[data] text_column`` the model was trained from, else ``text``) and ids in the project's ``[data]
id_column`` when it has that column (else the row numbers, said in one line); the output has ``id``, ``label``,
``probability`` and one ``p_<label>`` column per class (:func:`polarlab.export.labels.labels_frame`), written
batch by batch (:func:`predict_file`); without ``--out`` the table is built in memory (:func:`predict_frame`).
"""
from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
import pandas as pd

from ..data.dataset import Dataset
from ..errors import ConfigError, DataError
from ..export.labels import FORMATS, labels_frame
from ..io.atomic import atomic_path
from .appender import TableAppender
from .base import EndModel


def check_paths(data: str | Path, out: str | Path | None = None) -> None:
    """Refuse a missing / unknown data file or an unknown output type (before any model is loaded)."""
    from ..data.loaders import TABLE_SUFFIXES

    data = Path(data)
    if not data.is_file():
        raise DataError("no such file", file=str(data), fix="give the path of a CSV, JSONL or Parquet file")
    if data.suffix.lower() not in TABLE_SUFFIXES:
        raise DataError(f"unknown data type {data.suffix!r}", file=str(data), fix=f"use one of {sorted(TABLE_SUFFIXES)}")
    if out is not None and Path(out).suffix.lower() not in FORMATS:
        raise ConfigError(f"unknown output type {Path(out).suffix!r}", file=str(out),
                          fix=f"end the file name with one of {sorted(FORMATS)}")


def read_data(path: str | Path, model: EndModel, text_column: str | None = None,
              id_column: str | None = None, note: Callable[[str], None] | None = None) -> Dataset:
    """The rows to label, validated (texts present, ids unique) before any model work.

    Without ``id_column``, the ids are the column the model saved (the project's ``[data] id_column``) when the
    file has it, else the row numbers; ``note`` (default: a warning) is told so in one line."""
    check_paths(path)
    saved = None if id_column is not None else saved_id_column(model)
    try:
        return _load(path, model, text_column, id_column or saved)
    except DataError as e:      # the project's id column is not in this file: number the rows
        if saved is None or e.column != saved:
            raise
    (note or _warn)(f"{path} has no id column {saved!r} (the project's [data] id_column): the ids are the row "
                    "numbers; --id-column names another column")
    return _load(path, model, text_column, None)


def saved_id_column(model: EndModel) -> str | None:
    """The project's ``[data] id_column`` the model was trained from (``endmodel.json``), None when it had none."""
    col = (getattr(model, "meta_", None) or {}).get("id_column")
    return str(col) if col else None


def _load(path: str | Path, model: EndModel, text_column: str | None, id_column: str | None) -> Dataset:
    from ..data.loaders import load_table

    try:
        return load_table(Path(path), model.task, text_column=text_column, label_column=None, id_column=id_column)
    except DataError as e:      # the model's text column (the project's) is not there: a plain "text" one may be
        if text_column is not None or model.task.text_column == "text" or e.column != model.task.text_column:
            raise
        try:
            return load_table(Path(path), model.task, text_column="text", label_column=None, id_column=id_column)
        except DataError as plain:
            if plain.column == "text":      # no "text" column either: the error names the project's
                raise e from None
            raise


def _warn(message: str) -> None:
    import warnings

    warnings.warn(message, UserWarning, stacklevel=3)


def batches(n: int, size: int) -> Iterator[slice]:
    for s in range(0, n, size):
        yield slice(s, min(s + size, n))


def iter_proba(model: EndModel, texts: Sequence[str], batch_size: int = 1024, progress: bool = True
               ) -> Iterator[tuple[slice, np.ndarray]]:
    """``(rows, (b, k) probabilities)`` for ``batch_size`` texts at a time, in order.

    Identical texts within a batch are encoded once (their rows share the result). Memory stays bounded
    by one batch: the encoder's inputs and the (b, 384) float32 embeddings of that batch only.
    """
    if batch_size < 1:
        raise ConfigError(f"batch_size={batch_size}", column="--batch-size", fix="use 1 or more rows per batch")
    bar = _progress_bar(progress)
    with (bar if bar is not None else nullcontext()):
        tid = bar.add_task("predict", total=len(texts)) if bar is not None else None
        for sl in batches(len(texts), batch_size):
            codes, unique = pd.factorize(pd.Series(list(texts[sl]), dtype=object), sort=False)
            proba = model.predict_proba_encoded(model.encode(list(unique)))
            yield sl, proba[codes]
            if bar is not None:
                bar.advance(tid, sl.stop - sl.start)


def predict_proba_batched(model: EndModel, data: Dataset, batch_size: int = 1024, progress: bool = True
                          ) -> np.ndarray:
    """(n, k) probabilities, ``batch_size`` rows at a time (see :func:`iter_proba`)."""
    from ..features.embedding import texts_of

    texts = texts_of(data)
    out = np.zeros((len(texts), model.task.n_classes))
    for sl, proba in iter_proba(model, texts, batch_size, progress):
        out[sl] = proba
    return out


def _progress_bar(show: bool):
    from rich.progress import BarColumn, MofNCompleteColumn, TimeRemainingColumn

    from ..progress import progress_bar

    return progress_bar(show, "predict", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), transient=True)


def predict_frame(model: EndModel, data_path: str | Path, *, text_column: str | None = None,
                  id_column: str | None = None, batch_size: int = 1024, progress: bool = True,
                  note: Callable[[str], None] | None = None) -> pd.DataFrame:
    """The predictions table of the rows of ``data_path`` (``id``, ``label``, ``probability``, ``p_<label>``...),
    held in memory: for small inputs; :func:`predict_file` streams big ones to a file. ``id_column`` and
    ``note``: :func:`read_data`."""
    data = read_data(data_path, model, text_column, id_column, note)
    return labels_frame(data.ids, predict_proba_batched(model, data, batch_size, progress), model.task)


def predict_file(model: EndModel, data_path: str | Path, out: str | Path, *, text_column: str | None = None,
                 id_column: str | None = None, batch_size: int = 1024, progress: bool = True,
                 note: Callable[[str], None] | None = None) -> tuple[int, Path]:
    """Label the rows of ``data_path`` and write them to ``out`` (CSV/JSONL/Parquet by suffix), batch by batch.

    The input is read and checked whole first (empty texts, duplicate ids: one clear error before any
    model work); each batch's predictions are then appended to a temporary file that replaces ``out``
    only when every row is written, so the predictions table is never held in memory. ``id_column`` and
    ``note``: :func:`read_data`.

    Returns:
        (rows written, the path written).
    """
    from ..features.embedding import texts_of

    check_paths(data_path, out)
    data = read_data(data_path, model, text_column, id_column, note)
    texts, ids = texts_of(data), list(data.ids)
    out = Path(out)
    with atomic_path(out) as tmp, TableAppender(tmp, FORMATS[out.suffix.lower()]) as sink:
        for sl, proba in iter_proba(model, texts, batch_size, progress):
            sink.append(labels_frame(ids[sl], proba, model.task))
    return len(ids), out
