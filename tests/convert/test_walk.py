"""The read-only walks see the nodes a libcst visitor sees, in its order, with its parents."""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m
from libcst.metadata import MetadataWrapper, ParentNodeProvider

from hk2nnx.convert import walk

# f-strings without then with a format spec (visited only when set), imports with a star and
# with names, decorators, lambdas, comprehensions, walrus, match: every field order counts.
SOURCE = '''
"""doc"""
from __future__ import annotations
from os import *
from haiku import Linear as L, Module
import haiku as hk, numpy as np

x = f"{a} and {b!r:>{width}.{prec}}" f"{c=}"


@dec(1, *args, key=2, **kw)
class Net(hk.Module, metaclass=Meta):
    attr: int = 3

    async def __call__(self, x: "hk.Linear", /, y=1, *rest, z, **kw) -> list[int]:
        global g
        total = [i ** 2 for i in range(3) if i if not i]
        with open("f") as f, other():
            pass
        try:
            (yield from x)
        except* ValueError as err:
            raise err from None
        finally:
            del total[0:1:2]
        match x:
            case {"k": [1, *_]} | Point(x=0) if (n := 2):
                return lambda q, *, r=1: q @ r
        return {k: v for k, v in x.items()}, {*x}, (x,), ...
'''


class _Order(cst.CSTVisitor):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[cst.CSTNode] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        self.seen.append(node)
        return True


def test_walk_is_the_visitor_order_and_parents_are_libcst_parents():
    module = cst.parse_module(SOURCE)
    order = _Order()
    module.visit(order)
    walked = list(walk.walk(module))
    assert len(walked) == len(order.seen)
    assert all(a is b for a, b in zip(walked, order.seen))
    expected = MetadataWrapper(module, unsafe_skip_copy=True).resolve(ParentNodeProvider)
    assert walk.parents(module) == dict(expected)


def test_findall_and_names_match_libcst():
    module = cst.parse_module(SOURCE)
    for matcher in (m.Name(), m.Call(), m.Attribute(value=m.Name("hk")), m.FormattedString()):
        assert walk.findall(module, matcher) == m.findall(module, matcher)
    assert {"hk", "L", "Linear", "width", "prec", "n", "q"} <= walk.name_values(module)
    assert "doc" not in walk.name_values(module)


class _Calls(cst.CSTVisitor):
    """Every callback, in order, as (event, node type, attribute)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, str, str]] = []

    def on_visit(self, node):
        self.calls.append(("visit", type(node).__name__, ""))
        return not isinstance(node, cst.Lambda)  # a visitor may prune a subtree

    def on_leave(self, node):
        self.calls.append(("leave", type(node).__name__, ""))

    def on_visit_attribute(self, node, attribute):
        self.calls.append(("visit_attr", type(node).__name__, attribute))

    def on_leave_attribute(self, node, attribute):
        self.calls.append(("leave_attr", type(node).__name__, attribute))


def test_read_only_visits_make_the_same_callbacks_and_leave_transformers_alone():
    module = cst.parse_module(SOURCE)
    expected = _Calls()
    module.visit(expected)

    class Upper(cst.CSTTransformer):
        def leave_Name(self, original, updated):
            return updated.with_changes(value=updated.value.upper())

    with walk.read_only_visits():
        got = _Calls()
        assert module.visit(got) is module
        upper = module.visit(Upper()).code
        found = m.findall(module, m.Name())
    assert got.calls == expected.calls
    assert upper == module.visit(Upper()).code and "HK.MODULE" in upper
    assert found == m.findall(module, m.Name())
    assert cst.CSTNode.visit is walk._LIBCST_VISIT  # restored on the way out


def test_typed_callbacks_still_run_under_read_only_visits():
    class Names(cst.CSTVisitor):
        def __init__(self) -> None:
            super().__init__()
            self.left: list[str] = []
            self.params = 0

        def leave_Name(self, node):
            self.left.append(node.value)

        def visit_FunctionDef_params(self, node):
            self.params += 1

    module = cst.parse_module(SOURCE)
    expected = Names()
    module.visit(expected)
    with walk.read_only_visits():
        got = Names()
        module.visit(got)
    assert got.left == expected.left and "hk" in got.left
    assert got.params == expected.params == 1
