"""Per-class analysis: a Haiku module class's sites, their NNX names and the sizes they need."""

from __future__ import annotations

import collections
import dataclasses
import re
from typing import TYPE_CHECKING

import libcst as cst
import libcst.matchers as m

from hk2nnx.convert import dims, hoist
from hk2nnx.convert.findings import Refusal
from hk2nnx.convert.flags import mode_flags
from hk2nnx.convert.names import fresh, split_number
from hk2nnx.convert.params import positional_names
from hk2nnx.convert.rules.layer_stack import MARKER as STACK_MARKER
from hk2nnx.convert.sites import CALL, INIT, SECTION, Site, applications, find_sites
from hk2nnx.program import naming

if TYPE_CHECKING:
    from hk2nnx.convert.analysis import FileAnalysis

_ROOT = "root"
_FLAG_NAMES = frozenset({"training", "is_training", "train", "is_train", "deterministic"})
_ARRAYS = {f"{ns}.{fn}" for ns in ("jax.numpy", "numpy") for fn in ("zeros", "ones", "empty",
                                                                    "full")}


@dataclasses.dataclass(eq=False)
class ClassPlan:
    """What one Haiku module class (or a function turned into one) becomes in NNX."""

    analysis: FileAnalysis
    name: str
    init: cst.FunctionDef | None
    methods: dict[str, cst.FunctionDef]
    is_function: bool = False  # a transformed function becoming a module: no parent path
    node: cst.CSTNode | None = None  # the class (or function) statement
    params: list[cst.Param] = dataclasses.field(default_factory=list)
    name_param: cst.Param | None = None
    aliases: dict[str, str] = dataclasses.field(default_factory=dict)  # self.X -> param X
    attributes: set[str] = dataclasses.field(default_factory=set)  # existing self.X names
    sites: list[Site] = dataclasses.field(default_factory=list)
    features: dict[str, tuple[str, str]] = dataclasses.field(default_factory=dict)
    out_dims: dict[str, dims.Dim] = dataclasses.field(default_factory=dict)
    flags: dict[str, dict[str, bool]] = dataclasses.field(default_factory=dict)
    used_features: list[str] = dataclasses.field(default_factory=list)
    needs_rngs: bool = False
    default_name: str = ""
    refusal: tuple[cst.CSTNode, Refusal] | None = None
    _built: bool = False
    _by_call: dict[cst.Call, Site] = dataclasses.field(default_factory=dict)
    _active: set[str] = dataclasses.field(default_factory=set)

    @property
    def ctx(self):
        return self.analysis.ctx

    @property
    def converts(self) -> bool:
        return self.refusal is None

    # -- analysis ----------------------------------------------------------------------------

    def analyze(self) -> None:
        try:
            self._signature()
            self._collect()
            self._name()
            self._evaluate()
        except Refusal as refusal:
            self.refusal = (self._refusal_node(refusal), refusal)

    def build(self) -> None:
        """Renders every site's NNX constructor; the sizes it uses become constructor params."""
        if self._built or not self.converts:
            return
        self._built = True
        try:
            for method in self.methods:
                mode_flags(self, method)
            for site in self.sites:
                try:
                    site.data["code"] = site.rule.build(site, self)
                    if site.data.get("stack"):
                        layers = self.hoist(site.data["stack"]["layers"], site, "layer_stack")
                        site.data["layers"] = self.ctx.code(layers)
                except Refusal as refusal:
                    raise refusal.at(site.ctor) from None
        except Refusal as refusal:
            self.refusal = (self._refusal_node(refusal), refusal)
            return
        codes = " ".join(s.data["code"] or "" for s in self.sites)
        self.used_features = [f for f in self.features if re.search(rf"\b{f}\b", codes)]
        self.needs_rngs = any(site.rule.wants_rngs(site, self) for site in self.sites)

    def _refusal_node(self, refusal: Refusal) -> cst.CSTNode:
        return refusal.node or self.init or next(iter(self.methods.values()))

    def _signature(self) -> None:
        if self.init is None:
            return
        params = self.init.params
        if params.star_arg not in (cst.MaybeSentinel.DEFAULT, None) or params.star_kwarg:
            raise Refusal(f"{self.name}.__init__", "*args/**kwargs cannot be extended with the "
                          "sizes and rngs NNX needs", SECTION, "HK001")
        for param in [*params.params, *params.kwonly_params][1:] if not params.posonly_params \
                else [*params.posonly_params[1:], *params.params, *params.kwonly_params]:
            if param.name.value == "name":
                self.name_param = param
            else:
                self.params.append(param)
        names = {p.name.value for p in self.params}
        for assign in m.findall(self.init.body, m.Assign(targets=[m.AssignTarget(
                target=m.Attribute(value=m.Name("self"), attr=m.Name()))])):
            attr = assign.targets[0].target.attr.value
            self.attributes.add(attr)
            if m.matches(assign.value, m.Name()) and assign.value.value in names:
                self.aliases[attr] = assign.value.value

    def _collect(self) -> None:
        if self.init is not None:
            for site in find_sites(self.init, self.ctx):
                if site.is_module and (site.target is None or site.data.get("local")):
                    raise Refusal(self.ctx.code(site.ctor.func), "build modules in __init__ "
                                      "as `self.name = Module(...)`", SECTION).at(site.ctor)
                self.sites.append(site)
        for name, method in self.methods.items():
            found = find_sites(method, self.ctx)
            for site in found:
                site.method = name  # a function turned into a module runs as its __call__
            self.sites.extend(found)
        for method in ([self.init] if self.init else []) + list(self.methods.values()):
            applications(method, self.sites, self.ctx)
        for site in self.sites:
            for call in site.applies if site.is_module else [site.ctor]:
                self._by_call[call] = site

    def _name(self) -> None:
        counters: dict[str, collections.Counter] = {}
        paths: dict[Site, str] = {}
        for site in (s for s in self.sites if s.is_module):
            base, number = split_number(site.rule.haiku_name(site, self))
            scope = f"stack:{id(site.data['stack']['def'])}" if site.data.get("stack") else \
                site.method
            counter = counters.setdefault(scope, collections.Counter())
            n = counter[base] if number is None else number
            site.haiku_name = f"{base}_{n}" if number is not None or n else base
            counter[base] = max(counter[base], n + 1)
            paths[site] = self._relative_path(site)
        attrs = naming.module_paths(paths.values(), strip_root=not self.is_function)
        taken = set(self.attributes) - {s.target for s in paths if s.target}
        for site, path in paths.items():
            site.attr = attrs[path]
            if site.attr in taken and site.attr != site.target:
                raise Refusal(self.ctx.code(site.ctor.func), f"NNX names it `{site.attr}` (so "
                                  "ported checkpoints load) but that attribute is taken",
                                  SECTION).at(site.ctor)
        taken |= {s.attr for s in paths}
        modules = {s.attr for s in paths}
        for site in (s for s in self.sites if not s.is_module):
            base = site.rule.attr_base(site, self)
            site.attr = base if site.rule.shared_name else fresh(base, taken)
            if site.rule.shared_name and site.attr in modules:
                raise Refusal(self.ctx.code(site.ctor.func), f"`{site.attr}` is also a "
                                  "submodule's name; NNX cannot hold both", SECTION).at(site.ctor)
            taken.add(site.attr)

    def _relative_path(self, site: Site) -> str:
        scope = {INIT: "~/", CALL: ""}.get(site.method, f"~{site.method}/")
        if site.data.get("stack"):
            scope = f"{STACK_MARKER}/"
        prefix = "" if self.is_function else f"{_ROOT}/"
        return f"{prefix}{scope}{site.haiku_name}"

    # -- sizes -------------------------------------------------------------------------------

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
            inputs = {stacked.rule.input_names(stacked, self, stacked.apply)[0]:
                      ev.size(call.args[0].value)} if call.args else {}
            if stacked.inputs is None:
                stacked.inputs = inputs
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
        if not m.matches(call.func, m.Name()):
            return None
        return next((s for s in self.sites if s.data.get("stack") and
                     s.data["stack"]["def"].name.value == call.func.value), None)

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

    # -- helpers for rules -------------------------------------------------------------------

    def hoist(self, expr: cst.BaseExpression, site: Site, construct: str,
              section: str = SECTION) -> cst.BaseExpression:
        """`expr` from the site's method as `__init__` writes it (sizes and aliases resolved)."""
        if site.method == INIT:
            return expr
        try:
            return hoist.hoist(expr, self.ctx, self.aliases, site.env or {}, construct, section)
        except Refusal as refusal:
            raise refusal.at(site.ctor) from None

    def is_hoistable(self, expr: cst.BaseExpression, site: Site) -> bool:
        try:
            self.hoist(expr, site, "")
        except Refusal:
            return False
        return True
