"""Transformed functions: `hk.transform(f)` and friends, what `f` builds, and who uses the result."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import libcst as cst
import libcst.matchers as m

from hk2nnx.convert.classes import ClassPlan
from hk2nnx.convert.findings import Refusal
from hk2nnx.convert.names import camel, fresh
from hk2nnx.convert.params import positional_names

if TYPE_CHECKING:
    from hk2nnx.convert.analysis import FileAnalysis

TRANSFORMS = {"haiku.transform": False, "haiku.transform_with_state": True}
MULTI = {"haiku.multi_transform": False, "haiku.multi_transform_with_state": True}
WRAPPERS = ("haiku.without_apply_rng", "haiku.without_state")
SECTION = "Variable creation"


@dataclasses.dataclass(eq=False)
class Root:
    """The one module a transformed function builds and calls, passing its arguments through."""

    class_name: str
    ctor: cst.Call
    arguments: dict[str, str]  # function parameter -> parameter of the module method it feeds
    method: str = "__call__"


@dataclasses.dataclass(eq=False)
class Init:
    """`params = VAR.init(key, *inputs)` (or `params, state = ...`) at module level."""

    statement: cst.SimpleStatementLine
    call: cst.Call
    targets: tuple[str, ...]


@dataclasses.dataclass(eq=False)
class Transformed:
    """`VAR = hk.transform(fn)` at module level, and what the NNX side builds instead."""

    var: str
    statement: cst.SimpleStatementLine
    fn: cst.FunctionDef
    with_state: bool
    multi: bool
    root: Root | None = None  # the function only passes its inputs to one module
    plan: ClassPlan | None = None  # otherwise the function itself becomes a module
    methods: tuple[str, ...] = ("__call__",)  # multi_transform: apply[i] -> method name
    init_args: dict[str, str] = dataclasses.field(default_factory=dict)  # multi: init param map
    class_name: str = ""
    apply_rng: bool = True  # False under hk.without_apply_rng
    inits: list[Init] = dataclasses.field(default_factory=list)
    ok: bool = True

    @property
    def tree_names(self) -> set[str]:
        """Names bound to Haiku trees by `init`: params, and state for `*_with_state`."""
        return {n for i in self.inits for n in i.targets}

    def model_plan(self, analysis: FileAnalysis) -> ClassPlan:
        return self.plan if self.root is None else analysis.plan(self.root.class_name)


def find_transformed(analysis: FileAnalysis) -> list[Transformed]:
    ctx = analysis.ctx
    found = []
    for name, assigns in analysis.index.assigns.items():
        for assign in assigns:
            call, with_state, multi = _transform_call(assign.value, ctx)
            no_rng = "haiku.without_apply_rng" in _wrappers(assign.value, ctx)
            if call is None:
                continue
            stmt = ctx.statement_of(assign)
            fn = _function(call.args[0].value if call.args else None, analysis, name)
            if fn is None:
                ctx.refuse(assign, Refusal(ctx.code(call.func), "only a function defined at "
                                           "module level (or a lambda calling one module) can "
                                           "be converted", SECTION, "HK020"))
                continue
            found.append(Transformed(name, stmt, fn, with_state, multi, apply_rng=not no_rng))
    return found


def _function(ref: cst.BaseExpression | None, analysis: FileAnalysis,
              var: str) -> cst.FunctionDef | None:
    """The transformed function: a module-level def, or a lambda seen as `def <var>(...)`.

    The lambda's parameters and body are the original nodes, so names still resolve; the
    wrapping def is not in the file and goes away with the transform statement.
    """
    if m.matches(ref, m.Name()):
        return analysis.index.functions.get(ref.value)
    if m.matches(ref, m.Lambda()) and not m.matches(ref.body, m.Lambda()):
        body = cst.IndentedBlock([cst.SimpleStatementLine([cst.Return(ref.body)])])
        return cst.FunctionDef(cst.Name(var), ref.params, body)
    return None


def _wrappers(value: cst.BaseExpression, ctx) -> list[str]:
    out = []
    while m.matches(value, m.Call(args=[m.Arg()])) and ctx.qualname(value.func) in WRAPPERS:
        out.append(ctx.qualname(value.func))
        value = value.args[0].value
    return out


def transformed(analysis: FileAnalysis) -> list[Transformed]:
    """Every transformed function of the file, as the analysis resolved them."""
    return analysis.transformed


def resolve_all(analysis: FileAnalysis) -> list[Transformed]:
    """Finds and resolves every transformed function (before any plan is built)."""
    out = find_transformed(analysis)
    for t in out:
        guarded(t, analysis, lambda t=t: (resolve(t, analysis), _set_inits(t, analysis)))
    return out


def guarded(t: Transformed, analysis: FileAnalysis, step) -> None:
    """Runs `step`; a refusal marks the transform as not converted and places its TODO."""
    if not t.ok:
        return
    try:
        step()
    except Refusal as refusal:
        t.ok = False
        analysis.ctx.refuse(refusal.node or t.statement, refusal)


def _set_inits(t: Transformed, analysis: FileAnalysis) -> None:
    t.inits = _inits(t, analysis)


def _inits(t: Transformed, analysis: FileAnalysis) -> list[Init]:
    init = m.Call(func=m.Attribute(value=m.Name(t.var), attr=m.Name("init")))
    found = []
    for stmt in analysis.index.statements:
        if m.matches(stmt, m.SimpleStatementLine(body=[m.Assign(value=init)])):
            assign = stmt.body[0]
            target = assign.targets[0].target
            names = [target] if m.matches(target, m.Name()) else [
                e.value for e in getattr(target, "elements", [])]
            if len(assign.targets) == 1 and all(m.matches(n, m.Name()) for n in names):
                found.append(Init(stmt, assign.value, tuple(n.value for n in names)))
    used = [c for c in m.findall(analysis.ctx.tree, init)]
    if not found or len(used) != len(found):
        node = next((c for c in used if not any(c is i.call for i in found)), t.statement)
        raise Refusal(f"{t.var}.init", "call it at module level as `params = "
                          f"{t.var}.init(key, *inputs)` so the model can be built there", SECTION,
                          "HK020").at(node)
    return found



def _transform_call(value: cst.BaseExpression, ctx) -> tuple[cst.Call | None, bool, bool]:
    while m.matches(value, m.Call(args=[m.Arg()])) and ctx.qualname(value.func) in WRAPPERS:
        value = value.args[0].value
    if not m.matches(value, m.Call()):
        return None, False, False
    qualname = ctx.qualname(value.func)
    if qualname in TRANSFORMS:
        return value, TRANSFORMS[qualname], False
    if qualname in MULTI:
        return value, MULTI[qualname], True
    return None, False, False


def resolve(t: Transformed, analysis: FileAnalysis) -> None:
    """Decides what the model is: a module class of the file, or the function as a module."""
    if t.multi:
        _resolve_multi(t, analysis)
        return
    t.root = _pass_through(t.fn, analysis)
    if t.root is not None:
        t.class_name = t.root.class_name
        return
    if not any(t.fn is f for f in analysis.index.functions.values()):
        raise Refusal(t.var, "a lambda is converted only when it calls one module with its own "
                      "arguments", SECTION, "HK020")
    taken = set(analysis.index.classes) | set(analysis.index.functions) | set(
        analysis.index.assigns)
    t.class_name = fresh(camel(t.fn.name.value), taken)
    t.plan = analysis.function_plan(t.fn, t.class_name)


def check_built(t: Transformed) -> None:
    """After building: a function turned into a module must convert, and not hide one root."""
    if t.plan is None:
        return
    if not t.plan.converts:
        raise t.plan.refusal[1]
    if _single_root(t.plan):
        raise Refusal(t.fn.name.value, "it wraps a single module with extra computation; Haiku "
                      "then names parameters from that module, which a generated wrapper class "
                      "would not", SECTION, "HK020")


def _single_root(plan: ClassPlan) -> bool:
    modules = [s for s in plan.sites if s.is_module]
    return len({s.haiku_name for s in modules}) == 1 and len(modules) == len(plan.sites)


def _pass_through(fn: cst.FunctionDef, analysis: FileAnalysis) -> Root | None:
    """`def f(x, training): return Model(256)(x, training)` -> Root(Model, {x: x, ...})."""
    body = [s for s in fn.body.body if not _is_docstring(s)]
    if len(body) != 1 or not m.matches(body[0], m.SimpleStatementLine(body=[m.Return(
            value=m.Call(func=m.Call()))])):
        return None
    apply = body[0].body[0].value
    class_name = analysis.ctx.qualname(apply.func.func)
    if class_name not in analysis.index.classes:
        return None
    child = analysis.plan(class_name)
    method = child.methods.get("__call__")
    fn_params = {p.name.value for p in fn.params.params}
    if method is None or not fn_params:
        return None
    names = positional_names(method)
    arguments = {}
    for i, arg in enumerate(apply.args):
        if arg.star or not m.matches(arg.value, m.Name()) or arg.value.value not in fn_params:
            return None
        target = arg.keyword.value if arg.keyword else (names[i] if i < len(names) else None)
        if target is None or arg.value.value in arguments:
            return None
        arguments[arg.value.value] = target
    return Root(class_name, apply.func, arguments)


def _resolve_multi(t: Transformed, analysis: FileAnalysis) -> None:
    """`module = M(...)`; `return init, (module.encode, ...)` -> methods of one M."""
    body = [s for s in t.fn.body.body if not _is_docstring(s)]
    refusal = Refusal("hk.multi_transform", "the function must build one module and return "
                      "(init, (module.method, ...))", "Using multiple methods", "HK023")
    if len(body) < 2 or t.fn.params.params:
        raise refusal
    build = body[0]
    if not m.matches(build, m.SimpleStatementLine(body=[m.Assign(
            targets=[m.AssignTarget(target=m.Name())], value=m.Call(func=m.Name()))])):
        raise refusal
    module_var = build.body[0].targets[0].target.value
    ctor = build.body[0].value
    class_name = analysis.ctx.qualname(ctor.func)
    ret = body[-1]
    if class_name not in analysis.index.classes or not m.matches(ret, m.SimpleStatementLine(
            body=[m.Return(value=m.Tuple(elements=[m.Element(), m.Element(value=m.Tuple())]))])):
        raise refusal
    init_ref, methods = ret.body[0].value.elements
    t.methods = tuple(_method_name(e.value, module_var, refusal) for e in methods.value.elements)
    t.init_args = _init_arguments(init_ref.value, body[1:-1], module_var, refusal)
    t.root = Root(class_name, ctor, dict(t.init_args))
    t.class_name = class_name


def _method_name(expr: cst.BaseExpression, module_var: str, refusal: Refusal) -> str:
    if m.matches(expr, m.Name(module_var)):
        return "__call__"
    if m.matches(expr, m.Attribute(value=m.Name(module_var), attr=m.Name())):
        return expr.attr.value
    raise refusal


def _init_arguments(ref: cst.BaseExpression, between: list, module_var: str,
                    refusal: Refusal) -> dict[str, str]:
    """The init function's parameters; each must go straight to `module(...)`."""
    if m.matches(ref, m.Name(module_var)):
        return {}
    for stmt in between:
        if m.matches(stmt, m.SimpleStatementLine(body=[m.Assign(
                targets=[m.AssignTarget(target=m.Name(ref.value))], value=m.Lambda(
                    body=m.Call(func=m.Name(module_var))))])) if m.matches(ref, m.Name()) else False:
            lam = stmt.body[0].value
            params = [p.name.value for p in lam.params.params]
            args = [a.value.value for a in lam.body.args if m.matches(a.value, m.Name())]
            if params == args:
                return {}
    raise refusal


def _is_docstring(stmt: cst.CSTNode) -> bool:
    return m.matches(stmt, m.SimpleStatementLine(body=[m.Expr(value=m.SimpleString()
                                                             | m.ConcatenatedString())]))
