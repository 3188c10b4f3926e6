"""Shared machinery for Haiku's lifted transforms (remat, vmap, cond, switch, fori_loop).

Each rule names which arguments are functions; this base sizes their bodies from the operands,
checks nothing unconverted hides in them, and rewrites them so the module travels as an
operand: `lambda x: self.a(x)` becomes `lambda self, x: self.a(x)` with `self` passed first.
NNX transforms may read a module they close over, but drawing a key or updating a statistic
inside them must happen on a module passed in, so passing `self` is the form that always works.
"""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from hk2nnx.convert.findings import Refusal
from hk2nnx.convert.names import is_haiku
from hk2nnx.convert.rules import base
from hk2nnx.convert.rules.args import bind, has_star

_STATEFUL = ("haiku.next_rng_key", "haiku.maybe_next_rng_key", "haiku.next_rng_keys",
             "haiku.dropout", "haiku.set_state", "haiku.BatchNorm")
_SPACE = cst.SimpleWhitespace(" ")
_LONG = 72  # longer generated calls are laid out one argument per line


class LiftedRule(base.SiteRule):
    """A Haiku transform of functions, rewritten to its NNX namesake."""

    kind = "function"
    creates = False
    needs_rngs = False
    haiku: str = ""  # the qualified name claimed
    nnx: str = ""  # the NNX function written instead
    names: tuple[str, ...] = ()  # Haiku's parameters, in order
    required = 1
    usage = ""
    runs_body_once = False  # a lambda argument runs once at init: it may build modules

    def claims(self, qualname, ctx) -> bool:
        return qualname == self.haiku

    def attr_base(self, site, plan) -> str:
        return self.nnx.rpartition(".")[2]

    # -- what the call holds -------------------------------------------------------------------

    def bound(self, site) -> dict[str, cst.Arg]:
        if has_star(site.ctor):
            raise Refusal(self.usage.partition("(")[0], f"call it as {self.usage}",
                          self.info.section, self.info.code)
        bound = bind(site.ctor, self.names)
        if not set(self.names[:self.required]) <= set(bound):
            raise Refusal(self.usage.partition("(")[0], f"call it as {self.usage}",
                          self.info.section, self.info.code)
        return bound

    def functions(self, site) -> list[cst.BaseExpression]:
        """The function arguments (branches, bodies) as written."""
        raise NotImplementedError

    def operands(self, site, plan) -> list[cst.BaseExpression]:
        """The values the functions are applied to, in order."""
        raise NotImplementedError

    def applied(self, site, plan) -> cst.Call | None:
        """`hk.remat(f)(x)`: the call applying the transformed function, if it is applied at once."""
        parent = plan.ctx.parent(site.ctor)
        return parent if m.matches(parent, m.Call()) and parent.func is site.ctor else None

    # -- analysis ------------------------------------------------------------------------------

    def out_dim(self, site, plan, ev):
        """Sizes flow from the operands into each function's parameters and out of its body."""
        sizes = [ev.size(o) for o in self.operands(site, plan)]
        for arg in site.ctor.args:
            if not any(arg.value is f for f in self.functions(site)):
                ev.size(arg.value)
        out = None
        for fn in self.functions(site):
            if m.matches(fn, m.Lambda()):
                size = lambda_dim(fn, self.param_sizes(sizes), ev)
                out = out if out is not None else size
            else:  # `self.encode` or `Block(8)`: sized as a call of it
                args = [cst.Arg(o) for o in self.operands(site, plan)][:len(sizes)]
                size = _module_dim(fn, cst.Call(func=fn, args=args), plan, ev)
                out = out if out is not None else size
        return out

    def param_sizes(self, sizes: list) -> list:
        """The sizes of a function's parameters given the operands' sizes."""
        return sizes

    def build(self, site, plan) -> None:
        self.bound(site)
        for fn in self.functions(site):
            for call in m.findall(fn, m.Call()):
                qualname = plan.ctx.qualname(call.func)
                if is_haiku(qualname) and base.site_rule_for(qualname, plan.ctx) is None:
                    raise Refusal(plan.ctx.code(call.func), f"no rule converts {qualname} yet",
                                  self.info.section, "HK000", call)



class BranchRule(LiftedRule):
    """`hk.cond`, `hk.switch`: positional operands, `self` passed before them when used."""

    first_operand = 0  # the position of the first operand in the call

    def operands(self, site, plan):
        if any(a.keyword is not None for a in site.ctor.args):
            raise Refusal(self.usage.partition("(")[0], f"call it as {self.usage} (positional)",
                          self.info.section, self.info.code)
        return [a.value for a in site.ctor.args[self.first_operand:]]

    def replace_functions(self, call: cst.Call, edit) -> cst.Call:
        """`call` with `edit` applied to each function argument (after the sites' rewrites)."""
        raise NotImplementedError

    def schedule(self, site, plan) -> None:
        def rewrite(u: cst.Call) -> cst.Call:
            call = renamed(u, self.nnx)
            found: list[cst.BaseExpression] = []
            self.replace_functions(call, lambda f: found.append(f) or f)
            if not uses_self(found):
                return call
            call = self.replace_functions(call, with_self)
            return laid_out(insert_self(call, self.first_operand))

        plan.ctx.edit(site.ctor, rewrite)


class LoopRule(LiftedRule):
    """`hk.fori_loop`, `hk.while_loop`: the functions close over the module, which must not change."""

    def build(self, site, plan):
        super().build(site, plan)
        refuse_stateful(self, site, plan)

    def schedule(self, site, plan) -> None:
        plan.ctx.edit(site.ctor, lambda u: renamed(u, self.nnx))


class CurriedRule(LiftedRule):
    """`hk.remat(fun, ...)(*args)`, `hk.vmap(fun, ...)(*args)`: one function, applied at once."""

    def functions(self, site):
        return [self.bound(site)["fun"].value]

    def operands(self, site, plan):
        applied = self.applied(site, plan)
        if applied is None or any(a.star or a.keyword for a in applied.args):
            name = self.usage.partition("(")[0]
            raise Refusal(name, f"apply it where it is built, with positional arguments: "
                          f"{self.usage}", self.info.section, self.info.code)
        return [a.value for a in applied.args]


def refuse_stateful(rule: LiftedRule, site, plan) -> None:
    """Loops keep the closure form: a body drawing keys or updating state is left for a human."""
    for fn in rule.functions(site):
        for call in m.findall(fn, m.Call()):
            if plan.ctx.qualname(call.func) in _STATEFUL:
                raise Refusal(rule.usage.partition("(")[0], "its body draws keys or updates "
                              "state; pass the module through the loop's value by hand",
                              rule.info.section, rule.info.code)


def lambda_dim(fn: cst.Lambda, sizes: list, ev):
    """The size a lambda returns, its parameters sized in order from `sizes`."""
    names = [p.name.value for p in fn.params.params]
    saved, ev.env = ev.env, {**ev.env, **dict(zip(names, sizes))}
    try:
        return ev.size(fn.body)
    finally:
        ev.env = saved


def _module_dim(fn, call: cst.Call, plan, ev):
    """The size `fn(*operands)` returns: a module built in place, or a method of the class."""
    built = next((s for s in plan.sites if s.is_module and s.ctor is fn), None)
    if built is None:
        return ev.on_call(call, ev)[1]
    inputs = plan.bind(call, built.rule.input_names(built, plan, call), ev)
    if built.inputs is None:
        built.inputs = inputs
        built.env = dict(ev.env)
    return built.rule.out_dim(built, plan, inputs)


def uses_self(functions: list[cst.BaseExpression]) -> bool:
    """Whether the rewritten functions reach the module (`self.block(y)` once sites are done)."""
    return any(m.findall(fn, m.Name("self")) for fn in functions)


def with_self(fn: cst.BaseExpression) -> cst.BaseExpression:
    """`lambda x: body` -> `lambda self, x: body`; `f` -> `lambda self, *args: f(*args)`."""
    if m.matches(fn, m.Lambda()):
        first = cst.Param(cst.Name("self"), comma=cst.Comma(whitespace_after=_SPACE))
        params = fn.params.with_changes(params=[first, *fn.params.params])
        if not fn.params.params and fn.params.star_arg is cst.MaybeSentinel.DEFAULT:
            params = fn.params.with_changes(params=[first.with_changes(
                comma=cst.MaybeSentinel.DEFAULT)])
        return fn.with_changes(params=params)
    code = cst.Module(body=[]).code_for_node(fn)
    return cst.parse_expression(f"lambda self, *args: {code}(*args)")


def insert_self(call: cst.Call, at: int) -> cst.Call:
    """`call` with `self` as its positional argument number `at`."""
    args = list(call.args)
    new = cst.Arg(cst.Name("self"))
    if at < len(args):
        new = new.with_changes(comma=cst.Comma(whitespace_after=_SPACE))
    elif args:
        args[-1] = args[-1].with_changes(comma=cst.Comma(whitespace_after=_SPACE))
    args.insert(at, new)
    return call.with_changes(args=args)


def renamed(call: cst.Call, nnx: str) -> cst.Call:
    return call.with_changes(func=cst.parse_expression(nnx))


def laid_out(call: cst.Call) -> cst.Call:
    """A call too long for one line gets one argument per line (indented from its statement)."""
    code = cst.Module(body=[]).code_for_node
    if len(code(call)) <= _LONG:
        return call
    args = "".join(f"    {code(a.with_changes(comma=cst.MaybeSentinel.DEFAULT))},\n"
                   for a in call.args)
    return cst.parse_expression(f"{code(call.func)}(\n{args})")


def without(call: cst.Call, keywords: set[str]) -> cst.Call:
    """`call` without the named keyword arguments."""
    args = [a for a in call.args if a.keyword is None or a.keyword.value not in keywords]
    if args:
        args[-1] = args[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
    return call.with_changes(args=args)
