"""The one rewriting pass: applies scheduled edits bottom-up, building on `updated_node`."""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from hk2nnx.convert.context import FileContext, is_statement

_DEF = m.FunctionDef() | m.ClassDef()


class _Apply(cst.CSTTransformer):
    def __init__(self, ctx: FileContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.pending: dict[cst.CSTNode, list[cst.EmptyLine]] = {}  # blanks of removed lines
        self.dirty = _with_ancestors(ctx, [*ctx.edits, *ctx.before, *ctx.markers])

    def on_visit(self, node):
        """Only subtrees with something scheduled inside are rebuilt; the rest is kept."""
        return node in self.dirty

    def on_leave(self, original, updated):
        result = updated
        for fn in self.ctx.edits.get(original, ()):
            if not isinstance(result, cst.CSTNode):
                break
            result = fn(result)
        if is_statement(original):
            result = self._keep_spacing(original, result)
        marks = self.ctx.markers.get(original)
        if marks and is_statement(result):
            result = _marked(result, marks)
        before = self.ctx.before.get(original)
        if before:
            top = m.matches(self.ctx.parent(original), m.Module())
            return _prepend(before, result, 2 if top else 1)
        return result


    def _keep_spacing(self, original, result):
        """A removed statement hands its blank lines to the next one, so spacing survives."""
        parent = self.ctx.parent(original)
        if isinstance(result, cst.RemovalSentinel):
            blanks = [line for line in original.leading_lines if line.comment is None]
            if len(blanks) > len(self.pending.get(parent, [])):
                self.pending[parent] = blanks
            return result
        carried = self.pending.pop(parent, [])
        if not carried or not is_statement(result):
            return result
        own = 0
        while own < len(result.leading_lines) and result.leading_lines[own].comment is None:
            own += 1
        extra = carried[: max(0, len(carried) - own)]
        return result.with_changes(leading_lines=[*extra, *result.leading_lines])


def _with_ancestors(ctx: FileContext, nodes: list[cst.CSTNode]) -> set[cst.CSTNode]:
    out: set[cst.CSTNode] = set()
    for node in nodes:
        while node is not None and node not in out:
            out.add(node)
            node = ctx.parent(node)
    return out


def _marked(stmt: cst.BaseStatement, marks: list[str]) -> cst.BaseStatement:
    present = {line.comment.value for line in stmt.leading_lines if line.comment}
    new = [cst.EmptyLine(comment=cst.Comment(text)) for text in marks if text not in present]
    return stmt.with_changes(leading_lines=[*stmt.leading_lines, *new]) if new else stmt


def _prepend(before: list[cst.BaseStatement], result, blanks: int) -> cst.FlattenSentinel:
    """New statements go before `result`, which hands them its leading comments and blanks."""
    first, *rest = before
    if isinstance(result, cst.RemovalSentinel):
        return cst.FlattenSentinel([first, *rest])
    first = first.with_changes(leading_lines=result.leading_lines)
    spaced = m.matches(result, _DEF)
    between = [cst.EmptyLine(indent=False)] * blanks if spaced else []
    result = result.with_changes(leading_lines=between)
    return cst.FlattenSentinel([first, *rest, result])


def apply_edits(ctx: FileContext) -> cst.Module:
    return ctx.tree.visit(_Apply(ctx))
