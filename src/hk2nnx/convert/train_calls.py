"""Call sites of a converted training step: the model's other state travels beside the params.

The step now takes and returns `rest` (the model's non-param state as a pure dict) next to the
params, unless the Haiku step already threaded its state; a function that passes its own params
parameter to the step gains `rest` too. A call at module level is followed by
`nnx.update(model, params, rest)`, so code after training sees the trained model.
"""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from hk2nnx.convert.findings import Refusal
from hk2nnx.convert.outer_calls import drop_unused_keys, enclosing_function
from hk2nnx.convert.rules.args import bind
from hk2nnx.convert.training import CODE, SECTION, TrainStep, returned


def rewrite_calls(step: TrainStep, analysis) -> None:
    ctx, name = analysis.ctx, step.fn.name.value
    names = [p.name.value for p in step.fn.params.params]
    grown: set[int] = set()  # outer functions that already gained `rest`
    updated: set[int] = set()  # module-level statements already followed by nnx.update
    for call in m.findall(ctx.tree, m.Call(func=m.Name(name))):
        bound = bind(call, names)
        given = bound.get(step.params)
        if given is None:
            ctx.refuse(call, Refusal(name, "pass the params explicitly", SECTION, CODE))
            continue
        _consume(call, step, analysis)
        key = bound.get(step.key) if step.key else None
        drop_unused_keys(call, [key] if key is not None else [], analysis)
        outer = enclosing_function(call, analysis)
        if outer is not None and id(outer) not in grown:
            grown.add(id(outer))
            _outer(outer, given, step, analysis)
        after = None if step.threads else given
        ctx.edit(call, lambda u, c=call, a=after, k=key: _args(c, u, a, k, step.rest))
        targets = _results(call, step, analysis)
        if outer is None and targets is not None:
            _update_after(call, targets, step, analysis, updated)


def _consume(call: cst.Call, step: TrainStep, analysis) -> None:
    """The trees handed to a call are the pure dicts now: nothing for HK022 to flag."""
    for arg in call.args:
        if m.matches(arg.value, m.Name()) and arg.value.value in step.t.tree_names | {step.rest}:
            analysis.consumed_tree_args.append(arg.value)


def _args(original: cst.Call, call: cst.Call, after: cst.Arg | None, key: cst.Arg | None,
          rest: str) -> cst.Call:
    """The call without its key argument, with `rest` right after the params."""
    args = [new for old, new in zip(original.args, call.args) if old is not key]
    if key is not None and key is original.args[-1] and args:
        args[-1] = args[-1].with_changes(comma=key.comma)
    if after is not None:
        at = [a for a in original.args if a is not key].index(after) + 1
        keyword = after.keyword is not None
        arg = cst.Arg(cst.Name(rest), keyword=cst.Name(rest) if keyword else None,
                      equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace(""))
                      if keyword else cst.MaybeSentinel.DEFAULT)
        args = splice(args, at, arg)
    return call.with_changes(args=args)


def _outer(outer: cst.FunctionDef, given: cst.Arg, step: TrainStep, analysis) -> None:
    """`def train(params, ...)` handing its params to the step takes `rest` after them (unless
    the Haiku step threaded its state already), and so do its calls."""
    ctx = analysis.ctx
    names = [p.name.value for p in outer.params.params]
    param = given.value.value if m.matches(given.value, m.Name()) else None
    grow = not step.threads and param in names
    if grow:
        ctx.edit(outer.params, lambda u: param_after(u, param, step.rest))
    for call in m.findall(ctx.tree, m.Call(func=m.Name(outer.name.value))):
        _consume(call, step, analysis)
        passed = bind(call, names).get(param) if grow else None
        if passed is not None:
            ctx.edit(call, lambda u, c=call, p=passed: _args(c, u, p, None, step.rest))
        _trained_back(call, step, analysis)


def _trained_back(call: cst.Call, step: TrainStep, analysis) -> None:
    """`params = train(params, ...)` at module level: the model takes the trained weights."""
    ctx = analysis.ctx
    assign = ctx.parent(call)
    if enclosing_function(call, analysis) is not None or not m.matches(
            assign, m.Assign(targets=[m.AssignTarget()])):
        return
    trees = [n for n in m.findall(assign.targets[0].target, m.Name())
             if n.value in step.t.tree_names | {step.rest}]
    if trees:
        analysis.consumed_tree_args.extend(trees)
        names = ", ".join(n.value for n in trees)
        add_after(_top(call, ctx), update_line(step, names), ctx)


def _results(call: cst.Call, step: TrainStep, analysis) -> list[cst.BaseExpression] | None:
    """The names the call's results are bound to, `rest` added; None if not bound."""
    ctx = analysis.ctx
    parent = ctx.parent(call)
    if m.matches(parent, m.Expr()):
        return None
    if not m.matches(parent, m.Assign(targets=[m.AssignTarget()])):
        ctx.refuse(call, Refusal(ctx.code(call.func), "its result is used in a way the "
                                 "converter does not follow", SECTION, CODE))
        return None
    target = parent.targets[0].target
    elements = [e.value for e in target.elements] if m.matches(target, m.Tuple()) else [target]
    if len(elements) != len(returned(step.returns[0])):
        ctx.refuse(call, Refusal(ctx.code(call.func), "its results are unpacked differently "
                                 "from what it returns", SECTION, CODE))
        return None
    for element in elements:
        if m.matches(element, m.Name()) and element.value in step.t.tree_names | {step.rest}:
            analysis.consumed_tree_args.append(element)
    if step.threads:
        return elements
    ctx.edit(parent, lambda u: u.with_changes(targets=[u.targets[0].with_changes(
        target=insert_element(u.targets[0].target, step.params_at + 1, step.rest).with_changes(
            lpar=[], rpar=[]))]))
    return [*elements[:step.params_at + 1], cst.Name(step.rest), *elements[step.params_at + 1:]]


def _update_after(call: cst.Call, targets, step: TrainStep, analysis, done: set[int]) -> None:
    """A module-level training call: the trained weights and state go back into the model."""
    ctx = analysis.ctx
    rest_at = step.rest_at if step.threads else step.params_at + 1
    params, rest = targets[step.params_at], targets[rest_at] if rest_at is not None else None
    if not (m.matches(params, m.Name()) and m.matches(rest, m.Name())):
        return
    statement = _top(call, ctx)
    if id(statement) in done:
        return
    done.add(id(statement))
    add_after(statement, update_line(step, f"{params.value}, {rest.value}"), ctx)


def update_line(step: TrainStep, trees: str) -> str:
    """`nnx.update(model, params, rest)`; a pmap step's trees hold one copy per device, and the
    model takes the first."""
    if step.pmap:
        group = f"({trees})" if "," in trees else f"({trees},)"
        return f"nnx.update({step.t.var}, *jax.tree.map(lambda a: a[0], {group}))\n"
    return f"nnx.update({step.t.var}, {trees})\n"


def _top(node: cst.CSTNode, ctx) -> cst.CSTNode:
    """The module-level statement holding `node` (a loop, not the line inside it)."""
    while not m.matches(ctx.parent(node), m.Module()):
        node = ctx.parent(node)
    return node


def add_after(statement: cst.CSTNode, code: str, ctx) -> None:
    """`code` as the statement after `statement` (before the next one, whose spacing it takes)."""
    block = ctx.parent(statement)
    body = list(block.body)
    at = body.index(statement) + 1
    if at < len(body):
        ctx.insert_before(body[at], code)
    else:
        line = cst.parse_statement(code)
        ctx.edit(statement, lambda u: cst.FlattenSentinel([u, line]))


def splice(items: list, at: int, item: cst.CSTNode) -> list:
    """`items` (args, params, elements) with `item` inserted at `at`; commas kept as written."""
    items = list(items)
    comma = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
    if items and at == len(items):  # appended: it takes over the old last one's comma
        item = item.with_changes(comma=items[-1].comma)
        items[-1] = items[-1].with_changes(comma=comma)
    elif items:
        item = item.with_changes(comma=comma)
    items.insert(at, item)
    return items


def insert_element(value: cst.BaseExpression, at: int, name: str) -> cst.Tuple:
    """`value` (one expression or a tuple) with `name` added as element `at`."""
    tuple_ = m.matches(value, m.Tuple())
    elements = list(value.elements) if tuple_ else [cst.Element(value)]
    elements = splice(elements, at, cst.Element(cst.Name(name)))
    return value.with_changes(elements=elements) if tuple_ else cst.Tuple(elements, lpar=[],
                                                                          rpar=[])


def param_after(params: cst.Parameters, after: str, name: str) -> cst.Parameters:
    """`params` with a new parameter `name` right after `after`."""
    at = [p.name.value for p in params.params].index(after) + 1
    return params.with_changes(params=splice(params.params, at, cst.Param(cst.Name(name))))
