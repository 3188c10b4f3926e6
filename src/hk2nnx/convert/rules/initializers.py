"""Initializer expressions: a Haiku initializer as the NNX initializer that draws the same way."""

from __future__ import annotations

from collections.abc import Callable

import libcst as cst
import libcst.matchers as m

from hk2nnx.convert.context import FileContext
from hk2nnx.convert.rules.args import bind, render
from hk2nnx.mappings.constructors import INITIALIZER_BY_HAIKU

Hoister = Callable[[cst.BaseExpression], cst.BaseExpression]


def nnx_initializer(expr: cst.BaseExpression, ctx: FileContext, hoist: Hoister) -> str | None:
    """`nnx.initializers.truncated_normal(stddev=0.1)` for `hk.initializers.TruncatedNormal(0.1)`.

    None when the table has no entry or the arguments have no NNX equivalent.
    """
    is_call = m.matches(expr, m.Call())
    mapping = INITIALIZER_BY_HAIKU.get(ctx.qualname(expr.func if is_call else expr) or "")
    if mapping is None or is_call != mapping.factory:
        return None
    if not mapping.factory:
        return mapping.nnx
    bound = bind(expr, [a.haiku for a in mapping.args])
    keywords = []
    for arg in mapping.args:
        given = bound.get(arg.haiku)
        if given is None:
            if arg.haiku_default is not None and arg.nnx:
                keywords.append((arg.nnx, arg.haiku_default))
            continue
        text = ctx.code(hoist(given.value))
        if arg.only and text not in arg.only:
            return None
        if arg.nnx:
            keywords.append((arg.nnx, text))
    return f"{mapping.nnx}({render([], keywords)})"
