"""The report's verify lines: each converted model whose sample inputs are known, checked.

A model is `VAR = hk.transform(fn)` with a module-level `VAR.init(key, *inputs)` whose inputs
are static (`jnp.ones((2, 32))`, literals), built by safe calls from the file's own names
(`jnp.zeros((1, SEQ_LEN), jnp.int32)`), or given with `--input VAR=SPEC`; arrays become specs,
so verify draws seeded random inputs of that shape and dtype. The original file's
definitions, and the converted file's definitions plus its `VAR = ...`, run in this process
(nothing else at module level: no training loops), each beside its own sibling files; then
`hk2nnx.verify` compares the two on the original's weights, ported. Whatever goes wrong is one
line of the report, never an abort.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
import tempfile
from pathlib import Path
from typing import Any

import libcst as cst
import libcst.matchers as m

from hk2nnx.compat import compat_source
from hk2nnx.convert import modes, notebook, traced, transforms
from hk2nnx.convert.analysis import FileAnalysis
from hk2nnx.convert.context import FileContext
from hk2nnx.convert.findings import Refusal
from hk2nnx.convert.importing import importable_from
from hk2nnx.convert.index import build_index
from hk2nnx.convert.report.model import VerifyResult
from hk2nnx.program.model import TensorSpec

_FLAGS = ("training", "is_training")  # verify turns these into model.train()/eval()


@dataclasses.dataclass(frozen=True)
class Sample:
    """One model to verify: its variable and the inputs of the file's first `init` call."""

    var: str
    args: tuple = ()
    kwargs: dict = dataclasses.field(default_factory=dict)
    skipped: str = ""  # why it cannot be verified, if it cannot


def find_samples(source: str, filename: str,
                 inputs: dict[str, list[TensorSpec]] | None = None) -> list[Sample]:
    """The transformed functions of an original file, with their sample inputs where known."""
    if "haiku" not in source:
        return []
    ctx = FileContext(source, filename, inputs)
    analysis = FileAnalysis(ctx, build_index(ctx))
    out = []
    for t in transforms.find_transformed(analysis):
        try:
            t.inits = transforms._inits(t, analysis)
        except Refusal:
            continue  # no module-level init: the converter left it as it was
        sample = _sample(t, analysis)
        if t.multi:
            out.append(Sample(t.var, skipped="multi_transform: run `hk2nnx verify --method`"))
        elif sample is None:
            out.append(Sample(t.var, skipped=f"sample inputs unknown: give --input {t.var}=SPEC"))
        else:
            out.append(_keyword_flags(sample, t.fn))
    return out


@dataclasses.dataclass(frozen=True)
class _Expr:
    """An input built from the file's own names (`jnp.zeros((1, SEQ_LEN), jnp.int32)` with
    SEQ_LEN imported): evaluated among the original's definitions, kept as its TensorSpec."""

    code: str


def _sample(t: transforms.Transformed, analysis: FileAnalysis) -> Sample | None:
    """The first init call's inputs: static specs and literals as the converter reads them,
    else array-building expressions of safe calls only (no user function runs)."""
    args, kwargs = [], {}
    for position, arg in enumerate(t.inits[0].call.args[1:]):
        value = traced._value(arg.value, analysis, (t.fn.name.value, t.var), position)
        if value is traced._UNKNOWN and _safe(arg.value, analysis.ctx):
            value = _Expr(analysis.ctx.code(arg.value))
        if value is traced._UNKNOWN or arg.star:
            return None
        if arg.keyword is None:
            args.append(value)
        else:
            kwargs[arg.keyword.value] = value
    return Sample(t.var, tuple(args), kwargs)


def _safe(expr: cst.BaseExpression, ctx: FileContext) -> bool:
    calls = m.findall(expr, m.Call())
    return bool(calls) and all((ctx.qualname(c.func) or "").startswith(traced._SAFE_CALLS)
                               for c in calls)


def _resolved(sample: Sample, namespace: dict) -> tuple[tuple, dict]:
    """`_Expr` inputs evaluated among the original's definitions, arrays as their specs."""
    def one(value: Any) -> Any:
        if not isinstance(value, _Expr):
            return value
        array = eval(value.code, namespace)  # safe calls only, see `_safe`
        return TensorSpec.of(array) if hasattr(array, "shape") else array

    return tuple(one(a) for a in sample.args), {k: one(v) for k, v in sample.kwargs.items()}


def _keyword_flags(sample: Sample, fn: cst.FunctionDef) -> Sample:
    """A positional `True` for `is_training` becomes a keyword, so verify sets the mode."""
    names = [p.name.value for p in fn.params.params]
    args, kwargs = list(sample.args), dict(sample.kwargs)
    while args and len(args) <= len(names) and names[len(args) - 1] in _FLAGS and isinstance(
            args[-1], bool):
        name = names[len(args) - 1]
        kwargs[name] = args.pop()
    return dataclasses.replace(sample, args=tuple(args), kwargs=kwargs)


def verify_run(files: list[tuple[Path, Path]], results: list[tuple[str, Any, str]],
               inputs: dict[str, list[TensorSpec]], mode: str) -> dict[str, list[VerifyResult]]:
    """path -> verify results for every converted file of a run that holds a model."""
    todo = [(path, relative, result, _python(path, source))
            for (path, relative), (_, result, source) in zip(files, results)
            if result is not None and path.suffix in (".py", ".ipynb")]
    samples = {str(p): _guarded_samples(s, str(p), inputs) for p, _, r, s in todo}
    if not any(samples.values()):
        return {}
    out: dict[str, list[VerifyResult]] = {}
    # What the user's modules print goes to stderr: stdout may be carrying converted code.
    with tempfile.TemporaryDirectory(prefix="hk2nnx-verify-") as tmp, modes.using(mode), \
            contextlib.redirect_stdout(sys.stderr):
        places = _write_both(Path(tmp), todo)
        for path, _, result, source in todo:
            haiku, nnx = places[str(path)]
            code = _python(path, result.code)
            out[str(path)] = [_verify_one(s, (haiku, source), (nnx, code), path.resolve().parent)
                              for s in samples[str(path)]]
    return {path: checks for path, checks in out.items() if checks}


def _python(path: Path, text: str) -> str:
    """A notebook's code cells as the one program the converter saw (magics masked)."""
    return notebook.load_program(text, str(path)).program if path.suffix == ".ipynb" else text


def _guarded_samples(source: str, filename: str, inputs: dict) -> list[Sample]:
    try:
        return find_samples(source, filename, inputs)
    except Exception:  # noqa: BLE001  (it converted; a report line is not worth an abort)
        return []


def _write_both(tmp: Path, todo: list) -> dict[str, tuple[Path, Path]]:
    """path -> (original copy, converted copy), both laid out as the originals are (so an
    `--in-place` run cannot mix them up), with `_haiku_compat.py` in each converted folder."""
    roots = sorted({path.parents[len(relative.parts) - 1].resolve() for path, relative, _, _
                    in todo})
    names = set().union(*(modes.compat_names(result.code) for _, _, result, _ in todo))
    out = {}
    for path, relative, result, source in todo:
        index = roots.index(path.parents[len(relative.parts) - 1].resolve())
        haiku, nnx = tmp / "haiku" / str(index) / relative, tmp / "nnx" / str(index) / relative
        for target, text in ((haiku, source), (nnx, result.code)):
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        if names:
            (nnx.parent / f"{modes.MODULE_NAME}.py").write_text(compat_source(names), "utf-8")
        out[str(path)] = (haiku, nnx)
    return out


def _verify_one(sample: Sample, haiku: tuple[Path, str], nnx: tuple[Path, str],
                folder: Path) -> VerifyResult:
    """`haiku` and `nnx` are (copy, text); modules neither copy's folder has come from the
    original `folder` (files the run did not convert)."""
    if sample.skipped:
        return VerifyResult(sample.var, "skipped", sample.skipped)
    import hk2nnx

    try:
        original = _definitions(*haiku, sample.var, folder)
        converted = _definitions(*nnx, sample.var, folder)
        args, kwargs = _resolved(sample, original)
        report = hk2nnx.verify(original[sample.var], converted[sample.var], *args, **kwargs)
    except hk2nnx.PortError as err:  # the converted model's layout is not the original's
        return VerifyResult(sample.var, "failed", f"weights do not fit: {_one_line(err)}")
    except Exception as err:  # noqa: BLE001  (the user's code or the conversion failed)
        return VerifyResult(sample.var, "error", f"could not verify: {type(err).__name__}: "
                            f"{_one_line(err)}")
    return VerifyResult.from_report(sample.var, report)


def _one_line(err: Exception, limit: int = 300) -> str:
    text = " ".join(str(err).split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _definitions(path: Path, source: str, var: str, fallback: Path) -> dict:
    """The namespace after running the file's definitions and its `var = ...` statements."""
    ctx = FileContext(source, str(path))
    kept = [s for s in ctx.tree.body if traced._is_definition(s, ctx) or _assigns(s, var)]
    namespace: dict = {"__name__": f"_hk2nnx_verify_{path.stem}", "__file__": str(path)}
    with importable_from(path.parent, fallback):
        exec(compile(cst.Module(body=kept).code, str(path), "exec"), namespace)  # noqa: S102
    if var not in namespace:
        raise LookupError(f"{path.name} defines no {var!r} at module level")
    return namespace


def _assigns(stmt: cst.CSTNode, var: str) -> bool:
    target = m.AssignTarget(target=m.Name(var))
    return m.matches(stmt, m.SimpleStatementLine(body=[m.Assign(targets=[target])]))
