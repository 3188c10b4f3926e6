"""HK040 scan: `hk.scan(module, carry, xs)` becomes `nnx.scan` over the module attribute.

What it converts: `hk.scan` calls in module methods whose function is a module of the class
(built in the method, `cell = RNNCell(...)`, or in `__init__`), or a lambda using modules built
outside it (`lambda c, x: step(c, x)`; Haiku refuses modules created inside the scan).
Haiku: `carry, y = hk.scan(cell, carry, jnp.swapaxes(x, 1, 0))` then
`y = jnp.swapaxes(y, 0, 1)`: Haiku scans over the leading axis, so time goes first and back.
NNX: `carry, y = nnx.scan(lambda carry, cell, x: cell(carry, x), in_axes=(nnx.Carry, None, 1),
out_axes=(nnx.Carry, 1))(carry, self.rnn_cell, x)`: the module is broadcast (`None`), the scanned
axis is given by `in_axes`/`out_axes`, and swapaxes that only served the scan go.
A lambda takes the module first (`lambda self, c, x: ...`, broadcast with `None`) when it
uses one. `length`, `reverse` and `unroll` carry over.
Fix safety: safe.
Guide section: "Transformations".
"""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from hk2nnx.convert.findings import Refusal, Safety
from hk2nnx.convert.rules import base
from hk2nnx.convert.rules.args import bind_required
from hk2nnx.convert.rules.lifted import lambda_dim, uses_self, with_self

INFO = base.info("HK040", "scan", Safety.SAFE, "Transformations", __name__)
_NAMES = ("f", "init", "xs", "length", "reverse", "unroll")
_SWAP01 = m.Call(args=[m.Arg(), m.Arg(m.Integer("0") | m.Integer("1")),
                       m.Arg(m.Integer("1") | m.Integer("0"))])


class ScanRule(base.SiteRule):
    info = INFO
    kind = "function"
    creates = False
    needs_rngs = False

    def claims(self, qualname, ctx) -> bool:
        return qualname == "haiku.scan"

    def attr_base(self, site, plan) -> str:
        return "scan"

    def _parts(self, site, plan) -> dict:
        if "parts" in site.data:
            return site.data["parts"]
        bound = bind_required(site.ctor, _NAMES, 3, "hk.scan(module, carry, xs)", INFO)
        f = bound["f"].value
        module = None if m.matches(f, m.Lambda()) else _module_site(f, plan)
        xs, in_axis = _unswapped(bound["xs"].value, plan.ctx)
        site.data["parts"] = {"bound": bound, "module": module, "xs": xs, "in_axis": in_axis}
        return site.data["parts"]

    def out_dim(self, site, plan, ev):
        parts = self._parts(site, plan)
        module = parts["module"]
        sizes = [ev.size(parts["bound"]["init"].value), ev.size(parts["xs"])]
        if module is None:
            return lambda_dim(parts["bound"]["f"].value, sizes, ev)
        names = module.rule.input_names(module, plan, None)
        if module.inputs is None and len(names) >= 2:
            module.inputs = dict(zip(names, sizes))

    def build(self, site, plan) -> None:
        self._parts(site, plan)

    def schedule(self, site, plan) -> None:
        parts = self._parts(site, plan)
        ctx = plan.ctx
        out_axis, follow = _swapped_back(site, ctx)
        if follow is not None:
            ctx.remove(follow)
        middle = "" if parts["module"] is None else "None, "
        keywords = [f"in_axes=(nnx.Carry, {middle}{parts['in_axis']})",
                    f"out_axes=(nnx.Carry, {out_axis})"]
        keywords += [f"{k}={ctx.code(parts['bound'][k].value)}" for k in ("length", "reverse",
                                                                          "unroll")
                     if k in parts["bound"]]
        init_index = list(site.ctor.args).index(parts["bound"]["init"])
        xs_arg = parts["bound"]["xs"]
        xs_index = list(site.ctor.args).index(xs_arg)
        inner = parts["xs"] is not xs_arg.value

        f_index = list(site.ctor.args).index(parts["bound"]["f"])

        def rewrite(updated: cst.Call) -> cst.Call:
            xs = updated.args[xs_index].value
            if inner:
                xs = xs.args[0].value
            init = updated.args[init_index].value
            if parts["module"] is None:
                return _lambda_scan(updated.args[f_index].value, keywords, init, xs)
            code = (f"nnx.scan(\n    lambda carry, module, x: module(carry, x),\n"
                    f"    {', '.join(keywords)},\n)(_init, self.{parts['module'].attr}, _xs)")
            call = cst.parse_expression(code)
            return call.with_changes(args=[call.args[0].with_changes(value=init), call.args[1],
                                           call.args[2].with_changes(value=xs)])

        ctx.edit(site.ctor, rewrite)


def _lambda_scan(fn: cst.Lambda, keywords: list[str], init, xs) -> cst.Call:
    """`nnx.scan(lambda self, c, x: ..., in_axes=(None, nnx.Carry, 0), ...)(self, init, xs)`."""
    code = cst.Module(body=[]).code_for_node
    operands = [code(init), code(xs)]
    if uses_self([fn]):
        fn = with_self(fn)
        keywords = [k.replace("in_axes=(", "in_axes=(None, ", 1) for k in keywords]
        operands.insert(0, "self")
    return cst.parse_expression(f"nnx.scan(\n    {code(fn)},\n    {', '.join(keywords)},\n)"
                                f"({', '.join(operands)})")


def _module_site(f: cst.BaseExpression, plan):
    for site in plan.sites:
        if not site.is_module or site.target is None:
            continue
        local = site.data.get("local")
        if (local and m.matches(f, m.Name(site.target))) or (not local and m.matches(
                f, m.Attribute(value=m.Name("self"), attr=m.Name(site.target)))):
            return site
    raise Refusal("hk.scan", "scan a module of this class (a local `cell = Cell(...)` or "
                  "`self.cell`)", INFO.section, INFO.code)


def _unswapped(xs: cst.BaseExpression, ctx) -> tuple[cst.BaseExpression, int]:
    """`jnp.swapaxes(x, 1, 0)` -> (x, 1): nnx.scan reads axis 1 directly; else (xs, 0)."""
    if m.matches(xs, _SWAP01) and ctx.qualname(xs.func) == "jax.numpy.swapaxes" and (
            xs.args[1].value.value != xs.args[2].value.value):
        return xs.args[0].value, 1
    return xs, 0


def _swapped_back(site, ctx) -> tuple[int, cst.CSTNode | None]:
    """`carry, y = scan(...)` followed by `y = jnp.swapaxes(y, 0, 1)`: out_axes 1, drop it."""
    assign = ctx.parent(site.ctor)
    statement = ctx.statement_of(site.ctor)
    block = ctx.parent(statement)
    if not m.matches(assign, m.Assign(targets=[m.AssignTarget(m.Tuple(
            elements=[m.Element(), m.Element(m.Name())]))])):
        return 0, None
    ys = assign.targets[0].target.elements[1].value.value
    body = list(getattr(block, "body", ()))
    index = next(i for i, s in enumerate(body) if s is statement)
    follow = body[index + 1] if index + 1 < len(body) else None
    swap = m.SimpleStatementLine(body=[m.Assign(targets=[m.AssignTarget(m.Name(ys))],
                                                value=_SWAP01)])
    if m.matches(follow, swap) and ctx.qualname(follow.body[0].value.func) == \
            "jax.numpy.swapaxes" and m.matches(follow.body[0].value.args[0].value, m.Name(ys)):
        return 1, follow
    return 0, None


base.register_site(ScanRule())
