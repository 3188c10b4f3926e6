"""Imports the conversion left unused go; imports the user already left unused stay.

`jnp` read only by the `model.init(key, jnp.ones(...))` call that became `Forward(...)`, or `hk`
once nothing reads it: read in the original, read nowhere in the result. The test is textual
(any mention outside import lines, comments and strings included, counts as a use), so an import
is only dropped when nothing could still need it.
"""

from __future__ import annotations

import re

import libcst as cst
import libcst.matchers as m

_IMPORT_LINE = re.compile(r"^(?:import|from)\s.*$", re.MULTILINE)


def _mentions(code: str) -> set[str]:
    return set(re.findall(r"[A-Za-z_]\w*", _IMPORT_LINE.sub("", code)))


def _bound(alias: cst.ImportAlias) -> str:
    node = alias.asname.name if alias.asname else alias.name
    while m.matches(node, m.Attribute()):
        node = node.value
    return node.value


def _aliases(statement: cst.CSTNode) -> list[cst.ImportAlias]:
    if not m.matches(statement, m.SimpleStatementLine()):
        return []
    out = []
    for small in statement.body:
        if m.matches(small, m.Import()) or (m.matches(small, m.ImportFrom()) and not m.matches(
                small.names, m.ImportStar()) and not m.matches(small.module, m.Name("__future__"))
                and not small.relative):
            out.extend(small.names)
    return out


def drop_made_unused(source: str, tree: cst.Module, code: str | None = None) -> cst.Module:
    """`tree` (the conversion of `source`) without the imports only the conversion left unused.

    `code` is `tree.code` when the caller has it already (generating it again costs time)."""
    aliases = [a for s in tree.body for a in _aliases(s)]
    if not aliases:
        return tree
    before, after = _mentions(source), _mentions(tree.code if code is None else code)
    unused = {id(a) for a in aliases if _bound(a) in before and _bound(a) not in after}
    if not unused:
        return tree
    body, carry = [], []
    for statement in tree.body:
        kept = _without(statement, unused) if _aliases(statement) else statement
        if kept is None:  # its blank lines and comments go to the next statement
            carry = carry or list(statement.leading_lines)
            continue
        if carry and not kept.leading_lines:
            kept = kept.with_changes(leading_lines=carry)
        carry = []
        body.append(kept)
    return tree.with_changes(body=body)


def _without(statement: cst.SimpleStatementLine, unused: set[int]) -> cst.CSTNode | None:
    smalls = []
    for small in statement.body:
        if not m.matches(small, m.Import() | m.ImportFrom()) or m.matches(
                getattr(small, "names", None), m.ImportStar()):
            smalls.append(small)
            continue
        kept = [a for a in small.names if id(a) not in unused]
        if kept:
            kept[-1] = kept[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
            smalls.append(small.with_changes(names=kept))
    return statement.with_changes(body=smalls) if smalls else None

