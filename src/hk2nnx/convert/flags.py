"""Mode flags: method arguments that only switch dropout and batch norm between train and eval.

NNX keeps that switch on the module (`model.train()` / `model.eval()`), so a pure mode flag
leaves every signature and call site; a flag with any other use stays and is passed on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import libcst as cst
import libcst.matchers as m

from hk2nnx.convert import hoist
from hk2nnx.convert.params import all_names, positional_names

if TYPE_CHECKING:
    from hk2nnx.convert.classes import ClassPlan

TRAIN, EVAL = True, False  # polarity: what True means for the flag


def unwrap(expr: cst.BaseExpression, polarity: bool = TRAIN) -> tuple[cst.BaseExpression, bool]:
    """`not not x` -> (x, polarity flipped twice)."""
    while m.matches(expr, m.UnaryOperation(operator=m.Not())):
        expr, polarity = expr.expression, not polarity
    return expr, polarity


# (plan, method) pairs whose flags are being worked out, across classes that build each other.
_IN_PROGRESS: set[tuple[int, str]] = set()


def mode_flags(plan: ClassPlan, method_name: str, active: frozenset[str] = frozenset()
               ) -> dict[str, bool]:
    """The method's pure mode flags with their polarity (TRAIN when True means training)."""
    cached = plan.flags.get(method_name)
    if cached is not None:
        return cached
    key = (id(plan), method_name)
    if key in _IN_PROGRESS:  # a class that builds itself (recursive code): no flags known
        return {}
    method = plan.methods[method_name]
    _IN_PROGRESS.add(key)
    try:
        consumed = _consumed(plan, method, active | {method_name})
    finally:
        _IN_PROGRESS.discard(key)
    params = all_names(method, skip_self=not plan.is_function)
    uses: dict[str, list[cst.Name]] = {}
    for name in hoist.loads(method.body):
        uses.setdefault(name.value, []).append(name)
    out = {}
    for param in params:
        polarities = {consumed.get(id(use)) for use in uses.get(param, [])}
        if polarities and None not in polarities and len(polarities) == 1:
            out[param] = polarities.pop()
    if not active:
        plan.flags[method_name] = out
    return out


def _consumed(plan: ClassPlan, method: cst.FunctionDef, active: frozenset[str]
              ) -> dict[int, bool]:
    """Names in the method that feed a mode switch, with the polarity they feed it."""
    out: dict[int, bool] = {}
    for site in plan.sites:
        for call in site.applies if site.is_module else [site.ctor]:
            for expr, polarity in site.rule.flag_uses(site, plan, call):
                name, polarity = unwrap(expr, polarity)
                if m.matches(name, m.Name()):
                    out[id(name)] = polarity
    for call in m.findall(method.body, m.Call(func=m.Attribute(value=m.Name("self")))):
        callee = call.func.attr.value
        if callee not in plan.methods or callee in active:
            continue
        flags = mode_flags(plan, callee, active)
        for expr, polarity in flag_arguments(plan.methods[callee], call, flags):
            name, polarity = unwrap(expr, polarity)
            if m.matches(name, m.Name()):
                out[id(name)] = polarity
    return out


def flag_arguments(callee: cst.FunctionDef, call: cst.Call, flags: dict[str, bool]
                   ) -> list[tuple[cst.BaseExpression, bool]]:
    """Arguments of `call` that land on the callee's pure mode flags."""
    names = positional_names(callee)
    out = []
    for index in flag_positions(callee, call, flags):
        out.append((call.args[index].value, flags[_param_at(call, index, names)]))
    return out


def flag_positions(callee: cst.FunctionDef, call: cst.Call, flags: dict[str, bool]) -> set[int]:
    names = positional_names(callee)
    return {i for i in range(len(call.args)) if _param_at(call, i, names) in flags}


def _param_at(call: cst.Call, index: int, names: list[str]) -> str | None:
    arg = call.args[index]
    if arg.keyword is not None:
        return arg.keyword.value
    return names[index] if not arg.star and index < len(names) else None
