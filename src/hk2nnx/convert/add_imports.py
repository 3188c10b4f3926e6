"""Adding `import` lines the way libcst's AddImportsVisitor does, without its costs.

The visitor reads and changes only the import block at the top of the file, yet it copies and
rebuilds the whole tree and introspects its own methods on every use (tens of milliseconds a
file). This is its placement logic for plain and aliased module imports and unaliased `from`
imports, on the top-level statements only; tests compare the two on many module heads.
"""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m
from libcst.helpers import get_full_name_for_node

Item = tuple[str, str | None, str | None]  # (module, object or None, alias or None)

_FIRST = m.SimpleStatementLine(body=[
    m.Assign(targets=[m.AssignTarget(target=m.Name("__strict__"))]) | m.Expr(m.SimpleString())])
_IMPORT_LINE = m.SimpleStatementLine(body=[m.ImportFrom() | m.Import()])


def add_imports(tree: cst.Module, items: list[Item]) -> cst.Module:
    """`tree` with each import of `items` (in the order they were asked for) present."""
    if any(obj is not None and alias is not None or module == "__future__"
           for module, obj, alias in items):
        raise ValueError("aliased `from` imports and __future__ imports are not supported")
    body = list(tree.body)
    start = 1 if body and m.matches(body[0], _FIRST) else 0
    end = start
    while end < len(body) and m.matches(body[end], _IMPORT_LINE):
        end += 1
    top = [stmt.body[0] for stmt in body[start:end]]
    plain, aliased, from_objects = _present(top)
    plain_needed = {mod for mod, obj, alias in items if obj is None and alias is None} - plain
    aliases_needed = {mod: alias for mod, obj, alias in items if obj is None and alias is not None}
    aliases_needed = {mod: alias for mod, alias in aliases_needed.items()
                      if aliased.get(mod) != alias}
    objects_needed = {mod: {obj for md, obj, alias in items if md == mod and obj is not None}
                      for mod in sorted({md for md, obj, _ in items if obj is not None})}
    for mod, present in from_objects.items():
        if mod in objects_needed:
            objects_needed[mod] = set() if "*" in present else objects_needed[mod] - present
            if not objects_needed[mod]:
                del objects_needed[mod]
    for i in range(start, end):  # an existing `from flax import x` takes `nnx` in front
        imp = body[i].body[0]
        mod = _from_module(imp)
        if mod in objects_needed and not isinstance(imp.names, cst.ImportStar):
            names = [cst.ImportAlias(name=cst.Name(obj)) for obj in sorted(objects_needed.pop(mod))]
            body[i] = body[i].with_changes(body=[imp.with_changes(names=[*names, *imp.names])])
    if not (plain_needed or aliases_needed or objects_needed):
        return tree.with_changes(body=body)
    config = tree.config_for_parsing
    added = [*(f"import {mod}" for mod in sorted(plain_needed)),
             *(f"import {mod} as {alias}" for mod, alias in aliases_needed.items()),
             *(f"from {mod} import {', '.join(sorted(objs))}" for mod, objs in
               objects_needed.items())]
    return tree.with_changes(body=[*body[:end], *(cst.parse_statement(code, config=config)
                                                  for code in added), *_spaced(body[end:])])


def _present(top: list) -> tuple[set[str], dict[str, str], dict[str, set[str]]]:
    """Plain module imports, aliased module imports and `from` objects of the top block."""
    plain: set[str] = set()
    aliased: dict[str, str] = {}
    from_objects: dict[str, set[str]] = {}
    for imp in top:
        if isinstance(imp, cst.Import):
            for name in imp.names:
                if name.evaluated_alias is not None:
                    aliased[name.evaluated_name] = name.evaluated_alias
                else:
                    plain.add(name.evaluated_name)
            continue
        mod = _from_module(imp)
        if mod is None:
            continue
        if isinstance(imp.names, cst.ImportStar):
            from_objects[mod] = {"*"}
            continue
        new = {alias.evaluated_name for alias in imp.names if alias.asname is None}
        if new and "*" not in from_objects.setdefault(mod, set()):
            from_objects[mod] |= new
    return plain, aliased, from_objects


def _from_module(imp: cst.CSTNode) -> str | None:
    """The module of an absolute `from` import (relative ones have none without a package)."""
    if not isinstance(imp, cst.ImportFrom) or imp.relative or imp.module is None:
        return None
    return get_full_name_for_node(imp.module)


def _spaced(statements: list) -> list:
    """At least one blank line between the added imports and the code after them."""
    if not statements:
        return statements
    first = statements[0]
    if not first.leading_lines:
        return [first.with_changes(leading_lines=(cst.EmptyLine(),)), *statements[1:]]
    if first.leading_lines[0].comment is None:
        return statements
    return [first.with_changes(leading_lines=(cst.EmptyLine(), *first.leading_lines)),
            *statements[1:]]
