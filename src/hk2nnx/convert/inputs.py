"""Sample inputs: the last-axis size of an `init` argument, read from the file or from --input."""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from hk2nnx.convert import hoist
from hk2nnx.convert.context import FileContext
from hk2nnx.convert.index import FileIndex

# Array constructors whose shape is their first argument, and random ones whose shape is second.
_SHAPE_FIRST = {f"{ns}.{fn}" for ns in ("jax.numpy", "numpy")
                for fn in ("ones", "zeros", "empty", "full")}
_SHAPE_SECOND = {f"jax.random.{fn}" for fn in ("normal", "uniform", "truncated_normal",
                                                 "bernoulli", "randint")}


def static_last_dim(expr: cst.BaseExpression, index: FileIndex, depth: int = 0) -> str | None:
    """`jnp.ones((1, 784))` -> `784`; a module-level name is followed to its one assignment."""
    ctx = index.ctx
    if depth > 5:
        return None
    if m.matches(expr, m.Name()):
        value = index.single_assign(expr.value)
        return static_last_dim(value, index, depth + 1) if value is not None else None
    if not m.matches(expr, m.Call()):
        return None
    qualname = ctx.qualname(expr.func)
    shape = None
    keyword = {a.keyword.value: a.value for a in expr.args if a.keyword}
    positional = [a.value for a in expr.args if a.keyword is None and not a.star]
    if qualname in _SHAPE_FIRST:
        shape = keyword.get("shape", positional[0] if positional else None)
    elif qualname in _SHAPE_SECOND:
        shape = keyword.get("shape", positional[1] if len(positional) > 1 else None)
    if not m.matches(shape, m.Tuple() | m.List()) or not shape.elements:
        return None
    last = shape.elements[-1].value
    if m.matches(last, m.Integer()) or (
            m.matches(last, m.Name()) and hoist.is_global(last, ctx)):
        return ctx.code(last)
    return None


def given_last_dim(ctx: FileContext, names: tuple[str, ...], position: int) -> str | None:
    """The size from `--input NAME=SPEC` for the `position`-th positional input."""
    for name in names:
        specs = ctx.inputs.get(name)
        if specs and position < len(specs) and specs[position].shape:
            return str(specs[position].shape[-1])
    return None
