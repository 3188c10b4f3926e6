"""HK017 vector-quantizer: `hk.nets.VectorQuantizer(EMA)(...)(x, is_training)` becomes the
compat class, with `is_training` as the module's mode.

What it converts: hk.nets.VectorQuantizer and hk.nets.VectorQuantizerEMA, through the
constructor table (`hkc.VectorQuantizer`/`hkc.VectorQuantizerEMA`, Haiku's arguments).
Haiku: `hk.nets.VectorQuantizerEMA(8, 16, 0.25, 0.99)(z, is_training=training)`; the EMA codebook
lives in Haiku state.
NNX: `self.vector_quantizer_ema = hkc.VectorQuantizerEMA(embedding_dim=8, ...)` and
`self.vector_quantizer_ema(z)`: a pure mode flag leaves the signature (`model.train()`/
`model.eval()` decide), another expression becomes `use_running_average=not (...)`. For
VectorQuantizer `is_training` changes nothing in Haiku and is dropped.
Fix safety: safe (the compat classes reproduce Haiku, state included).
Guide section: "Handling non-parameter states".
"""

from __future__ import annotations

import libcst as cst

from hk2nnx.convert.findings import Refusal, Safety
from hk2nnx.convert.rules import base
from hk2nnx.convert.rules.args import bind, drop_args
from hk2nnx.convert.rules.batch_norm import BatchNormRule

INFO = base.info("HK017", "vector-quantizer", Safety.SAFE, "Handling non-parameter states",
                 __name__)
_EMA = "haiku.nets.VectorQuantizerEMA"
_PLAIN = "haiku.nets.VectorQuantizer"


class VectorQuantizerRule(BatchNormRule):
    info = INFO

    def claims(self, qualname, ctx) -> bool:
        return qualname in (_EMA, _PLAIN)

    def _training(self, call: cst.Call) -> tuple[int, cst.Arg] | None:
        arg = bind(call, ("inputs", "is_training")).get("is_training")
        return (list(call.args).index(arg), arg) if arg is not None else None

    def build(self, site, plan) -> str:
        for call in site.applies:
            if self._training(call) is None:
                raise Refusal(site.data["construct"], "is_training is missing",
                              self.info.section, self.info.code)  # also NetsRule's
        return super(BatchNormRule, self).build(site, plan)

    def rewrite_args(self, site, plan, call: cst.Call) -> cst.Call:
        if site.data["qualname"] == _EMA:
            return super().rewrite_args(site, plan, call)
        original = next((c for c in site.applies if len(c.args) == len(call.args)), call)
        training = self._training(original)
        # None: the flag was already taken off this call (it became the module's mode).
        return call if training is None else drop_args(call, {training[0]})


base.register_site(VectorQuantizerRule(), specialises=True)
