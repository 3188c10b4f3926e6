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

from hk2nnx.convert.findings import Safety
from hk2nnx.convert.rules import base, variables

SECTION = "Top-level Haiku functions vs top-level Flax modules"
INFO = base.info("HK008", "get-parameter", Safety.SAFE, SECTION, __name__)


class GetParameterRule(variables.VariableReader):
    info = INFO
    qualname = "haiku.get_parameter"
    construct = "hk.get_parameter"
    section = SECTION

    def wrap(self, site, plan, value: str) -> str:
        return f"nnx.Param({value})"


base.register_site(GetParameterRule())
