"""HK003 dropout: `hk.dropout(hk.next_rng_key(), rate, x)` becomes an `nnx.Dropout` attribute.

What it converts: calls of `hk.dropout` inside module methods, with the rate written either as a
constant or as `rate if training else 0` (a mode flag).
Haiku: `x = hk.dropout(hk.next_rng_key(), 0.5 if training else 0, x)`.
NNX: `self.dropout = nnx.Dropout(0.5, rngs=rngs)` in `__init__` and `x = self.dropout(x)`; the
flag leaves the signature when switching dropout/batch norm is all it did (the module's
`train()`/`eval()` mode replaces it), otherwise it is passed as `deterministic=not training`.
An explicit key becomes `self.dropout(x, rngs=key)`, which draws the same mask.
Fix safety: safe.
Guide section: "Basic Module definition".
"""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from hk2nnx.convert import dims, flags
from hk2nnx.convert.findings import Safety
from hk2nnx.convert.rules import base
from hk2nnx.convert.rules.args import bind_required, render

INFO = base.info("HK003", "dropout", Safety.SAFE, "Basic Module definition", __name__)
_NAMES = ("rng", "rate", "x", "broadcast_dims")
_ZERO = m.MatchIfTrue(lambda n: m.matches(n, m.Integer() | m.Float())
                      and float(n.value.replace("_", "")) == 0.0)
_IMPLICIT_KEYS = ("haiku.next_rng_key", "haiku.maybe_next_rng_key")


class DropoutRule(base.SiteRule):
    info = INFO
    kind = "function"
    creates = False  # nnx.Dropout holds no variables, so a branch may use it

    def claims(self, qualname, ctx) -> bool:
        return qualname == "haiku.dropout"

    def _parts(self, site, plan) -> dict:
        if "parts" in site.data:
            return site.data["parts"]
        bound = bind_required(site.ctor, _NAMES, 3, "hk.dropout(key, rate, x)", INFO)
        rate, flag = _split_rate(bound["rate"].value)
        key = bound["rng"].value
        implicit = m.matches(key, m.Call(args=[])) and plan.ctx.qualname(key.func) in \
            _IMPLICIT_KEYS
        site.data["parts"] = {"bound": bound, "rate": rate, "flag": flag,
                              "key": None if implicit else key}
        return site.data["parts"]

    def attr_base(self, site, plan) -> str:
        return "dropout"

    def out_dim(self, site, plan, ev) -> dims.Dim:
        parts = self._parts(site, plan)
        for arg in site.ctor.args:
            if arg is not parts["bound"]["x"]:
                ev.size(arg.value)
        return ev.size(parts["bound"]["x"].value)

    def flag_uses(self, site, plan, call) -> list:
        flag = self._parts(site, plan)["flag"]
        return [flag] if flag is not None else []

    def build(self, site, plan) -> str:
        parts = self._parts(site, plan)
        rate = plan.ctx.code(plan.hoist(parts["rate"], site, "hk.dropout"))
        keywords = []
        if "broadcast_dims" in parts["bound"]:
            dims_ = plan.hoist(parts["bound"]["broadcast_dims"].value, site, "hk.dropout")
            keywords.append(("broadcast_dims", plan.ctx.code(dims_)))
        return f"nnx.Dropout({render([rate], [*keywords, ('rngs', 'rngs')])})"

    def schedule(self, site, plan) -> None:
        parts = self._parts(site, plan)
        index = list(site.ctor.args).index(parts["bound"]["x"])
        extra = []
        if parts["flag"] is not None:
            expr, _ = flags.unwrap(*parts["flag"])
            pure = m.matches(expr, m.Name()) and expr.value in plan.flags.get(site.method, {})
            if not pure:
                text = plan.ctx.code(parts["flag"][0])
                extra.append(("deterministic", f"not {text}" if parts["flag"][1] else text))
        if parts["key"] is not None:
            extra.append(("rngs", plan.ctx.code(parts["key"])))
        plan.ctx.edit(site.ctor, lambda u: _call(site.attr, u.args[index].value, extra))


def _call(attr: str, x: cst.BaseExpression, extra: list[tuple[str, str]]) -> cst.Call:
    args = [cst.Arg(x)] + [cst.Arg(cst.parse_expression(v), keyword=cst.Name(k), equal=cst.AssignEqual(
        cst.SimpleWhitespace(""), cst.SimpleWhitespace(""))) for k, v in extra]
    return cst.Call(func=cst.parse_expression(f"self.{attr}"), args=args)


def _split_rate(rate: cst.BaseExpression):
    """`r if training else 0` -> (r, (training, TRAIN)); `0 if eval else r` -> (r, (eval, EVAL))."""
    if m.matches(rate, m.IfExp(orelse=_ZERO)) and not m.matches(rate.body, _ZERO):
        return rate.body, (rate.test, flags.TRAIN)
    if m.matches(rate, m.IfExp(body=_ZERO)):
        return rate.orelse, (rate.test, flags.EVAL)
    return rate, None


base.register_site(DropoutRule())
