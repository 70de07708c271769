"""``polarlab export PROJECT --format F`` of a spans, linking or relevance project: the labels the last run wrote,
in one of the formats its kind lists (:attr:`JobKind.exports`)."""
from __future__ import annotations

from pathlib import Path

from .kind import JobKind
from .report import last_outputs


def check_format(job: JobKind, fmt: str) -> None:
    """ConfigError naming ``--format`` and the kind's formats, for a format the kind does not export."""
    from ..errors import ConfigError

    if fmt not in job.exports:
        raise ConfigError(f"a {job.name} project cannot be exported as {fmt!r}", column="--format",
                          fix=f"use one of {sorted(job.exports)} for a [task] kind = \"{job.name}\" project")


def job_export(project_file: Path, job: JobKind, fmt: str, out: str | Path | None = None) -> tuple[Path, int]:
    """Write the export (default: ``export/<kind>.<suffix>`` beside the last run's first output); returns its path
    and the rows written."""
    check_format(job, fmt)               # before reading anything
    _, outputs = last_outputs(project_file, job)
    spec = job.exports[fmt]
    path = Path(out) if out is not None else next(iter(outputs.values())).parent / "export" / f"{job.name}{spec.suffix}"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path, spec.write(outputs, path)


def need(outputs: dict[str, Path], name: str) -> Path:
    """The last run's output ``name`` (DataError when the run wrote none, or it is gone)."""
    from ..errors import DataError

    path = outputs.get(name)
    if path is None or not path.exists():
        raise DataError(f"the last run's {name} file is {'not there' if path is not None else 'not recorded'}",
                        file=str(path) if path is not None else None, fix="run the project again (polarlab run)")
    return path


def write_table(frame, dest: Path) -> int:
    """Write a table as CSV, JSON lines or Parquet by ``dest``'s suffix (atomically); returns its rows."""
    from ..linking.run import write_frame

    write_frame(frame, dest)
    return len(frame)
