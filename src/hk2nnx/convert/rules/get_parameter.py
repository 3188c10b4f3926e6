"""HK008 get-parameter: `hk.get_parameter(...)` becomes an `nnx.Param` attribute.

What it converts: `hk.get_parameter(name, shape, dtype, init)` inside module methods, and in
top-level functions (which become `nnx.Module` classes, see HK020).
Haiku: `w = hk.get_parameter("w", [x.shape[-1], self.size], init=jnp.zeros)` creates the
parameter on first use, sized from the data.
NNX: `self.w = nnx.Param(nnx.initializers.zeros(rngs.params(), (in_features, size),
jnp.float32))` in `__init__` and `w = self.w[...]` where it was read. The attribute is the leaf
name, so ported checkpoints load; a dtype read from the inputs becomes float32 (reported).
Fix safety: safe.
Guide section: "Top-level Haiku functions vs top-level Flax modules".
"""

from __future__ import annotations

import libcst.matchers as m

from hk2nnx.convert import dims
from hk2nnx.convert.findings import Safety
from hk2nnx.convert.rules import base, variables

SECTION = "Top-level Haiku functions vs top-level Flax modules"
INFO = base.info("HK008", "get-parameter", Safety.SAFE, SECTION, __name__)
_NAMES = ("name", "shape", "dtype", "init")


class GetParameterRule(base.SiteRule):
    info = INFO
    kind = "function"
    shared_name = True

    def claims(self, qualname, ctx) -> bool:
        return qualname == "haiku.get_parameter"

    def _bound(self, site):
        return variables.bound(site, _NAMES, "hk.get_parameter", SECTION, INFO.code)

    def attr_base(self, site, plan) -> str:
        self._bound(site)
        return variables.leaf_attr(site)

    def out_dim(self, site, plan, ev) -> dims.Dim:
        for arg in site.ctor.args:
            ev.size(arg.value)
        shape = self._bound(site).get("shape")
        if shape is None or not m.matches(shape.value, m.List() | m.Tuple()) or not (
                shape.value.elements):
            return None
        last = shape.value.elements[-1].value
        return plan.hoist(last, site, "") if plan.is_hoistable(last, site) else None

    def build(self, site, plan) -> str | None:
        if not variables.first_of_name(site, plan):
            return None
        bound = self._bound(site)
        shape = variables.shape_code(site, plan, bound.get("shape"), "hk.get_parameter", SECTION)
        dtype = variables.dtype_code(site, plan, bound.get("dtype"), INFO.code)
        value, random = variables.initial_value(site, plan, bound.get("init"), shape, dtype,
                                                "hk.get_parameter", SECTION, INFO.code)
        site.data["random"] = random
        return f"nnx.Param({value})"

    def wants_rngs(self, site, plan) -> bool:
        return bool(site.data.get("random"))

    def schedule(self, site, plan) -> None:
        plan.ctx.replace(site.ctor, f"self.{site.attr}[...]")


base.register_site(GetParameterRule())
