"""HTML reports: plotly figures in a jinja2 template, one self-contained file."""

from interp.report.stage import StageReport, build_stage_report

__all__ = ["StageReport", "build_stage_report"]
