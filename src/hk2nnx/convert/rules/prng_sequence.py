"""HK031 prng-sequence: `hk.PRNGSequence` key plumbing becomes an `nnx.Rngs` stream.

What it converts: `seq = hk.PRNGSequence(seed_or_key)` anywhere in the file, and the uses of
`seq` in the same file: `next(seq)`, `seq.take(n)`, `seq.reserve(n)` (a statement).
Haiku: a Python iterator of keys outside `transform`, e.g. `params = net.init(next(seq), x)`.
NNX: `seq = nnx.Rngs(seed_or_key)`; `next(seq)` is `seq()`, `seq.take(n)` is
`tuple(jax.random.split(seq(), n))` (a tuple, as Haiku returns), and `seq.reserve(n)` goes:
`nnx.Rngs` draws keys on demand, so there is nothing to reserve. No Haiku import is left.
Fix safety: review. The keys differ from Haiku's: `nnx.Rngs` folds a counter into its key where
Haiku splits, and it hands out typed keys (`jax.random.key`) where Haiku gives `uint32[2]` raw
keys, so code that indexes a key or compares key values needs a look. Other uses of the
sequence (passing it on, `seq.peek`) are left as written with a TODO.
Guide section: "Training step and compilation".
"""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from hk2nnx.convert import walk
from hk2nnx.convert.findings import Refusal, Safety
from hk2nnx.convert.rules import base

INFO = base.info("HK031", "prng-sequence", Safety.REVIEW, "Training step and compilation",
                 __name__)
_QUALNAME = "haiku.PRNGSequence"


class PRNGSequenceRule(base.FileRule):
    info = INFO
    order = 95  # last: its draws are rewritten after other rules copied them

    def apply(self, analysis) -> None:
        ctx = analysis.ctx
        names: set[str] = set()
        for call in walk.findall(ctx.tree, m.Call()):
            if ctx.qualname(call.func) != _QUALNAME:
                continue
            ctx.replace(call.func, "nnx.Rngs")
            assign = ctx.parent(call)
            if m.matches(assign, m.Assign(targets=[m.AssignTarget(target=m.Name())])):
                names.add(assign.targets[0].target.value)
        if names:
            _rewrite_uses(names, ctx)


def _rewrite_uses(names: set[str], ctx) -> None:
    """`next(seq)`, `seq.take(n)`, `seq.reserve(n)`; any other read of `seq` is refused.

    The draws are rewritten on their whole statement, last, so a rule that copied the
    statement's text (the init key going into the model's `nnx.Rngs`) is rewritten too."""
    handled: set[int] = set()
    statements: dict[int, cst.CSTNode] = {}
    for call in walk.findall(ctx.tree, m.Call(func=m.Name("next"), args=[m.Arg(m.Name())])):
        if call.args[0].value.value in names:
            handled.add(id(call.args[0].value))
            statements.setdefault(id(ctx.statement_of(call)), ctx.statement_of(call))
    method = m.Attribute(value=m.Name(), attr=m.Name("take") | m.Name("reserve"))
    for call in walk.findall(ctx.tree, m.Call(func=method, args=[m.Arg(keyword=None)])):
        if call.func.value.value not in names:
            continue
        if call.func.attr.value == "take":
            statements.setdefault(id(ctx.statement_of(call)), ctx.statement_of(call))
        elif m.matches(ctx.parent(call), m.Expr()):
            ctx.remove(ctx.statement_of(call))
        else:
            continue
        handled.add(id(call.func.value))
    for statement in statements.values():
        ctx.edit(statement, lambda u: u.visit(_Draws(names)))
    for name in walk.findall(ctx.tree, m.Name()):
        if name.value in names and id(name) not in handled and not _is_target(name, ctx):
            ctx.refuse(name, Refusal(name.value, "a PRNGSequence used other than by next(), "
                                     ".take() or .reserve()", INFO.section, INFO.code))


class _Draws(cst.CSTTransformer):
    """Draws from the sequences `names` as draws from their `nnx.Rngs` streams."""

    def __init__(self, names: set[str]) -> None:
        super().__init__()
        self.names = names

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        if m.matches(updated, m.Call(func=m.Name("next"), args=[m.Arg(m.Name())])) and \
                updated.args[0].value.value in self.names:
            return cst.Call(cst.Name(updated.args[0].value.value))
        take = m.Call(func=m.Attribute(value=m.Name(), attr=m.Name("take")),
                      args=[m.Arg(keyword=None)])
        if m.matches(updated, take) and updated.func.value.value in self.names:
            n = cst.Module([]).code_for_node(updated.args[0].value)
            return cst.parse_expression(
                f"tuple(jax.random.split({updated.func.value.value}(), {n}))")
        return updated


def _is_target(name: cst.Name, ctx) -> bool:
    parent = ctx.parent(name)
    return m.matches(parent, m.AssignTarget()) or (
        m.matches(parent, m.Attribute()) and parent.attr is name)


base.register_file(PRNGSequenceRule())
