"""HK009 state: `hk.get_state`/`hk.set_state` become an `nnx.Variable` subclass attribute.

What it converts: reads and writes of Haiku state inside module methods and top-level functions.
Haiku: `c = hk.get_state("counter", [], jnp.int32, init=jnp.zeros)` ... 
`hk.set_state("counter", c + 1)`, kept apart from params by `transform_with_state`.
NNX: `class Counter(nnx.Variable): pass` once per state name, `self.counter =
Counter(jnp.zeros((), jnp.int32))` in `__init__`, `c = self.counter[...]` and
`self.counter[...] = c + 1`: the module owns and updates its state; `nnx.split(model,
nnx.Param, Counter)` separates it like Haiku's two trees.
Fix safety: safe (a set_state without a get_state giving shape and dtype is left for manual work).
Guide section: "Handling non-parameter states".
"""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from hk2nnx.convert.findings import Refusal, Safety
from hk2nnx.convert.names import camel, fresh
from hk2nnx.convert.rules import base, variables

SECTION = "Handling non-parameter states"
INFO = base.info("HK009", "state", Safety.SAFE, SECTION, __name__)
_SET = ("name", "value")


class GetStateRule(variables.VariableReader):
    info = INFO
    needs_rngs = False
    qualname = "haiku.get_state"
    construct = "hk.get_state"
    section = SECTION

    def wrap(self, site, plan, value: str) -> str:
        return f"{variable_class(site, plan)}({value})"

    def schedule(self, site, plan) -> None:
        super().schedule(site, plan)
        if site.data.get("code"):
            _declare(variable_class(site, plan), plan)


class SetStateRule(base.SiteRule):
    info = INFO
    kind = "function"
    shared_name = True
    needs_rngs = False
    creates = False

    def claims(self, qualname, ctx) -> bool:
        return qualname == "haiku.set_state"

    def attr_base(self, site, plan) -> str:
        variables.bound(site, _SET, "hk.set_state", SECTION, INFO.code)
        return variables.leaf_attr(site)

    def out_dim(self, site, plan, ev):
        for arg in site.ctor.args:
            ev.size(arg.value)

    def build(self, site, plan) -> None:
        getters = [s for s in plan.sites if isinstance(s.rule, GetStateRule)
                   and s.attr == site.attr]
        if not getters:
            raise Refusal("hk.set_state", f"state {site.data['leaf']!r} is never read with "
                          "hk.get_state, so its shape and dtype are unknown; create it in "
                          "__init__ by hand", SECTION, INFO.code)
        statement = plan.ctx.parent(site.ctor)
        if not m.matches(statement, m.Expr()):
            raise Refusal("hk.set_state", "use it as a statement", SECTION, INFO.code)

    def schedule(self, site, plan) -> None:
        value = variables.bound(site, _SET, "hk.set_state", SECTION, INFO.code)["value"]
        index = list(site.ctor.args).index(value)
        statement = plan.ctx.parent(site.ctor)
        plan.ctx.edit(statement, lambda u: _assign(site.attr, u.value.args[index].value))


def _assign(attr: str, value: cst.BaseExpression) -> cst.Assign:
    target = cst.parse_expression(f"self.{attr}[...]")
    return cst.Assign(targets=[cst.AssignTarget(target)], value=value)


def variable_class(site, plan) -> str:
    """The generated `nnx.Variable` subclass for this state name (one per name per file)."""
    classes = plan.analysis.variable_classes
    leaf = site.data["leaf"]
    if leaf not in classes:
        index = plan.analysis.index
        taken = set(index.classes) | set(index.functions) | set(index.assigns) | set(
            classes.values())
        classes[leaf] = fresh(camel(leaf), taken)
    return classes[leaf]


def _declare(name: str, plan) -> None:
    declared = plan.analysis.declared_classes
    if name in declared:
        return
    declared.add(name)
    plan.ctx.insert_before(plan.node, f"class {name}(nnx.Variable):\n    pass\n")


base.register_site(GetStateRule())
base.register_site(SetStateRule())
