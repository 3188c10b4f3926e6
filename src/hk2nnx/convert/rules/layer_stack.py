"""HK041 layer-stack: `hk.experimental.layer_stack` becomes `nnx.vmap` creation + `nnx.scan`.

What it converts: a function decorated with `@hk.experimental.layer_stack(n)` inside a module
method whose body applies one module to its argument: `return Block(self.d)(x, training)`.
Haiku: the module is built once per layer with a stacked leading axis on every parameter, and
the function runs the input through the layers.
NNX: in `__init__`, `create_block` under `@nnx.split_rngs(splits=n)` and
`@nnx.vmap(in_axes=(0,), out_axes=0)` builds the stacked module (`self.block`, the attribute the
naming scheme gives, so stacked checkpoints port exactly); the function becomes
`@nnx.scan(in_axes=(nnx.Carry, 0), out_axes=nnx.Carry)` over `(x, block)`. Unlike the guide
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


def stacked_function(fn: cst.FunctionDef, ctx) -> cst.Decorator | None:
    """The layer_stack decorator of a nested function, if it has one."""
    for decorator in fn.decorators:
        call = decorator.decorator
        if m.matches(call, m.Call()) and ctx.qualname(call.func) in STACKS:
            return decorator
    return None


def stack_parts(fn: cst.FunctionDef, decorator: cst.Decorator, ctx) -> dict:
    """Checks the shape `def f(x): return Module(...)(x, ...)` and returns its pieces."""
    call = decorator.decorator
    body = fn.body.body
    params = fn.params.params
    if (len(call.args) != 1 or call.args[0].keyword is not None or len(params) != 1
            or len(body) != 1 or not m.matches(body[0], m.SimpleStatementLine(body=[m.Return(
                value=m.Call(func=m.Call(), args=[m.Arg(m.Name(params[0].name.value)),
                                                  m.ZeroOrMore()]))]))):
        raise Refusal("hk.experimental.layer_stack", "only `def f(x): return Module(...)(x)` "
                      "with one layer count and no per-layer inputs is converted", INFO.section,
                      INFO.code, fn)
    apply = body[0].body[0].value
    return {"def": fn, "decorator": decorator, "layers": call.args[0].value, "apply": apply,
            "param": params[0].name.value}


def creation(site, plan, inner: str, layers: str) -> list[str]:
    """The `__init__` lines that build `layers` stacked copies of the module."""
    name = f"create_{site.attr}"
    create = (f"@nnx.split_rngs(splits={layers})\n@nnx.vmap(in_axes=(0,), out_axes=0)\n"
              f"def {name}(rngs: nnx.Rngs):\n    return {inner}\n")
    return [create, f"self.{site.attr} = {name}(rngs)\n"]


def schedule(site, plan) -> None:
    """Rewrites the stacked function into an `nnx.scan` over the stacked module."""
    ctx, stack = plan.ctx, site.data["stack"]
    module = stack["module_param"]
    new = [cst.Decorator(cst.parse_expression(
        "nnx.scan(in_axes=(nnx.Carry, 0), out_axes=nnx.Carry)"))]

    def rewrite(fn: cst.FunctionDef) -> cst.FunctionDef:
        params = fn.params.with_changes(params=[*fn.params.params,
                                                cst.Param(cst.Name(module))])
        return fn.with_changes(decorators=new, params=params)

    ctx.edit(stack["def"], rewrite)
    for call in m.findall(plan.methods[site.method], m.Call(func=m.Name(stack["def"].name.value))):
        ctx.edit(call, lambda u: u.with_changes(args=[*u.args, cst.Arg(
            cst.parse_expression(f"self.{site.attr}"))]))

