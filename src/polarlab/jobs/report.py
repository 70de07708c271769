"""``polarlab report PROJECT`` of a spans, linking or relevance project: one self-contained HTML page in the
classification report's format (:mod:`polarlab.report.html`: its CSS, tables and LLM usage section) with the
last run's outputs, the kind's quality figures and risk calibration (:attr:`JobKind.quality`) and the LLM usage."""
from __future__ import annotations

import json
from html import escape
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from .kind import JobKind
from .status import job_status


def last_outputs(project_file: Path, job: JobKind) -> tuple[dict[str, Any], dict[str, Path]]:
    """The status and the files of the last finished run (name -> path).

    Raises:
        StateError: no run of the project has finished.
    """
    from ..errors import StateError

    st = job_status(project_file, job)
    if st["last_ok"] is None:
        old = (f" (its outputs {', '.join(o['path'] for o in st['outputs'].values())} predate run records: the "
               "config and inputs that made them are unknown)") if st["outputs"] else ""
        raise StateError(f"no finished run of this {job.name} project is recorded{old}", file=str(project_file),
                         fix=f"run it first: polarlab run {project_file}")
    return st, {name: Path(o["path"]) for name, o in st["outputs"].items()}


def _metrics(outputs: dict[str, Path]) -> dict:
    path = outputs.get("metrics")
    return json.loads(path.read_text(encoding="utf-8")) if path is not None and path.exists() else {}


def _run_section(st: dict[str, Any]) -> str:
    from ..report.html import note, table

    out = note(f"last finished run {st['last_ok']['finished']} ({st['last_ok']['seconds']} s); "
               f"{st['runs']['count']} run(s) recorded")
    out += table(["output", "status", "why", "path"],
                 [[k, o["status"], o.get("why") or "", o["path"]] for k, o in st["outputs"].items()])
    if st["counts"]:
        out += table(list(st["counts"]), [list(st["counts"].values())])
    return out


def render_job_report(project_file: Path, job: JobKind, st: dict[str, Any], metrics: dict) -> str:
    """The page as one HTML string."""
    from ..report.html import CSS, llm_section, note

    title = f"polarlab report: {Path(project_file).name} ({job.name})"
    sections = [("Run", _run_section(st)), *job.quality(metrics),
                ("LLM usage", llm_section(SimpleNamespace(llm=st["llm"]["last_run"], llm_total=st["llm"]["total"])))]
    parts = [f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
             f"<style>{CSS}</style></head><body><h1>{escape(title)}</h1>",
             note(f"task kind {job.name}: project {project_file}")]
    parts += [f"<section><h2>{escape(t)}</h2>{html}</section>" for t, html in sections]
    parts.append("</body></html>")
    return "\n".join(parts)


def job_report(project_file: Path, job: JobKind, out: str | Path | None = None) -> Path:
    """Write the report (default: ``report.html`` beside the last run's first output); returns its path."""
    from ..io.atomic import write_text

    st, outputs = last_outputs(project_file, job)
    path = Path(out) if out is not None else next(iter(outputs.values())).parent / "report.html"
    write_text(path, render_job_report(project_file, job, st, _metrics(outputs)))
    return path
