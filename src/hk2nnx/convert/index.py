"""The whole-file first pass: Haiku module classes, module-level functions and assignments."""

from __future__ import annotations

import dataclasses

import libcst as cst
import libcst.matchers as m

from hk2nnx.convert.context import FileContext

HAIKU_MODULE = "haiku.Module"


@dataclasses.dataclass(eq=False)
class ModuleClass:
    """A class deriving from `hk.Module` (directly or through another class in the file)."""

    name: str
    node: cst.ClassDef
    base: cst.Arg
    init: cst.FunctionDef | None
    methods: dict[str, cst.FunctionDef]


@dataclasses.dataclass(eq=False)
class FileIndex:
    ctx: FileContext
    classes: dict[str, ModuleClass]
    functions: dict[str, cst.FunctionDef]
    assigns: dict[str, list[cst.Assign]]  # module-level `NAME = value` statements, by NAME
    statements: list[cst.CSTNode]  # module-level statements in order

    def module_class(self, qualname: str | None) -> ModuleClass | None:
        return self.classes.get(qualname or "")

    def single_assign(self, name: str) -> cst.BaseExpression | None:
        found = self.assigns.get(name, [])
        return found[0].value if len(found) == 1 else None


def build_index(ctx: FileContext) -> FileIndex:
    classes: dict[str, ModuleClass] = {}
    functions: dict[str, cst.FunctionDef] = {}
    assigns: dict[str, list[cst.Assign]] = {}
    for stmt in ctx.tree.body:
        if m.matches(stmt, m.ClassDef()):
            found = _module_class(stmt, ctx, classes)
            if found is not None:
                classes[found.name] = found
        elif m.matches(stmt, m.FunctionDef()):
            functions[stmt.name.value] = stmt
        elif m.matches(stmt, m.SimpleStatementLine(body=[m.Assign(targets=[m.AssignTarget(
                target=m.Name())])])):
            assign = stmt.body[0]
            assigns.setdefault(assign.targets[0].target.value, []).append(assign)
    return FileIndex(ctx, classes, functions, assigns, list(ctx.tree.body))


def _module_class(node: cst.ClassDef, ctx: FileContext,
                  known: dict[str, ModuleClass]) -> ModuleClass | None:
    for base in node.bases:
        qualname = ctx.qualname(base.value)
        if qualname == HAIKU_MODULE or qualname in known:
            methods = {
                f.name.value: f for f in node.body.body if m.matches(f, m.FunctionDef())
            }
            init = methods.pop("__init__", None)
            return ModuleClass(node.name.value, node, base, init, methods)
    return None
