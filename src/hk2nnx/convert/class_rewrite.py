"""Schedules the edits that turn a planned Haiku module class into an NNX module class."""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from hk2nnx.convert import flags, hoist, layout, params, sites
from hk2nnx.convert.classes import ClassPlan
from hk2nnx.convert.index import HAIKU_MODULE
from hk2nnx.convert.rules import layer_stack
from hk2nnx.convert.rules.args import drop_args

_SUPER_INIT = m.SimpleStatementLine(body=[m.Expr(value=m.Call(func=m.Attribute(
    value=m.Call(func=m.Name("super")), attr=m.Name("__init__"))))])
_SELF_ASSIGN = m.SimpleStatementLine(body=[m.Assign(targets=[m.AssignTarget(
    target=m.Attribute(value=m.Name("self"), attr=m.Name()))], value=m.Name())])


def schedule_class(plan: ClassPlan, node: cst.ClassDef, base: cst.Arg) -> None:
    ctx = plan.ctx
    if not plan.converts:
        where, refusal = plan.refusal
        ctx.refuse(where, refusal)
        return
    if ctx.qualname(base.value) == HAIKU_MODULE:
        ctx.replace(base.value, "nnx.Module")
    if plan.init is not None:
        _schedule_init(plan)
    else:
        _insert_init(plan, node)
    schedule_body(plan)


def schedule_body(plan: ClassPlan) -> None:
    """Edits shared by classes and functions turned into classes: methods and sites."""
    for name, method in plan.methods.items():
        dropped = set(plan.flags.get(name, {}))
        if dropped:
            plan.ctx.edit(method.params, lambda u, d=dropped: params.without(u, d))
        _drop_flag_arguments(plan, method)
    for site in plan.sites:
        schedule_site(site, plan)


def constructions(plan: ClassPlan) -> list[str]:
    """`self.X = ...` statements for everything built outside `__init__` in Haiku."""
    unit = plan.ctx.tree.default_indent
    out = []
    for site in plan.sites:
        if site.method == sites.INIT or not site.data.get("code"):
            continue
        if site.data.get("stack"):
            out.extend(layer_stack.creation(site, plan, site.data["code"], site.data["layers"]))
        else:
            out.append(layout.assignment(f"self.{site.attr}", site.data["code"], 2, unit))
    return out


def init_params(plan: ClassPlan, updated: cst.Parameters) -> cst.Parameters:
    return params.for_nnx(updated, plan.used_features, plan.needs_rngs)


def _schedule_init(plan: ClassPlan) -> None:
    ctx = plan.ctx
    ctx.edit(plan.init.params, lambda u: init_params(plan, u))
    for stmt in plan.init.body.body:
        if m.matches(stmt, _SUPER_INIT) or m.matches(stmt, _SELF_ASSIGN) and _unused(plan, stmt.body[0]):
            ctx.remove(stmt)
    extra = [cst.parse_statement(code) for code in constructions(plan)]
    ctx.edit(plan.init.body, lambda u: _append(u, extra))


def _append(block: cst.IndentedBlock, extra: list[cst.BaseStatement]) -> cst.IndentedBlock:
    extra = [_spaced(s) if i or block.body else s for i, s in enumerate(extra)]
    body = [*block.body, *extra]
    return block.with_changes(body=body or [cst.parse_statement("pass")])


def _spaced(statement: cst.BaseStatement) -> cst.BaseStatement:
    """A generated def (layer stacks) gets a blank line above it, like hand-written code."""
    if m.matches(statement, m.FunctionDef()):
        return statement.with_changes(leading_lines=[cst.EmptyLine(indent=False)])
    return statement


def _insert_init(plan: ClassPlan, node: cst.ClassDef) -> None:
    created = _init_lines(plan)
    if not created:
        return
    new = created[0]
    first = next((s for s in node.body.body if m.matches(s, m.FunctionDef())), None)
    if first is not None:
        plan.ctx.before.setdefault(first, []).append(new)
    else:
        plan.ctx.edit(node.body, lambda u: u.with_changes(body=[*u.body, new]))


def _unused(plan: ClassPlan, assign: cst.Assign) -> bool:
    """`self.a = a` can go: nothing reads `self.a` once sizes are resolved, nor `.a` elsewhere."""
    attr = assign.targets[0].target.attr.value
    if attr not in plan.aliases or any(s.target == attr or s.attr == attr for s in plan.sites):
        return False
    moved = [s.ctor for s in plan.sites if s.method != sites.INIT]
    for method in plan.methods.values():
        for found in m.findall(method, m.Attribute(value=m.Name("self"), attr=m.Name(attr))):
            if not any(_inside(found, c, plan) for c in moved):
                return False
    codes = " ".join(s.data.get("code") or "" for s in plan.sites)
    if f"self.{attr}" in codes:
        return False
    return not plan.analysis.attribute_read_elsewhere(attr)


def _inside(node: cst.CSTNode, container: cst.CSTNode, plan: ClassPlan) -> bool:
    while node is not None:
        if node is container:
            return True
        node = plan.ctx.parent(node)
    return False


def schedule_site(site: sites.Site, plan: ClassPlan) -> None:
    ctx = plan.ctx
    if not site.is_module:
        site.rule.schedule(site, plan)
        return
    stacked = site.data.get("stack")
    attr_expr = site.attr if stacked else f"self.{site.attr}"
    if stacked:
        stacked["module_param"] = site.attr
        layer_stack.schedule(site, plan)
    for call in site.applies:
        ctx.edit(call, lambda u, s=site: s.rule.rewrite_args(
            s, plan, u.with_changes(func=cst.parse_expression(attr_expr))))
    site.rule.schedule_extra(site, plan)
    if site.data.get("passed"):  # built as a transform's argument: the module goes there
        ctx.replace(site.ctor, attr_expr)
    elif site.method == sites.INIT:
        ctx.replace(site.ctor, site.data["code"])
        if site.target != site.attr:
            _rename_attribute(plan, site.target, site.attr)
    elif site.target is not None:
        ctx.remove(site.holder)
        method = plan.methods[site.method]
        applied = {id(c.func) for c in site.applies}
        for name in hoist.loads(method.body):
            if name.value == site.target and id(name) not in applied:
                ctx.replace(name, attr_expr)


def _rename_attribute(plan: ClassPlan, old: str, new: str) -> None:
    for method in [plan.init, *plan.methods.values()]:
        for found in m.findall(method, m.Attribute(value=m.Name("self"), attr=m.Name(old))):
            plan.ctx.edit(found, lambda u: u.with_changes(attr=cst.Name(new)))


def _drop_flag_arguments(plan: ClassPlan, method: cst.FunctionDef) -> None:
    for call in m.findall(method.body, m.Call(func=m.Attribute(value=m.Name("self")))):
        callee = call.func.attr.value
        if callee in plan.methods:
            drop = flags.flag_positions(plan.methods[callee], call, plan.flags.get(callee, {}))
            if drop:
                plan.ctx.edit(call, lambda u, d=drop: drop_args(u, d))


def function_as_class(fn: cst.FunctionDef, plan: ClassPlan) -> cst.ClassDef:
    """`def forward(x): ...hk.get_parameter...` -> `class Forward(nnx.Module)` with `__call__`."""
    params = fn.params.with_changes(params=[cst.Param(cst.Name("self")), *fn.params.params])
    call = fn.with_changes(name=cst.Name("__call__"), params=params,
                           leading_lines=[cst.EmptyLine(indent=False)] if _init_lines(plan) else [])
    body = [*_init_lines(plan), call]
    return cst.ClassDef(name=cst.Name(plan.name), body=cst.IndentedBlock(body=body),
                        bases=[cst.Arg(cst.parse_expression("nnx.Module"))],
                        leading_lines=fn.leading_lines)


def _init_lines(plan: ClassPlan) -> list[cst.BaseStatement]:
    lines = constructions(plan)
    if not (lines or plan.used_features or plan.needs_rngs):
        return []
    signature = ", ".join(["self", *(f"{f}: int" for f in plan.used_features),
                           *(["rngs: nnx.Rngs"] if plan.needs_rngs else [])])
    body = cst.parse_module("".join(lines) or "pass\n").body
    init = cst.parse_statement(f"def __init__({signature}):\n    pass\n")
    return [init.with_changes(body=init.body.with_changes(body=body))]
