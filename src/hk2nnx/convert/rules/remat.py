"""HK042 remat: `hk.remat(f)(*args)` becomes `nnx.remat` with the module passed in.

What it converts: `hk.remat(fun, ...)` applied where it is written, in a module method; `fun`
may build modules (Haiku runs it once at init, so they are created like any other).
Haiku: `x = hk.remat(lambda y: Block(8)(y))(x)`.
NNX: `x = nnx.remat(lambda self, y: self.block(y))(self, x)`: the block is built in
`__init__`, and the module is an operand so keys and statistics may change inside.
`prevent_cse`, `static_argnums` (shifted by one for `self`) and `policy` carry over as keywords.
Fix safety: safe.
Guide section: "Transformations".
"""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from hk2nnx.convert.findings import Refusal, Safety
from hk2nnx.convert.rules import base
from hk2nnx.convert.rules.lifted import (
    CurriedRule,
    insert_self,
    laid_out,
    renamed,
    uses_self,
    with_self,
)

INFO = base.info("HK042", "remat", Safety.SAFE, "Transformations", __name__)


class RematRule(CurriedRule):
    info = INFO
    haiku = "haiku.remat"
    nnx = "nnx.remat"
    names = ("fun", "prevent_cse", "static_argnums", "policy")
    usage = "hk.remat(fun)(*args)"
    runs_body_once = True

    def schedule(self, site, plan) -> None:
        static = self.bound(site).get("static_argnums")
        shift = _shifted(static.value) if static is not None else ""

        def rewrite(u: cst.Call) -> cst.Call:
            uses = uses_self([u.func.args[0].value])
            call = u.with_changes(func=laid_out(_rewrite(u.func, uses, shift if uses else "")))
            return insert_self(call, 0) if uses else call

        plan.ctx.edit(self.applied(site, plan), rewrite)


def _rewrite(call: cst.Call, uses: bool, shift: str) -> cst.Call:
    """`nnx.remat(fun, k=v, ...)`: positional options become keywords (NNX's are keyword-only)."""
    fun = call.args[0].value
    args = [cst.Arg(with_self(fun) if uses else fun)]
    for name, arg in zip(RematRule.names, call.args):
        if name == "fun" and arg.keyword is None:
            continue
        key = arg.keyword.value if arg.keyword else name
        if key == "fun":
            continue
        value = cst.parse_expression(shift) if key == "static_argnums" and shift else arg.value
        args.append(cst.Arg(value, keyword=cst.Name(key), equal=cst.AssignEqual(
            cst.SimpleWhitespace(""), cst.SimpleWhitespace(""))))
    args = [a.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
            for a in args[:-1]] + args[-1:]
    return renamed(call, "nnx.remat").with_changes(args=args)


def _shifted(static: cst.BaseExpression) -> str:
    """`static_argnums` counted after `self`: each index one later."""
    if m.matches(static, m.Integer()):
        return str(int(static.value) + 1)
    if m.matches(static, m.Tuple() | m.List()) and all(
            m.matches(e.value, m.Integer()) for e in static.elements):
        return "(" + ", ".join(str(int(e.value.value) + 1) for e in static.elements) + ",)"
    raise Refusal("hk.remat", "static_argnums must be written as integers so they can be "
                  "shifted past `self`", INFO.section, INFO.code)


base.register_site(RematRule())
