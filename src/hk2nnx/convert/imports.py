"""Imports, scheduled once at the end: haiku's go when unused, flax's nnx comes when used."""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m
from libcst.metadata import GlobalScope, MetadataWrapper, ScopeProvider

from hk2nnx.convert import walk
from hk2nnx.convert.add_imports import add_imports
from hk2nnx.convert.names import is_haiku

# Names generated code may use, and the import that provides each.
PROVIDERS = {"nnx": ("flax", "nnx", None), "jnp": ("jax.numpy", None, "jnp"),
             "jax": ("jax", None, None), "hkc": ("_haiku_compat", None, "hkc"),
             "ocp": ("orbax.checkpoint", None, "ocp"), "os": ("os", None, None)}


def schedule_imports(tree: cst.Module, generated: set[str]) -> cst.Module:
    """Removes unused haiku imports; adds imports for names the generated code uses."""
    tree = _remove_unused_haiku(tree)
    missing = sorted(generated - _bound_names(tree))
    return add_imports(tree, [PROVIDERS[name] for name in missing]) if missing else tree


def _dotted(node: cst.BaseExpression) -> str:
    if m.matches(node, m.Name()):
        return node.value
    return f"{_dotted(node.value)}.{node.attr.value}"


def _bound_name(alias: cst.ImportAlias) -> str:
    return _dotted(alias.asname.name if alias.asname else alias.name).split(".")[0]


def _haiku_aliases(small: cst.BaseSmallStatement) -> list[cst.ImportAlias]:
    if m.matches(small, m.Import()):
        return [a for a in small.names if is_haiku(_dotted(a.name))]
    if m.matches(small, m.ImportFrom()) and small.module is not None and is_haiku(
            _dotted(small.module)) and not m.matches(small.names, m.ImportStar()):
        return list(small.names)
    return []


def _remove_unused_haiku(tree: cst.Module) -> cst.Module:
    aliases = [alias for stmt in tree.body if m.matches(stmt, m.SimpleStatementLine())
               for small in stmt.body for alias in _haiku_aliases(small)]
    if not aliases:
        return tree
    if not _maybe_used({_bound_name(a) for a in aliases}, tree):
        return _drop_aliases(tree, set(aliases))
    wrapper = MetadataWrapper(tree, unsafe_skip_copy=walk.has_no_shared_nodes(tree))
    scopes = wrapper.resolve(ScopeProvider)
    scope = next((s for s in scopes.values() if isinstance(s, GlobalScope)), None)
    if scope is None:
        return tree
    unused = {alias for stmt in wrapper.module.body
              if m.matches(stmt, m.SimpleStatementLine())
              for small in stmt.body for alias in _haiku_aliases(small)
              if not any(a.references for a in scope[_bound_name(alias)])}
    return _drop_aliases(wrapper.module, unused) if unused else tree


def _drop_aliases(tree: cst.Module, unused: set[cst.ImportAlias]) -> cst.Module:
    """`tree.visit(_DropAliases(unused))`, visiting only the statements it can change."""
    dropper = _DropAliases(unused)
    body = []
    for stmt in tree.body:
        if isinstance(stmt, cst.SimpleStatementLine):
            new = dropper.leave_SimpleStatementLine(stmt, stmt)
        elif dropper.carry or _has_haiku_import(stmt):
            new = stmt.visit(dropper)
        else:
            new = stmt  # no import inside and no blank lines to hand on: nothing to change
        if not isinstance(new, cst.RemovalSentinel):
            body.append(new)
    return tree.with_changes(body=body)


def _has_haiku_import(stmt: cst.CSTNode) -> bool:
    """Whether a haiku import line sits anywhere in this compound statement."""
    stack = [stmt]
    while stack:
        node = stack.pop()
        if isinstance(node, cst.SimpleStatementLine):
            if any(_haiku_aliases(small) for small in node.body):
                return True
        elif not isinstance(node, cst.BaseExpression):  # expressions hold no statements
            stack.extend(walk.children(node))
    return False


def _maybe_used(names: set[str], tree: cst.Module) -> bool:
    """Whether any of `names` is spelled outside the haiku imports, in code or in a string.

    When none is, none is used and the scope analysis (a costly whole-file pass) is skipped.
    """
    parts = [small for stmt in tree.body
             for small in (stmt.body if m.matches(stmt, m.SimpleStatementLine()) else [stmt])
             if not _haiku_aliases(small)]
    for part in parts:
        for node in walk.walk(part):
            if isinstance(node, cst.Name):
                if node.value in names:
                    return True
            elif isinstance(node, (cst.SimpleString, cst.FormattedStringText)) and any(
                    name in node.value for name in names):
                return True  # a string annotation can refer to a name
    return False


class _DropAliases(cst.CSTTransformer):
    """Drops the given import aliases; a statement left empty hands its blank lines on."""

    def __init__(self, unused: set[cst.ImportAlias]) -> None:
        super().__init__()
        self.unused = unused
        self.carry: list[cst.EmptyLine] = []

    def leave_SimpleStatementLine(self, original, updated):
        if self.carry and not any(_haiku_aliases(s) for s in original.body):
            lines = [*self.carry, *updated.leading_lines] if not updated.leading_lines else \
                updated.leading_lines
            self.carry = []
            return updated.with_changes(leading_lines=lines)
        body = []
        for old, small in zip(original.body, updated.body):
            if not _haiku_aliases(old):
                body.append(small)
                continue
            kept = [a for a, o in zip(small.names, old.names) if o not in self.unused]
            if kept:
                kept[-1] = kept[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
                body.append(small.with_changes(names=kept))
        if body:
            return updated.with_changes(body=body)
        if not self.carry:
            self.carry = [ln for ln in original.leading_lines if ln.comment is None]
        return cst.RemovalSentinel.REMOVE

    def on_leave(self, original, updated):
        if self.carry and isinstance(updated, cst.BaseCompoundStatement):
            lines = updated.leading_lines or self.carry
            self.carry = []
            updated = updated.with_changes(leading_lines=lines)
        return super().on_leave(original, updated)


def _bound_names(tree: cst.Module) -> set[str]:
    """Top-level names bound by imports (what generated code can already refer to)."""
    names = set()
    for stmt in tree.body:
        if not m.matches(stmt, m.SimpleStatementLine()):
            continue
        for small in stmt.body:
            if m.matches(small, m.Import() | m.ImportFrom()) and not m.matches(
                    getattr(small, "names", None), m.ImportStar()):
                names.update(_bound_name(alias) for alias in small.names)
    return names
