"""Shared pieces of the get_parameter and get_state rules: names, shapes, dtypes, initial values."""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from hk2nnx.convert import dims
from hk2nnx.convert.findings import Refusal, Safety, Severity
from hk2nnx.convert.rules import base
from hk2nnx.convert.rules.args import bind, has_star, literal_string
from hk2nnx.convert.rules.initializers import nnx_initializer
from hk2nnx.program.naming import sanitize

_PLAIN_INITS = ("jax.numpy.zeros", "jax.numpy.ones", "jax.numpy.empty")
_CONSTANT = "haiku.initializers.Constant"


def bound(site, names: tuple[str, ...], construct: str, section: str, code: str) -> dict:
    if "bound" not in site.data:
        found = bind(site.ctor, names)
        if has_star(site.ctor) or "name" not in found or literal_string(
                found["name"].value) is None:
            raise Refusal(construct, "give the name as a string literal", section, code)
        site.data["bound"] = found
        site.data["leaf"] = literal_string(found["name"].value)
    return site.data["bound"]


def leaf_attr(site) -> str:
    return sanitize(site.data["leaf"])


def first_of_name(site, plan) -> bool:
    """Only the first site reading a name creates the variable; later ones share it."""
    return next(s for s in plan.sites if s.rule is site.rule and s.attr == site.attr) is site


def shape_code(site, plan, arg: cst.Arg | None, construct: str, section: str) -> str:
    if arg is None:
        raise Refusal(construct, "give the shape: NNX creates the variable before any call",
                      section, "HK008")
    value = plan.hoist(arg.value, site, construct)
    if m.matches(value, m.List(elements=[])):
        return "()"
    return plan.ctx.code(value)


def dtype_code(site, plan, arg: cst.Arg | None, code: str) -> str:
    """The dtype, or float32 when Haiku read it from the inputs (`x.dtype`)."""
    if arg is None or plan.ctx.code(arg.value) == "None":
        return "jnp.float32"
    try:
        return plan.ctx.code(plan.hoist(arg.value, site, "dtype"))
    except Refusal:
        plan.ctx.report(code, arg, f"dtype={plan.ctx.code(arg.value)} is read from the inputs, "
                        "which NNX does not have in __init__; float32 is used", Severity.INFO,
                        Safety.REVIEW)
        return "jnp.float32"


def initial_value(site, plan, init: cst.Arg | None, shape: str, dtype: str, construct: str,
                  section: str, code: str) -> tuple[str, bool]:
    """(expression creating the value, whether it draws from `rngs`)."""
    if init is None:
        raise Refusal(construct, "give init=: NNX creates the value in __init__", section, code)
    expr = init.value
    qualname = plan.ctx.qualname(expr.func if m.matches(expr, m.Call()) else expr)
    if qualname in _PLAIN_INITS:
        return f"{plan.ctx.code(expr)}({shape}, {dtype})", False
    if qualname == _CONSTANT and m.matches(expr, m.Call(args=[m.Arg()])):
        value = plan.ctx.code(plan.hoist(expr.args[0].value, site, construct))
        return f"jnp.full({shape}, {value}, {dtype})", False
    converted = nnx_initializer(expr, plan.ctx, lambda e: plan.hoist(e, site, construct))
    if converted is None:
        raise Refusal(construct, f"init={plan.ctx.code(expr)} has no NNX initializer in the "
                      "table", section, code)
    return f"{converted}(rngs.params(), {shape}, {dtype})", True


class VariableReader(base.SiteRule):
    """`hk.get_parameter` / `hk.get_state`: a variable built in `__init__`, read where it was.

    Subclasses set `qualname`, `construct`, `section` and say how the value is wrapped.
    """

    kind = "function"
    shared_name = True
    qualname = construct = section = ""
    names = ("name", "shape", "dtype", "init")

    def claims(self, qualname, ctx) -> bool:
        return qualname == self.qualname

    def _bound(self, site):
        return bound(site, self.names, self.construct, self.section, self.info.code)

    def attr_base(self, site, plan) -> str:
        self._bound(site)
        return leaf_attr(site)

    def out_dim(self, site, plan, ev) -> dims.Dim:
        """The last entry of the shape, which is what `x @ w` leaves as the last axis."""
        for arg in site.ctor.args:
            ev.size(arg.value)
        shape = self._bound(site).get("shape")
        if shape is None or not m.matches(shape.value, m.List() | m.Tuple()) or not (
                shape.value.elements):
            return None
        last = shape.value.elements[-1].value
        return plan.hoist(last, site, "") if plan.is_hoistable(last, site) else None

    def build(self, site, plan) -> str | None:
        if not first_of_name(site, plan):
            return None
        found = self._bound(site)
        shape = shape_code(site, plan, found.get("shape"), self.construct, self.section)
        dtype = dtype_code(site, plan, found.get("dtype"), self.info.code)
        value, random = initial_value(site, plan, found.get("init"), shape, dtype,
                                      self.construct, self.section, self.info.code)
        site.data["random"] = random
        return self.wrap(site, plan, value)

    def wrap(self, site, plan, value: str) -> str:
        raise NotImplementedError

    def wants_rngs(self, site, plan) -> bool:
        return bool(site.data.get("random"))

    def schedule(self, site, plan) -> None:
        plan.ctx.replace(site.ctor, f"self.{site.attr}[...]")
