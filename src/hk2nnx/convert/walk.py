"""Read-only tree walks, several times faster than libcst visitors for reading.

A libcst visitor rebuilds every node it passes (its `visit` goes through
`_visit_and_replace_children`), which dominates the cost of analysing a file. These walks
only read attributes. Children come in libcst's own lexical order: each node class's field
order is recorded once, from the attribute callbacks of a one-level visit.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import libcst as cst
import libcst.matchers as m
from libcst import BatchableCSTVisitor
from libcst.matchers._matcher_base import _construct_metadata_fetcher_null, _matches

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
    for field in _FIELDS.get(type(node)) or _fields(node):
        value = getattr(node, field)
        kind = type(value)  # a node, a sequence of nodes, None or MaybeSentinel.DEFAULT
        if kind is tuple or kind is list:
            out.extend(value)
        elif value is not None and kind is not cst.MaybeSentinel:
            out.append(value)
    return out


def walk(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """`node` and every node below it, in the order a visitor's `on_visit` sees them."""
    stack = [node]
    pop, extend = stack.pop, stack.extend
    while stack:
        current = pop()
        yield current
        below = children(current)
        below.reverse()
        extend(below)


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


def has_no_shared_nodes(module: cst.Module) -> bool:
    """Whether no node object sits twice in the tree (then metadata needs no copy of it)."""
    seen: set[int] = set()
    for node in walk(module):
        if id(node) in seen:
            return False
        seen.add(id(node))
    return True


def findall(node: cst.CSTNode, matcher: m.BaseMatcherNode) -> list[cst.CSTNode]:
    """`libcst.matchers.findall(node, matcher)` for matchers that read no metadata."""
    return [n for n in walk(node) if m.matches(n, matcher)]


def name_values(node: cst.CSTNode) -> set[str]:
    """Every `Name` spelled anywhere below `node` (identifiers, attributes, keywords)."""
    name = cst.Name
    return {n.value for n in walk(node) if type(n) is name}


# -- read-only visits ------------------------------------------------------------------------

_LIBCST_VISIT = cst.CSTNode.visit
_lock = threading.Lock()
_active = 0


def _read_only_visit(self: cst.CSTNode, visitor):
    """`CSTNode.visit` for a read-only visitor: same callbacks, same order, nothing rebuilt."""
    kind = _KINDS.get(type(visitor))
    if kind is None:
        kind = _KINDS[type(visitor)] = _kind(type(visitor))
    if kind is _TRANSFORMER:  # a transformer builds a new tree, as before
        return _LIBCST_VISIT(self, visitor)
    attributes, leaves = kind
    if visitor.on_visit(self) and not _module_only(visitor):
        for field in _FIELDS.get(type(self)) or _fields(self):
            value = getattr(self, field)
            kind = type(value)
            if attributes:
                if value is None and field in _VISITED_WHEN_SET:
                    continue
                visitor.on_visit_attribute(self, field)
            if kind is tuple or kind is list:
                for child in value:
                    child.visit(visitor)
            elif value is not None and kind is not cst.MaybeSentinel:
                value.visit(visitor)
            if attributes:
                visitor.on_leave_attribute(self, field)
    if leaves:
        visitor.on_leave(self)
    return self


_TRANSFORMER = ("transformer",)
# visitor class -> (reacts to attributes, reacts to leaving nodes), or _TRANSFORMER
_KINDS: dict[type, tuple] = {}


def _kind(cls: type) -> tuple:
    """What a visitor class reacts to; libcst's own `visit_*`/`leave_*` stubs do nothing, so
    a class reacts to what it overrides (a finder, for one, only to entering nodes)."""
    if not issubclass(cls, cst.CSTVisitor):
        return _TRANSFORMER
    base = cst.CSTVisitor
    own = [name for name in dir(cls) if name.startswith(("visit_", "leave_"))
           and getattr(cls, name) is not getattr(base, name, None)]
    attributes = (cls.on_visit_attribute is not base.on_visit_attribute
                  or cls.on_leave_attribute is not base.on_leave_attribute
                  or any("_" in name[6:] for name in own))
    leaves = cls.on_leave is not base.on_leave or any(
        name.startswith("leave_") and "_" not in name[6:] for name in own)
    return attributes, leaves


def _module_only(visitor) -> bool:
    """A batch of metadata providers that act on the Module alone (scope analysis does its
    own walk from there): going through the nodes below would call nothing."""
    methods = getattr(visitor, "visitor_methods", None)  # libcst's batched visitor
    return (methods is not None and set(methods) <= {"visit_Module", "leave_Module"}
            and getattr(visitor, "before_visit", 0) is None
            and getattr(visitor, "after_leave", 0) is None)


@contextlib.contextmanager
def read_only_visits() -> Iterator[None]:
    """Within this block, libcst visitors (metadata providers, `findall`) rebuild nothing.

    A `CSTVisitor` cannot change the tree, and libcst's `visit` returns the node itself for
    one, so the rebuilt copies it makes along the way are thrown away unseen; skipping them
    makes scope analysis and matcher searches several times faster. Transformers are not
    affected. Nested and concurrent blocks are counted; the last one out restores libcst.
    """
    global _active
    with _lock:
        _active += 1
        if _active == 1:
            cst.CSTNode.visit = _read_only_visit
            BatchableCSTVisitor.get_visitors = _cached_get_visitors
            m.findall = _walking_findall
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if _active == 0:
                cst.CSTNode.visit = _LIBCST_VISIT
                BatchableCSTVisitor.get_visitors = _LIBCST_GET_VISITORS
                m.findall = _LIBCST_FINDALL


_LIBCST_FINDALL = m.findall


def _walking_findall(tree, matcher, *, metadata_resolver=None):
    """`libcst.matchers.findall` without metadata: the same matches on the same nodes in the
    same order (its finder is a visitor that only enters nodes), from a plain walk."""
    if metadata_resolver is not None or not isinstance(tree, cst.CSTNode) or isinstance(
            matcher, (m.AtLeastN, m.AtMostN)):
        return _LIBCST_FINDALL(tree, matcher, metadata_resolver=metadata_resolver)
    fetch = _construct_metadata_fetcher_null()
    return [node for node in walk(tree) if _matches(node, matcher, fetch) is not None]


_LIBCST_GET_VISITORS = BatchableCSTVisitor.get_visitors
_VISITOR_NAMES: dict[type, tuple[str, ...]] = {}


def _cached_get_visitors(self) -> dict:
    """libcst's `get_visitors` inspects every member of the provider on each use (a few ms
    for each metadata provider of each file); the names it finds are the same for a class."""
    names = _VISITOR_NAMES.get(type(self))
    if names is None:
        names = _VISITOR_NAMES[type(self)] = tuple(_LIBCST_GET_VISITORS(self))
    return {name: getattr(self, name) for name in names}
