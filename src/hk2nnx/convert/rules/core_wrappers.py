"""HK049 core-wrappers: `hk.DeepRNN([...])` and `hk.ResetCore(core)` become `hkc.DeepRNN` /
`hkc.ResetCore` around cores the module holds.

What it converts: `hk.DeepRNN([core_or_function, ...])` and
`hk.deep_rnn_with_skip_connections([core, ...])` with the list written out, and
`hk.ResetCore(core)`, where each core is built in the argument (`hk.LSTM(8)`) or is a local
module; used with `hk.dynamic_unroll` / `hk.static_unroll` (the cores' input sizes follow the
sequence's), stepped by hand (`core(x, state)`, sized by its first call), and `initial_state`.
Haiku: the cores are built (and named `lstm`, `gru`, ...) by the enclosing module before the
wrapper, which holds no weights.
NNX: `self.lstm = hkc.LSTM(...)` in `__init__`, and `core = hkc.DeepRNN([self.lstm, jax.nn.relu,
self.gru])` where Haiku built the wrapper: the weights stay where the naming scheme puts
Haiku's `lstm`, so `hk2nnx port` loads them.
Not converted (stays with a TODO): a wrapper built in `__init__` (NNX would hold its cores
twice, under names ported checkpoints do not follow), layers not written out as a list, cores
that are neither built in the argument nor local modules (a wrapper in a wrapper), a ResetCore
whose input size cannot be followed.
Fix safety: safe.
Guide section: "Basic Module definition".
"""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from hk2nnx.convert import dims, modes
from hk2nnx.convert.findings import Refusal, Safety
from hk2nnx.convert.rules import base
from hk2nnx.convert.rules.args import bind, has_star

INFO = base.info("HK049", "core-wrappers", Safety.SAFE, "Basic Module definition", __name__)
WRAPPERS = {"haiku.DeepRNN": "DeepRNN", "haiku.ResetCore": "ResetCore",
            "haiku.deep_rnn_with_skip_connections": "deep_rnn_with_skip_connections"}
_SKIP = "deep_rnn_with_skip_connections"


class CoreWrapperRule(base.SiteRule):
    info = INFO
    kind = "function"
    creates = False
    needs_rngs = False
    holds_cores = True  # sites.py: modules built in its arguments are the enclosing module's

    def claims(self, qualname, ctx) -> bool:
        return qualname in WRAPPERS

    def _compat(self, site, plan) -> str:
        return WRAPPERS[plan.ctx.qualname(site.ctor.func)]

    def attr_base(self, site, plan) -> str:
        return self._compat(site, plan).lower()

    def out_dim(self, site, plan, ev) -> dims.Dim:
        """Records the variable holding the wrapper, so an unroll of it finds its cores."""
        parent = plan.ctx.parent(site.ctor)
        site.env = dict(ev.env)
        if m.matches(parent, m.Assign(targets=[m.AssignTarget(target=m.Name())])):
            site.target, site.data["local"] = parent.targets[0].target.value, True
            steps = m.findall(plan.methods[site.method], m.Call(func=m.Name(site.target)))
            if steps and steps[0].args:  # stepped by hand: `out, state = core(x, state)`
                self.core_out_dim(site, plan, ev, steps[0].args[0].value)
        return None

    def _refuse(self, site, plan, why: str) -> Refusal:
        return Refusal(plan.ctx.code(site.ctor.func), why, INFO.section, INFO.code, site.ctor)

    def _layers(self, site, plan) -> list[cst.BaseExpression]:
        names = ["core", "name"] if self._compat(site, plan) == "ResetCore" else ["layers", "name"]
        given = bind(site.ctor, names).get(names[0])
        if has_star(site.ctor) or given is None:
            raise self._refuse(site, plan, f"its {names[0]} are not written out")
        if names[0] == "core":
            return [given.value]
        if not m.matches(given.value, m.List() | m.Tuple()) or any(
                m.matches(e, m.StarredElement()) for e in given.value.elements):
            raise self._refuse(site, plan, "its layers are not written out as a list")
        return [e.value for e in given.value.elements]

    def _core(self, value: cst.BaseExpression, plan):
        """The module site `value` builds or names; None for a function (kept as written)."""
        for s in plan.sites:
            if s.is_module and (s.ctor is value or (
                    m.matches(value, m.Name()) and s.target == value.value and s.data.get("local"))):
                return s
        return None

    def core_out_dim(self, site, plan, ev, expr: cst.BaseExpression) -> dims.Dim:
        """Sizes the cores from the sequence `expr` fed to an unroll; the output's size."""
        if self._compat(site, plan) == "ResetCore" and m.matches(expr, m.Tuple()) and (
                expr.elements):
            expr = expr.elements[0].value  # (inputs, should_reset)
        size = given = ev.size(expr)
        skip, outs = self._compat(site, plan) == _SKIP, []
        for value in self._layers(site, plan):
            core = self._core(value, plan)
            if core is None:
                if m.matches(value, m.Call()) or plan.ctx.qualname(value) in WRAPPERS:
                    raise self._refuse(site, plan, f"{plan.ctx.code(value)} is neither a core "
                                       "built in the list nor a function; convert it by hand")
                continue
            if core.env is None:
                core.env = site.env
            if skip and outs:  # the inputs joined to the previous core's output
                size = dims.total([given, outs[-1]])
            if core.inputs is None:
                core.inputs = {core.rule.input_names(core, plan, None)[0]: size}
            size = core.rule.out_dim(core, plan, core.inputs)
            outs.append(size)
        return dims.total(outs) if skip else size

    def build(self, site, plan) -> None:
        self._layers(site, plan)
        modes.current().compat.add(self._compat(site, plan))

    def schedule(self, site, plan) -> None:
        name = self._compat(site, plan)
        plan.ctx.edit(site.ctor, lambda u: u.with_changes(
            func=cst.parse_expression(f"{modes.ALIAS}.{name}")))


base.register_site(CoreWrapperRule())
