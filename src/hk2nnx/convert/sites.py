"""Finding sites: the places in a module body where Haiku builds modules, params or state."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import libcst as cst
import libcst.matchers as m

from hk2nnx.convert import dims
from hk2nnx.convert.findings import Refusal
from hk2nnx.convert.names import is_haiku
from hk2nnx.convert.rules.base import SiteRule, site_rule_for

if TYPE_CHECKING:
    from hk2nnx.convert.context import FileContext

INIT = "__init__"
CALL = "__call__"
SECTION = "Basic Module definition"
UNSUPPORTED = "HK000"  # documented in rules/unsupported.py
# Ancestors under which a site runs a number of times only the data decides.
_NESTED = (m.For() | m.While() | m.If() | m.Try() | m.Lambda() | m.FunctionDef() | m.ListComp()
           | m.SetComp() | m.DictComp() | m.GeneratorExp() | m.IfExp())


@dataclasses.dataclass(eq=False)
class Site:
    """One construct in a module body and what it becomes in NNX."""

    rule: SiteRule
    method: str  # the method Haiku builds it in
    ctor: cst.Call  # module rules: the constructor call; function rules: the call itself
    apply: cst.Call | None = None  # the inline application `Ctor(...)(x)`
    target: str | None = None  # `self.X` in __init__, or the local `v = Ctor(...)`
    holder: cst.CSTNode | None = None  # the statement storing it in `target`
    haiku_name: str | None = None  # Haiku's module name after numbering (module rules)
    attr: str = ""  # the NNX attribute
    inputs: dict[str, dims.Dim] | None = None  # sizes flowing into the first application
    env: dict[str, dims.Dim] | None = None  # sizes of the method's locals where it runs
    applies: list[cst.Call] = dataclasses.field(default_factory=list)
    data: dict = dataclasses.field(default_factory=dict)  # rule-specific findings

    @property
    def is_module(self) -> bool:
        return self.rule.kind == "module"

    def call_node(self) -> cst.Call:
        return self.apply or self.ctor


def find_sites(method: cst.FunctionDef, ctx: FileContext, section: str = SECTION) -> list[Site]:
    """Sites of one method, in source (= creation) order; Refusal for the unconvertible."""
    name = method.name.value
    sites: list[Site] = []
    locals_: dict[str, Site] = {}
    stacks = _stacks(method, ctx)
    calls = _calls(method.body)
    rules = {call: site_rule_for(ctx.qualname(call.func), ctx) for call in calls}
    claimed = [c for c, r in rules.items() if r is not None]
    decorators = [s["decorator"].decorator for s in stacks]
    owned = _owned(rules)
    for call in calls:
        rule = rules[call]
        if any(call is d for d in decorators) or id(call) in owned:
            continue
        if rule is None:
            _check_unhandled(call, ctx, claimed, section)
            continue
        stack = next((s for s in stacks if s["apply"].func is call), None)
        if stack is not None and rule.kind == "module":
            sites.append(Site(rule, name, call, apply=stack["apply"], applies=[stack["apply"]],
                              data={"construct": ctx.code(call.func), "stack": stack}))
            continue
        held = _held_list(call, rule, ctx)
        if held is not None:
            from hk2nnx.convert.rules.module_lists import list_site  # self.X = [Module(), ...]

            if not any(s.data.get("held") is held for s in sites):
                sites.append(list_site(rule, name, call, held, ctx, section))
            continue
        if rule.creates and _nested(call, method, ctx):
            from hk2nnx.convert.rules.module_loops import loop_site  # a loop of fixed length

            sites.append(loop_site(rule, name, call, method, ctx, section))
            continue
        site = Site(rule, name, call, data={"construct": ctx.code(call.func)})
        if rule.kind == "module":
            _place_module(site, call, ctx, locals_, section)
        sites.append(site)
    return sites


def _stacks(method: cst.FunctionDef, ctx: FileContext) -> list[dict]:
    """Layer stacks (`@hk.experimental.layer_stack(n)` defs and lambdas), checked and taken apart."""
    from hk2nnx.convert.rules import layer_stack

    return layer_stack.find_stacks(method, ctx)


def _calls(body: cst.CSTNode) -> list[cst.Call]:
    return list(m.findall(body, m.Call()))


def _held_list(call: cst.Call, rule: SiteRule, ctx: FileContext) -> cst.CSTNode | None:
    if rule.kind != "module" or not rule.creates:
        return None
    from hk2nnx.convert.rules.module_lists import held_list

    return held_list(call, ctx)


def _owned(rules: dict[cst.Call, SiteRule | None]) -> set[int]:
    """Calls inside the arguments of a container (`hk.Sequential([...])`): its rule builds them."""
    out: set[int] = set()
    for call, rule in rules.items():
        if rule is not None and rule.owns_arguments:
            for arg in call.args:
                out.update(id(c) for c in m.findall(arg, m.Call()))
    return out


def _nested(call: cst.Call, method: cst.FunctionDef, ctx: FileContext) -> bool:
    node = ctx.parent(call)
    while node is not None and node is not method:
        if m.matches(node, _NESTED) and not _runs_once(node, ctx):
            return True
        node = ctx.parent(node)
    return False


def _runs_once(node: cst.CSTNode, ctx: FileContext) -> bool:
    """A lambda (or module) given to a transform that runs it once at init (`hk.remat`, ...)."""
    arg = ctx.parent(node)
    call = ctx.parent(arg)
    if not (m.matches(node, m.Lambda() | m.Call()) and m.matches(arg, m.Arg())
            and m.matches(call, m.Call())):
        return False
    rule = site_rule_for(ctx.qualname(call.func), ctx)
    return getattr(rule, "runs_body_once", False)


def _check_unhandled(call: cst.Call, ctx: FileContext, claimed: list[cst.Call],
                     section: str) -> None:
    qualname = ctx.qualname(call.func)
    if not is_haiku(qualname):
        return
    node = ctx.parent(call)
    while node is not None:
        if any(node is c for c in claimed):
            return  # an argument of a converted call: its rule decides
        node = ctx.parent(node)
    raise Refusal(ctx.code(call.func), f"no rule converts {qualname} yet", section, UNSUPPORTED,
                  call)


def _place_module(site: Site, call: cst.Call, ctx: FileContext, locals_: dict[str, Site],
                  section: str) -> None:
    parent = ctx.parent(call)
    if m.matches(parent, m.Call()) and parent.func is call:
        site.apply = parent
        site.applies.append(parent)
        return
    if m.matches(parent, m.Assign(targets=[m.AssignTarget(target=m.Name() | m.Attribute(
            value=m.Name("self"), attr=m.Name()))])):
        target = parent.targets[0].target
        site.target = target.value if m.matches(target, m.Name()) else target.attr.value
        site.data["local"] = m.matches(target, m.Name())
        site.holder = ctx.statement_of(call)
        locals_[site.target] = site
        return
    if m.matches(parent, m.Arg()) and _runs_once(call, ctx):
        site.data["passed"] = True  # `hk.remat(Block(8))(x)`: the transform's rule applies it
        return
    wrapper = _held_by_wrapper(call, ctx)
    if wrapper is not None and site.method != INIT:
        site.data["passed"] = True  # `hk.DeepRNN([hk.LSTM(8)])`: the module holds the core
        return
    if wrapper is not None:
        raise Refusal(ctx.code(wrapper.func), "a wrapper of cores built in __init__ does not "
                      "convert yet: NNX would hold its cores twice, under names ported "
                      "checkpoints do not follow", section, node=wrapper)
    raise Refusal(ctx.code(call.func), "the module is used in a way the converter does not "
                  "follow (store it in a variable or call it directly)", section, node=call)


def _held_by_wrapper(call: cst.Call, ctx: FileContext) -> cst.Call | None:
    """The `hk.DeepRNN([...])` / `hk.ResetCore(...)` in whose arguments the core is built."""
    node = ctx.parent(call)
    if m.matches(node, m.Element()) and m.matches(ctx.parent(node), m.List() | m.Tuple()):
        node = ctx.parent(ctx.parent(node))
    owner = ctx.parent(node)
    if not (m.matches(node, m.Arg()) and m.matches(owner, m.Call())):
        return None
    rule = site_rule_for(ctx.qualname(owner.func), ctx)
    return owner if getattr(rule, "holds_cores", False) else None


def applications(method: cst.FunctionDef, sites: list[Site], ctx: FileContext) -> None:
    """Records `v(...)` and `self.X(...)` calls of sites stored in a variable or attribute."""
    by_local = {s.target: s for s in sites if s.target and s.data.get("local")}
    by_attr = {s.target: s for s in sites if s.target and not s.data.get("local")}
    for site in (s for s in sites if "calls" in s.data and s.target):
        from hk2nnx.convert.rules.module_lists import uses  # modules of an nnx.List

        site.data.setdefault("uses", []).extend(uses(method, site))
    for call in _calls(method.body):
        func = call.func
        if m.matches(func, m.Name()) and func.value in by_local:
            by_local[func.value].applies.append(call)
        elif m.matches(func, m.Attribute(value=m.Name("self"), attr=m.Name())) and (
                func.attr.value in by_attr):
            by_attr[func.attr.value].applies.append(call)
