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
from hk2nnx.convert.rules.lifted import BranchRule

INFO = base.info("HK045", "switch", Safety.SAFE, "Transformations", __name__)


class SwitchRule(BranchRule):
    info = INFO
    haiku = "haiku.switch"
    nnx = "nnx.switch"
    names = ("index", "branches")
    required = 2
    first_operand = 2
    usage = "hk.switch(index, [branch, ...], *operands)"

    def functions(self, site):
        branches = self.bound(site)["branches"].value
        if not m.matches(branches, m.List() | m.Tuple()):
            raise Refusal("hk.switch", "write the branches as a list or tuple in the call",
                          INFO.section, INFO.code)
        return [e.value for e in branches.elements]

    def replace_functions(self, call, edit):
        branches = call.args[1].value
        branches = branches.with_changes(elements=[e.with_changes(value=edit(e.value))
                                                   for e in branches.elements])
        return call.with_changes(args=[call.args[0], call.args[1].with_changes(value=branches),
                                       *call.args[2:]])


base.register_site(SwitchRule())
