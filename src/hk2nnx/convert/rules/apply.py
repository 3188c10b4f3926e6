"""HK021 apply: `model.apply(params, rng, x, training=False)` becomes `model(x)` in a mode.

What it converts: calls of a converted transform's `apply` (and, for `hk.multi_transform`,
of the functions unpacked from `model.apply`).
Haiku: weights, state and a key go in with every call; `training` flags pick dropout/batch norm
behaviour per call; `transform_with_state` returns `(out, state)`.
NNX: the model holds weights, state and its Rngs, so only inputs remain; pure mode flags become
`model.train()` / `model.eval()` before the statement (once per run of equal modes; inside a
converted training step, where the step's model is split, see HK030);
`out, state = ...` becomes `out = ...` because the model updates its own state.
Fix safety: safe; a call given params other than the tree from `init` (say, trained ones)
is left for manual work, since the model would use its own weights instead.
Guide section: "Training step and compilation".
"""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from hk2nnx.convert import flags
from hk2nnx.convert.findings import Refusal, Safety
from hk2nnx.convert.params import positional_names
from hk2nnx.convert.refs import global_reads
from hk2nnx.convert.rules import base
from hk2nnx.convert.rules.args import bind, render
from hk2nnx.convert.transforms import Transformed, transformed

INFO = base.info("HK021", "apply", Safety.SAFE, "Training step and compilation", __name__)
SECTION = INFO.section


class ApplyRule(base.FileRule):
    info = INFO
    order = 20  # before HK022 (params-read): it consumes the trees passed to apply

    def apply(self, analysis) -> None:
        modes: dict[cst.CSTNode, str] = {}
        for t in transformed(analysis):
            if not t.ok:
                continue
            for call, method in _apply_calls(t, analysis):
                try:
                    _rewrite(t, call, method, analysis, modes)
                except Refusal as refusal:
                    analysis.ctx.refuse(call, refusal)


def _apply_calls(t: Transformed, analysis) -> list[tuple[cst.Call, str]]:
    ctx = analysis.ctx
    apply = m.Attribute(value=m.Name(t.var), attr=m.Name("apply"))
    if not t.multi:
        out = []
        for node in m.findall(ctx.tree, apply):
            parent = ctx.parent(node)
            if m.matches(parent, m.Call()) and parent.func is node:
                out.append((parent, "__call__"))
            else:
                ctx.refuse(node, Refusal(f"{t.var}.apply", "only direct calls are converted",
                                         SECTION, INFO.code))
        return out
    return _multi_calls(t, analysis, apply)


def _multi_calls(t: Transformed, analysis, apply) -> list[tuple[cst.Call, str]]:
    ctx = analysis.ctx
    out = []
    for stmt in analysis.index.statements:
        if not m.matches(stmt, m.SimpleStatementLine(body=[m.Assign(
                targets=[m.AssignTarget(target=m.Tuple())], value=apply)])):
            continue
        names = [e.value for e in stmt.body[0].targets[0].target.elements]
        if not all(m.matches(n, m.Name()) for n in names) or len(names) != len(t.methods):
            continue
        ctx.remove(stmt)
        for name, method in zip(names, t.methods):
            for call in m.findall(ctx.tree, m.Call(func=m.Name(name.value))):
                out.append((call, method))
    return out


def _rewrite(t: Transformed, call: cst.Call, method: str, analysis, modes) -> None:
    ctx = analysis.ctx
    lead = 1 + int(t.with_state) + int(t.apply_rng)
    if len(call.args) < lead or any(a.keyword or a.star for a in call.args[:lead]):
        raise Refusal(f"{t.var}.apply", "pass params, state and key positionally", SECTION,
                      INFO.code)
    trees = call.args[: 1 + int(t.with_state)]
    step = analysis.apply_overrides.get(id(call))  # inside a converted training step
    tree_reads = {id(n) for name in t.tree_names for n in global_reads(ctx, name)}
    for arg in trees:
        if id(arg.value) in tree_reads:
            analysis.consumed_tree_args.append(arg.value)
        elif step is None:
            raise Refusal(f"{t.var}.apply", f"it is given `{ctx.code(arg.value)}`, not the tree "
                          f"from {t.var}.init; NNX uses the weights inside `{t.var}` (see "
                          "the training-step section)", SECTION, INFO.code)
    names, targets, mode_flags = _signature(t, method, analysis)
    rest = call.args[lead:]
    bound = bind(call.with_changes(args=rest), names)
    mode = _mode(bound, mode_flags, ctx)
    positional, keywords = [], []
    for name, arg in bound.items():
        if name in mode_flags:
            continue
        target = targets.get(name, name)
        text = ctx.code(arg.value)
        if arg.keyword is None and len(positional) < len(targets) and \
                list(targets.values())[len(positional)] == target:
            positional.append(text)
        else:
            keywords.append((target, text))
    func = t.var if method == "__call__" else f"{t.var}.{method}"
    code = f"{func}({render(positional, keywords)})"
    _replace(t, call, code, analysis)
    if mode is not None and step is None:  # a training step sets its mode where it splits
        _set_mode(t, ctx.statement_of(call), mode, ctx, modes)


def call_mode(t: Transformed, call: cst.Call, analysis, method: str = "__call__") -> str | None:
    """"train" or "eval" as the call's mode flags say; None when it passes none."""
    names, _, mode_flags = _signature(t, method, analysis)
    lead = 1 + int(t.with_state) + int(t.apply_rng)
    return _mode(bind(call.with_changes(args=call.args[lead:]), names), mode_flags, analysis.ctx)


def _signature(t: Transformed, method: str, analysis):
    """Input names of the applied function, where each goes on the model, and its mode flags."""
    plan = t.model_plan(analysis)
    if t.root is not None and not t.multi:
        names = positional_names(t.fn, skip_self=False)
        child_flags = flags.mode_flags(plan, "__call__")
        mode_flags = {p: child_flags[q] for p, q in t.root.arguments.items() if q in child_flags}
        return names, dict(t.root.arguments), mode_flags
    if method not in plan.methods:
        raise Refusal(f"{t.var}.apply", f"{t.class_name} defines no method {method!r}", SECTION,
                      INFO.code)
    names = positional_names(plan.methods[method], skip_self=not plan.is_function)
    return names, {n: n for n in names}, flags.mode_flags(plan, method)


def _mode(bound, mode_flags, ctx) -> str | None:
    modes = set()
    for name, polarity in mode_flags.items():
        if name not in bound:
            continue
        value = bound[name].value
        if not m.matches(value, m.Name("True") | m.Name("False")):
            raise Refusal(ctx.code(value), "a mode flag that is not True/False: call "
                          "model.train() or model.eval() where it is decided", SECTION, INFO.code)
        training = (value.value == "True") == polarity
        modes.add("train" if training else "eval")
    if len(modes) > 1:
        raise Refusal("mode flags", "they disagree on train/eval", SECTION, INFO.code)
    return modes.pop() if modes else None


def _replace(t: Transformed, call: cst.Call, code: str, analysis) -> None:
    ctx = analysis.ctx
    if not t.with_state:
        ctx.replace(call, code)
        return
    parent = ctx.parent(call)
    if m.matches(parent, m.Assign(targets=[m.AssignTarget(target=m.Tuple(
            elements=[m.Element(), m.Element()]))])):
        target, state = (e.value for e in parent.targets[0].target.elements)
        if m.matches(state, m.Name()):
            analysis.consumed_tree_args.append(state)
        ctx.replace(call, code)
        ctx.edit(parent, lambda u: u.with_changes(targets=[u.targets[0].with_changes(
            target=target)]))
        return
    if m.matches(parent, m.Subscript(slice=[m.SubscriptElement(slice=m.Index(
            value=m.Integer("0")))])):
        ctx.replace(parent, code)
        return
    raise Refusal(f"{t.var}.apply", "its (output, state) result is used as a pair; NNX returns "
                  "only the output and updates the model's state in place", SECTION, INFO.code)


def _set_mode(t: Transformed, stmt: cst.CSTNode, mode: str, ctx, modes) -> None:
    block = ctx.parent(stmt)
    if modes.get(block) == mode:
        return
    modes[block] = mode
    ctx.insert_before(stmt, f"{t.var}.{mode}()\n")


base.register_file(ApplyRule())
