"""HK044 cond: `hk.cond(pred, true_fun, false_fun, *operands)` becomes `nnx.cond`.

What it converts: `hk.cond` in a module method whose branches use modules built outside them
(Haiku can only create parameters in a branch if both branches create the same ones, so
its documented pattern builds them first, under `hk.running_init()`).
Haiku: `y = hk.cond(pred, lambda x: a(x), b, x)` with `a`, `b` modules of the class.
NNX: `y = nnx.cond(pred, lambda self, x: self.a(x), lambda self, *args: self.b(*args), self,
x)`: every branch takes the module first, so it may draw keys or update state inside.
Fix safety: safe.
Guide section: "Transformations".
"""

from __future__ import annotations

from hk2nnx.convert.findings import Refusal, Safety
from hk2nnx.convert.rules import base
from hk2nnx.convert.rules.lifted import (
    LiftedRule,
    insert_self,
    laid_out,
    renamed,
    uses_self,
    with_self,
)

INFO = base.info("HK044", "cond", Safety.SAFE, "Transformations", __name__)


class CondRule(LiftedRule):
    info = INFO
    haiku = "haiku.cond"
    nnx = "nnx.cond"
    names = ("pred", "true_fun", "false_fun")
    required = 3
    usage = "hk.cond(pred, true_fun, false_fun, *operands)"

    def functions(self, site):
        bound = self.bound(site)
        return [bound["true_fun"].value, bound["false_fun"].value]

    def operands(self, site, plan):
        if any(a.keyword is not None for a in site.ctor.args):
            raise Refusal("hk.cond", f"call it as {self.usage} (positional, no operand=)",
                          INFO.section, INFO.code)
        return [a.value for a in site.ctor.args[3:]]

    def schedule(self, site, plan) -> None:
        def rewrite(u):
            call = renamed(u, "nnx.cond")
            if not uses_self([call.args[1].value, call.args[2].value]):
                return call
            args = [a.with_changes(value=with_self(a.value)) if i in (1, 2) else a
                    for i, a in enumerate(call.args)]
            return laid_out(insert_self(call.with_changes(args=args), 3))

        plan.ctx.edit(site.ctor, rewrite)


base.register_site(CondRule())
