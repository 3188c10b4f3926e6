"""The state of one file's conversion: parsed tree, metadata, scheduled edits and findings."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import libcst as cst
import libcst.matchers as m
from libcst.metadata import CodeRange, MetadataWrapper, PositionProvider, ScopeProvider

from hk2nnx.convert import walk
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
                 inputs: dict[str, list[TensorSpec]] | None = None,
                 module: cst.Module | None = None) -> None:
        """`module` is `source` already parsed (and not shared with other code), if at hand."""
        self.filename = filename
        self.inputs = dict(inputs or {})
        # A freshly parsed tree has no shared nodes, so the wrapper need not copy it.
        self.wrapper = MetadataWrapper(module if module is not None else cst.parse_module(
            source), unsafe_skip_copy=True)
        self.tree = self.wrapper.module
        self.scopes = self.wrapper.resolve(ScopeProvider)
        self._parents = walk.parents(self.tree)
        self._qualnames: dict[cst.CSTNode, str | None] = {}
        self._positions: Mapping[cst.CSTNode, CodeRange] | None = None  # on first use
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
        if node not in self._qualnames:  # what QualifiedNameProvider gives, for this node only
            scope = self.scopes.get(node)
            names = scope.get_qualified_names_for(node) if scope is not None else ()
            self._qualnames[node] = min((q.name for q in names), key=len, default=None)
        return self._qualnames[node]

    def code(self, node: cst.CSTNode) -> str:
        return _EMPTY.code_for_node(node)

    def position(self, node: cst.CSTNode) -> tuple[int, int]:
        if self._positions is None:  # a whole-file pass, only for files that report
            self._positions = self.wrapper.resolve(PositionProvider)
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
