"""HK061 module-list: a list of modules built in `__init__` becomes an `nnx.List`.

What it converts: `self.layers = [hk.Linear(n, name=f"layer_{i}") for i, n in enumerate(sizes)]`
(one `for` over literal values, `range(n)` or `enumerate(seq)`; `name=` absent or
`f"<name>_{i}"` with the counter) and `self.layers = [hk.Linear(64), hk.Linear(32)]` (a list
literal of one kind of module), where the
modules are table layers or module classes of the file, used as `for layer in self.layers`
(slices too), `self.layers[-1](x)` or `[head(x) for head in self.heads]`.
Haiku: `hk.Module` keeps a plain list; its modules are `~/layer_0`, `~/layer_1`, ...
NNX: Flax 0.12 refuses Modules in a plain list attribute: `self.layers = nnx.List([nnx.Linear(
in_features, 64, rngs=rngs), nnx.Linear(64, 32, rngs=rngs)])`, input sizes chained when a loop
feeds each layer's output to the next (`x = layer(x)`), else all sized from the same input. The
attribute is named after its modules (`layers` for `layer_0`, ...; `linears` for `linear`,
`linear_1`): the naming scheme's containers (`hk2nnx.program.naming`), so ported checkpoints load.
Over literal values the list is written out; over a constructor argument the comprehension stays
(`hk2nnx.convert.list_runtime`), sizes chained through `zip((in_features, *sizes), sizes)`.
A loop filling `self.X = []` with `self.X.append(Module(...))` (its one statement) is read as
the comprehension it spells.
Not converted (stays with a TODO): other ways of growing a list, comprehensions with `if` or two
`for`s, modules of several kinds, a list used other than by calling its modules, other modules
of the same name built beside a list whose length only the data knows.
Fix safety: safe.
Guide section: "Basic Module definition".
"""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from hk2nnx.convert import list_runtime
from hk2nnx.convert.chain import input_size
from hk2nnx.convert.findings import Refusal, Safety
from hk2nnx.convert.rules import base
from hk2nnx.convert.rules.module_loops import LoopRule, static_passes
from hk2nnx.convert.sites import Site

INFO = base.info("HK061", "module-list", Safety.SAFE, "Basic Module definition", __name__)
_SELF_X = m.Attribute(value=m.Name("self"), attr=m.Name())
_HELD = m.Assign(targets=[m.AssignTarget(m.Attribute(value=m.Name("self"), attr=m.Name()))])


class ListRule(LoopRule):
    info = INFO

    def chained(self, site) -> bool:
        return site.data.get("chained", False)

    def rewrite_args(self, site, plan, call):
        return call

    def out_dim(self, site, plan, inputs):
        if not site.data.get("runtime"):
            return super().out_dim(site, plan, inputs)
        name = self.input_names(site, plan, None)[0]
        return list_runtime.out_dim(site, plan, self._parts(site, plan)[0], inputs.get(name),
                                    name, self.chained(site))

    def build(self, site, plan) -> str:
        if not site.data.get("runtime"):
            return super().build(site, plan)
        name = self.input_names(site, plan, None)[0]
        first = input_size(site, plan, name)
        return list_runtime.build(site, plan, self._parts(site, plan)[0], first, name,
                                  self.chained(site))

    def schedule_extra(self, site, plan) -> None:
        held, code = site.data["held"], site.data["code"]
        if site.data.get("emptied") is not None:  # `self.X = []` and the loop appending to it
            emptied = site.data["emptied"]
            plan.ctx.remove(emptied)
            plan.ctx.edit(held, lambda u: cst.parse_statement(f"self.{site.attr} = {code}\n")
                          .with_changes(leading_lines=[*emptied.leading_lines, *u.leading_lines]))
        else:
            plan.ctx.replace(held, code)  # the whole list, not one call
        part = self._parts(site, plan)[0]
        for call in site.data.get("uses", []):
            plan.ctx.edit(call, lambda u, p=part: p.rule.rewrite_args(p, plan, u))


def held_list(call: cst.Call, ctx) -> cst.CSTNode | None:
    """The list display or comprehension holding `call`, when `self.X = <it>` stores it; or the
    loop `for ...: self.X.append(call)` right after `self.X = []`."""
    parent = ctx.parent(call)
    if m.matches(parent, m.Arg()):
        return _appending_loop(call, ctx)
    if m.matches(parent, m.Element()):
        parent = ctx.parent(parent)
    elif not m.matches(parent, m.ListComp()) or parent.elt is not call:
        return None
    if m.matches(parent, m.List() | m.ListComp()) and m.matches(ctx.parent(parent), _HELD):
        return parent
    return None


def _appending_loop(call: cst.Call, ctx) -> cst.For | None:
    append = ctx.parent(ctx.parent(call))
    if not m.matches(append, m.Call(func=m.Attribute(value=_SELF_X, attr=m.Name("append")),
                                    args=[m.Arg(keyword=None)])):
        return None
    line = ctx.parent(ctx.parent(append))
    loop = ctx.parent(ctx.parent(line))
    if not (m.matches(line, m.SimpleStatementLine(body=[m.Expr()])) and m.matches(
            loop, m.For(orelse=None, asynchronous=None)) and len(loop.body.body) == 1):
        return None
    empty = _before(loop, ctx)
    name = append.func.value.attr.value
    if m.matches(empty, m.SimpleStatementLine(body=[m.Assign(
            targets=[m.AssignTarget(m.Attribute(value=m.Name("self"), attr=m.Name(name)))],
            value=m.List(elements=[]))])):
        return loop
    return None


def _before(statement: cst.CSTNode, ctx) -> cst.CSTNode | None:
    block = ctx.parent(statement)
    body = list(getattr(block, "body", ()))
    index = next((i for i, s in enumerate(body) if s is statement), 0)
    return body[index - 1] if index else None


def list_site(rule: base.SiteRule, method_name: str, call: cst.Call, held: cst.CSTNode,
              ctx, section: str) -> Site:
    """The site of a list of modules (checked here, converted by ListRule)."""
    construct = ctx.code(call.func)

    def refuse(why: str) -> Refusal:
        return Refusal(construct, why, section, INFO.code, held)

    appended = m.matches(held, m.For())
    comp = None
    if appended or m.matches(held, m.ListComp()):
        comp = held if appended else held.for_in
        simple = appended or not comp.ifs and comp.inner_for_in is None
        passes = static_passes(comp, ctx) if simple else None
        runtime = list_runtime.loop_parts(comp) if simple and passes is None else None
        if passes is None and runtime is None:
            raise refuse("the list is built in a way the converter does not follow (one `for`, "
                         "over literal values, `range(n)` or `enumerate(seq)`)")
        if runtime is not None:  # one module stands for all: its name is the first's
            passes = [{}]
            call = list_runtime.first_name_call(call, runtime["counter"], construct, refuse)
        calls = [call] * len(passes)
    else:
        calls = [e.value for e in held.elements]
        if any(not m.matches(c, m.Call()) or ctx.qualname(c.func) != ctx.qualname(call.func)
               for c in calls):
            raise refuse("the list mixes kinds of modules or other values")
        passes = [{} for _ in calls]
    holder = _before(held, ctx) if appended else ctx.parent(held)
    target = (holder.body[0] if appended else holder).targets[0].target.attr.value
    return Site(LIST, method_name, call, target=target, holder=ctx.statement_of(held),
                data={"construct": construct, "rule": rule, "passes": passes, "calls": calls,
                      "local": False, "held": held, "comp": comp if not m.matches(held, m.List())
                      else None, "runtime": runtime if comp is not None else None,
                      "emptied": holder if appended else None})


def uses(method: cst.FunctionDef, site: Site) -> list[cst.Call]:
    """Calls of the list's modules in `method`: `for v in self.X[...]` then `v(...)`,
    `[v(...) for v in self.X]`, `self.X[k](...)`; Refusal for any other read of `self.X`."""
    held = m.Attribute(value=m.Name("self"), attr=m.Name(site.target))
    over = held | m.Subscript(value=held)
    found: list[cst.Call] = []
    allowed: set[int] = set()
    for loop in m.findall(method, m.For(iter=over, target=m.Name()) | m.CompFor(
            iter=over, target=m.Name())):
        name = loop.target.value
        scope = loop.body if m.matches(loop, m.For()) else None
        body = scope if scope is not None else _comprehension_of(method, loop)
        for call in m.findall(body, m.Call(func=m.Name(name))):
            found.append(call)
            if m.matches(loop, m.For()):
                site.data["chained"] = site.data.get("chained", False) or _carried(loop, call)
        allowed.update(id(n) for n in m.findall(loop.iter, held))
    for target in m.findall(method, m.AssignTarget(target=held)):
        allowed.add(id(target.target))  # where __init__ stores it
    for append in m.findall(method, m.Attribute(value=held, attr=m.Name("append"))):
        allowed.add(id(append.value))  # where __init__ fills it (checked by list_site)
    for call in m.findall(method, m.Call(func=m.Subscript(value=held))):
        found.append(call)
        allowed.update(id(n) for n in m.findall(call.func, held))
    if any(id(n) not in allowed for n in m.findall(method, held)):
        raise Refusal(site.data["construct"], f"self.{site.target} is used other than by calling "
                      "its modules in order", INFO.section, INFO.code, site.data["held"])
    return found


def _comprehension_of(method: cst.CSTNode, comp_for: cst.CompFor) -> cst.CSTNode:
    for comp in m.findall(method, m.ListComp() | m.GeneratorExp() | m.SetComp()):
        if comp.for_in is comp_for:
            return comp.elt
    return comp_for


def _carried(loop: cst.For, call: cst.Call) -> bool:
    """`x = ...v(x)...`: the output feeds the next pass."""
    if not call.args or not m.matches(call.args[0].value, m.Name()):
        return False
    name = call.args[0].value.value
    return bool(m.findall(loop.body, m.Assign(targets=[m.AssignTarget(m.Name(name))])))


LIST = ListRule()
