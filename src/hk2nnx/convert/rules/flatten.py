"""HK013 flatten: `hk.Flatten(preserve_dims)(x)` becomes `jax.lax.collapse(x, preserve_dims)`.

What it converts: Haiku's parameter-free Flatten module applied inline.
Haiku: `x = hk.Flatten()(x)` keeps the leading `preserve_dims` (1) axes and flattens the rest.
NNX: `x = jax.lax.collapse(x, 1)`, the same reshape with no module at all (nothing to name or
port). The size after it is read from a trace when a layer needs it (see HK011).
Fix safety: safe.
Guide section: "Basic Module definition".
"""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from hk2nnx.convert.findings import Refusal, Safety
from hk2nnx.convert.rules import base
from hk2nnx.convert.rules.args import bind, has_star

INFO = base.info("HK013", "flatten", Safety.SAFE, "Basic Module definition", __name__)


class FlattenRule(base.SiteRule):
    info = INFO
    kind = "function"
    creates = False
    needs_rngs = False

    def claims(self, qualname, ctx) -> bool:
        return qualname == "haiku.Flatten"

    def attr_base(self, site, plan) -> str:
        return "flatten"

    def _apply(self, site, plan) -> cst.Call:
        apply = plan.ctx.parent(site.ctor)
        if not (m.matches(apply, m.Call(args=[m.Arg(keyword=None)])) and apply.func is site.ctor
                ) or has_star(site.ctor):
            raise Refusal("hk.Flatten", "apply it inline to one array: hk.Flatten()(x)",
                          INFO.section, INFO.code)
        return apply

    def out_dim(self, site, plan, ev):
        ev.size(self._apply(site, plan).args[0].value)

    def build(self, site, plan) -> None:
        self._apply(site, plan)
        given = bind(site.ctor, ("preserve_dims", "name")).get("preserve_dims")
        site.data["keep"] = plan.ctx.code(plan.hoist(given.value, site, "hk.Flatten")) \
            if given is not None else "1"

    def schedule(self, site, plan) -> None:
        keep = site.data["keep"]
        plan.ctx.edit(self._apply(site, plan), lambda u: cst.Call(
            func=cst.parse_expression("jax.lax.collapse"),
            args=[u.args[0].with_changes(comma=cst.MaybeSentinel.DEFAULT),
                  cst.Arg(cst.parse_expression(keep))]))


base.register_site(FlattenRule())
