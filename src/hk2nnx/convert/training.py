"""Training steps: a function that differentiates a loss over the Haiku params and updates them.

Recognised shapes (the guide's and optax's): `grads = jax.grad(loss_fn)(params)` (or
`jax.value_and_grad`) of a loss defined in the step that hands its params to one model's
`apply` (and may use them as a whole tree, say for an L2 term); then, say, `params =
jax.tree.map(f, params, grads)` or `updates, opt_state = tx.update(grads, opt_state, params)` +
`params = optax.apply_updates(params, updates)`, the new params returned. Under
`transform_with_state` the step may thread the state itself: `loss_fn` returns `(loss,
new_state)` as `has_aux` and the step takes and returns `state`. Indexing the params by Haiku
module path is refused: NNX's params dict is keyed by attribute names.
"""

from __future__ import annotations

import dataclasses

import libcst as cst
import libcst.matchers as m

from hk2nnx.convert.findings import Refusal
from hk2nnx.convert.names import fresh
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
    optax_update: cst.Call | None = None  # tx.update(grads, opt_state, params)
    key: str | None = None  # a key parameter only the applies used
    returns: list[cst.Return] = dataclasses.field(default_factory=list)
    rest: str = "rest"  # the step's name for the model's other state (Haiku state, RNG counts)
    threads: bool = False  # the Haiku step already takes and returns `rest` (has_aux state)
    state_target: cst.Name | None = None  # threads: `new_state` in `out, new_state = apply(...)`
    params_at: int = 0  # where the new params sit in what the step returns
    rest_at: int | None = None  # where the new state sits in what the step returns (threads)
    pmap: bool = False  # a jax.pmap step: its trees carry a leading device axis (HK033)


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
    step.returns = [r for r in m.findall(fn.body, m.Return()) if not inside(r, loss_fn, ctx)]
    _state(step, params, analysis)
    step.params_at = _params_position(step, ctx)
    return step


def has_aux(grad_call: cst.Call) -> bool:
    """Whether the user's gradient call already says `has_aux=True`."""
    return any(a.keyword is not None and a.keyword.value == "has_aux" and
               m.matches(a.value, m.Name("True")) for a in grad_call.func.args)


def _state(step: TrainStep, params: list[str], analysis) -> None:
    """Names the model's other state: the Haiku state tree if the step threads it, else `rest`."""
    ctx = analysis.ctx
    if has_aux(step.grad_call) and not step.t.with_state:
        raise _refusal("its loss already returns an auxiliary output")
    if not step.t.with_state:
        step.rest = _fresh_rest(analysis)
        return
    given = {ctx.code(c.args[1].value) for c in step.applies if len(c.args) > 1}
    if len(given) != 1 or not m.matches(step.applies[0].args[1].value, m.Name()):
        raise _refusal("its model.apply calls must all be given one state tree by name")
    step.rest = given.pop()
    if step.rest not in params:
        if step.rest not in step.t.tree_names:
            raise _refusal(f"its state `{step.rest}` is not the tree from {step.t.var}.init")
        if has_aux(step.grad_call):
            raise _refusal("its loss already returns an auxiliary output")
        return
    _, aux = grad_targets(step.grad_call, ctx)
    if len(step.applies) != 1 or not m.matches(aux, m.Name()):
        raise _refusal(f"it takes `{step.rest}` but does not return the new state from its "
                       "loss (`return loss, new_state` with has_aux=True)")
    assign = ctx.parent(step.applies[0])
    if not m.matches(assign, m.Assign(targets=[m.AssignTarget(target=m.Tuple(
            elements=[m.Element(), m.Element(value=m.Name())]))])):
        raise _refusal("bind the new state: `out, new_state = model.apply(...)`")
    step.threads = True
    step.state_target = assign.targets[0].target.elements[1].value
    step.rest_at = _position(step, lambda e: m.matches(e, m.Name(aux.value)))


def _fresh_rest(analysis) -> str:
    return fresh("rest", names_in_file(analysis))


def names_in_file(analysis) -> set[str]:
    """Every name the file uses anywhere: a new name must not shadow or be shadowed by one."""
    return {n.value for n in m.findall(analysis.ctx.tree, m.Name())}


def _params_position(step: TrainStep, ctx) -> int:
    """Where the step returns its new params: by name, or as the update expression."""
    if not step.returns:
        raise _refusal("it returns nothing; return the new params")
    return _position(step, lambda e: m.matches(e, m.Name(step.params)) or (
        m.matches(e, m.Call()) and ctx.qualname(e.func) in (*TREE_MAPS, "optax.apply_updates")))


def returned(ret: cst.Return) -> list[cst.BaseExpression]:
    value = ret.value
    if value is None:
        return []
    return [e.value for e in value.elements] if m.matches(value, m.Tuple()) else [value]


def _position(step: TrainStep, wanted) -> int:
    elements = returned(step.returns[0]) if step.returns else []
    found = [i for i, e in enumerate(elements) if wanted(e)]
    if len(elements) == 1 and not found:
        return 0
    if len(found) != 1 or any(returned(r)[found[0]:found[0] + 1] == [] for r in step.returns):
        raise _refusal("return the new params (and state) by name, in one place")
    return found[0]


def _local_function(fn: cst.FunctionDef, name: str) -> cst.FunctionDef | None:
    found = list(m.findall(fn.body, m.FunctionDef(name=m.Name(name))))
    return found[0] if len(found) == 1 else None


def _loss_applies(loss_fn: cst.FunctionDef | None, transformed, ctx):
    """The transform whose apply the loss calls, and those calls; its params go nowhere else."""
    if loss_fn is None:
        return None
    first = loss_fn.params.params[0].name.value if loss_fn.params.params else None
    applies, owners, indexed = [], set(), False
    for name in local_reads(ctx, loss_fn, first) if first else []:
        call = ctx.parent(ctx.parent(name))
        t = next((t for t in transformed if t.ok and not t.multi and m.matches(
            call, m.Call(func=m.Attribute(value=m.Name(t.var), attr=m.Name("apply"))))), None)
        if t is not None and call.args[0].value is name:
            owners.add(t)
            applies.append(call)
        indexed |= m.matches(ctx.parent(name), m.Subscript(value=m.Name(first)))
    if not owners:
        return None  # differentiates no converted model (or is converted already)
    if len(owners) > 1 or indexed:
        raise _refusal(f"its loss indexes `{first}` by Haiku module path, or applies two models")
    return owners.pop(), applies


def _grads_name(grad_call: cst.Call, ctx) -> str:
    grads, _ = grad_targets(grad_call, ctx)
    if not m.matches(grads, m.Name()):
        raise _refusal("bind the gradients to a name")
    return grads.value


def grad_targets(grad_call: cst.Call, ctx) -> tuple[cst.CSTNode | None, cst.CSTNode | None]:
    """(gradients, aux) as the user unpacks them: `grads`, `loss, grads`, `(loss, aux), grads`,
    `grads, aux`; either is None when the result is not unpacked that way."""
    assign = ctx.parent(grad_call)
    if not m.matches(assign, m.Assign(targets=[m.AssignTarget()])):
        raise _refusal("bind the gradients to a name")
    target = assign.targets[0].target
    parts = [e.value for e in target.elements] if m.matches(target, m.Tuple()) else [target]
    value = ctx.qualname(grad_call.func.func) == "jax.value_and_grad"
    aux = has_aux(grad_call)
    if value and len(parts) == 2:
        first = parts[0]
        inner = [e.value for e in first.elements] if m.matches(first, m.Tuple()) else []
        return parts[1], (inner[1] if aux and len(inner) == 2 else None)
    if not value and aux and len(parts) == 2:
        return parts[0], parts[1]
    if not value and not aux and len(parts) == 1:
        return parts[0], None
    return None, None


def _classify_uses(step: TrainStep, ctx) -> None:
    """Finds the optax update; the params are a pure dict in NNX too, so any tree use works,
    but an index by Haiku module path (`params["mlp/~/linear"]`) would not."""
    for name in local_reads(ctx, step.fn, step.params):
        parent = ctx.parent(name)
        if m.matches(parent, m.Subscript()) and parent.value is name:
            raise _refusal(f"it indexes `{step.params}` by Haiku module path; NNX's params dict "
                           "is keyed by attribute names")
        call = ctx.parent(parent)
        if m.matches(call, m.Call(func=m.Attribute(attr=m.Name("update")), args=[
                m.Arg(m.Name(step.grads)), m.Arg(m.Name()), m.Arg()])) and (
                call.args[2].value is name):
            step.optax_update = call


def inside(node: cst.CSTNode, container: cst.CSTNode, ctx) -> bool:
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
