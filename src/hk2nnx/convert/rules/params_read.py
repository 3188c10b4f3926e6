"""HK022 params-read: reads of the Haiku params/state tree become attribute reads on the model.

What it converts: `params['model/linear']['b']` (and state leaves) where `params` came from
a converted `init`.
Haiku: parameters live in a nested dict keyed by module path and leaf name.
NNX: `model.linear.bias[...]`: the attribute path `hk2nnx.program.naming` gives that leaf, the
same one `hk2nnx port` writes to. Any other use of the tree is marked: NNX keeps the weights
in the model (`nnx.state(model, nnx.Param)` gives them as a tree).
Fix safety: safe.
Guide section: "Variable creation".
"""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from hk2nnx.convert.findings import Refusal, Safety
from hk2nnx.convert.refs import global_reads, global_writes
from hk2nnx.convert.rules import base
from hk2nnx.convert.rules.args import literal_string
from hk2nnx.convert.transforms import SECTION, Transformed, transformed
from hk2nnx.convert.tree import container_scopes, held_by_container, leaf_path, module_tree

INFO = base.info("HK022", "params-read", Safety.SAFE, SECTION, __name__)


class ParamsReadRule(base.FileRule):
    info = INFO
    order = 30

    def apply(self, analysis) -> None:
        for t in transformed(analysis):
            if t.ok and t.tree_names:
                _rewrite_reads(t, analysis)


def _rewrite_reads(t: Transformed, analysis) -> None:
    ctx = analysis.ctx
    plan = t.model_plan(analysis)
    root = "" if t.root is None else plan.default_name
    if t.root is not None:
        given = next((a for a in t.root.ctor.args if a.keyword and a.keyword.value == "name"),
                     None)
        root = literal_string(given.value) if given is not None else root
    tree = module_tree(plan, root or "")
    if root:
        tree[root] = t.class_name
    consumed = {id(n) for n in analysis.consumed_tree_args}
    held = container_scopes(plan, root or "")
    for name in _global_uses(ctx, t):
        if id(name) not in consumed:
            _rewrite_one(name, t, tree, ctx, held)


def _global_uses(ctx, t: Transformed) -> list[cst.CSTNode]:
    """Reads and later rebindings of the module-level names `init` bound (scope analysis)."""
    targets = {id(n) for i in t.inits for n in m.findall(i.statement, m.Name())}
    out = []
    for tree_name in sorted(t.tree_names):
        out.extend(global_reads(ctx, tree_name))
        out.extend(n for n in global_writes(ctx, tree_name)
                   if m.matches(n, m.Name()) and id(n) not in targets)
    return sorted(set(out), key=ctx.position)


def _rewrite_one(name: cst.Name, t: Transformed, tree: dict[str, str], ctx,
                 held: list[tuple[str, str | None]]) -> None:
    first = ctx.parent(name)
    if m.matches(first, m.Subscript(value=m.Name(), slice=[m.SubscriptElement(
            slice=m.Index(value=m.SimpleString()))])) and first.value is name:
        second = ctx.parent(first)
        if m.matches(second, m.Subscript(slice=[m.SubscriptElement(
                slice=m.Index(value=m.SimpleString()))])) and second.value is first:
            module = literal_string(first.slice[0].slice.value)
            leaf = literal_string(second.slice[0].slice.value)
            path = None if held_by_container(held, module) else leaf_path(tree, module, leaf)
            if path is not None:
                ctx.replace(second, f"{t.var}.{path}[...]")
                return
    ctx.refuse(name, Refusal(name.value, f"`{name.value}` was the Haiku tree from "
                             f"{t.var}.init; NNX keeps the weights in `{t.var}` (read them as "
                             f"attributes, or take nnx.state({t.var}, nnx.Param))", SECTION,
                             INFO.code))


base.register_file(ParamsReadRule())
