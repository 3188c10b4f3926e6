"""Who reads a name: scope analysis, so a parameter that shadows a global is told apart."""

from __future__ import annotations

import libcst as cst
from libcst.metadata import ComprehensionScope, FunctionScope, GlobalScope

from hk2nnx.convert.context import FileContext


def _reads(scope, name: str) -> list[cst.Name]:
    if scope is None or name not in scope.assignments:
        return []
    out = []
    for assignment in scope.assignments[name]:
        out.extend(access.node for access in assignment.references)
    return out


def global_reads(ctx: FileContext, name: str) -> list[cst.Name]:
    """Every read of the module-level `name`, in any function that does not rebind it."""
    out = []
    for node in _reads(ctx.scopes.get(ctx.tree), name):
        if _global_there(ctx, node, name) and node not in out:
            out.append(node)
    return out


def _global_there(ctx: FileContext, node: cst.CSTNode, name: str) -> bool:
    """Whether `name` at `node` means the global (libcst also credits shadowed reads to it)."""
    scope = ctx.scopes.get(node)
    while scope is not None and not isinstance(scope, GlobalScope):
        if isinstance(scope, (FunctionScope, ComprehensionScope)) and name in scope.assignments:
            return False
        scope = scope.parent
    return True


def global_writes(ctx: FileContext, name: str) -> list[cst.CSTNode]:
    scope = ctx.scopes.get(ctx.tree)
    if scope is None or name not in scope.assignments:
        return []
    return [getattr(a, "node", None) for a in scope.assignments[name]]


def local_reads(ctx: FileContext, fn: cst.FunctionDef, name: str) -> list[cst.Name]:
    """Every read of `name` as a parameter or local of `fn` (nested functions included)."""
    first = fn.body.body[0] if fn.body.body else None
    return _reads(ctx.scopes.get(first) if first is not None else None, name)
