"""Convert a folder's files that share Haiku modules as one program, so definitions and uses agree."""

from __future__ import annotations

import ast
import dataclasses
import functools
import re
from pathlib import Path

import libcst as cst

from hk2nnx.convert import notebook, walk
from hk2nnx.convert.api import ConvertResult, convert_source
from hk2nnx.convert.findings import Finding
from hk2nnx.convert.imports import PROVIDERS, schedule_imports
from hk2nnx.convert.safety import read_source
from hk2nnx.convert.unused_imports import drop_made_unused
from hk2nnx.program.model import TensorSpec

_MARK = "__hk2nnx_file__ = {}\n"
_MARK_RE = re.compile(r"^__hk2nnx_file__ = (\d+)\n", re.MULTILINE)


def link(paths: list[Path]) -> dict[str, tuple[str, ...]]:
    """file -> the files converted with it (module definers first, the importer last).

    A file (or notebook) that imports a Haiku module class from a sibling file is converted
    together with that file, so a constructor and every call of it are rewritten from one
    analysis. Each importer gets its own group (two scripts would clash as one program); a
    definer's own result comes from its first group, a script's before a notebook's. Files
    without such imports are not listed.
    """
    python = {p.resolve(): p for p in paths if p.suffix == ".py"}
    groups: dict[str, tuple[str, ...]] = {}
    scripts_first = sorted((p for p in paths if p.suffix in (".py", ".ipynb")),
                           key=lambda p: p.suffix == ".ipynb")
    for path in scripts_first:
        if str(path) in groups:
            continue
        order = _closure(path, python, [])
        if len(order) < 2:
            continue
        group = tuple(str(p) for p in order)
        for member in group:
            groups.setdefault(member, group)
    return groups


def _closure(path: Path, python: dict[Path, Path], seen: list[Path]) -> list[Path]:
    """The files `path` takes Haiku module classes from, transitively, dependencies first."""
    if path in seen:
        return []
    seen.append(path)
    order: list[Path] = []
    for definer in _definers(path, python):
        order += [p for p in _closure(definer, python, seen) if p not in order]
    return order + [path] if order or path == seen[0] else [path]


def _definers(path: Path, python: dict[Path, Path]) -> list[Path]:
    tree = _parse(path)
    if tree is None:
        return []
    out = []
    for stmt in tree.body:
        if not isinstance(stmt, ast.ImportFrom) or not stmt.module or stmt.level > 1:
            continue
        sibling = python.get((path.parent / f"{stmt.module.replace('.', '/')}.py").resolve())
        if sibling is not None and sibling != path and sibling not in out and (
                {a.name for a in stmt.names} & _module_classes(sibling)):
            out.append(sibling)
    return out


@functools.lru_cache(maxsize=256)
def _module_classes(path: Path) -> frozenset[str]:
    """Classes of the file deriving from `hk.Module` (or from one of them)."""
    tree = _parse(path)
    found: set[str] = set()
    for stmt in tree.body if tree is not None else []:
        if isinstance(stmt, ast.ClassDef) and any(
                ast.unparse(b) in ("hk.Module", "haiku.Module") or ast.unparse(b) in found
                for b in stmt.bases):
            found.add(stmt.name)
    return frozenset(found)


def _parse(path: Path) -> ast.Module | None:
    try:
        source = read_source(str(path))
        if path.suffix == ".ipynb":
            source = notebook.load_program(source, str(path)).program
        return ast.parse(source) if "haiku" in source else None
    except (OSError, ValueError, SyntaxError):
        return None


@dataclasses.dataclass(frozen=True)
class _Program:
    """The group's files joined by markers; `starts[i]` is file i's first program line."""

    text: str
    starts: tuple[int, ...]


def convert_group(group: tuple[str, ...], path: str,
                  inputs: dict[str, list[TensorSpec]] | None = None
                  ) -> ConvertResult | notebook.NotebookResult:
    """`path`'s share of converting its group as one program (computed once per process)."""
    return _convert_all(group, _frozen(inputs))[group.index(path)]


def _frozen(inputs: dict | None) -> tuple:
    return tuple(sorted((k, tuple(v)) for k, v in (inputs or {}).items()))


@functools.lru_cache(maxsize=16)
def _convert_all(group: tuple[str, ...], inputs: tuple
                 ) -> tuple[ConvertResult | notebook.NotebookResult, ...]:
    sources = [read_source(p) for p in group]
    notebooks = {i: notebook.load_program(s, p) for i, (p, s) in enumerate(zip(group, sources))
                 if p.endswith(".ipynb")}
    texts = [notebooks[i].program if i in notebooks else s for i, s in enumerate(sources)]
    program = _join(texts)
    result = convert_source(program.text, filename=group[-1], inputs=dict(inputs) or None)
    pieces = _split(result.code, len(group), group[-1]) if result.changed else texts
    out = []
    for i, (path, text, piece) in enumerate(zip(group, texts, pieces)):
        code = _tidy_imports(piece, text) if piece != text else text
        findings = [_place(f, i, program.starts, path) for f in result.findings
                    if _file_of(f.line, program.starts) == i]
        if i in notebooks:
            out.append(notebook.rebuild(notebooks[i], code, findings, path))
        else:
            out.append(ConvertResult(code, code != text, findings, path))
    return tuple(out)


def _join(sources: list[str]) -> _Program:
    text, starts = "", []
    for i, source in enumerate(sources):
        text += _MARK.format(i)
        starts.append(text.count("\n") + 1)
        text += source if source.endswith("\n") or not source else source + "\n"
    return _Program(text, tuple(starts))


def _split(code: str, count: int, filename: str) -> list[str]:
    """Cuts the converted program back into files at the markers the converter carried."""
    marks = list(_MARK_RE.finditer(code))
    if [int(mark.group(1)) for mark in marks] != list(range(count)):
        raise ValueError(f"{filename}: the converter moved code across file boundaries")
    # Before the first marker is only what the converter imported; each file re-imports it.
    return [code[mark.end():(
        marks[n + 1].start() if n + 1 < count else len(code))] for n, mark in enumerate(marks)]


def _tidy_imports(piece: str, original: str) -> str:
    """Each file imports what its own code uses: nnx where it appears, no unused haiku, nothing
    the conversion of this file left unused."""
    tree = cst.parse_module(piece)
    used = walk.name_values(tree).intersection(PROVIDERS)
    return drop_made_unused(original, schedule_imports(tree, used)).code


def _file_of(line: int, starts: tuple[int, ...]) -> int:
    return max((i for i, s in enumerate(starts) if s <= line), default=0)


def _place(finding: Finding, index: int, starts: tuple[int, ...], path: str) -> Finding:
    return dataclasses.replace(finding, file=path,
                               line=max(1, finding.line - starts[index] + 1))
