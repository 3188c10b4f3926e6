"""HK044 cond: `hk.cond(pred, true_fun, false_fun, *operands)` becomes `nnx.cond`.

What it converts: `hk.cond` in a module method whose branches use modules built outside them
(Haiku can only create parameters in a branch if both branches create the same ones, so
its documented pattern builds them first, under `hk.running_init()`).
Haiku: `y = hk.cond(pred, lambda x: a(x), b, x)` with `a`, `b` modules of the class.
NNX: `y = nnx.cond(pred, lambda self, x: self.a(x), lambda self, *args: self.b(*args), self,
x)`: every branch takes the module first, so it may draw keys or update state inside.
The old five-argument form and `operand=` are left for a human.
Fix safety: safe.
Guide section: "Transformations".
"""

from __future__ import annotations

from hk2nnx.convert.findings import Safety
from hk2nnx.convert.rules import base
from hk2nnx.convert.rules.lifted import BranchRule

INFO = base.info("HK044", "cond", Safety.SAFE, "Transformations", __name__)


class CondRule(BranchRule):
    info = INFO
    haiku = "haiku.cond"
    nnx = "nnx.cond"
    names = ("pred", "true_fun", "false_fun")
    required = 3
    first_operand = 3
    usage = "hk.cond(pred, true_fun, false_fun, *operands)"

    def functions(self, site):
        bound = self.bound(site)
        return [bound["true_fun"].value, bound["false_fun"].value]

    def replace_functions(self, call, edit):
        return call.with_changes(args=[a.with_changes(value=edit(a.value)) if i in (1, 2) else a
                                       for i, a in enumerate(call.args)])


base.register_site(CondRule())
