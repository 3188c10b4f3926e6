"""Symbolic feature sizes: the last-axis size of values in a module body, as source expressions.

NNX builds layers eagerly, so `nnx.Linear` needs the input size Haiku read from the data. The
evaluator follows the data through a method (`x = hk.Linear(self.d)(x)` gives `x` the size
`d`) and records, at each layer, the size of what flows in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import libcst as cst
import libcst.matchers as m

Dim = cst.BaseExpression | None

_SAME_SIZE_NUMPY = frozenset(
    ["tanh", "exp", "log", "sin", "cos", "abs", "sqrt", "square", "clip", "sign", "negative", "reciprocal", "asarray", "array", "maximum", "minimum", "log1p", "expm1", "floor", "ceil", "round", "where", "nan_to_num", "real", "imag", "conj"])
_SAME_SIZE_PREFIXES = ("jax.nn.", "jax.lax.stop_gradient", "jax.scipy.special.")
_SIZE_CHANGING = frozenset({"jax.nn.one_hot", "jax.nn.initializers"})
_ARRAY_METHODS = frozenset({"astype", "clip", "conj", "round"})
_ATOMS = m.Name() | m.Integer() | m.Float() | m.Attribute() | m.Call() | m.Subscript()


def code(dim: Dim) -> str:
    return cst.Module(body=[]).code_for_node(dim) if dim is not None else "?"


def same(a: Dim, b: Dim) -> bool:
    return a is not None and b is not None and code(a) == code(b)


def wrapped(expr: cst.BaseExpression) -> cst.BaseExpression:
    """`expr` as an operand: parenthesized unless it is an atom."""
    if m.matches(expr, _ATOMS) or expr.lpar:
        return expr
    return expr.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])


def total(dims: list[Dim]) -> Dim:
    if not dims or any(d is None for d in dims):
        return None
    out = dims[0]
    for d in dims[1:]:
        out = cst.BinaryOperation(wrapped(out), cst.Add(), wrapped(d))
    return out


class _Substitute(cst.CSTTransformer):
    def __init__(self, names: Mapping[str, cst.BaseExpression], self_prefix: str | None) -> None:
        self.names = names
        self.self_prefix = self_prefix

    def leave_Name(self, original: cst.Name, updated: cst.Name) -> cst.BaseExpression:
        if updated.value in self.names:
            return wrapped(self.names[updated.value])
        if updated.value == "self" and self.self_prefix:
            return cst.parse_expression(self.self_prefix)
        return updated

    def leave_Attribute(self, original, updated):
        return updated.with_changes(attr=original.attr)  # `.attr` names are not variables


def substitute(expr: Dim, names: Mapping[str, cst.BaseExpression],
               self_prefix: str | None = None) -> Dim:
    """Re-expresses a child's size in its parent's terms: params -> arguments, self -> attr."""
    if expr is None:
        return None
    return expr.visit(_Substitute(names, self_prefix))


def is_same_size_function(qualname: str | None) -> bool:
    if not qualname or any(qualname.startswith(p) for p in _SIZE_CHANGING):
        return False
    if qualname.startswith("jax.numpy."):
        return qualname.rsplit(".", 1)[-1] in _SAME_SIZE_NUMPY
    return qualname.startswith(_SAME_SIZE_PREFIXES)


def is_concatenate_last(call: cst.Call, qualname: str | None) -> bool:
    if qualname not in ("jax.numpy.concatenate", "jax.numpy.concat"):
        return False
    axis = next((a.value for a in call.args if a.keyword and a.keyword.value == "axis"),
                call.args[1].value if len(call.args) > 1 else None)
    return m.matches(axis, m.UnaryOperation(operator=m.Minus(), expression=m.Integer("1")))


class Evaluator:
    """Walks method bodies in order, giving every local a size and reporting layer inputs."""

    def __init__(self, qualname: Callable[[cst.CSTNode], str | None],
                 on_call: Callable[[cst.Call, Evaluator], tuple[bool, Dim]]) -> None:
        self.qualname = qualname
        self.on_call = on_call  # (handled, size) for layer applications and self-method calls
        self.env: dict[str, Dim] = {}
        self.returned: Dim = None

    def run(self, body: cst.BaseSuite, env: dict[str, Dim]) -> Dim:
        self.env = dict(env)
        self.returned = None
        self._block(body)
        return self.returned

    def _block(self, body: cst.CSTNode) -> None:
        for stmt in getattr(body, "body", ()):
            if m.matches(stmt, m.SimpleStatementLine()):
                for small in stmt.body:
                    self._small(small)
            elif not m.matches(stmt, m.FunctionDef() | m.ClassDef()):
                self._compound(stmt)

    def _compound(self, stmt: cst.CSTNode) -> None:
        for child in stmt.children:
            if isinstance(child, cst.BaseSuite):
                self._block(child)
            elif m.matches(child, m.Else() | m.ExceptHandler() | m.Finally()):
                self._block(child.body)
            elif m.matches(child, m.If()):
                self._compound(child)
            elif isinstance(child, cst.BaseExpression):
                self.size(child)

    def _small(self, small: cst.BaseSmallStatement) -> None:
        if m.matches(small, m.Assign() | m.AnnAssign()):
            value = self.size(small.value) if small.value is not None else None
            targets = ([t.target for t in small.targets] if m.matches(small, m.Assign())
                       else [small.target])
            for target in targets:
                if m.matches(target, m.Name()):
                    self.env[target.value] = value
        elif m.matches(small, m.Return()) and small.value is not None:
            self.returned = self.size(small.value)
        elif m.matches(small, m.Expr() | m.AugAssign()):
            self.size(small.value)

    def size(self, expr: cst.BaseExpression) -> Dim:
        """The last-axis size of `expr`, visiting every sub-expression for layer inputs."""
        if m.matches(expr, m.Name()):
            return self.env.get(expr.value)
        if m.matches(expr, m.Call()):
            return self._call(expr)
        if m.matches(expr, m.BinaryOperation()):
            left, right = self.size(expr.left), self.size(expr.right)
            if m.matches(expr.operator, m.MatrixMultiply()):
                return right
            return left if left is not None else right
        if m.matches(expr, m.UnaryOperation()):
            return self.size(expr.expression)
        if m.matches(expr, m.IfExp()):
            self.size(expr.test)
            body, orelse = self.size(expr.body), self.size(expr.orelse)
            return body if body is not None else orelse
        self._visit_children(expr)
        return None

    def _visit_children(self, node: cst.CSTNode) -> None:
        for child in node.children:
            if isinstance(child, cst.BaseExpression):
                self.size(child)
            elif not m.matches(child, m.Lambda()):
                self._visit_children(child)

    def _call(self, call: cst.Call) -> Dim:
        handled, dim = self.on_call(call, self)
        if handled:
            return dim
        args = [self.size(a.value) for a in call.args]
        if m.matches(call.func, m.Call()):  # `hk.remat(f)(x)`: the transform's rule sizes it
            return self.size(call.func)
        qualname = self.qualname(call.func)
        if is_concatenate_last(call, qualname) and m.matches(call.args[0].value,
                                                              m.List() | m.Tuple()):
            return total([self.size(e.value) for e in call.args[0].value.elements])
        if qualname in ("jax.numpy.dot", "jax.numpy.matmul") and len(args) == 2:
            return args[1]
        if is_same_size_function(qualname):
            return args[0] if args else None
        if m.matches(call.func, m.Attribute(attr=m.Name())) and (
                call.func.attr.value in _ARRAY_METHODS):
            return self.size(call.func.value)
        if m.matches(call.func, m.Attribute()):
            self.size(call.func.value)
        return None
