"""Moving an expression from a method into `__init__`: what it may use, and how it is renamed."""

from __future__ import annotations

from collections.abc import Mapping

import libcst as cst
import libcst.matchers as m
from libcst.metadata import BuiltinScope, GlobalScope

from hk2nnx.convert import dims
from hk2nnx.convert.context import FileContext
from hk2nnx.convert.findings import Refusal

_SELF_ATTR = m.Attribute(value=m.Name("self"), attr=m.Name())
_LAST_AXIS = m.Subscript(
    value=m.Attribute(value=m.Name(), attr=m.Name("shape")),
    slice=[m.SubscriptElement(slice=m.Index(value=m.UnaryOperation(
        operator=m.Minus(), expression=m.Integer("1"))))])


def loads(node: cst.CSTNode) -> list[cst.Name]:
    """Names read as variables inside `node` (not `.attr` parts nor keyword names)."""
    found: list[cst.Name] = []

    def walk(n: cst.CSTNode) -> None:
        if m.matches(n, m.Name()):
            found.append(n)
            return
        if m.matches(n, m.Attribute()):
            walk(n.value)
            return
        for child in n.children:
            if m.matches(n, m.Arg()) and child is n.keyword:
                continue
            walk(child)

    walk(node)
    return found


def is_global(name: cst.Name, ctx: FileContext) -> bool:
    scope = ctx.scopes.get(name)
    if scope is None:
        return False
    assignments = scope[name.value]
    return bool(assignments) and all(
        isinstance(a.scope, (GlobalScope, BuiltinScope)) for a in assignments)


class _Rename(cst.CSTTransformer):
    def __init__(self, aliases: Mapping[str, str], sizes: Mapping[str, cst.BaseExpression]):
        self.aliases = aliases
        self.sizes = sizes

    def leave_Attribute(self, original, updated):
        if m.matches(original, _SELF_ATTR) and original.attr.value in self.aliases:
            return cst.Name(self.aliases[original.attr.value])
        return updated

    def leave_Subscript(self, original, updated):
        if m.matches(original, _LAST_AXIS) and original.value.value.value in self.sizes:
            return dims.wrapped(self.sizes[original.value.value.value])
        return updated


def hoist(expr: cst.BaseExpression, ctx: FileContext, aliases: Mapping[str, str],
          sizes: Mapping[str, dims.Dim], construct: str, section: str,
          code: str = "HK001") -> cst.BaseExpression:
    """`expr` as `__init__` can write it: `self.d` -> `d`, `x.shape[-1]` -> x's size.

    Raises Refusal when it reads something only the method knows (a local or an argument).
    """
    known = {k: v for k, v in sizes.items() if v is not None}
    renamed = expr.visit(_Rename(aliases, known))
    for name in loads(expr):
        if name.value == "self" or is_global(name, ctx):
            continue
        if _inside_known_size(name, expr, known):
            continue
        raise Refusal(construct, f"its arguments use `{name.value}`, which exists only while "
                                 "the method runs; NNX builds layers in __init__", section, code)
    return renamed


def _inside_known_size(name: cst.Name, expr: cst.CSTNode, known: Mapping[str, object]) -> bool:
    if name.value not in known:
        return False
    found = m.findall(expr, _LAST_AXIS)
    return any(f.value.value is name for f in found)
