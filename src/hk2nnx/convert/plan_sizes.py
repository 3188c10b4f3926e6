"""The size half of a class plan: follows data through methods to size every layer's input."""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from hk2nnx.convert import dims, hoist
from hk2nnx.convert.findings import Refusal
from hk2nnx.convert.names import fresh
from hk2nnx.convert.params import positional_names
from hk2nnx.convert.sites import CALL, Site

_FLAG_NAMES = frozenset({"training", "is_training", "train", "is_train", "deterministic"})
_ARRAYS = {f"{ns}.{fn}" for ns in ("jax.numpy", "numpy") for fn in ("zeros", "ones", "empty",
                                                                    "full")}


class SizesMixin:
    """Sizes for ClassPlan: `features` are the constructor parameters the sizes become."""

    def _evaluate(self) -> None:
        for name in sorted(self.methods, key=lambda n: n != CALL):
            method = self.methods[name]
            env = {p: self._feature(name, p)
                   for p in positional_names(method, skip_self=not self.is_function)}
            self.out_dims.setdefault(name, self._run(method, env))

    def _feature(self, method: str, arg: str) -> cst.Name:
        for symbol, where in self.features.items():
            if where == (method, arg):
                return cst.Name(symbol)
        base = "in_features" if self._sole_input(method, arg) else f"{arg}_features"
        taken = {p.name.value for p in self.params} | set(self.features) | self.attributes
        symbol = fresh(base, taken)
        self.features[symbol] = (method, arg)
        return cst.Name(symbol)

    def _sole_input(self, method: str, arg: str) -> bool:
        """`x` in `__call__(self, x, training: bool)`: the one argument that carries data."""
        fn = self.methods[method]
        data = [p.name.value for p in [*fn.params.posonly_params, *fn.params.params]
                if p.name.value != "self" and p.name.value not in _FLAG_NAMES
                and p.default is None and not m.matches(p.annotation, m.Annotation(m.Name("bool")))]
        return method == CALL and data == [arg]

    def _run(self, method: cst.FunctionDef, env: dict[str, dims.Dim]) -> dims.Dim:
        self._active.add(method.name.value)
        try:
            return dims.Evaluator(self.ctx.qualname, self._on_call).run(method.body, env)
        finally:
            self._active.discard(method.name.value)

    def _on_call(self, call: cst.Call, ev: dims.Evaluator) -> tuple[bool, dims.Dim]:
        site = self._by_call.get(call)
        if site is not None and site.env is None:
            site.env = dict(ev.env)
        try:
            if site is not None and site.is_module:
                inputs = self.bind(call, site.rule.input_names(site, self, call), ev)
                if site.inputs is None:
                    site.inputs = inputs
                return True, site.rule.out_dim(site, self, inputs)
            if site is not None:
                return True, site.rule.out_dim(site, self, ev)
        except Refusal as refusal:
            raise refusal.at(site.ctor) from None
        func = call.func
        constructed = self._array_size(call, ev)
        if constructed is not None:
            return True, constructed
        stacked = self._stack_call(call)
        if stacked is not None:
            names = stacked.rule.input_names(stacked, self, stacked.apply)
            given = call.args[:1 + stacked.data["stack"].get("per_layer", 0)]
            inputs = {n: ev.size(a.value) for n, a in zip(names, given)}
            if stacked.inputs is None or not any(stacked.inputs.values()):
                stacked.inputs = inputs  # a lambda's body was read before its input was known
            return True, stacked.rule.out_dim(stacked, self, inputs)
        child = self._child_method(call)
        if child is not None:
            site, method = child
            names = positional_names(self.analysis.plan(site.data["class"]).methods[method])
            return True, site.rule.method_dim(site, self, method, self.bind(call, names, ev))
        if m.matches(func, m.Attribute(value=m.Name("self"), attr=m.Name())) and (
                func.attr.value in self.methods and func.attr.value not in self._active):
            method = self.methods[func.attr.value]
            names = positional_names(method)
            return True, self._run(method, self.bind(call, names, ev))
        return False, None

    def _array_size(self, call: cst.Call, ev: dims.Evaluator) -> dims.Dim:
        """`jnp.zeros((b, self.d))` -> `d`: the last entry of an array constructor's shape."""
        if self.ctx.qualname(call.func) not in _ARRAYS or not call.args:
            return None
        shape = call.args[0].value
        if not m.matches(shape, m.Tuple() | m.List()) or not shape.elements:
            return None
        try:
            return hoist.hoist(shape.elements[-1].value, self.ctx, self.aliases, ev.env, "", "")
        except Refusal:
            return None

    def _stack_call(self, call: cst.Call) -> Site | None:
        """`stack_block(x)`: a call of a layer_stack function runs its stacked module."""
        from hk2nnx.convert.rules.layer_stack import called_stack

        return called_stack(call, self.sites)

    def _child_method(self, call: cst.Call) -> tuple[Site, str] | None:
        """`cell.initial_state(...)` / `self.cell.initial_state(...)` on a module of the file."""
        func = call.func
        if not m.matches(func, m.Attribute(attr=m.Name())) or func.attr.value == "__call__":
            return None
        for site in self.sites:
            if not (site.is_module and site.target and site.data.get("class")):
                continue
            holder = (m.Name(site.target) if site.data.get("local") else
                      m.Attribute(value=m.Name("self"), attr=m.Name(site.target)))
            child = self.analysis.plan(site.data["class"])
            if m.matches(func.value, holder) and func.attr.value in child.methods:
                return site, func.attr.value
        return None

    @staticmethod
    def bind(call: cst.Call, names: list[str], ev: dims.Evaluator) -> dict[str, dims.Dim]:
        """Sizes of a call's arguments by parameter name (positions follow `names`)."""
        out: dict[str, dims.Dim] = {}
        for i, arg in enumerate(call.args):
            size = ev.size(arg.value)
            if arg.keyword is not None:
                out[arg.keyword.value] = size
            elif not arg.star and i < len(names):
                out[names[i]] = size
        return out
