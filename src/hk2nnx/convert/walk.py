"""Read-only tree walks, several times faster than libcst visitors for reading.

A libcst visitor rebuilds every node it passes (its `visit` goes through
`_visit_and_replace_children`), which dominates the cost of analysing a file. These walks
only read attributes. Children come in libcst's own lexical order: each node class's field
order is recorded once, from the attribute callbacks of a one-level visit.
"""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst
import libcst.matchers as m

_FIELDS: dict[type, tuple[str, ...]] = {}
# Fields a node visits only when set; each comes last in its class's visiting order.
_VISITED_WHEN_SET = ("format_spec",)  # f-string (and t-string) expressions


class _FieldRecorder(cst.CSTVisitor):
    """Notes the attribute names a node visits, without descending into them."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: list[str] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        return False

    def on_leave(self, original_node: cst.CSTNode) -> None:
        pass

    def on_visit_attribute(self, node: cst.CSTNode, attribute: str) -> None:
        self.fields.append(attribute)

    def on_leave_attribute(self, original_node: cst.CSTNode, attribute: str) -> None:
        pass


def _fields(node: cst.CSTNode) -> tuple[str, ...]:
    found = _FIELDS.get(type(node))
    if found is None:
        recorder = _FieldRecorder()
        node._visit_and_replace_children(recorder)  # one level: children are not visited
        fields = list(dict.fromkeys(recorder.fields))
        declared = getattr(type(node), "__dataclass_fields__", {})
        fields += [f for f in _VISITED_WHEN_SET if f in declared and f not in fields]
        found = _FIELDS[type(node)] = tuple(fields)
    return found


def children(node: cst.CSTNode) -> list[cst.CSTNode]:
    """`node.children`, without rebuilding the node."""
    out: list[cst.CSTNode] = []
    for field in _fields(node):
        value = getattr(node, field)
        if isinstance(value, cst.CSTNode):
            out.append(value)
        elif isinstance(value, (list, tuple)):
            out.extend(v for v in value if isinstance(v, cst.CSTNode))
    return out


def walk(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """`node` and every node below it, in the order a visitor's `on_visit` sees them."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        below = children(current)
        below.reverse()
        stack.extend(below)


def parents(module: cst.Module) -> dict[cst.CSTNode, cst.CSTNode]:
    """Child -> parent for every node (what libcst's ParentNodeProvider computes)."""
    out: dict[cst.CSTNode, cst.CSTNode] = {}
    stack: list[cst.CSTNode] = [module]
    while stack:
        current = stack.pop()
        for child in children(current):
            out[child] = current
            stack.append(child)
    return out


def findall(node: cst.CSTNode, matcher: m.BaseMatcherNode) -> list[cst.CSTNode]:
    """`libcst.matchers.findall(node, matcher)` for matchers that read no metadata."""
    return [n for n in walk(node) if m.matches(n, matcher)]


def name_values(node: cst.CSTNode) -> set[str]:
    """Every `Name` spelled anywhere below `node` (identifiers, attributes, keywords)."""
    return {n.value for n in walk(node) if isinstance(n, cst.Name)}
