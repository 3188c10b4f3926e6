"""HK043 vmap: `hk.vmap(f, in_axes, ..., split_rng=False)(*args)` becomes `nnx.vmap`.

What it converts: `hk.vmap(fun, ...)` applied where it is written, in a module method; `fun`
may build modules (parameters are not batched, as in Haiku).
Haiku: `y = hk.vmap(lambda x: hk.Linear(4)(x), split_rng=False)(x)`.
NNX: `y = nnx.vmap(lambda self, x: self.linear(x), in_axes=(None, 0))(self, x)`: the module is
an operand broadcast with `None`, so its parameters are shared across the batch; `in_axes`
written as an int or a tuple gets the module's axis in front, `out_axes`, `axis_name` and
`axis_size` carry over. `split_rng=True` (any value but a literal False: Haiku's
`not hk.running_init()` idiom is True at apply) draws a key per example: the call is wrapped
in `nnx.split_rngs(splits=x.shape[0])` and the module's axis is
`nnx.StateAxes({nnx.RngState: 0, ...: None})`, keys mapped and parameters shared.
Fix safety: review. Per-example keys differ from Haiku's, as every NNX key does (HK005).
Guide section: "Transformations".
"""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from hk2nnx.convert.findings import Refusal, Safety
from hk2nnx.convert.rules import base
from hk2nnx.convert.rules.args import with_keyword
from hk2nnx.convert.rules.lifted import (
    CurriedRule,
    insert_self,
    laid_out,
    renamed,
    uses_self,
    with_self,
    without,
)

INFO = base.info("HK043", "vmap", Safety.REVIEW, "Transformations", __name__)
_KEYS_MAPPED = "nnx.StateAxes({nnx.RngState: 0, ...: None})"  # keys per example, params shared
_SIMPLE = m.Name() | m.Attribute() | m.Subscript()


class VmapRule(CurriedRule):
    info = INFO
    haiku = "haiku.vmap"
    nnx = "nnx.vmap"
    names = ("fun", "in_axes", "out_axes", "axis_name", "axis_size")
    usage = "hk.vmap(fun, in_axes, split_rng=...)(*args)"
    runs_body_once = True

    def build(self, site, plan):
        super().build(site, plan)
        if any(a.keyword is None for a in site.ctor.args[1:]):
            raise Refusal("hk.vmap", "pass in_axes/out_axes by keyword", INFO.section, INFO.code)
        bound = self.bound(site)
        axes = _axes(bound.get("in_axes"), len(self.operands(site, plan)))
        if _splits(bound) and "axis_size" not in bound and not any(
                a != "None" and m.matches(o, _SIMPLE)
                for a, o in zip(axes, self.operands(site, plan))):
            raise Refusal("hk.vmap", "split_rng needs the batch size: pass axis_size= or map a "
                          "named array", INFO.section, INFO.code)

    def schedule(self, site, plan) -> None:
        bound = self.bound(site)
        axes = _axes(bound.get("in_axes"), len(self.operands(site, plan)))
        index = list(site.ctor.args).index(bound["fun"])
        split = _splits(bound)

        def rewrite(applied: cst.Call) -> cst.Call:
            u = applied.func
            uses = uses_self([u.args[index].value])
            args = list(u.args)
            if uses:
                args[index] = args[index].with_changes(value=with_self(args[index].value))
            call = without(u.with_changes(args=args), {"split_rng", "in_axes"} if uses
                           else {"split_rng"})
            call = renamed(call, "nnx.vmap")
            if not uses:
                return applied.with_changes(func=laid_out(call))
            module = _KEYS_MAPPED if split else "None"
            call = with_keyword(call, "in_axes", "(" + ", ".join([module, *axes]) + ")")
            call = laid_out(call)
            if split:
                size = _size(bound, axes, applied.args)
                call = cst.Call(func=cst.parse_expression(f"nnx.split_rngs(splits={size})"),
                                args=[cst.Arg(call)])
            return insert_self(applied.with_changes(func=call), 0)

        plan.ctx.edit(self.applied(site, plan), rewrite)


def _splits(bound: dict[str, cst.Arg]) -> bool:
    """Haiku draws a key per example unless split_rng is literally False (or absent: old API)."""
    given = bound.get("split_rng")
    return given is not None and not m.matches(given.value, m.Name("False"))


def _size(bound: dict[str, cst.Arg], axes: list[str], operands: list[cst.Arg]) -> str:
    """How many examples: axis_size, else the mapped axis of the first named operand."""
    code = cst.Module(body=[]).code_for_node
    if "axis_size" in bound:
        return code(bound["axis_size"].value)
    axis, operand = next((a, o.value) for a, o in zip(axes, operands)
                         if a != "None" and m.matches(o.value, _SIMPLE))
    return f"{code(operand)}.shape[{axis}]"


def _axes(given: cst.Arg | None, count: int) -> list[str]:
    """One axis per operand: `0` -> `["0", "0"]` for two operands; a tuple as written."""
    code = cst.Module(body=[]).code_for_node
    if given is None:
        return ["0"] * count
    value = given.value
    if m.matches(value, m.Integer() | m.Name("None")):
        return [code(value)] * count
    if m.matches(value, m.Tuple() | m.List()):
        return [code(e.value) for e in value.elements]
    raise Refusal("hk.vmap", "write in_axes as an int or a tuple, so the module's axis can be "
                  "put in front", INFO.section, INFO.code)


base.register_site(VmapRule())
