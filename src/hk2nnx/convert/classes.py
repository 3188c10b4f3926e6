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
from hk2nnx.convert.plan_sizes import SizesMixin
from hk2nnx.convert.rules.layer_stack import MARKER as STACK_MARKER
from hk2nnx.convert.sites import CALL, INIT, SECTION, Site, applications, find_sites
from hk2nnx.program import naming

if TYPE_CHECKING:
    from hk2nnx.convert.analysis import FileAnalysis

_ROOT = "root"


@dataclasses.dataclass(eq=False)
class ClassPlan(SizesMixin):
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
            for call in [*site.applies, *site.data.get("uses", ())] if site.is_module else [
                    site.ctor]:
                self._by_call[call] = site

    def _name(self) -> None:
        counters: dict[str, collections.Counter] = {}
        paths: dict[Site, str] = {}
        for site in (s for s in self.sites if s.is_module):
            scope = f"stack:{id(site.data['stack']['def'])}" if site.data.get("stack") else \
                site.method
            counter = counters.setdefault(scope, collections.Counter())
            inner = [_numbered(counter, n) for n in site.rule.inner_names(site, self)]
            own = site.rule.haiku_name(site, self)  # None: a loop, which builds only `inner`
            site.haiku_name = _numbered(counter, own) if own is not None else inner[0]
            if inner:  # a container: NNX names it after the modules it holds
                site.data["inner"] = inner
                site.data["container"] = naming.container_name(naming.container_slot(inner[0])[0])
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
            scope = f"{site.data['stack'].get('marker', STACK_MARKER)}/"
        prefix = "" if self.is_function else f"{_ROOT}/"
        return f"{prefix}{scope}{site.data.get('container') or site.haiku_name}"

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


def _numbered(counter: collections.Counter, name: str) -> str:
    """Haiku's numbering within one scope: `linear`, `linear_1`, ...; explicit numbers kept."""
    base, number = split_number(name)
    n = counter[base] if number is None else number
    counter[base] = max(counter[base], n + 1)
    return f"{base}_{n}" if number is not None or n else base
