"""HK018 nets: `hk.nets.ResNet*(...)(x, is_training)` and `hk.nets.MobileNetV1` become the
compat classes, with `is_training` as the module's mode.

What it converts: hk.nets.ResNet, ResNet18/34/50/101/152/200 and MobileNetV1, through the
constructor table (`hkc.ResNet18(num_classes=10, in_channels=3, rngs=rngs)`, Haiku's
arguments plus the input's channel count).
Haiku: `hk.nets.ResNet18(10)(images, is_training=training)`; batch statistics in Haiku state.
NNX: `self.res_net18 = hkc.ResNet18(num_classes=10, ...)` and `self.res_net18(images)`: a pure
mode flag leaves the signature (`model.train()`/`model.eval()` decide), another expression
becomes `use_running_average=not (...)`. ResNet's `test_local_stats` stays, as a keyword.
Children keep Haiku's names, so `hk2nnx port` loads a Haiku checkpoint into them.
Fix safety: safe (the compat classes reproduce Haiku, BatchNorm state included).
Guide section: "Handling non-parameter states".
"""

from __future__ import annotations

import libcst as cst

from hk2nnx.convert.findings import Safety
from hk2nnx.convert.rules import base
from hk2nnx.convert.rules.args import bind, drop_args, with_keyword
from hk2nnx.convert.rules.batch_norm import BatchNormRule
from hk2nnx.convert.rules.vector_quantizer import VectorQuantizerRule

INFO = base.info("HK018", "nets", Safety.SAFE, "Handling non-parameter states", __name__)
_RESNETS = frozenset(f"haiku.nets.ResNet{d}" for d in ("", 18, 34, 50, 101, 152, 200))
_MOBILENET = "haiku.nets.MobileNetV1"
_CALL = ("inputs", "is_training", "test_local_stats")


class NetsRule(VectorQuantizerRule):
    """VectorQuantizerRule's build: is_training required, the layer built from the table."""

    info = INFO

    def claims(self, qualname, ctx) -> bool:
        return qualname in _RESNETS or qualname == _MOBILENET

    def _training(self, call: cst.Call) -> tuple[int, cst.Arg] | None:
        arg = bind(call, _CALL).get("is_training")
        return (list(call.args).index(arg), arg) if arg is not None else None

    def rewrite_args(self, site, plan, call: cst.Call) -> cst.Call:
        """Drop `is_training` as batch norm does; a positional `test_local_stats` (which would
        slide into `use_running_average`'s place) becomes a keyword."""
        original = next(c for c in site.applies if len(c.args) == len(call.args))
        local = bind(original, _CALL).get("test_local_stats")
        positional = local is not None and local.keyword is None
        rewritten = BatchNormRule.rewrite_args(self, site, plan, call)
        if not positional:
            return rewritten
        index = next(i for i, a in enumerate(rewritten.args)
                     if a.keyword is None and plan.ctx.code(a.value) == plan.ctx.code(local.value)
                     and i > 0)
        return with_keyword(drop_args(rewritten, {index}), "test_local_stats",
                            plan.ctx.code(local.value))


base.register_site(NetsRule(), specialises=True)
