"""HK030 train-step: a jitted step over the params tree stays a jitted step, over NNX pure dicts.

What it converts: a function computing `jax.grad(loss_fn)(params)` (or `value_and_grad`) where
`loss_fn` calls a converted model's `apply`, updating with `jax.tree.map(f, params, grads)` or
with optax (`tx.update` + `optax.apply_updates`), and its calls; under `transform_with_state`
also a step that threads the state (`loss_fn` returns `loss, new_state` with `has_aux=True`).
Haiku: `@jax.jit def train_step(key, params, x, y)` returns new params (and optimizer state).
NNX: the form that runs at Haiku's speed (bench/RESULTS.md): once, after the model is built,
`model.train()`, `graphdef, params, rest = nnx.split(model, nnx.Param, ...)` and both made pure
dicts; the step keeps `@jax.jit`, the user's gradient call and update (optax or tree_map) over
the params dict; its loss rebuilds the model, `model = nnx.merge(graphdef, params, rest)`, and
hands back the model's other state (BatchNorm statistics, RNG counters) as its aux output, so
`rest` goes in and out of the step beside the params (under `transform_with_state` it keeps the
user's name, `state`); a key only used by `apply` leaves (the model's Rngs draw); a training
call at module level is followed by `nnx.update(model, params, rest)`.
Fix safety: review (the params dict is keyed by NNX attribute names now, not Haiku paths).
Guide section: "Training step and compilation".
"""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from hk2nnx.convert.findings import Refusal, Safety
from hk2nnx.convert.names import fresh
from hk2nnx.convert.params import without
from hk2nnx.convert.rules import base, pmap_step
from hk2nnx.convert.rules.apply import call_mode
from hk2nnx.convert.rules.args import with_keyword
from hk2nnx.convert.train_calls import add_after, insert_element, param_after, rewrite_calls
from hk2nnx.convert.training import (
    TrainStep,
    find_steps,
    grad_targets,
    inside,
    names_in_file,
)
from hk2nnx.convert.transforms import transformed

INFO = base.info("HK030", "train-step", Safety.REVIEW, "Training step and compilation", __name__)


def rest_of(model: str) -> str:
    """The model's state other than its params, as a pure dict (the loss's aux output)."""
    return f"nnx.to_pure_dict(nnx.state({model}, nnx.Not(nnx.Param)))"


class TrainStepRule(base.FileRule):
    info = INFO
    order = 10  # before HK021 (apply) and HK022 (params-read), whose nodes it claims

    def apply(self, analysis) -> None:
        split: set[int] = set()  # transforms already split into pure dicts
        for found in find_steps(analysis, transformed(analysis)):
            if isinstance(found, Refusal):
                analysis.ctx.refuse(found.node, found)
                continue
            try:
                _check(found, analysis, split)
            except Refusal as refusal:
                analysis.ctx.refuse(refusal.node or found.grad_call, refusal)
                continue
            split.add(id(found.t))
            _schedule(found, analysis)


def _refusal(why: str, node: cst.CSTNode | None = None) -> Refusal:
    return Refusal("training step", why, INFO.section, INFO.code, node)


def _check(step: TrainStep, analysis, split: set[int]) -> None:
    names = {p.name.value for p in step.fn.params.params}
    if step.t.var in names - {step.params}:
        raise _refusal(f"it already has a parameter `{step.t.var}`")
    for decorator in step.fn.decorators:
        if analysis.ctx.qualname(decorator.decorator) not in ("jax.jit",) and not \
                pmap_step.is_pmap(decorator.decorator, analysis.ctx):
            raise _refusal("only a bare @jax.jit or a jax.pmap decorator is converted",
                           decorator)
    if id(step.t) in split:
        raise _refusal(f"only one training step per model is converted; {step.t.var} has one")
    if len(step.t.inits) != 1:
        raise _refusal(f"call {step.t.var}.init once, so the model is split once")
    if not m.matches(step.loss_fn.body, m.IndentedBlock()):
        raise _refusal("write the loss function's body on its own lines")
    if len({call_mode(step.t, call, analysis) for call in step.applies}) > 1:
        raise _refusal("its model.apply calls disagree on train/eval")


def _schedule(step: TrainStep, analysis) -> None:
    ctx = analysis.ctx
    graphdef = _split(step, analysis)
    if step.key:
        ctx.edit(step.fn.params, lambda u: without(u, {step.key}))
    for call in step.applies:
        analysis.apply_overrides[id(call)] = step.fn
    loss_params = step.loss_fn.params.params[0].name.value
    first = _first_statement(step.loss_fn)
    ctx.insert_before(first, f"{step.t.var} = nnx.merge({graphdef}, {loss_params}, "
                             f"{step.rest})\n")
    if step.threads:
        line = f"{step.state_target.value} = {rest_of(step.t.var)}\n"
        add_after(ctx.statement_of(step.applies[0]), line, ctx)
    else:
        _thread_rest(step, analysis)
    _optimizer_init(step, analysis)
    if any(pmap_step.is_pmap(d.decorator, ctx) for d in step.fn.decorators):
        pmap_step.schedule(step, analysis)  # before the calls: their nnx.update unreplicates
    rewrite_calls(step, analysis)


def _optimizer_init(step: TrainStep, analysis) -> None:
    """`opt_state = tx.init(params)` stays: the params are a pure dict, as optax wants."""
    if step.optax_update is None:
        return
    tx = step.optax_update.func.value
    init = m.Call(func=m.Attribute(value=m.Name(tx.value) if m.matches(tx, m.Name()) else
                                   m.DoNotCare(), attr=m.Name("init")), args=[m.Arg(m.Name())])
    for stmt in analysis.index.statements:
        for call in m.findall(stmt, init):
            if call.args[0].value.value in step.t.tree_names:
                analysis.consumed_tree_args.append(call.args[0].value)


def _first_statement(fn: cst.FunctionDef) -> cst.CSTNode:
    """The loss's first statement after its docstring: where the model is rebuilt."""
    body = fn.body.body
    docstring = m.SimpleStatementLine(body=[m.Expr(value=m.SimpleString())])
    return body[1] if len(body) > 1 and m.matches(body[0], docstring) else body[0]


def _split(step: TrainStep, analysis) -> str:
    """After the model is built: its mode, then params and the rest as pure dicts."""
    ctx, t = analysis.ctx, step.t
    graphdef = fresh("graphdef", names_in_file(analysis))
    init = t.inits[0]
    params = init.targets[0]
    rest = init.targets[1] if t.with_state and len(init.targets) > 1 else step.rest
    body = list(ctx.tree.body)
    at = body.index(init.statement) + 1 if init.statement in body else None
    if at is None or at == len(body):
        raise _refusal(f"call {t.var}.init at module level, before the step", init.call)
    mode = call_mode(t, step.applies[0], analysis)
    analysis.splits[t.var] = (params, rest)  # HK032 syncs checkpoints with these
    ctx.insert_before(body[at], (f"{t.var}.{mode}()\n" if mode else "") + (
        f"{graphdef}, {params}, {rest} = nnx.split({t.var}, nnx.Param, ...)\n"
        f"{params}, {rest} = nnx.to_pure_dict({params}), nnx.to_pure_dict({rest})\n"))
    return graphdef


def _thread_rest(step: TrainStep, analysis) -> None:
    """The Haiku step had no state to carry: `rest` goes in and out beside the params."""
    ctx, rest, model = analysis.ctx, step.rest, step.t.var
    ctx.edit(step.fn.params, lambda u: param_after(u, step.params, rest))
    new_rest = fresh(f"new_{rest}", names_in_file(analysis))
    for ret in m.findall(step.loss_fn.body, m.Return()):
        if any(inside(call, ret, ctx) for call in step.applies):  # read it after the model ran
            aux = cst.parse_expression(rest_of(model))
        else:
            ctx.insert_before(ctx.statement_of(ret), f"{new_rest} = {rest_of(model)}\n")
            aux = cst.Name(new_rest)
        ctx.edit(ret, lambda u, a=aux: u.with_changes(value=cst.Tuple([
            cst.Element(_grouped(u.value)), cst.Element(a)], lpar=[], rpar=[])))
    for call in m.findall(step.fn.body, m.Call(func=m.Name(step.loss_fn.name.value))):
        ctx.edit(call, lambda u: cst.Subscript(u, [cst.SubscriptElement(cst.Index(
            cst.Integer("0")))]))  # the loss alone, where the step calls it itself
    ctx.edit(step.grad_call.func, lambda u: with_keyword(u, "has_aux", "True"))
    grads, _ = grad_targets(step.grad_call, ctx)
    assign = ctx.parent(step.grad_call)
    target = assign.targets[0].target
    if target is grads:  # grads = jax.grad(...)(params)
        new = cst.parse_expression(f"{ctx.code(grads)}, {rest}")
        ctx.edit(assign, lambda u: u.with_changes(targets=[u.targets[0].with_changes(
            target=new.with_changes(lpar=[], rpar=[]))]))
    else:  # loss, grads = jax.value_and_grad(...)(params)
        value = target.elements[0].value
        ctx.edit(value, lambda u: cst.parse_expression(f"({ctx.code(u)}, {rest})"))
    for ret in step.returns:
        ctx.edit(ret, lambda u: u.with_changes(value=insert_element(u.value, step.params_at + 1, rest)))


def _grouped(value: cst.BaseExpression) -> cst.BaseExpression:
    if m.matches(value, m.Tuple(lpar=[])):
        return value.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
    return value


base.register_file(TrainStepRule())
