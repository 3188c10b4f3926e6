"""The whole-file analysis: every module class planned before anything is rewritten."""

from __future__ import annotations

import dataclasses

import libcst as cst
import libcst.matchers as m

from hk2nnx.convert import walk
from hk2nnx.convert.classes import ClassPlan
from hk2nnx.convert.context import FileContext
from hk2nnx.convert.index import FileIndex, build_index
from hk2nnx.convert.names import haiku_default_name
from hk2nnx.convert.rules.args import literal_string


@dataclasses.dataclass(eq=False)
class FileAnalysis:
    ctx: FileContext
    index: FileIndex
    plans: dict[str, ClassPlan] = dataclasses.field(default_factory=dict)
    consumed_tree_args: list[cst.Name] = dataclasses.field(default_factory=list)
    apply_overrides: dict[int, cst.CSTNode] = dataclasses.field(default_factory=dict)
    variable_classes: dict[str, str] = dataclasses.field(default_factory=dict)  # state -> class
    transformed: list = dataclasses.field(default_factory=list)  # transforms.Transformed
    traced: dict = dataclasses.field(default_factory=dict)  # id(site) -> input sizes seen
    declared_classes: set[str] = dataclasses.field(default_factory=set)
    splits: dict[str, tuple[str, str]] = dataclasses.field(default_factory=dict)  # HK030:
    # model -> the module-level (params, rest) pure dicts its training step trains

    def plan(self, class_name: str) -> ClassPlan:
        """The analysed plan of a module class in this file (children analysed first)."""
        if class_name in self.plans:
            return self.plans[class_name]
        found = self.index.classes[class_name]
        plan = ClassPlan(self, class_name, found.init, found.methods, node=found.node)
        plan.default_name = _default_name(found.name, found.init)
        self.plans[class_name] = plan
        plan.analyze()
        return plan

    def function_plan(self, fn: cst.FunctionDef, class_name: str) -> ClassPlan:
        """A transformed function planned as the `__call__` of a module without parameters."""
        plan = ClassPlan(self, class_name, None, {"__call__": fn}, is_function=True, node=fn)
        plan.default_name = haiku_default_name(class_name)
        self.plans[class_name] = plan
        plan.analyze()
        return plan

    def attribute_read_elsewhere(self, attr: str) -> bool:
        """Whether `.attr` is read on anything but `self` in this file (users of the class)."""
        pattern = m.Attribute(value=~m.Name("self"), attr=m.Name(attr))
        return any(m.matches(n, pattern) for n in walk.walk(self.ctx.tree))


def analyze_file(ctx: FileContext) -> FileAnalysis:
    """Plans every class and transformed function; sizes the code hides come from a trace."""
    from hk2nnx.convert import traced, transforms

    index = build_index(ctx)
    ctx.local_modules = set(index.classes)
    analysis = FileAnalysis(ctx, index)
    for name in index.classes:
        analysis.plan(name)
    analysis.transformed = transforms.resolve_all(analysis)
    analysis.traced = traced.sizes_if_needed(analysis)
    for plan in list(analysis.plans.values()):
        plan.build()
    for t in analysis.transformed:
        transforms.guarded(t, analysis, lambda t=t: transforms.check_built(t))
    return analysis


def _default_name(class_name: str, init: cst.FunctionDef | None) -> str:
    """Haiku's name for an unnamed instance: the `name` default if it is a string, else snake."""
    if init is not None:
        for param in [*init.params.params, *init.params.kwonly_params]:
            if param.name.value == "name" and param.default is not None:
                text = literal_string(param.default)
                if text:
                    return text
        for call in walk.findall(init.body, m.Call(func=m.Attribute(
                value=m.Call(func=m.Name("super")), attr=m.Name("__init__")))):
            for arg in call.args:
                text = literal_string(arg.value)
                if text and (arg.keyword is None or arg.keyword.value == "name"):
                    return text
    return haiku_default_name(class_name)
