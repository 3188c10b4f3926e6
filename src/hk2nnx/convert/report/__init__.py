"""The migration report: what each file became, what each rule did, what is left to do by hand."""

from hk2nnx.convert.report.model import FileReport as FileReport
from hk2nnx.convert.report.model import Report as Report
from hk2nnx.convert.report.model import build_report as build_report
from hk2nnx.convert.report.render_html import render_html as render_html
from hk2nnx.convert.report.render_md import render_markdown as render_markdown
from hk2nnx.convert.report.write import write_report as write_report

__all__ = ["FileReport", "Report", "build_report", "render_html", "render_markdown",
           "write_report"]
