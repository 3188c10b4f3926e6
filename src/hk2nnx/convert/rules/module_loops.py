"""HK060 module-loop: a layer built inline in a loop with a fixed count becomes an `nnx.List`.

What it converts: `for n in (32, 32): x = f(hk.Linear(n)(x))` in a module method (also
`for _ in range(3)`, `for i, n in enumerate((64, 32))`), where the loop runs over literal values,
the layer is applied where it is built, and its output feeds the next pass (`x = ...(x)`).
The layer may be a table layer or a module class of the file.
Haiku: every pass builds a new module: `linear`, `linear_1`, ... (or the `name=f"layer_{i}"` given).
NNX: `self.linears = nnx.List([nnx.Linear(in_features, 32, rngs=rngs), nnx.Linear(32, 32,
rngs=rngs)])` in `__init__`, one layer per pass with sizes chained, and the loop runs over
them: `for linear in self.linears: x = f(linear(x))` (zipped with the values when the body
still reads them). The list is named after its layers, the naming scheme's containers
(`hk2nnx.program.naming`), so `hk2nnx port` loads `linear_1` into its second element.
A loop building several modules a pass (`x = hk.Linear(n)(x); x = hk.LayerNorm(...)(x)`) gets
one list each, zipped by the loop, sizes chained through every module of every pass.
Not converted (stays with a TODO): loops over values only known at run time, loops nested in
branches or other loops, a layer stored in a variable first, passes that do not feed each other
through their modules alone, layers numbered past others of their kind (two of one kind a pass).
Fix safety: safe.
Guide section: "Basic Module definition".
"""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from hk2nnx.convert import dims, hoist
from hk2nnx.convert.chain import container, input_size
from hk2nnx.convert.findings import Refusal, Safety
from hk2nnx.convert.names import fresh
from hk2nnx.convert.rules import base
from hk2nnx.convert.sites import Site
from hk2nnx.program import naming

INFO = base.info("HK060", "module-loop", Safety.SAFE, "Basic Module definition", __name__)


def static_passes(loop: cst.For, ctx) -> list[dict[str, cst.BaseExpression]] | None:
    """The loop variables' values on each pass, when the source fixes them; else None."""
    it, target = loop.iter, loop.target
    if m.matches(it, m.Call(func=m.Name("enumerate"))) and len(it.args) == 1 and m.matches(
            target, m.Tuple(elements=[m.Element(m.Name()), m.Element()])):
        values = _values(it.args[0].value, ctx)
        if values is None:
            return None
        return [{target.elements[0].value.value: cst.Integer(str(i)), **_bind(target.elements[1]
                .value, v)} for i, v in enumerate(values)]
    values = _values(it, ctx)
    return None if values is None else [_bind(target, v) for v in values]


def _values(it: cst.BaseExpression, ctx) -> list[cst.BaseExpression] | None:
    if m.matches(it, m.Tuple() | m.List()) and it.elements and not any(
            m.matches(e, m.StarredElement()) for e in it.elements):
        return [e.value for e in it.elements]
    if m.matches(it, m.Call(func=m.Name("range"))) and 1 <= len(it.args) <= 2 and all(
            m.matches(a.value, m.Integer()) and a.keyword is None for a in it.args):
        bounds = [int(a.value.value) for a in it.args]
        return [cst.Integer(str(i)) for i in range(*([0] + bounds)[-2:])] or None
    return None


def _bind(target: cst.BaseExpression, value: cst.BaseExpression) -> dict:
    return {target.value: value} if m.matches(target, m.Name()) else {"": value}


class LoopRule(base.SiteRule):
    """Wraps the rule of the layer built in the loop (`site.data["rule"]`), once per pass."""

    info = INFO

    def claims(self, qualname, ctx) -> bool:
        return False  # made by sites.find_sites for a module rule's site inside a loop

    def _parts(self, site, plan) -> list[Site]:
        if "parts" not in site.data:
            calls = site.data.get("calls") or [site.ctor] * len(site.data["passes"])
            site.data["parts"] = [self._part(site, plan, env, call)
                                  for env, call in zip(site.data["passes"], calls)]
            first = site.data["parts"][0].data
            site.data.update({k: first[k] for k in ("class", "qualname") if k in first})
        for part in site.data["parts"]:
            part.env = site.env  # the sizes where the loop runs, once they are known
        return site.data["parts"]

    def _part(self, site, plan, env, call: cst.Call) -> Site:
        args = [a.with_changes(value=self._substituted(site, plan, a.value, env))
                if _reads(a.value, env) else a for a in call.args]
        changed = any(a is not b for a, b in zip(args, call.args))  # else findings keep its place
        part = Site(site.data["rule"], site.method, call.with_changes(args=args) if changed
                    else call, env=site.env, data={"construct": site.data["construct"]})
        part.data["name"] = part.rule.haiku_name(part, plan)
        return part

    def _substituted(self, site, plan, value, env):
        if m.matches(value, m.FormattedString()):
            text = "".join(self._text(site, p, env) for p in value.parts)
            return cst.SimpleString(repr(text))
        return dims.substitute(value, env)

    def _text(self, site, part, env) -> str:
        if m.matches(part, m.FormattedStringText()):
            return part.value
        value = env.get(part.expression.value) if m.matches(part.expression, m.Name()) else None
        if part.format_spec or part.conversion or not m.matches(value, m.Integer()):
            raise Refusal(site.data["construct"], "its name= reads more than the loop's "
                          "counter", INFO.section, INFO.code)
        return value.value

    def inner_names(self, site, plan) -> list[str]:
        return [p.data["name"] for p in self._parts(site, plan)]

    def haiku_name(self, site, plan) -> None:
        return None

    def input_names(self, site, plan, call) -> list[str]:
        return site.data["rule"].input_names(self._parts(site, plan)[0], plan, call)

    def chained(self, site) -> bool:
        """Each layer feeds the next (a loop's passes); else all take the same input."""
        return True

    def out_dim(self, site, plan, inputs):
        if len(_group(site, plan)) > 1:
            return self._chain(site, plan, inputs.get(self.input_names(site, plan, None)[0]))
        size = first = inputs.get(self.input_names(site, plan, None)[0])
        for part in self._parts(site, plan):
            part.inputs = {self.input_names(site, plan, None)[0]: size if self.chained(site)
                           else first}
            size = part.rule.out_dim(part, plan, part.inputs)
        return size

    def _chain(self, site, plan, given, build: bool = False):
        """Sizes through every pass of every module the loop builds (`x = b(a(x))` each pass):
        this site's constructor codes when `build`, else its output size after the last pass."""
        group = _group(site, plan)
        lead = group[0]
        name = self.input_names(lead, plan, None)[0]
        size = (lead.inputs or {}).get(name) if lead is not site or not build else None
        size = size if size is not None else (input_size(lead, plan, name) if build else given)
        codes, out = [], None
        for k in range(len(site.data["passes"])):
            for member in group:
                part = self._parts(member, plan)[k]
                part.inputs = {self.input_names(member, plan, None)[0]: size}
                if build and member is site:
                    codes.append(part.rule.build(part, plan))
                size = part.rule.out_dim(part, plan, part.inputs)
                out = size if member is site else out
        return codes if build else out

    def build(self, site, plan) -> str:
        slots = [naming.container_slot(n) for n in site.data["inner"]]
        if {b for b, _ in slots} != {slots[0][0]} or [i for _, i in slots] != list(
                range(len(slots))):
            raise Refusal(site.data["construct"], f"its passes are named "
                          f"{', '.join(site.data['inner'])}: only one kind numbered from 0 lines "
                          "up with an NNX container", INFO.section, INFO.code)
        if len(_group(site, plan)) > 1:
            return container("nnx.List", self._chain(site, plan, None, build=True), plan)
        name = self.input_names(site, plan, None)[0]
        size = first = input_size(site, plan, name)
        parts = self._parts(site, plan)
        codes = []
        for part in parts:
            part.inputs = {name: size}
            codes.append(part.rule.build(part, plan))
            size = part.rule.out_dim(part, plan, part.inputs) if self.chained(site) else first
        return container("nnx.List", codes, plan)

    def wants_rngs(self, site, plan) -> bool:
        return any(p.rule.wants_rngs(p, plan) for p in self._parts(site, plan))

    def rewrite_args(self, site, plan, call: cst.Call) -> cst.Call:
        part = self._parts(site, plan)[0]
        return part.rule.rewrite_args(part, plan, call.with_changes(
            func=cst.Name(site.data["element"])))

    def schedule_extra(self, site, plan) -> None:
        group = _group(site, plan)
        if site is not group[0]:
            return  # the first module of the loop writes the header for all
        loop: cst.For = site.data["loop"]
        names = [cst.Element(cst.Name(s.data["element"])) for s in group]
        lists = [f"self.{s.attr}" for s in group]
        if any(_reads(n, site.data["passes"][0]) for n in _body_reads(loop, group)):
            target = loop.target
            if m.matches(target, m.Tuple()) and not target.lpar:
                target = target.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
            names.append(cst.Element(target))
            lists.append(plan.ctx.code(loop.iter))
        if len(names) == 1:
            header = (names[0].value, cst.parse_expression(lists[0]))
        else:
            header = (cst.Tuple(names, lpar=[], rpar=[]),
                      cst.parse_expression(f"zip({', '.join(lists)})"))
        plan.ctx.edit(loop, lambda u: u.with_changes(target=header[0], iter=header[1]))


def _reads(node: cst.CSTNode, env: dict) -> bool:
    return any(n.value in env for n in hoist.loads(node))


def _group(site: Site, plan) -> list[Site]:
    """The sites of the modules one loop builds, in source order (a list's site: itself)."""
    loop = site.data.get("loop")
    if loop is None:
        return [site]
    return sorted((s for s in plan.sites if s.data.get("loop") is loop),
                  key=lambda s: s.data["index"])


def _body_reads(loop: cst.For, group: list[Site]) -> list[cst.Name]:
    """Names read in the loop body outside the constructors (which move to __init__)."""
    inside = {id(n) for s in group for n in m.findall(s.ctor, m.Name())}
    return [n for n in hoist.loads(loop.body) if id(n) not in inside]


def loop_site(rule: base.SiteRule, method_name: str, call: cst.Call, method: cst.FunctionDef,
              ctx, section: str) -> Site:
    """The site of a module built in a loop: checked here, converted by LoopRule."""
    construct = ctx.code(call.func)

    def refuse(why: str) -> Refusal:
        return Refusal(construct, why, section, INFO.code, call)

    loops, node = [], ctx.parent(call)
    while node is not None and node is not method:
        from hk2nnx.convert.sites import _NESTED  # the nesting find_sites refuses

        if m.matches(node, _NESTED):
            loops.append(node)
        node = ctx.parent(node)
    if len(loops) != 1 or not m.matches(loops[0], m.For(asynchronous=None, orelse=None)) or (
            rule.kind != "module"):
        raise refuse("it runs inside a loop, branch or nested function, so how many Haiku "
                     "modules it builds depends on the data")
    loop = loops[0]
    passes = static_passes(loop, ctx)
    if passes is None:
        raise refuse("it runs inside a loop over values only known at run time, so how many "
                     "Haiku modules it builds depends on the data")
    built = [c for c in m.findall(loop.body, m.Call()) if getattr(base.site_rule_for(
        ctx.qualname(c.func), ctx), "kind", None) == "module"]
    carried = {_carried(c, ctx) for c in built}
    if None in carried or len(carried) != 1:
        raise refuse("in a loop, apply each module where it is built, to the variable each pass "
                     "feeds to the next (`x = ...(Module(...)(x))`)")
    carried = carried.pop()
    if sum(1 for _ in m.findall(loop.body, m.AssignTarget(m.Name(carried)))) != len(built):
        raise refuse(f"each pass must feed the next (`{carried} = ...({carried})`), through "
                     "nothing but its modules")
    taken = {n.value for n in m.findall(method, m.Name())}
    elements = []
    for c in built:
        elements.append(fresh(naming.sanitize(_base(c, ctx)), taken | set(elements)))
    index = next(i for i, c in enumerate(built) if c is call)
    apply = ctx.parent(call)
    return Site(LOOP, method_name, call, apply=apply, applies=[apply],
                data={"construct": construct, "rule": rule, "loop": loop, "passes": passes,
                      "index": index, "element": elements[index]})


def _carried(call: cst.Call, ctx) -> str | None:
    """`x` when the module is applied where built, to `x`, in a statement `x = ...`."""
    apply = ctx.parent(call)
    if not (m.matches(apply, m.Call()) and apply.func is call and apply.args and m.matches(
            apply.args[0].value, m.Name())):
        return None
    carried = apply.args[0].value.value
    holder = ctx.statement_of(call)
    if m.matches(holder, m.SimpleStatementLine(body=[m.Assign(targets=[m.AssignTarget(
            m.Name(carried))])])):
        return carried
    return None


def _base(call, ctx) -> str:
    func = call.func
    name = func.attr.value if m.matches(func, m.Attribute()) else ctx.code(func)
    from hk2nnx.convert.names import haiku_default_name

    return haiku_default_name(name)


LOOP = LoopRule()
