"""Write a table batch by batch: CSV, JSONL or Parquet, one file, the same columns in every batch.

    with TableAppender(path, "parquet") as sink:
        for frame in frames:
            sink.append(frame)

Used by ``polarlab predict`` so that 100,000s of predictions are written as they are made instead of
being collected in memory first. Write to a temporary path (:func:`polarlab.io.atomic.atomic_path`)
to get the whole file or nothing.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import ConfigError


class TableAppender:
    """Appends DataFrames with the same columns to one ``csv`` / ``jsonl`` / ``parquet`` file.

    Args:
        path: the file (created or truncated).
        kind: ``"csv"``, ``"jsonl"`` or ``"parquet"``.

    Attributes:
        rows: rows written so far.
    """

    KINDS = ("csv", "jsonl", "parquet")

    def __init__(self, path: str | Path, kind: str) -> None:
        if kind not in self.KINDS:
            raise ConfigError(f"unknown table kind {kind!r}", file=str(path), fix=f"use one of {list(self.KINDS)}")
        self.path, self.kind, self.rows = Path(path), kind, 0
        self._columns: list[str] | None = None
        self._fh: Any = None
        self._writer: Any = None

    def __enter__(self) -> "TableAppender":
        if self.kind != "parquet":
            self._fh = open(self.path, "w", encoding="utf-8", newline="")
        return self

    def append(self, frame: pd.DataFrame) -> None:
        """Write the rows of ``frame`` (its columns must be those of the first frame, in order)."""
        first = self._columns is None
        if first:
            self._columns = [str(c) for c in frame.columns]
        elif [str(c) for c in frame.columns] != self._columns:
            raise ConfigError(f"columns {list(frame.columns)} differ from the first batch's {self._columns}",
                              file=str(self.path), fix="append frames with the same columns")
        if self.kind == "csv":
            frame.to_csv(self._fh, index=False, header=first)
        elif self.kind == "jsonl":
            if len(frame):
                text = frame.to_json(orient="records", lines=True, force_ascii=False)
                self._fh.write(text if text.endswith("\n") else text + "\n")
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            if self._writer is None:
                table = pa.Table.from_pandas(frame, preserve_index=False)
                self._writer = pq.ParquetWriter(str(self.path), table.schema)
            else:
                table = pa.Table.from_pandas(frame, preserve_index=False, schema=self._writer.schema)
            self._writer.write_table(table)
        self.rows += len(frame)

    def __exit__(self, *exc: Any) -> bool:
        if self._fh is not None:
            self._fh.close()
        if self._writer is not None:
            self._writer.close()
        elif self.kind == "parquet" and exc[0] is None:
            pd.DataFrame(columns=self._columns or []).to_parquet(self.path, index=False)   # no rows: an empty table
        return False
