"""HK033 pmap-step: a `jax.pmap` training step converts like HK030's jitted one, per device.

What it converts: a step HK030 would convert, decorated `@jax.pmap` or
`@functools.partial(jax.pmap, axis_name=...)`; the decorator, `axis_name` and the step's
`jax.lax.pmean` calls stay as written.
Haiku: the params are replicated at module level (`params = replicate(params)`, any function
of the params alone), then every step takes and returns per-device copies.
NNX: HK030's step over pure dicts, pmapped. The model's other state, `rest`, goes in beside
the params, so each module-level `params = f(params, ...)` is followed by
`rest = f(rest, ...)`: `rest` is replicated (or unreplicated) the way the params were. After a
training call at module level the model takes the first device's copy,
`nnx.update(model, *jax.tree.map(lambda a: a[0], (params, rest)))`.
Fix safety: review (as HK030; `rest` with RNG keys is replicated as the same key on every
device, as Haiku would have been given one key).
Guide section: "Training step and compilation".
"""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from hk2nnx.convert.findings import Safety
from hk2nnx.convert.rules import base
from hk2nnx.convert.train_calls import add_after
from hk2nnx.convert.training import TrainStep

INFO = base.info("HK033", "pmap-step", Safety.REVIEW, "Training step and compilation", __name__)
_PMAP = "jax.pmap"


def is_pmap(decorator: cst.BaseExpression, ctx) -> bool:
    """`jax.pmap`, `jax.pmap(...)` or `functools.partial(jax.pmap, ...)`."""
    if ctx.qualname(decorator) == _PMAP:
        return True
    if not m.matches(decorator, m.Call()):
        return False
    func = ctx.qualname(decorator.func)
    return func == _PMAP or (func == "functools.partial" and bool(decorator.args) and
                             ctx.qualname(decorator.args[0].value) == _PMAP)


def schedule(step: TrainStep, analysis) -> None:
    """`rest` follows the params through every module-level `params = f(params, ...)`."""
    ctx = analysis.ctx
    step.pmap = True
    params = step.t.inits[0].targets[0]
    mirrored = 0
    for statement in ctx.tree.body:
        call = _rebinding(statement, params, step, ctx)
        if call is None:
            continue
        analysis.consumed_tree_args.extend([statement.body[0].targets[0].target,
                                            call.args[0].value])
        again = call.with_changes(args=[call.args[0].with_changes(value=cst.Name(step.rest)),
                                        *call.args[1:]])
        add_after(statement, f"{step.rest} = {ctx.code(again)}\n", ctx)
        mirrored += 1
    ctx.report(INFO.code, step.fn, f"{step.fn.name.value}: pmapped over NNX pure dicts; "
               f"`{step.rest}` replicated as `{params}` is ({mirrored} place(s))",
               safety=INFO.safety)


def _rebinding(statement: cst.CSTNode, params: str, step: TrainStep, ctx) -> cst.Call | None:
    """The call of `params = f(params, ...)`, unless `f` is (or calls) the step itself."""
    pattern = m.SimpleStatementLine(body=[m.Assign(
        targets=[m.AssignTarget(target=m.Name(params))],
        value=m.Call(func=m.Name() | m.Attribute(), args=[m.Arg(value=m.Name(params),
                                                                keyword=None), m.ZeroOrMore()]))])
    if not m.matches(statement, pattern):
        return None
    call = statement.body[0].value
    if m.matches(call.func, m.Name(step.fn.name.value)):
        return None
    calls_step = m.Call(func=m.Name(step.fn.name.value))
    for fn in ctx.tree.body:
        if m.matches(fn, m.FunctionDef(name=m.Name(ctx.code(call.func)))) and m.findall(
                fn, calls_step):
            return None
    return call
