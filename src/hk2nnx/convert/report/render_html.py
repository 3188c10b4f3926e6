"""The report as one self-contained HTML page: inline CSS, no scripts, nothing fetched."""

from __future__ import annotations

from html import escape

from hk2nnx.convert.report.model import DiffRow, FileReport, Report

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#1b1f23}
h1{font-size:1.6em}h2{font-size:1.25em;border-bottom:1px solid #ccc;padding-bottom:.2em}
.summary{display:flex;flex-wrap:wrap;gap:.6em;margin:0;padding:0}
.summary div{border:1px solid #ccc;border-radius:4px;padding:.3em .7em}
.summary dt{font-size:.8em;color:#555}.summary dd{margin:0;font-size:1.3em;font-weight:600}
table{border-collapse:collapse;margin:.6em 0}th,td{border:1px solid #ddd;padding:2px 6px;
text-align:left;vertical-align:top}
table.sbs{width:100%;table-layout:fixed;font:12px/1.35 ui-monospace,monospace}
table.sbs td{border:0;white-space:pre-wrap;word-break:break-all}
table.sbs td.no{width:3.5em;color:#888;text-align:right;user-select:none}
tr.delete td.old,tr.replace td.old{background:#ffebe9}
tr.insert td.new,tr.replace td.new{background:#e6ffec}
.safe{color:#116329}.review{color:#9a6700}.manual{color:#cf222e;font-weight:600}
.passed{color:#116329;font-weight:600}.failed,.error{color:#cf222e;font-weight:600}
.skipped{color:#555}
pre{background:#f6f8fa;padding:.5em;overflow-x:auto}
"""


def render_html(report: Report) -> str:
    body = [_summary(report), _index(report)] + [_file(f) for f in report.files]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<title>hk2nnx migration report</title>"
            f"<style>{_CSS}</style></head>\n<body>\n<h1>hk2nnx migration report</h1>\n"
            + "\n".join(body) + "\n</body></html>\n")


def _summary(report: Report) -> str:
    items = "".join(f'<div data-count="{key}"><dt>{escape(key.replace("_", " "))}</dt>'
                    f"<dd>{value}</dd></div>" for key, value in report.counts().items())
    return f'<dl class="summary" id="summary">{items}</dl>'


def _index(report: Report) -> str:
    rows = "".join(
        f'<tr><td><a href="#{f.anchor}">{escape(f.path)}</a></td>'
        f"<td>{'changed' if f.changed else 'unchanged'}</td><td>{len(f.findings)}</td>"
        f"<td>{len(f.todos)}</td><td>{_verdicts(f)}</td></tr>" for f in report.files)
    return _table('id="files"', ("file", "status", "findings", "TODOs", "verify"), rows)


def _verdicts(file: FileReport) -> str:
    return " ".join(f'<span class="{c.status}">{escape(c.model)}: {c.label}</span>'
                    for c in file.verify)


def _table(attrs: str, headers: tuple[str, ...], rows: str) -> str:
    head = "".join(f"<th>{h}</th>" for h in headers)
    return f"<table {attrs}><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def _file(file: FileReport) -> str:
    parts = [f'<section id="{file.anchor}" class="file"><h2>{escape(file.path)}</h2>',
             _findings(file), _todos(file), _verify(file)]
    if file.changed:
        parts.append(_side_by_side(file))
    else:
        parts.append("<p>unchanged: no Haiku here, or nothing to rewrite</p>")
    return "".join(parts) + "</section>"


def _findings(file: FileReport) -> str:
    if not file.findings:
        return ""
    rows = "".join(
        f'<tr class="finding"><td><a href="#{file.anchor}-old-{f.line}">'
        f"{escape(file.path)}:{f.line}</a></td><td>{escape(f.code)}</td>"
        f"<td>{escape(f.severity.value)}</td>"
        f'<td class="{escape(f.safety.value)}">{escape(f.safety.value)}</td>'
        f"<td>{escape(f.message)}</td></tr>" for f in file.findings)
    return _table('class="findings"', ("where", "rule", "severity", "safety", "message"), rows)


def _todos(file: FileReport) -> str:
    if not file.todos:
        return ""
    items = "".join(f'<li class="todo"><a href="#{file.anchor}-new-{t.line}">'
                    f"{escape(file.path)}:{t.line}</a> {escape(t.text)}</li>" for t in file.todos)
    return f"<ul class=\"todos\">{items}</ul>"


def _verify(file: FileReport) -> str:
    out = []
    for check in file.verify:
        table = (f"<details><summary>leaves</summary><pre>{escape(check.table)}</pre></details>"
                 if check.table else "")
        out.append(f'<div class="verify" data-status="{check.status}"><p>verify '
                   f'<code>{escape(check.model)}</code>: <span class="{check.status}">'
                   f"{check.label}</span> {escape(check.summary)}</p>{table}</div>")
    return "".join(out)


def _side_by_side(file: FileReport) -> str:
    rows = "".join(_row(file.anchor, row) for row in file.rows)
    return ('<table class="sbs"><colgroup><col style="width:3.5em"><col><col style="width:3.5em">'
            '<col></colgroup><thead><tr><th colspan="2">Haiku</th><th colspan="2">NNX</th></tr>'
            f"</thead><tbody>{rows}</tbody></table>")


def _row(anchor: str, row: DiffRow) -> str:
    old_id = f' id="{anchor}-old-{row.old_no}"' if row.old_no else ""
    new_id = f' id="{anchor}-new-{row.new_no}"' if row.new_no else ""
    return (f'<tr class="{row.kind}"><td class="no"{old_id}>{row.old_no or ""}</td>'
            f'<td class="old">{escape(row.old)}</td>'
            f'<td class="no"{new_id}>{row.new_no or ""}</td>'
            f'<td class="new">{escape(row.new)}</td></tr>')
