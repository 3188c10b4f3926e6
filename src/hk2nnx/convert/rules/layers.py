"""HK010 haiku-layer: a Haiku layer built inline becomes an NNX layer attribute built in __init__.

What it converts: every layer in `hk2nnx.mappings.constructors.CONSTRUCTORS` (Linear, Conv1D/2D/3D,
LayerNorm, RMSNorm, BatchNorm, Embed, and the layers only a compat class computes, e.g.
MultiHeadAttention), through one generic engine that reads the table.
Haiku: `x = hk.Linear(self.features, with_bias=False)(x)` in a method.
NNX: `self.linear = nnx.Linear(in_features, features, use_bias=False, rngs=rngs)` in
`__init__` and `x = self.linear(x)` in the method. The input size comes from the data flow;
defaults that differ (LayerNorm's eps) are passed explicitly; the attribute is named by
`hk2nnx.program.naming` so ported checkpoints load.
Modes (`hk2nnx.convert.modes`): faithful passes Haiku's initializers (its defaults too, e.g.
hk.Linear's TruncatedNormal(1/sqrt(fan_in)) as `truncated_normal(in_features ** -0.5)`) and builds the layer table's compat class where
its `faithful` target is one (`hkc.BatchNorm`, `hkc.Embed`); idiomatic keeps NNX built-ins and
defaults and reports each measured difference (`hk2nnx.compat.differences`) as INFO. Layers
whose table target is `hkc.X` (no NNX built-in computes them) build the compat class in both
modes; idiomatic mode says so as INFO.
Fix safety: safe (initializers without an NNX equivalent are dropped with a warning: fresh
initialisation then differs, ported weights do not).
Guide section: "Basic Module definition".
"""

from __future__ import annotations

import dataclasses
import re

import libcst as cst
import libcst.matchers as m

from hk2nnx.compat.differences import for_haiku
from hk2nnx.convert import dims, modes
from hk2nnx.convert.findings import Refusal, Safety, Severity
from hk2nnx.convert.names import haiku_default_name
from hk2nnx.convert.rules import base
from hk2nnx.convert.rules.args import bind, has_star, literal_string, render
from hk2nnx.convert.rules.initializers import fan_in_default, layer_default, nnx_initializer
from hk2nnx.convert.traced import CODE as TRACED
from hk2nnx.convert.traced import traced_shape, traced_size
from hk2nnx.mappings import layers as leaf_table
from hk2nnx.mappings.constructors import (
    BY_HAIKU,
    COMPAT,
    INITIALIZER,
    INPUT,
    NTUPLE,
    ConstructorMapping,
)

INFO = base.info("HK010", "haiku-layer", Safety.SAFE, "Basic Module definition", __name__)
_VECTOR_LEAVES = frozenset({"b", "scale", "offset"})  # rank-1 leaves: Haiku's fans differ


class LayerRule(base.SiteRule):
    info = INFO

    def claims(self, qualname, ctx) -> bool:
        return qualname in BY_HAIKU

    def _bound(self, site) -> dict[str, cst.Arg]:
        mapping = BY_HAIKU[site.data["qualname"]]
        if has_star(site.ctor):
            raise Refusal(site.data["construct"], "*args/**kwargs hide which arguments are given",
                          mapping.section, INFO.code)
        return bind(site.ctor, [a.haiku for a in mapping.args])

    def haiku_name(self, site, plan) -> str:
        site.data["qualname"] = plan.ctx.qualname(site.ctor.func)
        mapping = BY_HAIKU[site.data["qualname"]]
        given = self._bound(site).get("name")
        if given is None or literal_string(given.value) is None:
            if given is not None and plan.ctx.code(given.value) != "None":
                raise Refusal(site.data["construct"], "its name= is not a string literal, so the NNX "
                              "attribute cannot be named statically", mapping.section, INFO.code)
            return haiku_default_name(mapping.haiku_class_name)
        return literal_string(given.value)

    def needs_traced_shape(self, site) -> bool:
        mapping = BY_HAIKU.get(site.data.get("qualname", ""))
        return mapping is not None and mapping.input_shape is not None

    def input_names(self, site, plan, call) -> list[str]:
        mapping = BY_HAIKU[site.data["qualname"]]
        return [c.haiku for c in sorted(mapping.call, key=lambda c: c.position)]

    def out_dim(self, site, plan, inputs) -> dims.Dim:
        mapping = BY_HAIKU[site.data["qualname"]]
        if mapping.out_features is None and mapping.out_expr is None:
            return inputs.get(_input_name(mapping))
        bound = self._bound(site)
        given = bound.get(mapping.out_features) if mapping.out_features else None
        if given is not None and plan.ctx.code(given.value) != "None":
            return plan.hoist(given.value, site, site.data["construct"])
        if mapping.out_expr is None:
            return None
        return _expression(mapping.out_expr, site, plan, bound, inputs.get(_input_name(mapping)))

    def build(self, site, plan) -> str:
        mapping = BY_HAIKU[site.data["qualname"]]
        bound = self._bound(site)
        values: dict[str, str] = {}
        if mapping.in_features:
            size = (site.inputs or {}).get(_input_name(mapping))
            if size is None:
                traced = traced_size(plan.analysis, site, 0)
                size = cst.parse_expression(traced) if traced else None
            if size is None:
                raise Refusal(site.data["construct"], "the size of its input cannot be followed through "
                              "the code; pass it to the constructor by hand or give --input",
                              mapping.section, INFO.code)
            values[mapping.in_features] = dims.code(size)
        for nnx_arg, call_arg in mapping.input_sizes:
            values[nnx_arg] = self._input_size(site, plan, mapping, call_arg)
        if mapping.input_shape is not None:
            nnx_arg, dropped = mapping.input_shape
            shape = traced_shape(plan.analysis, site, 0)
            if shape is None:
                raise Refusal(site.data["construct"], "it needs its input's whole shape, which "
                              "only a trace shows: give --input or an init(...) call in the file",
                              mapping.section, INFO.code)
            values[nnx_arg] = repr(tuple(shape[dropped:]))
            plan.ctx.report(TRACED, site.ctor, f"input shape {shape} of {site.data['construct']}"
                            " read from a trace of the original", Severity.INFO, Safety.REVIEW)
        compat = compat_class(mapping)
        if compat is None:
            for nnx_arg, template in mapping.derived:
                values[nnx_arg] = dims.code(_expression(
                    template, site, plan, bound, cst.parse_expression(values[mapping.in_features])))
        for arg in mapping.args:
            values.update(self._convert(arg, bound.get(arg.haiku), site, plan, mapping, compat))
        if compat is None and modes.is_faithful():
            values.update(mapping.fixed)
            w_init = mapping.arg("w_init")
            if w_init is not None and w_init.nnx in values and "w_init" not in bound:
                values[w_init.nnx] = fan_in_default(mapping.haiku, values, mapping.in_features) \
                    or values[w_init.nnx]
        if mapping.compat_only:  # Haiku's own arguments first, then the sizes NNX needs
            sizes = [mapping.in_features, *(n for n, _ in mapping.input_sizes),
                     *(mapping.input_shape or ())[:1]]
            values = {**{k: v for k, v in values.items() if k not in sizes},
                      **{k: v for k, v in values.items() if k in sizes}}
        rngs = [("rngs", "rngs")] if mapping.rngs else []
        if compat is not None:
            modes.current().compat.add(compat)
            if mapping.compat_only and not modes.is_faithful():
                plan.ctx.report(self.info.code, site.ctor, f"no NNX built-in computes "
                                f"{mapping.haiku}: the compat class is used ({mapping.notes})",
                                Severity.INFO, Safety.SAFE)
            return f"{modes.ALIAS}.{compat}({render([], [*values.items(), *rngs])})"
        if not modes.is_faithful():
            self._report_differences(site, plan, mapping, values)
        positional = [values.pop(p) for p in mapping.positional if p in values]
        return f"{mapping.nnx}({render(positional, [*values.items(), *rngs])})"

    def _input_size(self, site, plan, mapping, call_arg: str) -> str:
        """The last-axis size of another call argument (attention's key/value): flow or trace."""
        size = (site.inputs or {}).get(call_arg)
        if size is None:
            position = next(c.position for c in mapping.call if c.haiku == call_arg)
            traced = traced_size(plan.analysis, site, position)
            size = cst.parse_expression(traced) if traced else None
        if size is None:
            raise Refusal(site.data["construct"], f"the size of its {call_arg} input cannot be "
                          "followed through the code; give --input", mapping.section, INFO.code)
        return dims.code(size)

    def _report_differences(self, site, plan, mapping, values: dict[str, str]) -> None:
        """What NNX's built-in does differently, measured; skipped where an argument fixes it."""
        for difference in for_haiku(mapping.haiku):
            if any(f"{name}=" in difference.faithful for name in values):
                continue
            plan.ctx.report(self.info.code, site.ctor, difference.describe(), Severity.INFO,
                            Safety.REVIEW)

    def _convert(self, arg, given, site, plan, mapping, compat=None) -> dict[str, str]:
        if compat is not None:
            return self._convert_compat(arg, given, site, plan, mapping)
        if given is None:
            return self._default(arg, mapping)
        value = plan.hoist(given.value, site, site.data["construct"], mapping.section)
        text = plan.ctx.code(value)
        if arg.only and text not in arg.only:
            raise Refusal(site.data["construct"], f"{arg.haiku}={text} has no NNX equivalent "
                          f"({mapping.notes or 'not in the mapping table'})", mapping.section,
                          INFO.code)
        if arg.nnx is None or text in arg.omit:
            return {}
        if arg.convert == NTUPLE:
            return {arg.nnx: _ntuple(value, text, self._rank(site, plan, mapping),
                                     site.data["construct"], mapping.section)}
        if arg.convert == INITIALIZER and text != "None":
            converted = nnx_initializer(given.value, plan.ctx, lambda e: plan.hoist(
                e, site, site.data["construct"], mapping.section), _rank(arg.leaf),
                arg.fan_axes)
            if converted is None:
                plan.ctx.report(INFO.code, given, f"{arg.haiku}={text} has no NNX initializer in "
                                "the table; NNX's default is used (ported weights are exact, "
                                "fresh initialisation differs)", Severity.WARNING, Safety.REVIEW)
                return {}
            return {arg.nnx: converted}
        return {} if text == "None" and arg.convert == INITIALIZER else {arg.nnx: text}

    def _rank(self, site, plan, mapping) -> int:
        """The layer's spatial rank: fixed by the class, or an int literal argument (ConvND)."""
        if mapping.rank_arg is None:
            return mapping.spatial_dims
        given = self._bound(site).get(mapping.rank_arg)
        text = plan.ctx.code(given.value) if given is not None else ""
        if not text.isdigit():
            raise Refusal(site.data["construct"], f"{mapping.rank_arg} must be an int literal "
                          "so the kernel size can be written out", mapping.section, INFO.code)
        return int(text)

    def _default(self, arg, mapping) -> dict[str, str]:
        """An absent argument: Haiku's default where NNX's differs (initializers: faithful only)."""
        if arg.haiku_default and arg.nnx:
            return {arg.nnx: arg.haiku_default}
        if arg.convert == INITIALIZER and arg.nnx and arg.leaf and modes.is_faithful():
            text = layer_default(mapping.haiku, arg.leaf, _rank(arg.leaf))
            return {arg.nnx: text} if text else {}
        return {}

    def _convert_compat(self, arg, given, site, plan, mapping) -> dict[str, str]:
        """A compat class takes Haiku's own arguments, names and defaults."""
        if given is None or arg.haiku == "name":
            return {}
        renamed = dataclasses.replace(arg, nnx=arg.haiku if arg.nnx else None,
                                      haiku_default=None)
        return self._convert(renamed, given, site, plan, mapping)

    def rewrite_args(self, site, plan, call: cst.Call) -> cst.Call:
        return call


def compat_class(mapping: ConstructorMapping) -> str | None:
    """The compat class faithful mode builds for this layer (the leaf table's faithful target);
    layers no NNX built-in computes (`hkc.X` in the table) build it in both modes."""
    if mapping.compat_only:
        return mapping.nnx.removeprefix(COMPAT)
    if not modes.is_faithful() or mapping.haiku not in leaf_table.BY_HAIKU:
        return None
    target = leaf_table.resolve(leaf_table.BY_HAIKU[mapping.haiku], leaf_table.FAITHFUL)
    return target.nnx_class_name if target.is_compat else None


def _expression(template: str, site, plan, bound: dict[str, cst.Arg],
                in_dim: dims.Dim) -> cst.BaseExpression | None:
    """`template` ("{in} * {channel_multiplier}") over the input size and Haiku's arguments."""
    pieces = {}
    for name in re.findall(r"\{(\w+)\}", template):
        given = bound.get(name)
        expr = in_dim if name == "in" else (
            plan.hoist(given.value, site, site.data["construct"]) if given is not None else None)
        if expr is None:
            return None
        pieces[name] = dims.code(dims.wrapped(expr))
    return cst.parse_expression(template.format(**pieces))


def _rank(leaf: str | None) -> int | None:
    return 1 if leaf in _VECTOR_LEAVES else None


def _input_name(mapping: ConstructorMapping) -> str:
    return next(c.haiku for c in mapping.call if c.role == INPUT)


def _ntuple(value: cst.BaseExpression, text: str, rank: int, construct: str,
            section: str) -> str:
    if m.matches(value, m.Integer()) and rank > 1:
        return "(" + ", ".join([text] * rank) + ")"
    if rank == 1 or m.matches(value, m.Tuple() | m.List()):
        return text
    raise Refusal(construct, f"kernel_shape={text} may be an int (one size for every "
                  "spatial axis) or a tuple; NNX needs the tuple", section, INFO.code)


base.register_site(LayerRule())
