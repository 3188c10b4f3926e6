"""HK015 sequential: `hk.Sequential([...])` becomes `nnx.Sequential(...)`, layers converted.

What it converts: `hk.Sequential([layer_or_function, ...], name=)` with the list written out,
whose modules are built in the list (table layers such as `hk.Linear(16)`, module classes of the
file, `hk.nets.MLP`) and whose other elements are functions (`jax.nn.relu`), built in
`__init__` or inline.
Haiku: the layers are built (and named, `linear`, `linear_1`, ...) by the enclosing module
before the Sequential that holds them.
NNX: `self.linears = nnx.Sequential(nnx.Linear(in_features, 16, rngs=rngs), jax.nn.relu,
nnx.Linear(16, 4, rngs=rngs))`: each module converted by its own rule (HK010, HK002, ...),
input sizes chained, functions kept. The attribute is named after the layers (`linears` for `linear`,
`linear_1`): the naming scheme's containers (`hk2nnx.program.naming`) so `hk2nnx port` loads
`linear_1` into its second module.
Not converted (stays with a TODO): a list built at run time, modules built elsewhere,
modules of several kinds or numbered past others of their kind (no container name lines them
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
from hk2nnx.convert.sites import Site
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

    def _elements(self, site, plan) -> list[tuple[cst.BaseExpression, Site | None]]:
        """Each element and, for a module, the part that converts it (None: a function, kept)."""
        if "elements" in site.data:
            return site.data["elements"]
        given = bind(site.ctor, ["layers", "name"]).get("layers")
        if has_star(site.ctor) or given is None or not m.matches(given.value, m.List() | m.Tuple()):
            raise self._refuse(site, "its layers are not written out as a list")
        out = []
        for element in given.value.elements:
            value = element.value
            if m.matches(element, m.StarredElement()):
                raise self._refuse(site, "its layers are not written out as a list")
            qualname = plan.ctx.qualname(value.func) if m.matches(value, m.Call()) else None
            rule = base.site_rule_for(qualname, plan.ctx)
            if rule is not None and rule.kind == "module" and not rule.owns_arguments:
                part = Site(rule, site.method, value, data={"construct": plan.ctx.code(value.func)})
                part.data["name"] = rule.haiku_name(part, plan)
                out.append((value, part))
                continue
            if is_haiku(qualname) or is_haiku(plan.ctx.qualname(value)) or rule is not None or (
                    m.findall(value, m.Attribute(value=m.Name("self")))):  # maybe a module
                raise self._refuse(site, f"{plan.ctx.code(value)} is not a function nor a module "
                                   "built in the list by a rule of the converter; convert it by "
                                   "hand")
            out.append((value, None))
        site.data["elements"] = out
        site.data["calls"] = [value for value, part in out if part is not None]
        return out

    def _parts(self, site, plan) -> list[Site]:
        parts = [part for _, part in self._elements(site, plan) if part is not None]
        for part in parts:
            part.env = site.env
        return parts

    def inner_names(self, site, plan) -> list[str]:
        return [part.data["name"] for part in self._parts(site, plan)]

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
        for part in self._parts(site, plan):
            size = part.rule.out_dim(part, plan, _fed(part, plan, size))
        return size

    def wants_rngs(self, site, plan) -> bool:
        return any(part.rule.wants_rngs(part, plan) for part in self._parts(site, plan))

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
        size, codes = chain.input_size(site, plan, "inputs"), []
        self._parts(site, plan)
        for value, part in self._elements(site, plan):
            if part is None:
                codes.append(plan.ctx.code(plan.hoist(value, site, site.data["construct"])))
                continue
            if size is None:
                raise self._refuse(site, "the size of its input cannot be followed through the "
                                   "code; pass it to the constructor by hand or give --input")
            part.inputs = _fed(part, plan, size)
            codes.append(part.rule.build(part, plan))
            size = part.rule.out_dim(part, plan, part.inputs)
        return chain.container("nnx.Sequential", codes, plan)


def _fed(part: Site, plan, size) -> dict:
    """The part's inputs when `size` flows into its first call argument."""
    return {part.rule.input_names(part, plan, None)[0]: size}


base.register_site(SequentialRule())
