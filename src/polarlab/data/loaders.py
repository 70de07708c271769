"""Load datasets from CSV, JSONL, Parquet, pandas, Hugging Face ``datasets`` and WRENCH directories.

Every loader ends in :func:`from_pandas`, which validates the frame once: columns exist, texts
are non-empty strings, ids are unique, gold labels belong to the task.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ConfigError, DataError
from ..task import Task
from .dataset import Dataset

TABLE_SUFFIXES = {".csv": "csv", ".tsv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl",
                  ".parquet": "parquet", ".pq": "parquet"}


def _is_missing(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, float) and math.isnan(v):
        return True
    return isinstance(v, str) and v.strip() == ""


def from_pandas(frame: pd.DataFrame, task: Task | None = None, *, text_column: str | None = None,
                label_column: str | None = "label", id_column: str | None = None,
                entity_columns: tuple[str, str] | None = None, span_columns: tuple[str, str] | None = None,
                name: str = "data", source: str | None = None, row_offset: int = 0) -> Dataset:
    """Build a :class:`Dataset` from a DataFrame.

    Args:
        frame: one row per example.
        task: when given, gold labels may be label names and are checked against ``task.labels``.
        text_column: the input text column (default ``task.text_column`` or ``"text"``).
        label_column: gold label column; ``None`` or a column absent from the frame means no gold.
            Missing values mean "no gold" for that row.
        id_column: a column of unique ids; default: the row number.
        entity_columns: (entity1, entity2) columns for relation tasks (default from the task when
            ``task.kind == "relation"``).
        span_columns: optional (span1, span2) columns of [start, end] offsets.
        name, source: a name and the file it came from (for messages).
        row_offset: added to row numbers in messages (e.g. 2 for CSV: header + 1-based).

    Raises:
        DataError: naming the file, row and column of the first problem, and the fix.
    """
    text_column = text_column or (task.text_column if task else "text")
    if entity_columns is None and task is not None and task.kind_spec.uses_entities:
        entity_columns = task.entity_columns
    columns = list(frame.columns)

    def need(col: str, role: str) -> None:
        if col not in frame.columns:
            raise DataError(f"no {role} column {col!r}; the columns are {columns}", file=source, column=col,
                            fix=f"name the {role} column with the right option (e.g. {role}_column=...)")

    need(text_column, "text")
    if id_column is not None:
        need(id_column, "id")
    for col in entity_columns or ():
        need(col, "entity")
    for col in span_columns or ():
        need(col, "span")

    col = frame[text_column]
    texts: Any
    if isinstance(col.dtype, pd.StringDtype):  # vectorised: no per-row Python objects for big frames
        blank = col.isna().to_numpy(dtype=bool) | (col.str.strip() == "").to_numpy(dtype=bool, na_value=True)
        if blank.any():
            raise DataError("empty text", file=source, row=int(np.flatnonzero(blank)[0]) + row_offset,
                            column=text_column, fix="fill in the text or drop the row")
        texts = col.array
    else:
        texts = col.tolist()
        for i, t in enumerate(texts):
            if _is_missing(t):
                raise DataError("empty text", file=source, row=i + row_offset, column=text_column,
                                fix="fill in the text or drop the row")
            if not isinstance(t, str):
                texts[i] = str(t)

    if id_column is None:
        ids = pd.Series(np.arange(len(frame))).astype(str).array
    else:
        ids = [str(v) for v in frame[id_column].tolist()]
        seen: dict[str, int] = {}
        for i, v in enumerate(ids):
            if v in seen:
                raise DataError(f"duplicate id {v!r} (also on row {seen[v] + row_offset})", file=source,
                                row=i + row_offset, column=id_column, fix="make ids unique")
            seen[v] = i

    gold = np.full(len(frame), -1, dtype=np.int64)
    if label_column is not None and label_column in frame.columns:
        for i, v in enumerate(frame[label_column].tolist()):
            if _is_missing(v):
                continue
            gold[i] = _gold_index(v, task, file=source, row=i + row_offset, column=label_column)

    out = pd.DataFrame({"id": ids, "text": texts, "label": gold})
    if entity_columns:
        out["entity1"] = frame[entity_columns[0]].astype(str).tolist()
        out["entity2"] = frame[entity_columns[1]].astype(str).tolist()
    if span_columns:
        out["span1"] = frame[span_columns[0]].tolist()
        out["span2"] = frame[span_columns[1]].tolist()
    used = {text_column, label_column, id_column, *(entity_columns or ()), *(span_columns or ())}
    for col in frame.columns:
        if col not in used and col not in out.columns:
            out[col] = frame[col].tolist()
    return Dataset(frame=out, name=name, source=source)


def _gold_index(value: Any, task: Task | None, *, file: str | None, row: int, column: str) -> int:
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        value = int(value)
    if isinstance(value, np.integer):
        value = int(value)
    if task is not None:
        try:
            idx = task.label_index(value, file=file, row=row, column=column)
        except ConfigError as e:  # a bad gold label is a data problem, not a project-file one
            raise DataError(e.message, file=file, row=row, column=column, fix=e.fix) from None
        if idx < 0:
            raise DataError("gold label -1 (abstain) is not a class", file=file, row=row, column=column,
                            fix="leave the cell empty for 'no gold'")
        return idx
    if isinstance(value, int) and value >= 0:
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    raise DataError(f"gold label {value!r} is not a class index", file=file, row=row, column=column,
                    fix="declare the task's labels so label names can be mapped, or use 0..k-1")


def _read_text(path: Path) -> str:
    if not path.exists():
        raise DataError("file not found", file=str(path), fix="check the path (relative paths are read "
                        "from the project file's folder)")
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise DataError(f"not UTF-8 (byte 0x{raw[e.start]:02x} at offset {e.start}, line {line})",
                        file=str(path), row=f"line {line}",
                        fix="re-save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)") from None


def load_csv(path: str | Path, task: Task | None = None, **kw: Any) -> Dataset:
    """Load a CSV (or TSV by suffix) file; options as :func:`from_pandas`."""
    import io

    path = Path(path)
    text = _read_text(path)
    sep = "\t" if path.suffix.lower() == ".tsv" else ","
    try:
        frame = pd.read_csv(io.StringIO(text), sep=sep, dtype=object, keep_default_na=False,
                            na_values=[""])
    except pd.errors.ParserError as e:
        raise DataError(f"cannot parse CSV: {e}", file=str(path), fix="check quoting and separators") from None
    except pd.errors.EmptyDataError:
        raise DataError("the file is empty", file=str(path),
                        fix="write a header row (with a text column) and one row per example") from None
    kw.setdefault("name", path.stem)
    return from_pandas(frame, task, source=str(path), row_offset=2, **kw)


def load_jsonl(path: str | Path, task: Task | None = None, **kw: Any) -> Dataset:
    """Load a JSON-lines file (one object per line); options as :func:`from_pandas`."""
    path = Path(path)
    records = []
    for n, line in enumerate(_read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(f"invalid JSON: {e.msg}", file=str(path), row=f"line {n}",
                            fix="each line must be one JSON object") from None
        if not isinstance(rec, dict):
            raise DataError("line is not a JSON object", file=str(path), row=f"line {n}",
                            fix="each line must be one JSON object")
        records.append(rec)
    kw.setdefault("name", path.stem)
    return from_pandas(pd.DataFrame.from_records(records), task, source=str(path), row_offset=1, **kw)


def load_parquet(path: str | Path, task: Task | None = None, **kw: Any) -> Dataset:
    """Load a Parquet file; options as :func:`from_pandas`."""
    path = Path(path)
    if not path.exists():
        raise DataError("file not found", file=str(path), fix="check the path")
    kw.setdefault("name", path.stem)
    import pyarrow as pa

    try:
        frame = pd.read_parquet(path)
    except (pa.ArrowException, OSError) as e:
        raise DataError(f"cannot read Parquet: {e}", file=str(path),
                        fix="check that the file is a complete Parquet file (re-export it)") from None
    return from_pandas(frame, task, source=str(path), **kw)


def from_hf(hf_dataset: Any, task: Task | None = None, **kw: Any) -> Dataset:
    """Load a Hugging Face ``datasets.Dataset`` (via ``to_pandas``); ClassLabel columns stay indices."""
    kw.setdefault("name", getattr(hf_dataset, "split", None) and str(hf_dataset.split) or "hf")
    return from_pandas(hf_dataset.to_pandas(), task, **kw)


def load_table(path: str | Path, task: Task | None = None, **kw: Any) -> Dataset:
    """Load a CSV/TSV/JSONL/Parquet file, chosen by suffix."""
    path = Path(path)
    kind = TABLE_SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise DataError(f"unknown file type {path.suffix!r}", file=str(path),
                        fix=f"use one of {sorted(TABLE_SUFFIXES)} or a WRENCH directory")
    return {"csv": load_csv, "jsonl": load_jsonl, "parquet": load_parquet}[kind](path, task, **kw)
