"""Imports, scheduled once at the end: haiku's go when unused, flax's nnx comes when used."""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m
from libcst.codemod import CodemodContext
from libcst.codemod.visitors import AddImportsVisitor, RemoveImportsVisitor

from hk2nnx.convert.names import is_haiku

# Names generated code may use, and the import that provides each.
_PROVIDERS = {"nnx": ("flax", "nnx", None), "jnp": ("jax.numpy", None, "jnp"), "jax": ("jax", None,
                                                                                      None)}


def schedule_imports(tree: cst.Module, generated: set[str]) -> cst.Module:
    """Removes unused haiku imports; adds imports for names the generated code uses."""
    context = CodemodContext()
    for stmt in tree.body:
        if m.matches(stmt, m.SimpleStatementLine()):
            for small in stmt.body:
                _schedule_removal(context, small)
    bound = _bound_names(tree)
    for name in sorted(generated - bound):
        module, obj, alias = _PROVIDERS[name]
        AddImportsVisitor.add_needed_import(context, module, obj, alias)
    tree = RemoveImportsVisitor(context).transform_module(tree)
    return AddImportsVisitor(context).transform_module(tree)


def _schedule_removal(context: CodemodContext, small: cst.BaseSmallStatement) -> None:
    if m.matches(small, m.Import()):
        for alias in small.names:
            name = _dotted(alias.name)
            if is_haiku(name):
                asname = alias.asname.name.value if alias.asname else None
                RemoveImportsVisitor.remove_unused_import(context, name, asname=asname)
    elif m.matches(small, m.ImportFrom()) and small.module is not None:
        module = _dotted(small.module)
        if is_haiku(module) and not m.matches(small.names, m.ImportStar()):
            for alias in small.names:
                asname = alias.asname.name.value if alias.asname else None
                RemoveImportsVisitor.remove_unused_import(
                    context, module, _dotted(alias.name), asname)


def _dotted(node: cst.BaseExpression) -> str:
    if m.matches(node, m.Name()):
        return node.value
    return f"{_dotted(node.value)}.{node.attr.value}"


def _bound_names(tree: cst.Module) -> set[str]:
    """Top-level names bound by imports (what generated code can already refer to)."""
    names = set()
    for stmt in tree.body:
        for small in getattr(stmt, "body", ()) if m.matches(stmt, m.SimpleStatementLine()) else ():
            if m.matches(small, m.Import() | m.ImportFrom()) and not m.matches(
                    getattr(small, "names", None), m.ImportStar()):
                for alias in small.names:
                    bound = alias.asname.name if alias.asname else alias.name
                    names.add(_dotted(bound).split(".")[0])
    return names
