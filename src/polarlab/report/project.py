"""``polarlab report PROJECT``: the project's report page."""
from __future__ import annotations

from pathlib import Path

from ..project import Project
from .collect import project_report_data
from .html import write_report


def project_report(project: Project, out: str | Path | None = None) -> Path:
    """Write ``<output_dir>/report.html`` (or ``out``); returns the path."""
    path = Path(out) if out is not None else Path(project.output_dir) / "report.html"
    return write_report(project_report_data(project), path)
