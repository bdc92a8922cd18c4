"""A self-contained HTML report of the marts: charts and the inventory table, viewable offline."""

from kb_pipeline.report.page import ReportError, build_report

__all__ = ["ReportError", "build_report"]
