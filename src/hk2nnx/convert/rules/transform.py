"""HK020 transform-init: `hk.transform(f)` + `f.init(key, x)` becomes one eager model instance.

What it converts: a module-level `model = hk.transform(forward)` (also `transform_with_state`,
`without_apply_rng`) and its `params = model.init(key, sample, ...)` statements.
Haiku: `forward` builds `Model(256, 10)` lazily; `init` traces it to create the params tree.
NNX: `model = Model(784, 256, 10, rngs=nnx.Rngs(0))` where `params = model.init(...)` stood:
the variable that held the transformed object holds the model; sizes come from the sample
inputs (`jnp.ones((1, 784))`) or `--input forward=f32[1,784]`; a `forward` that only calls
the model goes, one that builds several modules or parameters becomes an `nnx.Module` class.
Fix safety: safe.
Guide section: "Variable creation".
"""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from hk2nnx.convert import class_rewrite, hoist, inputs, layout
from hk2nnx.convert.findings import Refusal, Safety
from hk2nnx.convert.params import positional_names
from hk2nnx.convert.rules import base
from hk2nnx.convert.rules.args import bind, render
from hk2nnx.convert.transforms import SECTION, Transformed, transformed

INFO = base.info("HK020", "transform-init", Safety.SAFE, SECTION, __name__)
_KEY_FUNCTIONS = ("jax.random.key", "jax.random.PRNGKey")


class TransformInitRule(base.FileRule):
    info = INFO

    def apply(self, analysis) -> None:
        found = transformed(analysis)
        twice = {id(t.fn) for t in found if sum(u.fn is t.fn for u in found) > 1}
        for t in found:
            if t.ok and id(t.fn) in twice:  # two models would share one class: left to a person
                t.ok = False
                analysis.ctx.refuse(t.statement, Refusal(
                    t.var, f"{t.fn.name.value} is transformed more than once; keep one transform",
                    SECTION, INFO.code))
            if not t.ok:
                continue
            try:
                codes = [_model_code(t, init, analysis) for init in t.inits]
            except Refusal as refusal:
                t.ok = False
                analysis.ctx.refuse(refusal.node or t.statement, refusal)
                continue
            for init, code in zip(t.inits, codes):
                analysis.ctx.edit(init.statement, lambda u, c=code, v=t.var: _assign(u, v, c))
            analysis.ctx.remove(t.statement)
            _retire_function(t, analysis)


def _assign(stmt: cst.SimpleStatementLine, var: str, code: str) -> cst.SimpleStatementLine:
    new = cst.parse_statement(layout.assignment(var, code, 0))
    return new.with_changes(leading_lines=stmt.leading_lines,
                            trailing_whitespace=stmt.trailing_whitespace)


def _model_code(t: Transformed, init, analysis) -> str:
    ctx = analysis.ctx
    plan = t.model_plan(analysis)
    if not plan.converts:
        raise Refusal(t.class_name, f"{t.class_name} is not converted (see its TODO)", SECTION,
                      INFO.code)
    key, *rest = init.call.args or [None]
    if key is None or key.keyword is not None:
        raise Refusal(f"{t.var}.init", "pass the key first", SECTION, INFO.code)
    names = _input_names(t, analysis)
    bound = bind(init.call.with_changes(args=rest), names)
    positional = [_feature(t, plan, symbol, bound, names, analysis, init)
                  for symbol in plan.used_features]
    keywords = []
    if t.root is not None:
        for arg in t.root.ctor.args:
            if arg.keyword is not None and arg.keyword.value == "name":
                continue
            for name in hoist.loads(arg.value):
                if not hoist.is_global(name, ctx):
                    raise Refusal(t.class_name, f"its arguments use `{name.value}`, a value of "
                                  f"{t.fn.name.value}; NNX builds the model once, outside it",
                                  SECTION, INFO.code)
            if arg.keyword is None:
                positional.append(ctx.code(arg.value))
            else:
                keywords.append((arg.keyword.value, ctx.code(arg.value)))
    if plan.needs_rngs:
        keywords.append(("rngs", f"nnx.Rngs({_seed(key.value, ctx)})"))
    return f"{t.class_name}({render(positional, keywords)})"


def _input_names(t: Transformed, analysis) -> list[str]:
    """Parameter names the init inputs bind to, in the function that receives them."""
    if t.multi:
        methods = analysis.plan(t.class_name).methods
        if "__call__" not in methods:
            raise Refusal(f"{t.var}.init", f"{t.class_name} has no __call__ for init to run",
                          SECTION, INFO.code)
        return positional_names(methods["__call__"])
    return positional_names(t.fn, skip_self=False)


def _feature(t: Transformed, plan, symbol: str, bound, names, analysis, init) -> str:
    method, arg = plan.features[symbol]
    source = arg
    if t.root is not None and not t.multi:
        source = next((p for p, q in t.root.arguments.items() if q == arg), None)
    given = bound.get(source) if method == "__call__" and source else None
    size = inputs.static_last_dim(given.value, analysis.index) if given is not None else None
    if size is None and source in names:
        size = inputs.given_last_dim(analysis.ctx, (t.fn.name.value, t.var), names.index(source))
    if size is None:
        node = given.value if given is not None else init.call
        raise Refusal(f"{t.var}.init", f"the size of input `{source or arg}` cannot be read "
                      f"from the file; give it with --input {t.fn.name.value}=f32[...]",
                      SECTION, INFO.code, node)
    return size


def _seed(key: cst.BaseExpression, ctx) -> str:
    if m.matches(key, m.Name("None")):
        return "0"  # Haiku drew nothing random at init; NNX still wants a seed
    if m.matches(key, m.Call(args=[m.Arg(keyword=None)])) and ctx.qualname(key.func) in \
            _KEY_FUNCTIONS:
        return ctx.code(key.args[0].value)
    return ctx.code(key)


def _retire_function(t: Transformed, analysis) -> None:
    ctx = analysis.ctx
    if t.root is None:
        plan = t.plan
        class_rewrite.schedule_body(plan)
        ctx.edit(t.fn, lambda u: class_rewrite.function_as_class(u, plan))
        return
    uses = [n for n in m.findall(ctx.tree, m.Name(t.fn.name.value)) if n is not t.fn.name]
    if len(uses) <= 1:
        ctx.remove(t.fn)


base.register_file(TransformInitRule())
