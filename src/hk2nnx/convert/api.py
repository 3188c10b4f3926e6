"""convert_source / convert_file: Haiku source in, Flax NNX source and findings out."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import libcst as cst

from hk2nnx.convert import (
    modes,
    rules,  # noqa: F401  (registers every rule)
    walk,
)
from hk2nnx.convert.analysis import analyze_file
from hk2nnx.convert.context import FileContext
from hk2nnx.convert.findings import Finding
from hk2nnx.convert.imports import schedule_imports
from hk2nnx.convert.rewrite import apply_edits
from hk2nnx.convert.rules.base import FILE_RULES
from hk2nnx.convert.unused_imports import drop_made_unused
from hk2nnx.program.model import TensorSpec

_GENERATED_NAMES = ("nnx", "jnp", "jax", "hkc", "ocp", "os")


class ConvertSyntaxError(ValueError):
    """The file does not parse; nothing is converted or written for it."""

    def __init__(self, filename: str, line: int, col: int, msg: str) -> None:
        super().__init__(f"{filename}:{line}:{col}: syntax error: {msg}")
        self.filename, self.line, self.col, self.msg = filename, line, col, msg


@dataclasses.dataclass(frozen=True)
class ConvertResult:
    """The converted code, whether it differs from the input, and what the rules reported."""

    code: str
    changed: bool
    findings: list[Finding]
    filename: str = "<string>"
    compat: frozenset[str] = frozenset()  # `_haiku_compat` names the code imports (faithful)


def convert_source(source: str, *, filename: str = "<string>",
                   inputs: dict[str, list[TensorSpec]] | None = None,
                   mode: str | None = None) -> ConvertResult:
    """Rewrites Haiku source as Flax NNX source; untouched code survives byte for byte.

    `inputs` gives sample input specs for a transformed function or variable by name
    (`{"forward": [TensorSpec.parse("f32[1,784]")]}`) when the file's own `init` calls do not.
    `mode` is "faithful" (the default: Haiku's numerics, compat classes from `_haiku_compat`;
    `compat` lists the names that file must define) or "idiomatic" (NNX built-ins, differences
    reported); None keeps the mode of an enclosing `hk2nnx.convert.modes.using`.
    Raises ConvertSyntaxError for a file that does not parse.
    """
    with modes.using(mode) as run, walk.read_only_visits():
        result = _convert(source, filename, inputs)
    return dataclasses.replace(result, compat=frozenset(run.compat))


def _convert(source: str, filename: str,
             inputs: dict[str, list[TensorSpec]] | None) -> ConvertResult:
    module = _check_syntax(source, filename)
    if "haiku" not in source:
        return ConvertResult(source, False, [], filename)
    ctx = FileContext(source, filename, inputs, module=module)
    analysis = analyze_file(ctx)
    for rule in sorted(FILE_RULES, key=lambda r: r.order):
        rule.apply(analysis)
    tree = apply_edits(ctx)
    introduced = _referenced(tree) - _referenced(ctx.tree)
    tree = schedule_imports(tree, introduced)
    code = tree.code
    trimmed = drop_made_unused(source, tree, code)
    code = code if trimmed is tree else trimmed.code
    findings = sorted(ctx.findings, key=lambda f: (f.line, f.col, f.code))
    return ConvertResult(code, code != source, findings, filename)


def convert_file(path: str | Path, **kw) -> ConvertResult:
    path = Path(path)
    source = path.read_text(encoding="utf-8")
    return convert_source(source, filename=kw.pop("filename", str(path)), **kw)


def _check_syntax(source: str, filename: str) -> cst.Module:
    """The parsed module; ConvertSyntaxError (file, line, column) if either parser refuses."""
    try:
        compile(source, filename, "exec", dont_inherit=True)
    except SyntaxError as err:
        raise ConvertSyntaxError(filename, err.lineno or 1, err.offset or 1,
                                 err.msg or "invalid syntax") from None
    except ValueError as err:  # e.g. null bytes
        raise ConvertSyntaxError(filename, 1, 1, str(err)) from None
    try:
        return cst.parse_module(source)
    except cst.ParserSyntaxError as err:
        raise ConvertSyntaxError(filename, err.raw_line, err.raw_column + 1,
                                 err.message) from None


def _referenced(tree: cst.Module) -> set[str]:
    return walk.name_values(tree).intersection(_GENERATED_NAMES)
