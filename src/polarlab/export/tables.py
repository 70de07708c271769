"""Labels with provenance as CSV / JSONL / Parquet files and a Hugging Face ``datasets`` folder.

Every format holds the same table (:meth:`LabeledData.frame`); ``provenance`` is JSON text in
each, so one reader fits all and nothing is lost to a format's type system.
"""
from __future__ import annotations

import secrets
import shutil
from pathlib import Path

import pandas as pd

from ..errors import ConfigError, DataError
from .labels import write_table
from .provenance import LabeledData, parse_provenance


def write_labels(data: LabeledData, path: str | Path) -> Path:
    """CSV / JSONL / Parquet by the file's suffix; atomic."""
    return write_table(data.frame(), path)


def read_labels(path: str | Path) -> pd.DataFrame:
    """An exported table (file or HF ``save_to_disk`` folder) with ``provenance`` parsed to dicts."""
    path = Path(path)
    if not path.exists():
        raise DataError("no such file or folder", file=str(path), fix="give the path an export wrote")
    if path.is_dir():
        frame = _hf().load_from_disk(str(path)).to_pandas()
    elif path.suffix.lower() == ".csv":
        frame = pd.read_csv(path, dtype={"id": str, "reviewed_by": str}, keep_default_na=False)
        frame["reviewed"] = frame["reviewed"].map(lambda v: str(v) == "True")
    elif path.suffix.lower() == ".jsonl":
        frame = pd.read_json(path, lines=True, dtype={"id": str})
    elif path.suffix.lower() == ".parquet":
        frame = pd.read_parquet(path)
    else:
        raise ConfigError(f"unknown export type {path.suffix!r}", file=str(path),
                          fix="give a .csv, .jsonl or .parquet file or a datasets folder")
    if "provenance" not in frame.columns:
        raise DataError("no provenance column", file=str(path), column="provenance",
                        fix="give a file written by polarlab export")
    return parse_provenance(frame)


def _hf():
    try:
        import datasets
    except ImportError:  # pragma: no cover - depends on the environment
        raise ConfigError("the Hugging Face export needs the datasets package", column="--format",
                          fix="pip install datasets") from None
    return datasets


def write_hf(data: LabeledData, path: str | Path) -> Path:
    """A ``datasets.Dataset`` saved with ``save_to_disk`` to the folder ``path`` (replaced atomically)."""
    from ..endmodel.io import replace_dir

    ds = _hf().Dataset.from_pandas(data.frame(), preserve_index=False)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.{secrets.token_hex(4)}.tmp"
    try:
        ds.save_to_disk(str(tmp))
        replace_dir(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target
