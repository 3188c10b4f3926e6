"""The report as Markdown: a summary, then per file its findings, TODOs, checks and a diff."""

from __future__ import annotations

import difflib

from hk2nnx.convert.report.model import FileReport, Report


def render_markdown(report: Report) -> str:
    counts = report.counts()
    lines = ["# hk2nnx migration report", "", _summary(counts), "",
             "| file | changed | findings | TODOs |", "|---|---|---|---|"]
    for file in report.files:
        lines.append(f"| [{_cell(file.path)}](#{file.anchor}) | {'yes' if file.changed else 'no'}"
                     f" | {len(file.findings)} | {len(file.todos)} |")
    checks = [c.line(f.path) for f in report.files for c in f.verify]
    if checks:
        lines += ["", "## verify", "", *(f"- {_cell(c)}" for c in checks)]
    for file in report.files:
        lines += ["", *_file_section(file)]
    return "\n".join(lines) + "\n"


def _summary(counts: dict[str, int]) -> str:
    return (f"{counts['files']} files, {counts['changed']} changed; {counts['findings']} findings "
            f"({counts['safe']} safe, {counts['review']} review, {counts['manual']} manual); "
            f"{counts['todos']} TODOs; verify: {counts['verified']} passed, "
            f"{counts['verify_failed']} failed, {counts['verify_skipped']} skipped")


def _file_section(file: FileReport) -> list[str]:
    out = [f'<a id="{file.anchor}"></a>', "", f"## {file.path}", ""]
    if file.findings:
        out += ["| line | rule | severity | safety | message |", "|---|---|---|---|---|"]
        out += [f"| {file.path}:{f.line} | {f.code} | {f.severity.value} | {f.safety.value} | "
                f"{_cell(f.message)} |" for f in file.findings]
        out.append("")
    out += [f"- TODO at {file.path}:{t.line}: {t.text}" for t in file.todos]
    for check in file.verify:
        out += ["", f"verify `{check.model}`: {check.label} {check.summary}".rstrip()]
        if check.table and not check.passed:
            out += ["", "```", check.table.rstrip(), "```"]
    if file.changed:
        diff = difflib.unified_diff(file.original.splitlines(), file.converted.splitlines(),
                                    "haiku", "nnx", lineterm="")
        out += ["", "```diff", *diff, "```"]
    else:
        out.append("unchanged")
    return out


def _cell(text: str) -> str:
    """Table cells must not break the table: pipes escaped, newlines folded."""
    return text.replace("|", "\\|").replace("\n", " ")
