"""HK048 while-loop: `hk.while_loop(cond_fun, body_fun, init_val)` becomes `nnx.while_loop`.

What it converts: `hk.while_loop` in a module method whose functions use modules built outside
them (Haiku refuses to create parameters in a while loop).
Haiku: `x = hk.while_loop(lambda x: jnp.max(x) < 1.0, lambda x: layer(x) + 0.1, x)`.
NNX: `x = nnx.while_loop(lambda x: jnp.max(x) < 1.0, lambda x: self.layer(x) + 0.1, x)`: the
functions read the module they close over, which NNX allows as long as nothing in it changes.
Fix safety: review. Functions that draw keys or update state of this class are refused; one
that reaches such a module through a child fails at run time with a TraceContextError.
Guide section: "Transformations".
"""

from __future__ import annotations

from hk2nnx.convert.findings import Safety
from hk2nnx.convert.rules import base
from hk2nnx.convert.rules.lifted import LoopRule

INFO = base.info("HK048", "while-loop", Safety.REVIEW, "Transformations", __name__)


class WhileLoopRule(LoopRule):
    info = INFO
    haiku = "haiku.while_loop"
    nnx = "nnx.while_loop"
    names = ("cond_fun", "body_fun", "init_val")
    required = 3
    usage = "hk.while_loop(cond_fun, body_fun, init_val)"

    def functions(self, site):
        bound = self.bound(site)
        return [bound["body_fun"].value, bound["cond_fun"].value]

    def operands(self, site, plan):
        return [self.bound(site)["init_val"].value]


base.register_site(WhileLoopRule())
