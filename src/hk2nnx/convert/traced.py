"""HK011 traced-size: sizes the data flow cannot follow, read from an abstract trace.

What it converts: the input size of a layer after code the size evaluator does not follow
(`x.reshape(...)`, flattening, slicing), e.g. `hk.Linear(10)(x.reshape((x.shape[0], -1)))`.
Haiku: the size is read from the data when the layer first runs.
NNX: the number the trace saw, `nnx.Linear(200, 10, rngs=rngs)`, when every traced instance
agrees; an INFO finding says so. Sample inputs come from the file's `init` call or `--input`.
Fix safety: review (the number holds for the traced input shape only).
Guide section: "Basic Module definition".

Only definitions run: imports, classes, functions and assignments built from literals, array
constructors and Haiku transforms; everything else at module level (training loops, file
reads) is left out. The trace itself is `hk2nnx.trace`: shapes only, no weights.
"""

from __future__ import annotations

import ast
from pathlib import Path

import libcst as cst
import libcst.matchers as m

from hk2nnx.convert import inputs, walk
from hk2nnx.convert.findings import Safety, Severity
from hk2nnx.convert.importing import importable_from
from hk2nnx.convert.rules import base
from hk2nnx.convert.tree import module_sites
from hk2nnx.program.model import TensorSpec

INFO = base.info("HK011", "traced-size", Safety.REVIEW, "Basic Module definition", __name__)
CODE = INFO.code
_SAFE_CALLS = ("haiku.", "jax.numpy.", "numpy.", "jax.random.key", "jax.random.PRNGKey",
               "builtins.float", "builtins.int", "builtins.bool", "builtins.str",
               "os.environ.get", "os.getenv")  # settings read from the environment


def sizes_if_needed(analysis) -> dict[int, list[tuple[str, ...]]]:
    """id(site) -> input descriptions per traced instance, when some site lacks a size."""
    if not any(_lacks_size(s) for p in analysis.plans.values() for s in p.sites if s.is_module):
        return {}
    out: dict[int, list[tuple[str, ...]]] = {}
    namespace = None
    for t in analysis.transformed:
        sample = _sample(t, analysis) if t.ok and t.inits else None
        if sample is None:
            continue
        namespace = namespace if namespace is not None else _definitions(analysis)
        if namespace is None or t.var not in namespace:
            break
        program = _trace(namespace[t.var], sample, t, analysis)
        if program is None:
            continue
        for path, site in _sites(t, analysis).items():
            calls = [c for c in program.calls if c.module == path and c.method == "__call__"]
            if calls:
                out.setdefault(id(site), []).append(calls[0].inputs)
    return out


def _lacks_size(site) -> bool:
    if getattr(site.rule, "needs_traced_shape", lambda _: False)(site):
        return True  # a whole input shape (hk.Bias, ExponentialMovingAverage): only a trace has it
    return not site.inputs or next(iter(site.inputs.values()), None) is None


def traced_shape(analysis, site, position: int) -> tuple[int, ...] | None:
    """The full shape of the site's `position`-th input, if every traced instance agrees."""
    shapes = set()
    for described in analysis.traced.get(id(site), []):
        try:
            shapes.add(TensorSpec.parse(described[position]).shape)
        except (ValueError, IndexError):
            return None
    return shapes.pop() if len(shapes) == 1 else None


def _sites(t, analysis) -> dict:
    if t.plan is not None:
        return module_sites(t.plan, "")
    plan = analysis.plan(t.class_name)
    given = next((a for a in t.root.ctor.args if a.keyword and a.keyword.value == "name"), None)
    root = given.value.evaluated_value if given is not None and m.matches(
        given.value, m.SimpleString()) else plan.default_name
    return module_sites(plan, root)


def _sample(t, analysis) -> tuple[list, dict] | None:
    """The first init call's inputs as specs and literals; None if any is unknown."""
    call = t.inits[0].call
    args, kwargs = [], {}
    for position, arg in enumerate(call.args[1:]):
        value = _value(arg.value, analysis, (t.fn.name.value, t.var), position)
        if value is _UNKNOWN or arg.star:
            return None
        if arg.keyword is None:
            args.append(value)
        else:
            kwargs[arg.keyword.value] = value
    return args, kwargs


_UNKNOWN = object()


def _value(expr: cst.BaseExpression, analysis, names: tuple[str, ...], position: int):
    spec = inputs.static_spec(expr, analysis.index)
    if spec is not None:
        return spec
    try:
        return ast.literal_eval(analysis.ctx.code(expr))
    except (ValueError, SyntaxError):
        pass
    given = inputs.given_spec(analysis.ctx, names, position)
    return given if given is not None else _UNKNOWN


def _definitions(analysis) -> dict | None:
    """Runs the file's definitions (not its other top-level code) in a fresh namespace."""
    ctx = analysis.ctx
    kept = [s for s in ctx.tree.body if _is_definition(s, ctx)]
    code = cst.Module(body=kept).code
    namespace: dict = {"__name__": "_hk2nnx_convert_trace"}
    path = Path(ctx.filename)
    folders = [path.resolve().parent] if path.is_file() else []
    try:
        with importable_from(*folders):  # its siblings, not another folder's same-named files
            exec(compile(code, ctx.filename, "exec"), namespace)  # noqa: S102  (definitions)
    except Exception as err:  # noqa: BLE001  (any error of the user's code: report, go on)
        ctx.report(CODE, ctx.tree, f"could not run the file's definitions to trace sizes: "
                   f"{type(err).__name__}: {err}", Severity.WARNING, Safety.MANUAL)
        return None
    return namespace


def _is_definition(stmt: cst.CSTNode, ctx) -> bool:
    if m.matches(stmt, m.ClassDef() | m.FunctionDef()):
        return True
    if not m.matches(stmt, m.SimpleStatementLine()):
        return False
    for small in stmt.body:
        if m.matches(small, m.Import() | m.ImportFrom()):
            continue
        if not m.matches(small, m.Assign()):
            return False
        for call in walk.findall(small.value, m.Call()):
            qualname = ctx.qualname(call.func) or ""
            if not qualname.startswith(_SAFE_CALLS):
                return False
    return True


def _trace(obj, sample, t, analysis):
    from hk2nnx.trace.tracer import trace

    try:
        return trace(obj, *sample[0], **sample[1])
    except Exception as err:  # noqa: BLE001  (a failed trace only means fewer sizes)
        analysis.ctx.report(CODE, t.statement, f"tracing {t.var} for sizes failed: "
                            f"{type(err).__name__}: {str(err)[:200]}", Severity.WARNING,
                            Safety.MANUAL)
        return None


def traced_size(analysis, site, position: int) -> str | None:
    """The last-axis size of the site's `position`-th input, if every traced instance agrees."""
    sizes = set()
    for described in analysis.traced.get(id(site), []):
        if position >= len(described):
            return None
        try:
            spec = TensorSpec.parse(described[position])
        except ValueError:
            return None
        if not spec.shape:
            return None
        sizes.add(spec.shape[-1])
    if len(sizes) != 1:
        return None
    size = str(sizes.pop())
    analysis.ctx.report(CODE, site.ctor, f"input size {size} of {site.data['construct']} read "
                        "from a trace of the original (the code does not show it)",
                        Severity.INFO, Safety.REVIEW)
    return size
