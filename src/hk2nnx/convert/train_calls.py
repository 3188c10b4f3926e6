"""Call sites of a converted training step: the model goes in, params and state stop coming out."""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from hk2nnx.convert.findings import Refusal
from hk2nnx.convert.outer_calls import drop_unused_keys, take_model
from hk2nnx.convert.rules.args import bind
from hk2nnx.convert.training import CODE, SECTION, TrainStep


def _removed_positions(step: TrainStep, removed: set[str]) -> tuple[int, set[int]]:
    """(how many values the step returned, which of them it no longer returns)."""
    if step.returns_update:
        return 1, {0}
    value = step.returns[0].value if step.returns and step.returns[0].value else None
    if value is None:
        return 0, set()
    elements = [e.value for e in value.elements] if m.matches(value, m.Tuple()) else [value]
    gone = {i for i, e in enumerate(elements) if m.matches(e, m.Name()) and e.value in removed}
    return len(elements), gone


def rewrite_calls(step: TrainStep, analysis, removed: set[str]) -> None:
    ctx, name = analysis.ctx, step.fn.name.value
    names = [p.name.value for p in step.fn.params.params]
    count, gone = _removed_positions(step, removed)
    for call in m.findall(ctx.tree, m.Call(func=m.Name(name))):
        bound = bind(call, names)
        drop = {i for i, a in enumerate(call.args) if step.key and a is bound.get(step.key)}
        given = bound.get(step.params)
        if given is None:
            ctx.refuse(call, Refusal(name, "pass the params explicitly", SECTION, CODE))
            continue
        if m.matches(given.value, m.Name()):
            analysis.consumed_tree_args.append(given.value)
        if not (m.matches(given.value, m.Name())
                and take_model(call, given.value, step.t.var, analysis)):
            ctx.replace(given.value, step.t.var)
        drop_unused_keys(call, [call.args[i] for i in sorted(drop)], analysis)
        if drop:
            ctx.edit(call, lambda u, d=drop: u.with_changes(
                args=_without(u.args, d)))
        _results(call, count, gone, analysis)


def _without(args, drop: set[int]) -> list[cst.Arg]:
    kept = [a for i, a in enumerate(args) if i not in drop]
    if kept:
        kept[-1] = kept[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
    return kept


def _results(call: cst.Call, count: int, gone: set[int], analysis) -> None:
    ctx = analysis.ctx
    parent = ctx.parent(call)
    if not gone or m.matches(parent, m.Expr()):
        return
    if not m.matches(parent, m.Assign(targets=[m.AssignTarget()])):
        ctx.refuse(call, Refusal(ctx.code(call.func), "its result is used in a way the converter "
                                 "does not follow", SECTION, CODE))
        return
    target = parent.targets[0].target
    elements = [e.value for e in target.elements] if m.matches(target, m.Tuple()) else [target]
    if len(elements) != count:
        ctx.refuse(call, Refusal(ctx.code(call.func), "its results are unpacked differently "
                                 "from what it returns", SECTION, CODE))
        return
    for i in gone:
        if m.matches(elements[i], m.Name()):
            analysis.consumed_tree_args.append(elements[i])
    kept = [e for i, e in enumerate(elements) if i not in gone]
    ctx.edit(parent, lambda u: _assigned(u, kept))


def _assigned(assign: cst.Assign, kept: list[cst.BaseExpression]):
    if not kept:
        return cst.Expr(assign.value)
    if len(kept) == 1:
        return assign.with_changes(targets=[assign.targets[0].with_changes(target=kept[0])])
    target = cst.Tuple([cst.Element(e) for e in kept], lpar=[], rpar=[])
    return assign.with_changes(targets=[assign.targets[0].with_changes(target=target)])
