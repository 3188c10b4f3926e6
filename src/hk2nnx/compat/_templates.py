"""Reads compat templates as source: each top-level statement, the names it defines and uses."""

from __future__ import annotations

import ast
import dataclasses
import functools
from importlib import resources

PACKAGE = "hk2nnx.compat.templates"


@dataclasses.dataclass(frozen=True)
class Binding:
    """One name an external import binds: `from module import name as alias` or `import module`."""

    alias: str
    module: str
    name: str | None  # None: a plain `import module [as alias]`

    def render(self) -> str:
        if self.name is None:
            return f"import {self.module}" + (f" as {self.alias}" if self.alias != self.module
                                               else "")
        return self.name if self.alias == self.name else f"{self.name} as {self.alias}"


@dataclasses.dataclass(frozen=True)
class Statement:
    """A top-level definition of a template, as text, with the names it needs."""

    template: str
    index: int
    text: str
    defines: frozenset[str]
    uses: frozenset[str]


@dataclasses.dataclass(frozen=True)
class Template:
    """One template file: why it exists, its imports and its definitions in file order."""

    name: str
    why: str
    future: bool  # has `from __future__ import annotations`
    imports: dict[str, Binding]  # external names by alias
    links: dict[str, str]  # names imported from other templates -> their template
    statements: tuple[Statement, ...]


class TemplateError(ValueError):
    """A template breaks the rules that let it be emitted as standalone source."""


def _import_bindings(node: ast.Import | ast.ImportFrom) -> list[Binding]:
    if isinstance(node, ast.Import):
        return [Binding(a.asname or a.name.split(".")[0], a.name if a.asname else
                        a.name.split(".")[0], None) for a in node.names]
    return [Binding(a.asname or a.name, node.module or "", a.name) for a in node.names]


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _defined(node: ast.stmt) -> set[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
    return {n.id for t in targets if t is not None for n in ast.walk(t)
            if isinstance(n, ast.Name)}


def parse_template(name: str, source: str) -> Template:
    """Splits a template into imports (external or from sibling templates) and statements."""
    tree = ast.parse(source)
    lines = source.splitlines()
    why = ast.get_docstring(tree) or ""
    body = tree.body[1:] if why else tree.body
    imports, links, statements, future = {}, {}, [], False
    for node in body:
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            future = True
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(PACKAGE + "."):
            links.update({a.asname or a.name: node.module.rsplit(".", 1)[-1] for a in node.names})
        elif isinstance(node, ast.ImportFrom) and node.level:
            raise TemplateError(f"{name}: relative import on line {node.lineno}")
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            if statements:
                raise TemplateError(f"{name}: import after definitions on line {node.lineno}")
            imports.update({b.alias: b for b in _import_bindings(node)})
        else:
            start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
            while start > 1 and lines[start - 2].lstrip().startswith("#"):
                start -= 1  # comments directly above travel with their definition
            text = "\n".join(lines[start - 1:node.end_lineno])
            statements.append(Statement(name, len(statements), text,
                                        frozenset(_defined(node)), frozenset(_names(node))))
    return Template(name, why, future, imports, links, tuple(statements))


@functools.cache
def templates() -> dict[str, Template]:
    """Every template of the package, by file stem, in file-name order."""
    files = sorted(f for f in resources.files(PACKAGE).iterdir()
                   if f.name.endswith(".py") and f.name != "__init__.py")
    return {f.name[:-3]: parse_template(f.name[:-3], f.read_text()) for f in files}


@functools.cache
def definitions() -> dict[str, Statement]:
    """Each top-level name of every template, to the statement defining it (names are unique)."""
    out: dict[str, Statement] = {}
    for template in templates().values():
        for statement in template.statements:
            for name in statement.defines:
                if name in out:
                    raise TemplateError(f"{name} is defined in both {out[name].template} and "
                                        f"{template.name}")
                out[name] = statement
    return out
