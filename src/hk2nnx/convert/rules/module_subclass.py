"""HK001 module-subclass: an `hk.Module` subclass becomes an eager `nnx.Module` subclass.

What it converts: the class statement, `__init__` and every method of a Haiku module class.
Haiku: `class Block(hk.Module)` with `__init__(self, features, name=None)` calling
`super().__init__(name=name)`, submodules built lazily inside methods.
NNX: `class Block(nnx.Module)` with `__init__(self, in_features: int, features, rngs: nnx.Rngs)`:
no `name` (the attribute names the module), no super call, every submodule built in `__init__`
under the attribute `hk2nnx.program.naming` gives it, sizes Haiku read from the data passed in as
constructor parameters, `rngs` threaded through, attributes nothing reads any more dropped.
Fix safety: safe when every construct in the class has a rule; otherwise the class stays as
written and the construct that stopped it carries the TODO marker.
Guide section: "Basic Module definition".
"""

from __future__ import annotations

from hk2nnx.convert.class_rewrite import schedule_class
from hk2nnx.convert.findings import Safety
from hk2nnx.convert.rules import base

INFO = base.info("HK001", "module-subclass", Safety.SAFE, "Basic Module definition", __name__)


class ModuleSubclassRule(base.FileRule):
    info = INFO

    def apply(self, analysis) -> None:
        for name, found in analysis.index.classes.items():
            schedule_class(analysis.plans[name], found.node, found.base)


base.register_file(ModuleSubclassRule())
