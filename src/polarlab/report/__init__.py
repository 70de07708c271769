"""The run report: one self-contained HTML page (figures inlined as base64 PNG, no network)."""
from .collect import project_report_data
from .data import Calibration, EndModelReport, ReportData
from .html import render, write_report
from .project import project_report

__all__ = ["Calibration", "EndModelReport", "ReportData", "project_report", "project_report_data", "render",
           "write_report"]
