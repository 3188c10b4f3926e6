"""HK043 vmap: `hk.vmap(f, in_axes, ..., split_rng=False)(*args)` becomes `nnx.vmap`.

What it converts: `hk.vmap(fun, ...)` applied where it is written, in a module method; `fun`
may build modules (parameters are not batched, as in Haiku).
Haiku: `y = hk.vmap(lambda x: hk.Linear(4)(x), split_rng=False)(x)`.
NNX: `y = nnx.vmap(lambda self, x: self.linear(x), in_axes=(None, 0))(self, x)`: the module is
an operand broadcast with `None`, so its parameters are shared across the batch; `in_axes`
written as an int or a tuple gets the `None` in front, `out_axes`, `axis_name` and
`axis_size` carry over, `split_rng` goes.
Fix safety: review. `split_rng=True` asks Haiku for a different key per example; NNX would
need `nnx.split_rngs` and `nnx.StateAxes` for that, so a function that draws keys is refused.
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
    without,
)

INFO = base.info("HK043", "vmap", Safety.REVIEW, "Transformations", __name__)
_RANDOM = ("haiku.next_rng_key", "haiku.maybe_next_rng_key", "haiku.next_rng_keys",
           "haiku.dropout")


class VmapRule(CurriedRule):
    info = INFO
    haiku = "haiku.vmap"
    nnx = "nnx.vmap"
    names = ("fun", "in_axes", "out_axes", "axis_name", "axis_size")
    usage = "hk.vmap(fun, in_axes, split_rng=...)(*args)"
    runs_body_once = True

    def build(self, site, plan):
        super().build(site, plan)
        if any(a.keyword is None for a in site.ctor.args[1:]):
            raise Refusal("hk.vmap", "pass in_axes/out_axes by keyword", INFO.section, INFO.code)
        split = self.bound(site).get("split_rng")
        if split is not None and plan.ctx.code(split.value) != "False" and any(
                plan.ctx.qualname(c.func) in _RANDOM for f in self.functions(site)
                for c in m.findall(f, m.Call())):
            raise Refusal("hk.vmap", "split_rng with keys drawn inside needs nnx.split_rngs "
                          "and nnx.StateAxes, written by hand", INFO.section, INFO.code)

    def schedule(self, site, plan) -> None:
        count = len(self.operands(site, plan))
        bound = self.bound(site)
        axes = _axes(bound.get("in_axes"), count, plan)
        index = list(site.ctor.args).index(bound["fun"])

        def rewrite(applied: cst.Call) -> cst.Call:
            u = applied.func
            uses = uses_self([u.args[index].value])
            args = list(u.args)
            if uses:
                args[index] = args[index].with_changes(value=with_self(args[index].value))
            call = without(u.with_changes(args=args), {"split_rng", "in_axes"} if uses
                           else {"split_rng"})
            call = renamed(call, "nnx.vmap")
            if uses:
                call = call.with_changes(args=[
                    *call.args[:-1], call.args[-1].with_changes(comma=cst.Comma(
                        whitespace_after=cst.SimpleWhitespace(" "))),
                    cst.Arg(cst.parse_expression(axes), keyword=cst.Name("in_axes"),
                            equal=cst.AssignEqual(cst.SimpleWhitespace(""),
                                                  cst.SimpleWhitespace("")))])
            applied = applied.with_changes(func=laid_out(call))
            return insert_self(applied, 0) if uses else applied

        plan.ctx.edit(self.applied(site, plan), rewrite)


def _axes(given: cst.Arg | None, count: int, plan) -> str:
    """`in_axes` with a leading `None` for the module: `0` -> `(None, 0, 0)` for two operands."""
    if given is None:
        return "(" + ", ".join(["None"] + ["0"] * count) + ")"
    value = given.value
    if m.matches(value, m.Integer() | m.Name("None")):
        return "(" + ", ".join(["None"] + [plan.ctx.code(value)] * count) + ")"
    if m.matches(value, m.Tuple() | m.List()):
        return "(" + ", ".join(["None"] + [plan.ctx.code(e.value) for e in value.elements]) + ")"
    raise Refusal("hk.vmap", "write in_axes as an int or a tuple, so the module's `None` can be "
                  "put in front", INFO.section, INFO.code)


base.register_site(VmapRule())
