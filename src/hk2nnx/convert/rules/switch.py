"""HK045 switch: `hk.switch(index, branches, *operands)` becomes `nnx.switch`.

What it converts: `hk.switch` in a module method with the branches written as a list or tuple
of functions using modules built outside them (as `hk.switch`'s documentation builds every
branch's parameters at init).
Haiku: `y = hk.switch(i, [a, lambda x: b(x) * 2], x)` with `a`, `b` modules of the class.
NNX: `y = nnx.switch(i, [lambda self, *args: self.a(*args), lambda self, x: self.b(x) * 2],
self, x)`: every branch takes the module first, so it may draw keys or update state inside.
Fix safety: safe.
Guide section: "Transformations".
"""

from __future__ import annotations

import libcst.matchers as m

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

INFO = base.info("HK045", "switch", Safety.SAFE, "Transformations", __name__)


class SwitchRule(LiftedRule):
    info = INFO
    haiku = "haiku.switch"
    nnx = "nnx.switch"
    names = ("index", "branches")
    required = 2
    usage = "hk.switch(index, [branch, ...], *operands)"

    def functions(self, site):
        branches = self.bound(site)["branches"].value
        if not m.matches(branches, m.List() | m.Tuple()):
            raise Refusal("hk.switch", "write the branches as a list or tuple in the call",
                          INFO.section, INFO.code)
        return [e.value for e in branches.elements]

    def operands(self, site, plan):
        if any(a.keyword is not None for a in site.ctor.args):
            raise Refusal("hk.switch", f"call it as {self.usage} (positional)", INFO.section,
                          INFO.code)
        return [a.value for a in site.ctor.args[2:]]

    def schedule(self, site, plan) -> None:
        def rewrite(u):
            call = renamed(u, "nnx.switch")
            if not uses_self([e.value for e in call.args[1].value.elements]):
                return call
            branches = call.args[1].value
            branches = branches.with_changes(elements=[
                e.with_changes(value=with_self(e.value)) for e in branches.elements])
            args = [*call.args[:1], call.args[1].with_changes(value=branches), *call.args[2:]]
            return laid_out(insert_self(call.with_changes(args=args), 2))

        plan.ctx.edit(site.ctor, rewrite)


base.register_site(SwitchRule())
