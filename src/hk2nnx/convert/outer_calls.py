"""Functions that hand their params to a converted training step take the model instead."""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from hk2nnx.convert.refs import local_reads
from hk2nnx.convert.rules.args import bind

_KEY_MAKERS = ("haiku.PRNGSequence",)


def enclosing_function(node: cst.CSTNode, analysis) -> cst.FunctionDef | None:
    """The module-level function holding `node`, if any."""
    functions = set(analysis.index.functions.values())
    current = analysis.ctx.parent(node)
    while current is not None and current not in functions:
        current = analysis.ctx.parent(current)
    return current


def take_model(call: cst.Call, given: cst.Name, model: str, analysis) -> bool:
    """`def train(params, ...)` whose `params` only feeds the step: renamed to `model`.

    Haiku threads the params tree through every caller; NNX passes the model object, so the
    outer function's parameter and every call of it change together. False if not that shape.
    """
    fn = enclosing_function(call, analysis)
    if fn is None or given.value not in _names(fn):
        return False
    if any(read is not given for read in local_reads(analysis.ctx, fn, given.value)):
        return False
    param = next(p for p in fn.params.params if p.name.value == given.value)
    analysis.ctx.replace(param.name, model)
    analysis.ctx.replace(given, model)
    for outer in m.findall(analysis.ctx.tree, m.Call(func=m.Name(fn.name.value))):
        passed = bind(outer, _names(fn)).get(given.value)
        if passed is not None and m.matches(passed.value, m.Name()):
            analysis.consumed_tree_args.append(passed.value)
            analysis.ctx.replace(passed.value, model)
    return True


def _names(fn: cst.FunctionDef) -> list[str]:
    return [p.name.value for p in fn.params.params]


def drop_unused_keys(call: cst.Call, dropped: list[cst.Arg], analysis) -> None:
    """`keys = hk.PRNGSequence(seed)` goes when its only reads were the dropped key arguments.

    NNX models own their random streams (nnx.Rngs), so the caller's key plumbing is dead code.
    """
    fn = enclosing_function(call, analysis)
    if fn is None:
        return
    for arg in dropped:
        names = m.findall(arg.value, m.Name())
        if len(names) != 2 or not m.matches(arg.value, m.Call(func=m.Name("next"))):
            continue
        _remove_maker(fn, arg.value.args[0].value, analysis)


def _remove_maker(fn: cst.FunctionDef, name: cst.CSTNode, analysis) -> None:
    if not m.matches(name, m.Name()):
        return
    ctx = analysis.ctx
    for stmt in fn.body.body:
        if not m.matches(stmt, m.SimpleStatementLine(body=[m.Assign(
                targets=[m.AssignTarget(target=m.Name(name.value))], value=m.Call())])):
            continue
        if ctx.qualname(stmt.body[0].value.func) not in _KEY_MAKERS:
            continue
        if all(read is name for read in local_reads(ctx, fn, name.value)):
            ctx.remove(stmt)
