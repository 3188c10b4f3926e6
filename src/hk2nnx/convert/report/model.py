"""The report's data: per file the two texts, the findings, the TODOs and any verify results."""

from __future__ import annotations

import dataclasses
import difflib
import json
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from hk2nnx.convert.findings import TODO_PREFIX, Finding, Safety


class _Converted(Protocol):
    code: str
    changed: bool
    findings: list[Finding]
    filename: str


@dataclasses.dataclass(frozen=True)
class Todo:
    """A `# TODO(hk2nnx)` marker left in the converted file, at its converted line."""

    line: int
    text: str


@dataclasses.dataclass(frozen=True)
class DiffRow:
    """One row of the side-by-side view; a number is None where that side has no line."""

    kind: str  # "equal", "replace", "delete" or "insert"
    old_no: int | None
    old: str
    new_no: int | None
    new: str


@dataclasses.dataclass(frozen=True)
class VerifyResult:
    """The verdict of `hk2nnx.verify` on one converted model, kept as text to stay renderable.

    `status` is "passed", "failed", "error" (verify could not run: the reason is the summary)
    or "skipped" (no sample inputs known); `summary` is the one line the report shows.
    """

    model: str
    status: str
    summary: str
    table: str = ""

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    @property
    def label(self) -> str:
        """PASS, FAIL, ERROR or SKIP: the word a reader scans for."""
        return {"passed": "PASS", "failed": "FAIL", "error": "ERROR"}.get(self.status, "SKIP")

    def line(self, path: str) -> str:
        return f"{path} {self.model}: {self.label} {self.summary}".rstrip()

    @classmethod
    def from_report(cls, model: str, report: Any) -> VerifyResult:
        """Per kind of leaf (outputs, gradients, state): how many passed, the largest diffs."""
        parts = []
        for kind, label in (("output", "outputs"), ("grad", "grads"), ("state", "state")):
            rows = [r for r in getattr(report, "rows", ()) if r.kind == kind]
            if rows:
                parts.append(f"{label} {sum(r.passed for r in rows)}/{len(rows)} "
                             f"max abs {_largest(r.max_abs for r in rows)} "
                             f"rel {_largest(r.max_rel for r in rows)}")
        how = [f"{report.mode} mode"] if getattr(report, "mode", "") else []
        if getattr(report, "dropout", "none") != "none":
            how.append(f"dropout: {report.dropout}")
        summary = "; ".join(parts) + (f" ({', '.join(how)})" if how else "")
        return cls(model, "passed" if report.passed else "failed", summary, report.table())


def _largest(values: Iterable[float | None]) -> str:
    known = [v for v in values if v is not None]
    return f"{max(known):.2g}" if known else "-"


@dataclasses.dataclass(frozen=True)
class FileReport:
    path: str
    original: str
    converted: str
    changed: bool
    findings: tuple[Finding, ...]
    todos: tuple[Todo, ...]
    verify: tuple[VerifyResult, ...] = ()

    @property
    def rows(self) -> list[DiffRow]:
        return side_by_side(self.original, self.converted)

    @property
    def anchor(self) -> str:
        """An id safe in HTML and Markdown links, stable for one path."""
        return "file-" + "".join(c if c.isalnum() else "-" for c in self.path)


@dataclasses.dataclass(frozen=True)
class Report:
    files: tuple[FileReport, ...]

    def counts(self) -> dict[str, int]:
        """The summary header's numbers: files seen and changed, findings by safety, TODOs."""
        findings = [f for file in self.files for f in file.findings]
        out = {"files": len(self.files), "changed": sum(f.changed for f in self.files),
               "findings": len(findings)}
        for safety in Safety:
            out[safety.value] = sum(f.safety is safety for f in findings)
        out["todos"] = sum(len(f.todos) for f in self.files)
        verified = [v for f in self.files for v in f.verify]
        out["verified"] = sum(v.passed for v in verified)
        out["verify_failed"] = sum(v.status in ("failed", "error") for v in verified)
        out["verify_skipped"] = sum(v.status == "skipped" for v in verified)
        return out


def build_report(results: Iterable[tuple[_Converted, str]],
                 verify: Mapping[str, Iterable[VerifyResult]] | None = None) -> Report:
    """`results` pairs each convert result with its original text; `verify` maps a path to
    the verify results of its models (see `report.checks`)."""
    verify = verify or {}
    files = []
    for result, original in results:
        old, new = _readable(result.filename, original), _readable(result.filename, result.code)
        checks = tuple(verify.get(result.filename, ()))
        files.append(FileReport(result.filename, old, new, result.changed,
                                tuple(result.findings), _todos(new), checks))
    return Report(tuple(files))


def _todos(text: str) -> tuple[Todo, ...]:
    return tuple(Todo(n, line.strip()[len("# "):]) for n, line in
                 enumerate(text.splitlines(), 1) if TODO_PREFIX in line)


def _readable(filename: str, text: str) -> str:
    """A notebook shows as its code cells, each under an `# In[N]` header, not as JSON."""
    if not filename.endswith(".ipynb"):
        return text
    try:
        cells = json.loads(text).get("cells", [])
    except ValueError:
        return text
    parts = []
    for n, cell in enumerate(cells, 1):
        if cell.get("cell_type") == "code":
            source = cell.get("source", "")
            body = "".join(source) if isinstance(source, list) else source
            parts.append(f"# In[{n}]\n{body.rstrip()}\n")
    return "\n".join(parts)


def side_by_side(old: str, new: str) -> list[DiffRow]:
    """Pairs the two texts line by line the way the guide's two-column diffs read."""
    a, b = old.splitlines(), new.splitlines()
    rows: list[DiffRow] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        for k in range(max(i2 - i1, j2 - j1)):
            i, j = i1 + k, j1 + k
            rows.append(DiffRow(tag, i + 1 if i < i2 else None, a[i] if i < i2 else "",
                                j + 1 if j < j2 else None, b[j] if j < j2 else ""))
    return rows
