"""Sample inputs: an `init` argument's shape, read from the file or from --input."""

from __future__ import annotations

import ast

import libcst as cst
import libcst.matchers as m

from hk2nnx.convert import hoist
from hk2nnx.convert.context import FileContext
from hk2nnx.convert.index import FileIndex
from hk2nnx.program.model import TensorSpec

# Array constructors whose shape is their first argument, and random ones whose shape is second.
_SHAPE_FIRST = {f"{ns}.{fn}" for ns in ("jax.numpy", "numpy")
                for fn in ("ones", "zeros", "empty", "full")}
_SHAPE_SECOND = {f"jax.random.{fn}" for fn in ("normal", "uniform", "truncated_normal",
                                                 "bernoulli", "randint")}


def _constructor(expr: cst.BaseExpression, index: FileIndex, depth: int = 0) -> cst.Call | None:
    """The array constructor call `expr` is, following module-level names."""
    if depth > 5:
        return None
    if m.matches(expr, m.Name()):
        value = index.single_assign(expr.value)
        return _constructor(value, index, depth + 1) if value is not None else None
    if m.matches(expr, m.Call()) and index.ctx.qualname(expr.func) in _SHAPE_FIRST | _SHAPE_SECOND:
        return expr
    return None


def _argument(call: cst.Call, name: str, position: int) -> cst.BaseExpression | None:
    keyword = {a.keyword.value: a.value for a in call.args if a.keyword}
    positional = [a.value for a in call.args if a.keyword is None and not a.star]
    return keyword.get(name, positional[position] if len(positional) > position else None)


def _shape(call: cst.Call, ctx: FileContext) -> list[cst.BaseExpression] | None:
    second = ctx.qualname(call.func) in _SHAPE_SECOND
    shape = _argument(call, "shape", 1 if second else 0)
    if not m.matches(shape, m.Tuple() | m.List()) or not shape.elements:
        return None
    return [e.value for e in shape.elements]


def static_last_dim(expr: cst.BaseExpression, index: FileIndex) -> str | None:
    """`jnp.ones((1, 784))` -> `784`; a module-level name is followed to its one assignment."""
    call = _constructor(expr, index)
    shape = _shape(call, index.ctx) if call is not None else None
    if not shape:
        return None
    last = shape[-1]
    if m.matches(last, m.Integer()) or (
            m.matches(last, m.Name()) and hoist.is_global(last, index.ctx)):
        return index.ctx.code(last)
    return None


def static_spec(expr: cst.BaseExpression, index: FileIndex) -> TensorSpec | None:
    """The full TensorSpec of a statically built array, for tracing the original."""
    call = _constructor(expr, index)
    shape = _shape(call, index.ctx) if call is not None else None
    if shape is None:
        return None
    dims = [_int(d, index) for d in shape]
    if any(d is None for d in dims):
        return None
    dtype = _argument(call, "dtype", 99)
    name = "float32" if dtype is None else index.ctx.code(dtype).rsplit(".", 1)[-1]
    try:
        return TensorSpec(tuple(dims), TensorSpec.parse(f"{name}[]").dtype)
    except ValueError:
        return None


def _int(expr: cst.BaseExpression, index: FileIndex) -> int | None:
    if m.matches(expr, m.Name()):
        value = index.single_assign(expr.value)
        return _int(value, index) if value is not None else None
    try:
        value = ast.literal_eval(index.ctx.code(expr))
    except (ValueError, SyntaxError):
        return None
    return value if isinstance(value, int) else None


def given_spec(ctx: FileContext, names: tuple[str, ...], position: int) -> TensorSpec | None:
    """`--input NAME=SPEC` for the `position`-th positional input of NAME."""
    for name in names:
        specs = ctx.inputs.get(name)
        if specs and position < len(specs):
            return specs[position]
    return None


def given_last_dim(ctx: FileContext, names: tuple[str, ...], position: int) -> str | None:
    spec = given_spec(ctx, names, position)
    return str(spec.shape[-1]) if spec is not None and spec.shape else None
