"""HK014 mlp: `hk.nets.MLP` becomes an `nnx.Sequential` of `nnx.Linear`s and its activation.

What it converts: `hk.nets.MLP(output_sizes, w_init=, b_init=, with_bias=, activation=,
activate_final=, name=)` with `output_sizes` written out as a list or tuple, built in `__init__`
or inline, applied to one input.
Haiku: `hk.nets.MLP([64, 10], activation=jax.nn.gelu)(x)`; its Linears are `mlp/~/linear_0`, ...
NNX: `self.mlp = nnx.Sequential(nnx.Linear(in_features, 64, ...), jax.nn.gelu,
nnx.Linear(64, 10, ...))` and `self.mlp(x)`. Each Linear is converted by the layer table
(HK010: faithful mode passes Haiku's TruncatedNormal(1/sqrt(fan_in)) default); input sizes are
chained. The Linears sit at `mlp.layers.0`, `mlp.layers.2`, ...: the naming scheme's containers
(`hk2nnx.program.naming`) let `hk2nnx port` load `mlp/~/linear_i` there.
Not converted (stays with a TODO): sizes computed at run time, and dropout given in the call
(`mlp(x, dropout_rate, rng)`): NNX needs the rate in `__init__` and a train/eval mode.
Fix safety: safe.
Guide section: "Basic Module definition".
"""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from hk2nnx.convert import chain
from hk2nnx.convert.findings import Refusal, Safety
from hk2nnx.convert.rules import base
from hk2nnx.convert.rules.args import bind, has_star, literal_string

INFO = base.info("HK014", "mlp", Safety.SAFE, "Basic Module definition", __name__)
QUALNAME = "haiku.nets.MLP"
_PARAMS = ("output_sizes", "w_init", "b_init", "with_bias", "activation", "activate_final", "name")
_LINEAR_ARGS = ("w_init", "b_init", "with_bias")


class MLPRule(base.SiteRule):
    info = INFO

    def claims(self, qualname, ctx) -> bool:
        return qualname == QUALNAME

    def _bound(self, site) -> dict[str, cst.Arg]:
        if has_star(site.ctor):
            raise Refusal(site.data["construct"], "*args/**kwargs hide which arguments are given",
                          INFO.section, INFO.code)
        return bind(site.ctor, _PARAMS)

    def _sizes(self, site, plan) -> list[cst.BaseExpression]:
        given = self._bound(site).get("output_sizes")
        value = given.value if given is not None else None
        if not m.matches(value, m.List() | m.Tuple()) or not value.elements or any(
                m.matches(e, m.StarredElement()) for e in value.elements):
            raise Refusal(site.data["construct"], "output_sizes is not written out as a list or "
                          "tuple, so the layers cannot be built statically", INFO.section,
                          INFO.code)
        return [plan.hoist(e.value, site, site.data["construct"]) for e in value.elements]

    def haiku_name(self, site, plan) -> str:
        given = self._bound(site).get("name")
        if given is None or plan.ctx.code(given.value) == "None":
            return "mlp"
        text = literal_string(given.value)
        if text is None:
            raise Refusal(site.data["construct"], "its name= is not a string literal, so the NNX "
                          "attribute cannot be named statically", INFO.section, INFO.code)
        return text

    def input_names(self, site, plan, call) -> list[str]:
        return ["inputs", "dropout_rate", "rng"]

    def out_dim(self, site, plan, inputs):
        return self._sizes(site, plan)[-1]

    def build(self, site, plan) -> str:
        self._check_calls(site, plan)
        bound = self._bound(site)
        activation = bound.get("activation")
        act = plan.ctx.code(plan.hoist(activation.value, site, site.data["construct"])) \
            if activation is not None else "jax.nn.relu"
        final = bound.get("activate_final")
        final_text = plan.ctx.code(final.value) if final is not None else "False"
        if final_text not in ("True", "False"):
            raise Refusal(site.data["construct"], "activate_final is not a literal True/False",
                          INFO.section, INFO.code)
        extra = [bound[k].with_changes(keyword=cst.Name(k), equal=cst.AssignEqual())
                 for k in _LINEAR_ARGS if k in bound]
        size = chain.input_size(site, plan, "inputs")
        sizes = self._sizes(site, plan)
        parts = []
        for i, out in enumerate(sizes):
            call = cst.Call(cst.Name("Linear"), [cst.Arg(out), *extra])
            code, size = chain.build_layer(site, plan, call, "haiku.Linear", size)
            parts.append(code)
            if i < len(sizes) - 1 or final_text == "True":
                parts.append(act)
        return chain.container("nnx.Sequential", parts, plan)

    def _check_calls(self, site, plan) -> None:
        for call in site.applies:
            if len(call.args) > 1 or has_star(call):
                raise Refusal(site.data["construct"], "dropout given in the call: NNX needs its "
                              "rate in __init__ and a train/eval mode (add nnx.Dropout by hand)",
                              INFO.section, INFO.code)


base.register_site(MLPRule())
