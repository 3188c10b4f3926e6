"""Training steps: a function that differentiates a loss over the Haiku params and updates them.

Recognised shapes (the guide's and optax's): `grads = jax.grad(loss_fn)(params)` (or
`jax.value_and_grad`), where `loss_fn(params)` only hands its params to `model.apply`; then
either `params = jax.tree.map(f, params, grads)` or `updates, opt_state = tx.update(grads,
opt_state, params)` + `params = optax.apply_updates(params, updates)`.
"""

from __future__ import annotations

import dataclasses

import libcst as cst
import libcst.matchers as m

from hk2nnx.convert.findings import Refusal
from hk2nnx.convert.refs import local_reads
from hk2nnx.convert.transforms import Transformed

SECTION = "Training step and compilation"
CODE = "HK030"
GRADS = ("jax.grad", "jax.value_and_grad")
TREE_MAPS = ("jax.tree.map", "jax.tree_util.tree_map")


@dataclasses.dataclass(eq=False)
class TrainStep:
    """One training step and the nodes its conversion touches."""

    fn: cst.FunctionDef
    t: Transformed
    params: str  # the step's parameter holding the Haiku params
    loss_fn: cst.FunctionDef
    grad_call: cst.Call  # jax.grad(loss_fn)(params)
    grads: str  # the name the gradients are bound to
    applies: list[cst.Call]  # model.apply calls inside loss_fn
    sgd: list[cst.Call] = dataclasses.field(default_factory=list)  # tree_map updates
    optax_update: cst.Call | None = None  # tx.update(grads, opt_state, params)
    apply_updates: cst.CSTNode | None = None  # the `params = optax.apply_updates(...)` line
    opt_state: str | None = None
    key: str | None = None  # a key parameter only the applies used
    returns_update: bool = False  # `return jax.tree.map(...)`: the new params are the result
    returns: list[cst.Return] = dataclasses.field(default_factory=list)


def find_steps(analysis, transformed: list[Transformed]) -> list[TrainStep | Refusal]:
    ctx = analysis.ctx
    out: list[TrainStep | Refusal] = []
    for fn in analysis.index.functions.values():
        grads = [c for c in m.findall(fn.body, m.Call(func=m.Call(args=[m.Arg(value=m.Name()),
                                                                         m.ZeroOrMore()])))
                 if ctx.qualname(c.func.func) in GRADS]
        if not grads:
            continue
        try:
            step = _step(fn, grads, analysis, transformed)
        except Refusal as refusal:
            step = refusal.at(grads[0])
        if step is not None:
            out.append(step)
    return out


def _refusal(why: str) -> Refusal:
    return Refusal("training step", why, SECTION, CODE)


def _step(fn, grads, analysis, transformed) -> TrainStep | None:
    """The step, None if `fn` differentiates no converted model, Refusal if it is too unusual."""
    ctx = analysis.ctx
    params = [p.name.value for p in fn.params.params]
    found = [_loss_applies(_local_function(fn, g.func.args[0].value.value), transformed, ctx)
             for g in grads]
    if all(f is None for f in found):
        return None
    if len(grads) != 1 or not m.matches(grads[0], m.Call(args=[m.Arg(value=m.Name())])):
        raise _refusal("it takes several gradients or of something other than one parameter")
    grad_call = grads[0]
    target = grad_call.args[0].value.value
    if target not in params:
        raise _refusal("it differentiates something that is not one of its parameters")
    loss_fn = _local_function(fn, grad_call.func.args[0].value.value)
    t, applies = found[0]
    step = TrainStep(fn, t, target, loss_fn, grad_call, _grads_name(grad_call, ctx), applies)
    _classify_uses(step, ctx)
    step.key = _key_only_for_applies(step, params, ctx)
    step.returns = [r for r in m.findall(fn.body, m.Return()) if not _inside(r, loss_fn, ctx)]
    return step


def _local_function(fn: cst.FunctionDef, name: str) -> cst.FunctionDef | None:
    found = list(m.findall(fn.body, m.FunctionDef(name=m.Name(name))))
    return found[0] if len(found) == 1 else None


def _loss_applies(loss_fn: cst.FunctionDef | None, transformed, ctx):
    """The transform whose apply the loss calls, and those calls; its params go nowhere else."""
    if loss_fn is None:
        return None
    first = loss_fn.params.params[0].name.value if loss_fn.params.params else None
    applies = []
    owner = None
    for name in local_reads(ctx, loss_fn, first) if first else ():
        call = ctx.parent(ctx.parent(name))
        t = next((t for t in transformed if t.ok and not t.multi and m.matches(
            call, m.Call(func=m.Attribute(value=m.Name(t.var), attr=m.Name("apply"))))), None)
        if t is None or call.args[0].value is not name or owner not in (None, t):
            raise _refusal(f"its loss uses `{first}` other than as model.apply's params")
        owner = t
        applies.append(call)
    return (owner, applies) if owner is not None else None


def _grads_name(grad_call: cst.Call, ctx) -> str:
    assign = ctx.parent(grad_call)
    if not m.matches(assign, m.Assign(targets=[m.AssignTarget()])):
        raise _refusal("bind the gradients to a name")
    target = assign.targets[0].target
    if m.matches(target, m.Tuple()):
        target = target.elements[-1].value
    if not m.matches(target, m.Name()):
        raise _refusal("bind the gradients to a name")
    return target.value


def _classify_uses(step: TrainStep, ctx) -> None:
    for name in local_reads(ctx, step.fn, step.params):
        parent = ctx.parent(ctx.parent(name))
        if name is step.grad_call.args[0].value:
            continue
        if m.matches(parent, m.Call()) and ctx.qualname(parent.func) in TREE_MAPS and len(
                parent.args) == 3 and parent.args[1].value is name and m.matches(
                parent.args[2].value, m.Name(step.grads)):
            step.sgd.append(parent)
        elif m.matches(parent, m.Call(func=m.Attribute(attr=m.Name("update")), args=[
                m.Arg(m.Name(step.grads)), m.Arg(m.Name()), m.Arg()])) and (
                parent.args[2].value is name):
            _optax_update(step, parent, ctx)
        elif m.matches(parent, m.Call()) and ctx.qualname(parent.func) == "optax.apply_updates":
            step.apply_updates = ctx.statement_of(parent)
        elif not _returned(name, ctx):
            raise _refusal(f"`{step.params}` is used in a way the converter does not follow")


def _optax_update(step: TrainStep, call: cst.Call, ctx) -> None:
    step.optax_update = call
    step.opt_state = call.args[1].value.value


def _returned(name: cst.Name, ctx) -> bool:
    parent = ctx.parent(name)
    if m.matches(parent, m.Element()):
        parent = ctx.parent(parent)
    return m.matches(parent, m.Return() | m.Tuple()) and (
        m.matches(parent, m.Return()) or m.matches(ctx.parent(parent), m.Return()))


def _inside(node: cst.CSTNode, container: cst.CSTNode, ctx) -> bool:
    while node is not None:
        if node is container:
            return True
        node = ctx.parent(node)
    return False


def _key_only_for_applies(step: TrainStep, params: list[str], ctx) -> str | None:
    """A step parameter used only as the key of model.apply: NNX's Rngs replace it."""
    lead = 1 + int(step.t.with_state)
    keys = {c.args[lead].value.value for c in step.applies
            if step.t.apply_rng and len(c.args) > lead and m.matches(c.args[lead].value,
                                                                      m.Name())}
    for key in keys & set(params):
        uses = local_reads(ctx, step.fn, key)
        if all(any(u is c.args[lead].value for c in step.applies) for u in uses):
            return key
    return None
