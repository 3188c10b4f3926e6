"""Writes a report to a file whose extension picks the renderer."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hk2nnx.convert.report.checks import verify_run
from hk2nnx.convert.report.model import Report, build_report
from hk2nnx.convert.report.render_html import render_html
from hk2nnx.convert.report.render_md import render_markdown

_RENDERERS = {".md": render_markdown, ".markdown": render_markdown, ".html": render_html,
              ".htm": render_html}


def write_report(report: Report, path: str | Path) -> None:
    """Refuses an unknown extension up front rather than guessing a format."""
    path = Path(path)
    render = renderer(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(report), encoding="utf-8")


def renderer(path: str | Path) -> Callable[[Report], str]:
    """The renderer for the name's extension; ValueError for another name."""
    path = Path(path)
    render = _RENDERERS.get(path.suffix.lower())
    if render is None:
        raise ValueError(f"--report {path}: use a .md or .html file name")
    return render


def write_run_report(files: list, results: list[tuple[str, Any, str]], args: Any,
                     inputs: dict) -> None:
    """The command line's hook: `(path, result or None, source)` per file, as `run` holds them;
    files that failed to convert are left out (their error was already printed). Unless
    `--no-verify`, each model with known sample inputs is verified into the report."""
    if not args.report:
        return
    verify: dict = {}
    if not args.no_verify:
        try:
            verify = verify_run(files, results, inputs, args.mode)
        except Exception as err:  # noqa: BLE001  (the report is still worth writing)
            print(f"{args.report}: note: models not verified ({type(err).__name__}: {err})",
                  file=sys.stderr)
    write_report(build_report([(r, s) for _, r, s in results if r is not None], verify),
                 args.report)
