"""HK005 rng-key: `hk.next_rng_key()` outside `hk.dropout` becomes a key drawn from an NNX stream.

What it converts: `hk.next_rng_key()`, `hk.maybe_next_rng_key()` and `hk.next_rng_keys(n)` in
module methods (the key of `hk.dropout(hk.next_rng_key(), ...)` is HK003's).
Haiku: `noise = jax.random.normal(hk.next_rng_key(), x.shape)`: keys come from the rng given to
`apply`, one sequence per call.
NNX: the module keeps a stream, `self.rng = rngs.default.fork()` in `__init__` (as
`nnx.Dropout` does), and draws from it: `jax.random.normal(self.rng(), x.shape)`;
`hk.next_rng_keys(n)` becomes `jax.random.split(self.rng(), n)`. Every use in one class shares
the one stream. `hk.maybe_next_rng_key()` is never None in NNX: the stream always exists.
Fix safety: review. The keys differ from Haiku's by construction (a different key sequence), so
the converted code is verified on its deterministic paths (a flag off, zero noise scale) and
random draws only agree in distribution.
Guide section: "Basic Module definition".
"""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from hk2nnx.convert.findings import Refusal, Safety
from hk2nnx.convert.rules import base

INFO = base.info("HK005", "rng-key", Safety.REVIEW, "Basic Module definition", __name__)
KEYS = {"haiku.next_rng_key": 0, "haiku.maybe_next_rng_key": 0, "haiku.next_rng_keys": 1}
_ATTR = "rng"
_INIT = "__init__"


class RngKeyRule(base.SiteRule):
    info = INFO
    kind = "function"
    creates = False  # a stream holds no parameters: draws may sit in branches and loops
    shared_name = True  # every draw of a class comes from one stream

    def claims(self, qualname, ctx) -> bool:
        return qualname in KEYS

    def attr_base(self, site, plan) -> str:
        return _ATTR

    def _dropout_key(self, site, plan) -> bool:
        """The implicit key of `hk.dropout(...)`: nnx.Dropout draws it itself."""
        arg = plan.ctx.parent(site.ctor)
        call = plan.ctx.parent(arg) if m.matches(arg, m.Arg()) else None
        return m.matches(call, m.Call()) and plan.ctx.qualname(call.func) == "haiku.dropout"

    def wants_rngs(self, site, plan) -> bool:
        return not self._dropout_key(site, plan)

    def out_dim(self, site, plan, ev):
        for arg in site.ctor.args:
            ev.size(arg.value)

    def build(self, site, plan) -> str | None:
        if self._dropout_key(site, plan):
            return None
        qualname = plan.ctx.qualname(site.ctor.func)
        if site.method == _INIT or len(site.ctor.args) != KEYS[qualname] or any(
                a.keyword is not None or a.star for a in site.ctor.args):
            raise Refusal(plan.ctx.code(site.ctor.func), "draw keys in a method (not "
                          "__init__), with no arguments (hk.next_rng_keys: one count)",
                          INFO.section, INFO.code)
        first = next(s for s in plan.sites if s.rule is self and not self._dropout_key(s, plan))
        return "rngs.default.fork()" if first is site else None

    def schedule(self, site, plan) -> None:
        if self._dropout_key(site, plan):
            return
        if site.ctor.args:  # hk.next_rng_keys(n)
            plan.ctx.edit(site.ctor, lambda u: cst.parse_expression(
                f"jax.random.split(self.{site.attr}(), {plan.ctx.code(u.args[0].value)})"))
            return
        plan.ctx.replace(site.ctor, f"self.{site.attr}()")


base.register_site(RngKeyRule())
