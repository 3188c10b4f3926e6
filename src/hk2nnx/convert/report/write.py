"""Writes a report to a file whose extension picks the renderer."""

from __future__ import annotations

from pathlib import Path

from hk2nnx.convert.report.model import Report
from hk2nnx.convert.report.render_html import render_html
from hk2nnx.convert.report.render_md import render_markdown

_RENDERERS = {".md": render_markdown, ".markdown": render_markdown, ".html": render_html,
              ".htm": render_html}


def write_report(report: Report, path: str | Path) -> None:
    """Refuses an unknown extension up front rather than guessing a format."""
    path = Path(path)
    render = _RENDERERS.get(path.suffix.lower())
    if render is None:
        raise ValueError(f"--report {path}: use a .md or .html file name")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(report), encoding="utf-8")
