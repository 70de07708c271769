"""Load datasets from CSV, JSONL, Parquet, pandas, Hugging Face ``datasets`` and WRENCH directories.

Every loader ends in :func:`from_pandas`, which validates the frame once: columns exist, texts
are non-empty strings, ids are unique, gold labels belong to the task.
"""
from __future__ import annotations

import math
from functools import partial
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from ..errors import ConfigError, DataError
from ..io.jsonl import json_objects, read_utf8
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
                name: str = "data", source: str | None = None,
                line_offset: int | Sequence[int] | None = None, allow_blank_text: bool = False) -> Dataset:
    """Build a :class:`Dataset` from a DataFrame.

    Args:
        frame: one row per example.
        task: when given, gold labels may be label names and are checked against ``task.labels``.
        text_column: the input text column (default ``task.text_column`` or ``"text"``).
        label_column: gold label column; ``None`` or a column absent from the frame means no gold.
            Missing values and -1 (Snorkel's convention) mean "no gold" for that row.
        id_column: a column of unique ids; default: the row number.
        entity_columns: (entity1, entity2) columns for relation tasks (default from the task when
            ``task.kind == "relation"``).
        span_columns: optional (span1, span2) columns of [start, end] offsets.
        name, source: a name and the file it came from (for messages).
        line_offset: the frame came from a text file whose row ``i`` is on line ``i + line_offset``
            (2 for a CSV with a header), or on line ``line_offset[i]``; messages then add the line.
        allow_blank_text: keep a row whose text is missing or blank (as ``""``) instead of refusing it;
            for benchmark files a user cannot fix (WRENCH), never for a project's own data.

    Raises:
        DataError: naming the file, row and column of the first problem, and the fix.
    """
    text_column = text_column or (task.text_column if task else "text")
    line = partial(_line, line_offset)
    _check_unique_columns(frame, source)
    if entity_columns is None and task is not None and task.kind_spec.uses_entities:
        entity_columns = task.entity_columns
    _require_columns(frame, source, text=[text_column], id=[] if id_column is None else [id_column],
                     entity=list(entity_columns or ()), span=list(span_columns or ()))
    texts = _texts(frame, text_column, source, line, allow_blank_text)
    ids = _ids(frame, id_column, source, line)
    gold = _gold(frame, label_column, task, source, line)
    out = pd.DataFrame({"id": ids, "text": texts, "label": gold})
    _add_other_columns(out, frame, entity_columns=entity_columns, span_columns=span_columns,
                       used={text_column, label_column, id_column, *(entity_columns or ()), *(span_columns or ())})
    return Dataset(frame=out, name=name, source=source)


def _line(line_offset: int | Sequence[int] | None, i: int) -> int | None:
    """The file line of frame row ``i`` (see :func:`from_pandas`'s ``line_offset``); None when unknown."""
    if line_offset is None:
        return None
    return i + line_offset if isinstance(line_offset, int) else int(line_offset[i])


def _check_unique_columns(frame: pd.DataFrame, source: str | None) -> None:
    """Refuse a frame with two columns of the same name.

    Raises:
        DataError: naming the first duplicated column.
    """
    dupes = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
    if dupes:
        raise DataError(f"duplicate column name(s) {dupes}", file=source, column=dupes[0],
                        fix="give every column a unique name (rename or drop the copies)")


_COLUMN_FIX = {
    "text": 'name the text column: text_column = "..." in [data] (polarlab predict: --text-column)',
    "id": 'name the id column: id_column = "..." in [data] (polarlab predict: --id-column)',
    "label": 'name the gold label column: label_column = "..." in [data]',
    "entity": 'name the two entity columns of the relation: entity_columns = ["...", "..."] in [task] or [data]',
    "span": 'name the two entity span columns: span_columns = ["...", "..."] in [data]',
}
"""The fix of a missing column, by its role (the key that names it)."""


def _require_columns(frame: pd.DataFrame, source: str | None, **by_role: list[str]) -> None:
    """Check that the frame has every column named in ``by_role`` (role, e.g. ``text``, -> column names).

    Raises:
        DataError: naming the first missing column, its role and the frame's columns.
    """
    columns = list(frame.columns)
    for role, names in by_role.items():
        for col in names:
            if col not in frame.columns:
                raise DataError(f"no {role} column {col!r}; the columns are {columns}", file=source, column=col,
                                fix=_COLUMN_FIX.get(role, f"name the {role} column: {role}_column = \"...\" in [data]"))


def _texts(frame: pd.DataFrame, text_column: str, source: str | None, line: Callable[[int], int | None],
           allow_blank: bool = False) -> Any:
    """The texts (n,) of ``frame[text_column]``: its string array (string dtype) or a list of ``str``.

    Raises:
        DataError: the first row whose text is missing or blank (unless ``allow_blank``).
    """
    col = frame[text_column]
    if allow_blank:
        return ["" if _is_missing(t) else t if isinstance(t, str) else str(t) for t in col.tolist()]
    if isinstance(col.dtype, pd.StringDtype):  # vectorised: no per-row Python objects for big frames
        blank = col.isna().to_numpy(dtype=bool) | (col.str.strip() == "").to_numpy(dtype=bool, na_value=True)
        if blank.any():
            i = int(np.flatnonzero(blank)[0])
            raise DataError("empty text", file=source, row=i, line=line(i), column=text_column,
                            fix="fill in the text or drop the row")
        return col.array
    texts = col.tolist()
    for i, t in enumerate(texts):
        if _is_missing(t):
            raise DataError("empty text", file=source, row=i, line=line(i), column=text_column,
                            fix="fill in the text or drop the row")
        if not isinstance(t, str):
            texts[i] = str(t)
    return texts


def _ids(frame: pd.DataFrame, id_column: str | None, source: str | None,
         line: Callable[[int], int | None]) -> Any:
    """The example ids (n,) as strings: the ``id_column`` values, or the row numbers when it is None.

    Raises:
        DataError: the first id that repeats an earlier one.
    """
    if id_column is None:
        return pd.Series(np.arange(len(frame))).astype(str).array
    ids = [str(v) for v in frame[id_column].tolist()]
    seen: dict[str, int] = {}
    for i, v in enumerate(ids):
        if v in seen:
            raise DataError(f"duplicate id {v!r} (also on row {seen[v]})", file=source,
                            row=i, line=line(i), column=id_column,
                            fix="make ids unique, or leave the id column out (rows are then numbered)")
        seen[v] = i
    return ids


def _gold(frame: pd.DataFrame, label_column: str | None, task: Task | None, source: str | None,
          line: Callable[[int], int | None]) -> np.ndarray:
    """Gold class indices, shape (n,) int64; -1 = no gold (no label column, an empty cell or -1).

    Raises:
        DataError: the first gold label that is not a class of the task (see :func:`_gold_index`).
    """
    gold = np.full(len(frame), -1, dtype=np.int64)
    if label_column is not None and label_column in frame.columns:
        for i, v in enumerate(frame[label_column].tolist()):
            if _is_missing(v):
                continue
            gold[i] = _gold_index(v, task, file=source, row=i, line=line(i), column=label_column)
    return gold


def _add_other_columns(out: pd.DataFrame, frame: pd.DataFrame, *, entity_columns: tuple[str, str] | None,
                       span_columns: tuple[str, str] | None, used: set) -> None:
    """Add to ``out`` the entity (as ``str``) and span columns under their standard names, then every column of
    ``frame`` not in ``used`` and not already in ``out`` (metadata, kept as is)."""
    if entity_columns:
        out["entity1"] = frame[entity_columns[0]].astype(str).tolist()
        out["entity2"] = frame[entity_columns[1]].astype(str).tolist()
    if span_columns:
        out["span1"] = frame[span_columns[0]].tolist()
        out["span2"] = frame[span_columns[1]].tolist()
    for col in frame.columns:
        if col not in used and col not in out.columns:
            out[col] = frame[col].tolist()


def _gold_index(value: Any, task: Task | None, *, file: str | None, row: int, line: int | None,
                column: str) -> int:
    """Class index of a gold cell; -1 (Snorkel's "unknown") means no gold."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        value = int(value)
    if isinstance(value, np.integer):
        value = int(value)
    if isinstance(value, str) and value.strip() == "-1":
        value = -1
    if isinstance(value, int) and not isinstance(value, bool) and value == -1:
        return -1
    if task is not None:
        try:
            return task.label_index(value, file=file, row=row, column=column)
        except ConfigError as e:  # a bad gold label is a data problem, not a project-file one
            raise DataError(e.message, file=file, row=row, line=line, column=column, fix=e.fix) from None
    if isinstance(value, int) and value >= 0:
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    raise DataError(f"gold label {value!r} is not a class index", file=file, row=row, line=line, column=column,
                    fix="declare the task's labels so label names can be mapped, or use 0..k-1 (-1 or an "
                        "empty cell: no gold)")


def _unique_keys(path: Path, n: int, pairs: list[tuple[str, Any]]) -> dict:
    out: dict = {}
    for k, v in pairs:
        if k in out:
            raise DataError(f"key {k!r} appears twice in one object", file=str(path), line=n, column=k,
                            fix="give every field a unique name")
        out[k] = v
    return out


def _read_text(path: Path) -> str:
    if not path.exists():
        raise DataError("file not found", file=str(path), fix="check the path (relative paths are read "
                        "from the project file's folder)")
    return read_utf8(path)


def load_csv(path: str | Path, task: Task | None = None, **kw: Any) -> Dataset:
    """Load a CSV (or TSV by suffix) file; options as :func:`from_pandas`."""
    import io

    path = Path(path)
    text = _read_text(path)
    sep = "\t" if path.suffix.lower() == ".tsv" else ","
    _check_separator(text, sep, path)
    try:
        frame = pd.read_csv(io.StringIO(text), sep=sep, dtype=object, keep_default_na=False,
                            na_values=[""])
    except pd.errors.ParserError as e:
        raise _parse_error(str(e), path) from None
    except pd.errors.EmptyDataError:
        raise DataError("the file is empty", file=str(path),
                        fix="write a header row (with a text column) and one row per example") from None
    _check_header(text, sep, path)
    _check_rows(frame, path)
    kw.setdefault("name", path.stem)
    return from_pandas(frame, task, source=str(path), line_offset=_record_lines(text, sep, len(frame)), **kw)


def _record_lines(text: str, sep: str, n_rows: int) -> int | list[int] | None:
    """Where each of the ``n_rows`` records of a CSV/TSV ``text`` starts, as :func:`from_pandas`'s ``line_offset``:
    2 when every record is one line after the header; else the 1-based line of each record, read with the
    ``csv`` module (a quoted cell may hold line breaks, and blank lines are skipped, as pandas does); None
    when that reading does not give ``n_rows`` records (a message then names the row only, never a wrong line)."""
    import csv
    import io

    if text.count("\n") + (not text.endswith("\n")) == n_rows + 1:
        return 2
    reader = csv.reader(io.StringIO(text), delimiter=sep)
    starts: list[int] = []
    try:
        next(reader, None)                      # the header
        before = reader.line_num
        for record in reader:
            if record:                          # a blank line is no record
                starts.append(before + 1)
            before = reader.line_num
    except csv.Error:
        return None
    return starts if len(starts) == n_rows else None


def _check_separator(text: str, sep: str, path: Path) -> None:
    """Refuse a file whose header has no ``sep`` but another separator (a semicolon CSV from a spreadsheet
    in many locales): pandas would read one column, or fail on a later line with a message about field counts."""
    header = text.split("\n", 1)[0]
    if sep in header:
        return
    for other, name in ((";", "';'"), ("\t", "tabs"), ("|", "'|'"), (",", "','")):
        if other != sep and other in header:
            want = "','" if sep == "," else "tabs"
            raise DataError(f"the header has no {want} but {header.count(other)} {name}: the file is separated by "
                            f"{name}", file=str(path), line=1,
                            fix=f"save it separated by {want}" + (" (or with tabs, named .tsv)" if sep == "," else ""))


def _parse_error(message: str, path: Path) -> DataError:
    """pandas' tokenizer error as one line: which line has how many fields."""
    import re

    m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", message)
    if m is None:
        return DataError(f"cannot parse CSV: {' '.join(message.split())}", file=str(path),
                         fix="check quoting and separators")
    want, line, saw = (int(g) for g in m.groups())
    return DataError(f"{saw} fields, the header has {want}", file=str(path), line=line,
                     fix="quote texts that contain the separator (\"...\"), or remove the extra cell")


def _check_header(text: str, sep: str, path: Path) -> None:
    """Refuse duplicate column names (pandas would silently rename the copy to ``name.1``)."""
    import csv
    import io

    header = next(csv.reader(io.StringIO(text), delimiter=sep), [])
    names = [h.strip() for h in header]
    seen: dict[str, int] = {}
    for j, h in enumerate(names):
        if h and h in seen:
            raise DataError(f"column {h!r} appears twice in the header (columns {seen[h] + 1} and {j + 1})",
                            file=str(path), line=1, column=h,
                            fix="give every column a unique name (rename or drop the copy)")
        seen[h] = j


def _check_rows(frame: pd.DataFrame, path: Path) -> None:
    if len(frame) == 0:
        raise DataError("the file has no rows (a header only)", file=str(path),
                        fix="add one row per example, or leave the file out of [data]: every split needs rows")


def load_jsonl(path: str | Path, task: Task | None = None, **kw: Any) -> Dataset:
    """Load a JSON-lines file (one object per line); options as :func:`from_pandas`."""
    path = Path(path)
    records, lines = [], []
    for n, rec in json_objects(path, text=_read_text(path), fix="each line must be one JSON object",
                               object_pairs_hook=lambda n: partial(_unique_keys, path, n)):
        records.append(rec)
        lines.append(n)
    if not records:
        raise DataError("the file has no records", file=str(path),
                        fix="write one JSON object per line, one per example")
    kw.setdefault("name", path.stem)
    return from_pandas(pd.DataFrame.from_records(records), task, source=str(path), line_offset=lines, **kw)


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
    _check_rows(frame, path)
    return from_pandas(frame, task, source=str(path), **kw)


def from_hf(hf_dataset: Any, task: Task | None = None, *, split: str | None = None, **kw: Any) -> Dataset:
    """Load a Hugging Face ``datasets.Dataset`` (or one split of a ``DatasetDict``).

    A ``ClassLabel`` gold column is mapped to the task's labels *by name* (so a dataset whose names
    are ordered differently from ``task.labels`` keeps every gold label right); names the task does
    not have are refused. Without a task, ClassLabel indices are kept.

    Args:
        hf_dataset: a ``datasets.Dataset`` or ``datasets.DatasetDict``.
        task: the task.
        split: which split of a ``DatasetDict`` to load (required for one).
        **kw: options of :func:`from_pandas` (``text_column``, ``label_column``, ...).

    Raises:
        DataError: a DatasetDict without ``split`` (or with an unknown one); ClassLabel names that are
            not the task's labels.
    """
    where = "Hugging Face dataset"
    if not hasattr(hf_dataset, "to_pandas") and hasattr(hf_dataset, "keys"):  # a DatasetDict
        names = list(hf_dataset.keys())
        if split is None or split not in names:
            what = "a DatasetDict needs a split" if split is None else f"no split {split!r}"
            raise DataError(f"{what}; its splits are {names}", file=where, column="split",
                            fix=f"pass split=..., e.g. from_hf(d, task, split={names[0]!r})" if names
                            else "load a dataset with rows")
        hf_dataset = hf_dataset[split]
        kw.setdefault("name", split)
    elif split is not None and getattr(hf_dataset, "split", None) not in (None, split):
        raise DataError(f"this dataset is split {str(hf_dataset.split)!r}, not {split!r}", file=where,
                        column="split", fix="pass the DatasetDict, or drop split=")
    kw.setdefault("name", getattr(hf_dataset, "split", None) and str(hf_dataset.split) or "hf")
    kw.setdefault("source", where)
    frame = hf_dataset.to_pandas()
    label_column = kw.get("label_column", "label")
    names = _class_label_names(hf_dataset, label_column)
    if names is not None and task is not None and label_column in frame.columns:
        unknown = []
        for n in names:
            try:
                task.label_index(n)
            except ConfigError:
                unknown.append(n)
        if unknown:
            raise DataError(f"ClassLabel names {unknown} are not labels of the task {list(task.labels)}",
                            file=where, column=label_column,
                            fix="declare the task with the dataset's label names (order does not matter), "
                                "or map the column yourself (dataset.cast_column / map) first")
        frame[label_column] = [None if v is None or (isinstance(v, float) and math.isnan(v)) or int(v) < 0
                               else names[int(v)] for v in frame[label_column].tolist()]
    return from_pandas(frame, task, **kw)


def _class_label_names(hf_dataset: Any, column: str | None) -> list[str] | None:
    """The names of ``column`` when it is a ``ClassLabel`` feature, else None."""
    feature = (getattr(hf_dataset, "features", None) or {}).get(column) if column else None
    names = getattr(feature, "names", None)
    return list(names) if names else None


def load_table(path: str | Path, task: Task | None = None, **kw: Any) -> Dataset:
    """Load a CSV/TSV/JSONL/Parquet file, chosen by suffix."""
    path = Path(path)
    kind = TABLE_SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise DataError(f"unknown file type {path.suffix!r}", file=str(path),
                        fix=f"use one of {sorted(TABLE_SUFFIXES)} or a WRENCH directory")
    return {"csv": load_csv, "jsonl": load_jsonl, "parquet": load_parquet}[kind](path, task, **kw)
