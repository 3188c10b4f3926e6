"""HK004 class-use: any other use of a converted module class is marked for manual work.

What it converts: nothing; it finds references to a converted class that no rule rewrote, e.g.
`Block(8)(x)` inside a plain helper function or inside a class that could not be converted.
Haiku: `Block(8)` builds a lazy module anywhere inside a transform.
NNX: `Block` now needs its input sizes and `rngs` and is built once in `__init__`; a use the
converter did not rewrite would fail at run time, so it is marked instead.
Fix safety: manual.
Guide section: "Basic Module definition".
"""

from __future__ import annotations

from hk2nnx.convert.findings import Refusal, Safety
from hk2nnx.convert.rules import base
from hk2nnx.convert.transforms import transformed

INFO = base.info("HK004", "class-use", Safety.MANUAL, "Basic Module definition", __name__)


class ClassUseRule(base.FileRule):
    info = INFO
    order = 90  # after every rule that rewrites uses of classes

    def apply(self, analysis) -> None:
        converted = {n for n, p in analysis.plans.items() if p.converts and n in
                     analysis.index.classes}
        if not converted:
            return
        for class_name in sorted(converted):
            for name in _references(analysis, class_name):
                if id(name) not in _rewritten(analysis):
                    analysis.ctx.refuse(name, Refusal(
                        class_name, f"{class_name} is now an NNX module built eagerly with its "
                        "input sizes and rngs; this use was not rewritten", INFO.section,
                        INFO.code))


def _references(analysis, class_name: str) -> list:
    """Every place the module-level name `class_name` is read (scope analysis, not text)."""
    node = analysis.index.classes[class_name].node
    scope = analysis.ctx.scopes.get(node)
    out = []
    for assignment in scope[class_name] if scope is not None else ():
        if getattr(assignment, "node", None) is node:
            out.extend(access.node for access in assignment.references)
    return out


def _rewritten(analysis) -> set[int]:
    cached = getattr(analysis, "_class_uses", None)
    if cached is not None:
        return cached
    out = set()
    for plan in analysis.plans.values():
        if plan.converts:
            out.update(id(c.func) for s in plan.sites if s.data.get("class") or s.data.get(
                "calls") for c in s.data.get("calls") or [s.ctor])  # containers: each call
    for t in transformed(analysis):
        if t.ok and t.root is not None:
            out.add(id(t.root.ctor.func))
    for found in analysis.index.classes.values():
        out.update(id(b.value) for b in found.node.bases)
    analysis._class_uses = out
    return out


base.register_file(ClassUseRule())
