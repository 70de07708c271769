"""``polarlab report PROJECT``: the project's report page."""
from __future__ import annotations

from pathlib import Path

from ..project import Project
from .collect import project_report_data
from .html import write_report


def project_report(project: Project, out: str | Path | None = None, slices: str | Path | None = None) -> Path:
    """Write ``<output_dir>/report.html`` (or ``out``), with a per-slice table when ``slices`` (a Python file of
    slicing functions) is given; returns the path."""
    path = Path(out) if out is not None else Path(project.output_dir) / "report.html"
    tables = {}
    if slices is not None:                     # first: a bad slicing-function file fails before the rest
        from .slices import slice_tables

        tables = slice_tables(project, slices)
    data = project_report_data(project)
    data.slices = tables
    return write_report(data, path)
