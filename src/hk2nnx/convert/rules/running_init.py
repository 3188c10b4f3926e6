"""HK047 running-init: `if hk.running_init(): ...` guards go; the apply-time branch stays.

What it converts: an `if` whose test is `hk.running_init()` (or `not hk.running_init()`), the
guard Haiku documents for `hk.cond`/`hk.switch`: run every branch at init to create all
parameters, choose one at apply. In `hk.vmap(..., split_rng=(not hk.running_init()))` it is
left to HK043.
Haiku: `if hk.running_init(): a(x); out = b(x)` / `else: out = hk.cond(p, a, b, x)`.
NNX: `out = nnx.cond(...)`: parameters are made in `__init__`, so only the apply-time branch is
kept (the whole `if` goes when it has no such branch).
Fix safety: safe.
Guide section: "Transformations".
"""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from hk2nnx.convert.findings import Refusal, Safety
from hk2nnx.convert.rules import base

INFO = base.info("HK047", "running-init", Safety.SAFE, "Transformations", __name__)


class RunningInitRule(base.SiteRule):
    info = INFO
    kind = "function"
    creates = False
    needs_rngs = False

    def claims(self, qualname, ctx) -> bool:
        return qualname == "haiku.running_init"

    def attr_base(self, site, plan) -> str:
        return "running_init"

    def _guard(self, site, plan) -> tuple[cst.If | None, bool]:
        """The `if` this call guards, and whether its body is the init-time branch.

        None for `hk.vmap(..., split_rng=(not hk.running_init()))`: HK043 reads that argument.
        """
        node = site.ctor
        while node is not None and not m.matches(node, m.Arg(keyword=m.Name("split_rng"))):
            node = plan.ctx.parent(node) if not m.matches(node, m.BaseStatement()) else None
        if node is not None:
            return None, False
        test = plan.ctx.parent(site.ctor)
        negated = m.matches(test, m.UnaryOperation(operator=m.Not()))
        statement = plan.ctx.parent(test) if negated else test
        if not m.matches(statement, m.If()) or statement.test is not (
                test if negated else site.ctor) or m.matches(statement.orelse, m.If()):
            raise Refusal("hk.running_init", "only `if hk.running_init(): ... else: ...` is "
                          "converted (keep the apply-time branch)", INFO.section, INFO.code)
        return statement, not negated

    def out_dim(self, site, plan, ev):
        return None

    def build(self, site, plan) -> None:
        self._guard(site, plan)

    def schedule(self, site, plan) -> None:
        statement, init_first = self._guard(site, plan)
        if statement is None:
            return

        def rewrite(u: cst.If):
            kept = u.orelse.body.body if init_first and u.orelse is not None else (
                u.body.body if not init_first else ())
            if not kept:
                return cst.RemovalSentinel.REMOVE
            first = kept[0].with_changes(leading_lines=u.leading_lines)
            return cst.FlattenSentinel([first, *kept[1:]])

        plan.ctx.edit(statement, rewrite)


base.register_site(RunningInitRule())
