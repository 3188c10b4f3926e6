"""HK046 fori-loop: `hk.fori_loop(lower, upper, body_fun, init_val)` becomes `nnx.fori_loop`.

What it converts: `hk.fori_loop` in a module method whose body uses modules built outside it
(Haiku fails when the body creates parameters: its init unrolls one step, then the loop's
state would change shape).
Haiku: `x = hk.fori_loop(0, n, lambda i, x: layer(x), x)` with `layer` a module of the class.
NNX: `x = nnx.fori_loop(0, n, lambda i, x: self.layer(x), x)`: the body reads the module it
closes over, which NNX allows as long as nothing in it changes.
Fix safety: review. A body that draws keys or updates state (dropout, batch norm, a key
stream) of this class is refused; one that reaches such a module through a child fails at run
time with a TraceContextError and needs the module passed in `init_val`.
Guide section: "Transformations".
"""

from __future__ import annotations

from hk2nnx.convert.findings import Safety
from hk2nnx.convert.rules import base
from hk2nnx.convert.rules.lifted import LoopRule

INFO = base.info("HK046", "fori-loop", Safety.REVIEW, "Transformations", __name__)


class ForiLoopRule(LoopRule):
    info = INFO
    haiku = "haiku.fori_loop"
    nnx = "nnx.fori_loop"
    names = ("lower", "upper", "body_fun", "init_val")
    required = 4
    usage = "hk.fori_loop(lower, upper, body_fun, init_val)"

    def functions(self, site):
        return [self.bound(site)["body_fun"].value]

    def operands(self, site, plan):
        return [self.bound(site)["init_val"].value]

    def param_sizes(self, sizes):
        return [None, *sizes]


base.register_site(ForiLoopRule())
