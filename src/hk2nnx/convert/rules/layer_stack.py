"""HK041 layer-stack: `hk.experimental.layer_stack` becomes `nnx.vmap` creation + `nnx.scan`.

What it converts: a function decorated with `@hk.experimental.layer_stack(n)` inside a module
method whose body applies one module to its argument: `return Block(self.d)(x, training)`, and
the same as a lambda, `layer_stack(n)(lambda y: Block(d, name="block")(y))`, stored in a name or
applied at once. With `with_per_layer_inputs=True` the function takes `(x, *zs)` and its module
returns `(x, y)`: the scan maps the `zs` and stacks the `y`s on axis 0.
Haiku: the module is built once per layer with a stacked leading axis on every parameter, and
the function runs the input through the layers.
NNX: in `__init__`, `create_block` under `@nnx.split_rngs(splits=n)` and
`@nnx.vmap(in_axes=(0,), out_axes=0)` builds the stacked module (`self.block`, the attribute the
naming scheme gives, so stacked checkpoints port exactly); the function becomes
`@nnx.scan(in_axes=(nnx.Carry, 0), out_axes=nnx.Carry)` over `(x, block)` (a lambda:
`nnx.scan(lambda y, block: block(y), ...)`, its calls given `self.block`). Unlike the guide
(written before Flax 0.11), the scan takes no `nnx.split_rngs`: the stacked module's Rngs were
split at creation, and splitting them again fails in Flax 0.12.
Fix safety: safe.
Guide section: "Scan over layers".
"""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from hk2nnx.convert.findings import Refusal, Safety
from hk2nnx.convert.rules import base

INFO = base.info("HK041", "layer-stack", Safety.SAFE, "Scan over layers", __name__)
STACKS = ("haiku.experimental.layer_stack", "haiku.layer_stack")
MARKER = "__layer_stack_no_per_layer"
PER_LAYER_MARKER = "__layer_stack_with_per_layer"
_SHORT = 72  # a generated scan longer than this goes on lines of its own


def find_stacks(method: cst.FunctionDef, ctx) -> list[dict]:
    """Every layer stack of a method: decorated nested defs and `layer_stack(n)(lambda ...)`."""
    out = []
    for fn in m.findall(method.body, m.FunctionDef()):
        decorator = stacked_function(fn, ctx)
        if decorator is not None:
            out.append(stack_parts(fn, decorator, ctx))
    for call in m.findall(method.body, m.Call(func=m.Call(), args=[m.Arg(m.Lambda())])):
        if ctx.qualname(call.func.func) in STACKS:
            out.append(_lambda_parts(call, ctx))
    return out


def stacked_function(fn: cst.FunctionDef, ctx) -> cst.Decorator | None:
    """The layer_stack decorator of a nested function, if it has one."""
    for decorator in fn.decorators:
        call = decorator.decorator
        if m.matches(call, m.Call()) and ctx.qualname(call.func) in STACKS:
            return decorator
    return None


def stack_parts(fn: cst.FunctionDef, decorator: cst.Decorator, ctx) -> dict:
    """Checks the shape `def f(x): return Module(...)(x, ...)` and returns its pieces."""
    body = fn.body.body
    returned = body[0].body[0].value if len(body) == 1 and m.matches(
        body[0], m.SimpleStatementLine(body=[m.Return()])) else None
    parts = _parts(decorator.decorator, fn.params, returned, fn)
    return {**parts, "def": fn, "decorator": decorator, "callee": fn.name.value}


def _lambda_parts(wrapped: cst.Call, ctx) -> dict:
    """`layer_stack(n)(lambda y: Module(...)(y))`, stored in a name or applied at once."""
    lam = wrapped.args[0].value
    parts = _parts(wrapped.func, lam.params, lam.body, wrapped)
    parent = ctx.parent(wrapped)
    callee = None
    if m.matches(parent, m.Assign(targets=[m.AssignTarget(m.Name())])):
        callee = parent.targets[0].target.value
    elif not (m.matches(parent, m.Call()) and parent.func is wrapped):
        raise Refusal("hk.experimental.layer_stack", "store the stacked function in a name or "
                      "call it at once", INFO.section, INFO.code, wrapped)
    # The layer_stack(n) call is skipped as a site like a decorator is.
    return {**parts, "def": lam, "decorator": cst.Decorator(wrapped.func), "callee": callee,
            "wrapped": wrapped}


def _parts(stack: cst.Call, params: cst.Parameters, returned, node) -> dict:
    names = params.params
    per_layer = _per_layer(stack)
    positional = [a for a in stack.args if a.keyword is None]
    if (len(positional) != 1 or len(stack.args) != 1 + (per_layer is not None)
            or not (len(names) >= 2 if per_layer else len(names) == 1)
            or params.star_arg not in (cst.MaybeSentinel.DEFAULT, None) or params.kwonly_params
            or not m.matches(returned, m.Call(func=m.Call(), args=[
                m.Arg(m.Name(names[0].name.value), keyword=None), m.ZeroOrMore()]))):
        raise Refusal("hk.experimental.layer_stack", "only `def f(x): return Module(...)(x)` "
                      "(or `lambda x: Module(...)(x)`; with per-layer inputs `f(x, z)` applying "
                      "a module that returns `(x, y)`) is converted", INFO.section, INFO.code,
                      node)
    return {"layers": positional[0].value, "apply": returned, "param": names[0].name.value,
            "per_layer": len(names) - 1 if per_layer else 0,
            "marker": PER_LAYER_MARKER if per_layer else MARKER}


def _per_layer(stack: cst.Call) -> bool | None:
    """True for `with_per_layer_inputs=True`, None when absent; other values are refused."""
    given = next((a for a in stack.args if a.keyword is not None), None)
    if given is None:
        return None
    if given.keyword.value == "with_per_layer_inputs" and m.matches(given.value, m.Name("True")):
        return True
    raise Refusal("hk.experimental.layer_stack", "of its options only with_per_layer_inputs=True "
                  "is converted", INFO.section, INFO.code, stack)


def called_stack(call: cst.Call, sites) -> object | None:
    """The stacked site `call` runs: `f(x)` for a stack named `f`, or `layer_stack(n)(g)(x)`."""
    for site in sites:
        stack = site.data.get("stack")
        if stack is None:
            continue
        if m.matches(call.func, m.Name(stack["callee"] or "")) or call.func is stack.get(
                "wrapped"):
            return site
    return None


def creation(site, plan, inner: str, layers: str) -> list[str]:
    """The `__init__` lines that build `layers` stacked copies of the module."""
    name = f"create_{site.attr}"
    create = (f"@nnx.split_rngs(splits={layers})\n@nnx.vmap(in_axes=(0,), out_axes=0)\n"
              f"def {name}(rngs: nnx.Rngs):\n    return {inner}\n")
    return [create, f"self.{site.attr} = {name}(rngs)\n"]


def schedule(site, plan) -> None:
    """Rewrites the stacked function into an `nnx.scan` over the stacked module."""
    ctx, stack = plan.ctx, site.data["stack"]
    module = cst.Param(cst.Name(stack["module_param"]))
    if "wrapped" in stack:
        def rewrite(call: cst.Call) -> cst.Call:
            lam = call.args[0].value
            lam = ctx.code(lam.with_changes(params=lam.params.with_changes(
                params=[*lam.params.params, module])))
            axes = _axes(stack)
            one_line = f"nnx.scan({lam}, {axes})"
            return cst.parse_expression(one_line if len(one_line) <= _SHORT else
                                        f"nnx.scan(\n    {lam}, {axes},\n)")

        ctx.edit(stack["wrapped"], rewrite)
    else:
        def rewrite(fn: cst.FunctionDef) -> cst.FunctionDef:
            params = fn.params.with_changes(params=[*fn.params.params, module])
            return fn.with_changes(decorators=[cst.Decorator(cst.parse_expression(
                f"nnx.scan({_axes(stack)})"))],
                                   params=params)

        ctx.edit(stack["def"], rewrite)
    method = plan.methods[site.method]
    for call in m.findall(method, m.Call()):
        if called_stack(call, [site]) is site:
            ctx.edit(call, lambda u: with_arg(u, f"self.{site.attr}"))


def _axes(stack: dict) -> str:
    """Carry in and out; per-layer inputs and outputs, and the stacked module, on axis 0."""
    if not stack["per_layer"]:
        return "in_axes=(nnx.Carry, 0), out_axes=nnx.Carry"
    return f"in_axes=(nnx.Carry, {'0, ' * stack['per_layer']}0), out_axes=(nnx.Carry, 0)"


def with_arg(call: cst.Call, code: str) -> cst.Call:
    """`call` with one more positional argument at the end of its positional ones."""
    args = list(call.args)
    at = next((i for i, a in enumerate(args) if a.keyword is not None or a.star), len(args))
    new = cst.Arg(cst.parse_expression(code))
    if at < len(args):
        new = new.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
    elif args:
        args[-1] = args[-1].with_changes(comma=cst.Comma(
            whitespace_after=cst.SimpleWhitespace(" ")))
    args.insert(at, new)
    return call.with_changes(args=args)
