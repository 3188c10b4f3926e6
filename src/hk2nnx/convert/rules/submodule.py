"""HK002 submodule: a module class of this file used inside another becomes an attribute.

What it converts: `Block(self.hidden)(x, training)` inside a module method, or
`self.block = Block(8)` in `__init__`.
Haiku: the child is built where it is first called and named by Haiku's numbering.
NNX: `self.block = Block(in_features, hidden, rngs=rngs)` in `__init__` and
`x = self.block(x)` where it was called; the sizes the child needs are given from the parent's
data flow, mode flags the child dropped are no longer passed, and its output size flows on.
Fix safety: safe.
Guide section: "Basic Module definition".
"""

from __future__ import annotations

import libcst as cst

from hk2nnx.convert import dims, flags, hoist
from hk2nnx.convert.findings import Refusal, Safety
from hk2nnx.convert.params import positional_names
from hk2nnx.convert.rules import base
from hk2nnx.convert.rules.args import bind, drop_args, has_star, literal_string, render
from hk2nnx.convert.traced import traced_size

INFO = base.info("HK002", "submodule", Safety.SAFE, "Basic Module definition", __name__)
SECTION = INFO.section


class SubmoduleRule(base.SiteRule):
    info = INFO

    def claims(self, qualname, ctx) -> bool:
        return qualname in ctx.local_modules

    def _child(self, site, plan):
        child = plan.analysis.plan(site.data["class"])
        if not child.converts:
            raise Refusal(site.data["construct"], f"class {site.data['class']} is not converted "
                          "(see its TODO)", SECTION, INFO.code)
        return child

    def _names(self, child) -> list[str]:
        init = child.init
        if init is None:
            return []
        return positional_names(init)

    def _bound(self, site, child) -> dict[str, cst.Arg]:
        if has_star(site.ctor):
            raise Refusal(site.data["construct"], "*args/**kwargs hide which arguments are given",
                          SECTION, INFO.code)
        return bind(site.ctor, self._names(child))

    def haiku_name(self, site, plan) -> str:
        site.data["class"] = plan.ctx.qualname(site.ctor.func)
        child = plan.analysis.plan(site.data["class"])
        given = self._bound(site, child).get("name")
        if given is None or plan.ctx.code(given.value) == "None":
            return child.default_name
        text = literal_string(given.value)
        if text is None:
            raise Refusal(site.data["construct"], "its name= is not a string literal, so the NNX "
                          "attribute cannot be named statically", SECTION, INFO.code)
        return text

    def input_names(self, site, plan, call) -> list[str]:
        child = plan.analysis.plan(site.data["class"])
        method = child.methods.get("__call__")
        if method is None:
            return []
        return positional_names(method)

    def _mapping(self, site, plan, child, inputs, called="__call__"
                 ) -> dict[str, cst.BaseExpression]:
        mapping: dict[str, cst.BaseExpression] = {}
        bound = self._bound(site, child)
        for param in child.params:
            name = param.name.value
            if name in bound:
                mapping[name] = plan.hoist(bound[name].value, site, site.data["class"])
            elif param.default is not None:
                mapping[name] = param.default
        for symbol, (method, arg) in child.features.items():
            if method == called and inputs.get(arg) is not None:
                mapping[symbol] = inputs[arg]
        return mapping

    def out_dim(self, site, plan, inputs) -> dims.Dim:
        return self.method_dim(site, plan, "__call__", inputs)

    def method_dim(self, site, plan, method: str, inputs) -> dims.Dim:
        """The size `child.method(...)` returns, in the parent's terms."""
        child = self._child(site, plan)
        result = child.out_dims.get(method)
        if result is None:
            return None
        mapping = self._mapping(site, plan, child, inputs, method)
        unknown = ({p.name.value for p in child.params} | set(child.features)) - set(mapping)
        if any(n.value in unknown for n in hoist.loads(result)):
            return None
        return dims.substitute(result, mapping, f"self.{site.attr}")

    def build(self, site, plan) -> str:
        child = self._child(site, plan)
        child.build()
        child = self._child(site, plan)
        positional = []
        for symbol in child.used_features:
            method, arg = child.features[symbol]
            size = (site.inputs or {}).get(arg) if method == "__call__" else None
            if size is None and method == "__call__":
                position = self.input_names(site, plan, None).index(arg)
                traced = traced_size(plan.analysis, site, position)
                size = cst.parse_expression(traced) if traced else None
            if size is None:
                raise Refusal(site.data["construct"], f"the size of its input `{arg}` cannot be "
                              "followed through the code; pass it by hand or give --input",
                              SECTION, INFO.code)
            positional.append(dims.code(size))
        keywords = []
        for arg in site.ctor.args:
            if arg.keyword is not None and arg.keyword.value == "name":
                continue
            text = plan.ctx.code(plan.hoist(arg.value, site, site.data["class"]))
            if arg.keyword is None and self._is_name_position(site, child, arg):
                continue
            if arg.keyword is None:
                positional.append(text)
            else:
                keywords.append((arg.keyword.value, text))
        if child.needs_rngs:
            keywords.append(("rngs", "rngs"))
        return f"{site.data['class']}({render(positional, keywords)})"

    def _is_name_position(self, site, child, arg) -> bool:
        names = self._names(child)
        index = list(site.ctor.args).index(arg)
        return index < len(names) and names[index] == "name"

    def wants_rngs(self, site, plan) -> bool:
        return plan.analysis.plan(site.data["class"]).needs_rngs

    def _call_flags(self, site, plan) -> tuple[cst.FunctionDef | None, dict[str, bool]]:
        child = plan.analysis.plan(site.data["class"])
        method = child.methods.get("__call__")
        if method is None or not child.converts:
            return None, {}
        return method, flags.mode_flags(child, "__call__")

    def flag_uses(self, site, plan, call) -> list:
        method, found = self._call_flags(site, plan)
        return flags.flag_arguments(method, call, found) if method is not None else []

    def rewrite_args(self, site, plan, call: cst.Call) -> cst.Call:
        method, found = self._call_flags(site, plan)
        if method is None:
            return call
        return drop_args(call, flags.flag_positions(method, call, found))


base.register_site(SubmoduleRule())
