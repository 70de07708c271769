"""Registry of export formats: name -> writer ``(LabeledData, path) -> Path`` and default file name."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import ConfigError
from . import argilla, label_studio, tables
from .provenance import LabeledData


@dataclass(frozen=True)
class ExportFormat:
    name: str
    write: Callable[[LabeledData, Path], Path]
    default_name: str
    help: str


EXPORT_DIR = "export"

EXPORT_FORMATS: dict[str, ExportFormat] = {f.name: f for f in (
    ExportFormat("csv", tables.write_labels, "labels.csv", "table; provenance as JSON text"),
    ExportFormat("jsonl", tables.write_labels, "labels.jsonl", "table; one JSON object per line"),
    ExportFormat("parquet", tables.write_labels, "labels.parquet", "table (Apache Parquet)"),
    ExportFormat("hf", tables.write_hf, "labels_hf", "Hugging Face datasets folder (save_to_disk)"),
    ExportFormat("label-studio", label_studio.write_tasks, "label_studio_tasks.json",
                 "Label Studio tasks with predictions + labeling config"),
    ExportFormat("argilla", argilla.write_records, "argilla_records.json", "Argilla records with suggestions"),
)}


def export(data: LabeledData, fmt: str, path: str | Path | None = None, directory: str | Path = ".") -> Path:
    """Write ``data`` in format ``fmt`` to ``path`` (default: the format's file name in ``directory``/export,
    so the run's own labels file is never overwritten)."""
    if fmt not in EXPORT_FORMATS:
        raise ConfigError(f"unknown export format {fmt!r}", column="--format", fix=f"use one of {sorted(EXPORT_FORMATS)}")
    f = EXPORT_FORMATS[fmt]
    target = Path(path) if path is not None else Path(directory) / EXPORT_DIR / f.default_name
    if fmt in ("csv", "jsonl", "parquet") and target.suffix.lower() != f".{fmt}":
        raise ConfigError(f"--format {fmt} but the file ends in {target.suffix!r}", file=str(target),
                          fix=f"name the output *.{fmt}")
    return f.write(data, target)


IMPORTERS = {"label-studio": label_studio.read_annotations, "argilla": argilla.read_annotations}


def sniff_import_format(path: str | Path) -> str:
    """``"label-studio"`` or ``"argilla"``, from the first record's keys."""
    import json

    from ..errors import DataError

    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise DataError(f"cannot read: {e.strerror}", file=str(p), fix="give an existing export file") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        lines = [ln for ln in text.splitlines() if ln.strip()]
        try:
            data = json.loads(lines[0]) if lines else None
        except json.JSONDecodeError:
            raise DataError("not JSON", file=str(p), fix="give Label Studio's or Argilla's JSON export") from None
    if isinstance(data, dict):
        data = data.get("records", [data])
    first = data[0] if isinstance(data, list) and data else {}
    if isinstance(first, dict) and ("fields" in first or "suggestions" in first):
        return "argilla"
    if isinstance(first, dict) and ("annotations" in first or "data" in first or "annotator" in first):
        return "label-studio"
    raise DataError("neither a Label Studio nor an Argilla export", file=str(p),
                    fix="pass --tool label-studio or --tool argilla")
