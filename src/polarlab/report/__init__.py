"""The run report: one self-contained HTML page (figures inlined as base64 PNG, no network)."""
from .collect import from_outputs
from .data import Calibration, EndModelReport, ReportData
from .html import render, write_report

__all__ = ["Calibration", "EndModelReport", "ReportData", "from_outputs", "render", "write_report"]
