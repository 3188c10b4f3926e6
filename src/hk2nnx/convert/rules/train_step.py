"""HK030 train-step: a jitted step over the params tree becomes an `nnx.jit` step over the model.

What it converts: a function computing `jax.grad(loss_fn)(params)` (or `value_and_grad`) where
`loss_fn` calls a converted model's `apply`, updating with `jax.tree.map(f, params, grads)` or
with optax (`tx.update` + `optax.apply_updates`, `opt_state = tx.init(params)`), and its calls.
Haiku: `@jax.jit def train_step(key, params, x, y)` returns new params (and optimizer state).
NNX: `model.train()` once before it; `@nnx.jit def train_step(model, x, y)`; the loss takes
the model; `nnx.grad(loss_fn)(model)`; updates in place with `nnx.update(model, jax.tree.map(f,
nnx.state(model, nnx.Param), grads))` or `opt_state.update(model, grads)` where
`opt_state = nnx.Optimizer(model, tx, wrt=nnx.Param)`; params and optimizer state leave the
returns and the call sites; a key only used by `apply` leaves too (the model's Rngs draw).
Fix safety: review (the step now mutates the model instead of returning new params).
Guide section: "Training step and compilation".
"""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from hk2nnx.convert.findings import Refusal, Safety
from hk2nnx.convert.params import without
from hk2nnx.convert.rules import base
from hk2nnx.convert.train_calls import rewrite_calls
from hk2nnx.convert.training import TrainStep, find_steps
from hk2nnx.convert.transforms import transformed

INFO = base.info("HK030", "train-step", Safety.REVIEW, "Training step and compilation", __name__)
_NNX_GRADS = {"jax.grad": "nnx.grad", "jax.value_and_grad": "nnx.value_and_grad"}


class TrainStepRule(base.FileRule):
    info = INFO
    order = 10  # before HK021 (apply) and HK022 (params-read), whose nodes it claims

    def apply(self, analysis) -> None:
        for found in find_steps(analysis, transformed(analysis)):
            if isinstance(found, Refusal):
                analysis.ctx.refuse(found.node, found)
                continue
            try:
                _check(found, analysis)
            except Refusal as refusal:
                analysis.ctx.refuse(refusal.node or found.grad_call, refusal)
                continue
            _schedule(found, analysis)


def _check(step: TrainStep, analysis) -> None:
    names = {p.name.value for p in step.fn.params.params}
    if step.t.var in names - {step.params}:
        raise Refusal("training step", f"it already has a parameter `{step.t.var}`",
                      INFO.section, INFO.code)
    for decorator in step.fn.decorators:
        if analysis.ctx.qualname(decorator.decorator) not in ("jax.jit",):
            raise Refusal("training step", "only a bare @jax.jit decorator is converted",
                          INFO.section, INFO.code, decorator)


def _schedule(step: TrainStep, analysis) -> None:
    ctx, model = analysis.ctx, step.t.var
    for decorator in step.fn.decorators:
        ctx.replace(decorator.decorator, "nnx.jit")
    dropped = {step.key} if step.key else set()
    ctx.edit(step.fn.params, lambda u: _rename_param(without(u, dropped), step.params, model))
    ctx.edit(step.loss_fn.params, lambda u: _rename_first(u, model))
    grad = step.grad_call
    ctx.replace(grad.func.func, _NNX_GRADS[ctx.qualname(grad.func.func)])
    ctx.replace(grad.args[0].value, model)
    for call in step.applies:
        analysis.apply_overrides[id(call)] = step.fn
    for call in step.sgd:
        ctx.replace(call.args[1].value, f"nnx.state({model}, nnx.Param)")
        _sgd_statement(step, call, ctx)
    if step.optax_update is not None:
        statement = ctx.statement_of(step.optax_update)
        ctx.edit(statement, lambda u: cst.parse_statement(
            f"{step.opt_state}.update({model}, {step.grads})\n").with_changes(
            leading_lines=u.leading_lines))
        if step.apply_updates is not None:
            ctx.remove(step.apply_updates)
        _optimizer_init(step, analysis)
    removed = {step.params} | ({step.opt_state} if step.opt_state else set())
    for ret in step.returns:
        ctx.edit(ret, lambda u, r=removed: _trim_return(u, r))
    rewrite_calls(step, analysis, removed)


def _rename_param(params: cst.Parameters, old: str, new: str) -> cst.Parameters:
    return params.with_changes(params=[p.with_changes(name=cst.Name(new))
                                       if p.name.value == old else p for p in params.params])


def _rename_first(params: cst.Parameters, new: str) -> cst.Parameters:
    first, *rest = params.params
    return params.with_changes(params=[first.with_changes(name=cst.Name(new)), *rest])


def _sgd_statement(step: TrainStep, call: cst.Call, ctx) -> None:
    parent = ctx.parent(call)
    statement = ctx.statement_of(call)
    if m.matches(parent, m.Return()) or m.matches(parent, m.Assign(targets=[m.AssignTarget(
            target=m.Name(step.params))])):
        ctx.edit(parent, lambda u: cst.Expr(cst.parse_expression(
            f"nnx.update({step.t.var}, {cst.Module([]).code_for_node(u.value)})")))
        if m.matches(parent, m.Return()):
            step.returns = [r for r in step.returns if r is not parent]
            step.returns_update = True
        return
    raise Refusal("training step", "the tree_map update must be assigned back to the params",
                  INFO.section, INFO.code, statement)


def _trim_return(ret: cst.Return, removed: set[str]):
    value = ret.value
    if m.matches(value, m.Name()) and value.value in removed:
        return cst.RemovalSentinel.REMOVE
    if not m.matches(value, m.Tuple()):
        return ret
    kept = [e for e in value.elements if not (m.matches(e.value, m.Name()) and e.value.value in
                                              removed)]
    if not kept:
        return cst.RemovalSentinel.REMOVE
    if len(kept) == 1:
        return ret.with_changes(value=kept[0].value)
    kept[-1] = kept[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
    return ret.with_changes(value=value.with_changes(elements=kept))


def _optimizer_init(step: TrainStep, analysis) -> None:
    tx = step.optax_update.func.value
    init = m.Call(func=m.Attribute(value=m.Name(tx.value) if m.matches(tx, m.Name()) else
                                   m.DoNotCare(), attr=m.Name("init")), args=[m.Arg(m.Name())])
    for stmt in analysis.index.statements:
        for call in m.findall(stmt, init):
            if call.args[0].value.value in step.t.tree_names:
                analysis.consumed_tree_args.append(call.args[0].value)
                analysis.ctx.replace(call, f"nnx.Optimizer({step.t.var}, "
                                     f"{analysis.ctx.code(tx)}, wrt=nnx.Param)")


base.register_file(TrainStepRule())
