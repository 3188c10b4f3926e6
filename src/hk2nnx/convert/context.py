"""The state of one file's conversion: parsed tree, metadata, scheduled edits and findings."""

from __future__ import annotations

from collections.abc import Callable

import libcst as cst
import libcst.matchers as m
from libcst.metadata import (
    MetadataWrapper,
    ParentNodeProvider,
    PositionProvider,
    QualifiedNameProvider,
    ScopeProvider,
)

from hk2nnx.convert.findings import Finding, Refusal, Safety, Severity, todo_text
from hk2nnx.program.model import TensorSpec

Edit = Callable[[cst.CSTNode], cst.CSTNode | cst.RemovalSentinel | cst.FlattenSentinel]
_EMPTY = cst.Module(body=[])


def is_statement(node: cst.CSTNode) -> bool:
    """A line of its own: a simple statement line or a compound statement (def, if, ...)."""
    return isinstance(node, (cst.SimpleStatementLine, cst.BaseCompoundStatement))


class FileContext:
    """One file: resolve names and places while analysing; collect edits to apply in one pass."""

    def __init__(self, source: str, filename: str,
                 inputs: dict[str, list[TensorSpec]] | None = None) -> None:
        self.filename = filename
        self.inputs = dict(inputs or {})
        self.wrapper = MetadataWrapper(cst.parse_module(source))
        self.tree = self.wrapper.module
        self._qualnames = self.wrapper.resolve(QualifiedNameProvider)
        self._positions = self.wrapper.resolve(PositionProvider)
        self._parents = self.wrapper.resolve(ParentNodeProvider)
        self.scopes = self.wrapper.resolve(ScopeProvider)
        self.edits: dict[cst.CSTNode, list[Edit]] = {}
        self.before: dict[cst.CSTNode, list[cst.BaseStatement]] = {}
        self.markers: dict[cst.CSTNode, list[str]] = {}
        self.findings: list[Finding] = []
        self.local_modules: set[str] = set()  # module classes defined in this file

    # -- reading -----------------------------------------------------------------------------

    def qualname(self, node: cst.CSTNode) -> str | None:
        """`haiku.Linear` for `hk.Linear`, `L` (from haiku import Linear as L), `haiku.Linear`."""
        if not m.matches(node, m.Name() | m.Attribute()):
            return None  # libcst also names call results; only references count here
        names = self._qualnames.get(node) or set()
        if callable(names):  # libcst computes qualified names lazily
            names = names()
        return min((q.name for q in names), key=len, default=None)

    def code(self, node: cst.CSTNode) -> str:
        return _EMPTY.code_for_node(node)

    def position(self, node: cst.CSTNode) -> tuple[int, int]:
        where = self._positions.get(node)
        return (where.start.line, where.start.column + 1) if where else (1, 1)

    def parent(self, node: cst.CSTNode) -> cst.CSTNode | None:
        return self._parents.get(node)

    def statement_of(self, node: cst.CSTNode) -> cst.CSTNode:
        """The statement (simple line or compound) that holds `node`."""
        current = node
        while current is not None and not is_statement(current):
            current = self.parent(current)
        return current if current is not None else node

    # -- scheduling ----------------------------------------------------------------------------

    def edit(self, node: cst.CSTNode, fn: Edit) -> None:
        """Schedules `fn(updated_node)` for when the rewriter leaves `node`; edits compose."""
        self.edits.setdefault(node, []).append(fn)

    def replace(self, node: cst.CSTNode, code: str) -> None:
        self.edit(node, lambda _: cst.parse_expression(code))

    def remove(self, statement: cst.CSTNode) -> None:
        self.edit(statement, lambda _: cst.RemovalSentinel.REMOVE)

    def insert_before(self, statement: cst.CSTNode, code: str) -> None:
        self.before.setdefault(statement, []).extend(cst.parse_module(code).body)

    # -- reporting -----------------------------------------------------------------------------

    def report(self, code: str, node: cst.CSTNode, message: str,
               severity: Severity = Severity.INFO, safety: Safety = Safety.SAFE) -> None:
        line, col = self.position(node)
        finding = Finding(code, self.filename, line, col, message, severity, safety)
        if finding not in self.findings:
            self.findings.append(finding)

    def refuse(self, node: cst.CSTNode, refusal: Refusal) -> None:
        """Leaves the construct as written, marked with the one TODO format, and reports it."""
        self.report(refusal.code, node, f"{refusal.construct}: {refusal.why}", Severity.WARNING,
                    Safety.MANUAL)
        text = todo_text(refusal.construct, refusal.why, refusal.section)
        marks = self.markers.setdefault(self.statement_of(node), [])
        if text not in marks:
            marks.append(text)
