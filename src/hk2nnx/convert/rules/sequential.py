"""HK015 sequential: `hk.Sequential([...])` becomes `nnx.Sequential(...)`, layers converted.

What it converts: `hk.Sequential([layer_or_function, ...], name=)` with the list written out,
whose modules are table layers built in the list (`hk.Linear(16)`, `hk.LayerNorm(...)`, ...)
and whose other elements are functions (`jax.nn.relu`), built in `__init__` or inline.
Haiku: the layers are built (and named, `linear`, `linear_1`, ...) by the enclosing module
before the Sequential that holds them.
NNX: `self.linears = nnx.Sequential(nnx.Linear(in_features, 16, rngs=rngs), jax.nn.relu,
nnx.Linear(16, 4, rngs=rngs))`: each layer converted by the layer table (HK010), input sizes
chained, functions kept. The attribute is named after the layers (`linears` for `linear`,
`linear_1`): the naming scheme's containers (`hk2nnx.program.naming`) so `hk2nnx port` loads
`linear_1` into its second module.
Not converted (stays with a TODO): a list built at run time, modules that are not table layers,
layers of several kinds or numbered past others of their kind (no container name lines them
up with Haiku's names), extra call arguments (Haiku passes them to the first layer).
Fix safety: safe.
Guide section: "Basic Module definition".
"""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from hk2nnx.convert import chain
from hk2nnx.convert.findings import Refusal, Safety
from hk2nnx.convert.names import is_haiku
from hk2nnx.convert.rules import base
from hk2nnx.convert.rules.args import bind, has_star, literal_string
from hk2nnx.program import naming

INFO = base.info("HK015", "sequential", Safety.SAFE, "Basic Module definition", __name__)
QUALNAME = "haiku.Sequential"


class SequentialRule(base.SiteRule):
    info = INFO
    owns_arguments = True

    def claims(self, qualname, ctx) -> bool:
        return qualname == QUALNAME

    def _refuse(self, site, why: str) -> Refusal:
        return Refusal(site.data["construct"], why, INFO.section, INFO.code)

    def _elements(self, site, plan) -> list[tuple[cst.BaseExpression, str | None]]:
        """Each element and, for a layer, its qualified name (None: a function, kept)."""
        given = bind(site.ctor, ["layers", "name"]).get("layers")
        if has_star(site.ctor) or given is None or not m.matches(given.value, m.List() | m.Tuple()):
            raise self._refuse(site, "its layers are not written out as a list")
        out = []
        for element in given.value.elements:
            value = element.value
            if m.matches(element, m.StarredElement()):
                raise self._refuse(site, "its layers are not written out as a list")
            qualname = plan.ctx.qualname(value.func) if m.matches(value, m.Call()) else None
            if chain.is_layer(qualname):
                out.append((value, qualname))
                continue
            if is_haiku(qualname) or is_haiku(plan.ctx.qualname(value)) or (
                    qualname in plan.ctx.local_modules):
                raise self._refuse(site, f"{plan.ctx.code(value)} is a module no container "
                                   "rule builds; convert it by hand")
            out.append((plan.hoist(value, site, site.data["construct"]), None))
        return out

    def inner_names(self, site, plan) -> list[str]:
        return [chain.layer_name(site, plan, value, qualname)
                for value, qualname in self._elements(site, plan) if qualname]

    def haiku_name(self, site, plan) -> str:
        given = bind(site.ctor, ["layers", "name"]).get("name")
        if given is None or plan.ctx.code(given.value) == "None":
            return "sequential"
        text = literal_string(given.value)
        if text is None:
            raise self._refuse(site, "its name= is not a string literal")
        return text

    def input_names(self, site, plan, call) -> list[str]:
        return ["inputs"]

    def out_dim(self, site, plan, inputs):
        size = inputs.get("inputs")
        for value, qualname in self._elements(site, plan):
            if qualname is not None:
                size = chain.layer_out(site, plan, value, qualname, size)
        return size

    def build(self, site, plan) -> str:
        slots = [naming.container_slot(n) for n in site.data.get("inner", [])]
        if not slots:
            raise self._refuse(site, "it holds no layers; write the functions out by hand")
        if {b for b, _ in slots} != {slots[0][0]} or (
                [i for _, i in slots] != list(range(len(slots)))):
            raise self._refuse(site, f"its layers are named {', '.join(site.data.get('inner', []))}"
                               ": only one kind numbered from 0 lines up with an NNX container")
        if any(len(call.args) != 1 or has_star(call) for call in site.applies):
            raise self._refuse(site, "extra call arguments go to its first layer only; "
                               "call that layer by hand")
        size, parts = chain.input_size(site, plan, "inputs"), []
        for value, qualname in self._elements(site, plan):
            if qualname is None:
                parts.append(plan.ctx.code(value))
                continue
            code, size = chain.build_layer(site, plan, value, qualname, size)
            parts.append(code)
        return chain.container("nnx.Sequential", parts, plan)


base.register_site(SequentialRule())
