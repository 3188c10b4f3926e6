"""HK016 compat-function: `hk.dynamic_unroll(...)`, `hk.LSTMState(...)`, `hk.max_pool(...)` ...
become the same calls of `_haiku_compat` (`hkc.dynamic_unroll(...)`).

What it converts: every function in `hk2nnx.mappings.functions.COMPAT_FUNCTIONS`: the RNN
unrollers, LSTMState, and the pooling functions.
Haiku: `outs, state = hk.dynamic_unroll(core, xs, core.initial_state(b))`.
NNX: `outs, state = hkc.dynamic_unroll(self.lstm, xs, self.lstm.initial_state(b))`, where the
core is the compat class (`hkc.LSTM`) and the function scans it with `jax.lax.scan`. The
core's input size is the sequence's last-axis size.
Fix safety: safe (the compat definitions reproduce Haiku; converted code imports only jax/flax).
Guide section: "Basic Module definition".
"""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from hk2nnx.convert import dims, modes
from hk2nnx.convert.findings import Safety
from hk2nnx.convert.rules import base
from hk2nnx.mappings.functions import BY_HAIKU

INFO = base.info("HK016", "compat-function", Safety.SAFE, "Basic Module definition", __name__)


class CompatFunctionRule(base.SiteRule):
    info = INFO
    kind = "function"
    creates = False
    needs_rngs = False

    def claims(self, qualname, ctx) -> bool:
        return qualname in BY_HAIKU

    def attr_base(self, site, plan) -> str:
        return BY_HAIKU[plan.ctx.qualname(site.ctor.func)].compat

    def out_dim(self, site, plan, ev) -> dims.Dim:
        entry = BY_HAIKU[plan.ctx.qualname(site.ctor.func)]
        sizes = [ev.size(a.value) for a in site.ctor.args]
        if entry.core_arg is None:
            return sizes[0] if sizes and entry.compat.endswith("_pool") else None
        core = _core_site(site, plan, entry.core_arg)
        if core is None or len(sizes) <= entry.core_arg + 1:
            return None
        if not core.is_module:  # a wrapper of cores (hk.DeepRNN, hk.ResetCore)
            fed = site.ctor.args[entry.core_arg + 1].value
            return core.rule.core_out_dim(core, plan, ev, fed)
        if core.inputs is None:
            names = core.rule.input_names(core, plan, core.ctor)
            core.inputs = {names[0]: sizes[entry.core_arg + 1]}
        return core.rule.out_dim(core, plan, core.inputs)

    def build(self, site, plan) -> None:
        modes.current().compat.add(BY_HAIKU[plan.ctx.qualname(site.ctor.func)].compat)

    def schedule(self, site, plan) -> None:
        name = BY_HAIKU[plan.ctx.qualname(site.ctor.func)].compat
        plan.ctx.edit(site.ctor, lambda u: u.with_changes(
            func=cst.parse_expression(f"{modes.ALIAS}.{name}")))


def _core_site(site, plan, position: int):
    """The layer site passed as the core: `core` (a local) or `self.core` (built in __init__)."""
    if position >= len(site.ctor.args):
        return None
    value = site.ctor.args[position].value
    if m.matches(value, m.Name()):
        name, local = value.value, True
    elif m.matches(value, m.Attribute(value=m.Name("self"), attr=m.Name())):
        name, local = value.attr.value, False
    else:
        return None
    return next((s for s in plan.sites if (s.is_module or hasattr(s.rule, "core_out_dim"))
                 and s.target == name and bool(s.data.get("local")) == local), None)


base.register_site(CompatFunctionRule())
