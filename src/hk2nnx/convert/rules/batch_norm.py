"""HK012 batch-norm: `hk.BatchNorm(...)(x, is_training)` becomes `nnx.BatchNorm` in a mode.

What it converts: Haiku batch norm layers, through the constructor table (decay_rate ->
momentum, eps -> epsilon, create_scale/create_offset -> use_scale/use_bias, the feature count
from the data flow), and their `is_training` call argument.
Haiku: `hk.BatchNorm(True, True, 0.99)(x, is_training=training)`; statistics in Haiku state.
NNX: `self.batch_norm = nnx.BatchNorm(features, use_scale=True, use_bias=True, momentum=0.99,
rngs=rngs)` and `x = self.batch_norm(x)`: a pure mode flag leaves the signature (the module's
train/eval mode decides), any other `is_training` expression becomes
`use_running_average=not (...)`. Statistics are `nnx.BatchStat` attributes.
Faithful mode (the default) builds `hkc.BatchNorm` instead: Haiku's zero-debiased moving
averages, with the counter/hidden/average leaves the port fills. Idiomatic mode reports, as
INFO, how far nnx.BatchNorm's plain-momentum averages drift (`hk2nnx.compat.differences`).
Fix safety: review (idiomatic): running statistics differ early in training (outputs in train
mode and ported eval outputs agree).
Guide section: "Handling non-parameter states".
"""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from hk2nnx.convert import flags
from hk2nnx.convert.findings import Refusal, Safety
from hk2nnx.convert.rules import base
from hk2nnx.convert.rules.args import bind, drop_args, with_keyword
from hk2nnx.convert.rules.layers import LayerRule

INFO = base.info("HK012", "batch-norm", Safety.REVIEW, "Handling non-parameter states",
                 __name__)
_CALL = ("inputs", "is_training", "test_local_stats", "scale", "offset")


class BatchNormRule(LayerRule):
    info = INFO

    def claims(self, qualname, ctx) -> bool:
        return qualname == "haiku.BatchNorm"

    def _training(self, call: cst.Call) -> tuple[int, cst.Arg] | None:
        bound = bind(call, _CALL)
        for extra in ("test_local_stats", "scale", "offset"):
            if extra in bound:
                raise Refusal("hk.BatchNorm", f"the call argument {extra}= has no nnx.BatchNorm "
                              "equivalent", INFO.section, INFO.code)
        arg = bound.get("is_training")
        return (list(call.args).index(arg), arg) if arg is not None else None

    def flag_uses(self, site, plan, call) -> list:
        found = self._training(call)
        return [(found[1].value, flags.TRAIN)] if found else []

    def build(self, site, plan) -> str:
        for call in site.applies:
            if self._training(call) is None:
                raise Refusal("hk.BatchNorm", "is_training is missing", INFO.section, INFO.code)
        return super().build(site, plan)

    def rewrite_args(self, site, plan, call: cst.Call) -> cst.Call:
        original = next(c for c in site.applies if len(c.args) == len(call.args))
        index, arg = self._training(original)
        value, _ = flags.unwrap(arg.value)
        trimmed = drop_args(call, {index})
        if m.matches(value, m.Name()) and value.value in plan.flags.get(site.method, {}):
            return trimmed
        return with_keyword(trimmed, "use_running_average", _negated(arg.value, plan))


def _negated(expr: cst.BaseExpression, plan) -> str:
    text = plan.ctx.code(expr)
    if text in ("True", "False"):
        return "False" if text == "True" else "True"
    inner, polarity = flags.unwrap(expr)
    if polarity is flags.EVAL:
        return plan.ctx.code(inner)
    return f"not {text}" if m.matches(expr, m.Name() | m.Attribute()) else f"not ({text})"


base.register_site(BatchNormRule(), specialises=True)
