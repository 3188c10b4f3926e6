"""What the container rules (MLP, Sequential, loops, lists) share: sizes in, layers, layout.

An MLP's Linears exist only as its arguments; the layer table's engine (`rules.layers.LayerRule`)
renders each from a constructor call made for it, exactly as a layer written inline, so modes,
initializers and refusals stay in one place.
"""

from __future__ import annotations

import libcst as cst

from hk2nnx.convert import dims
from hk2nnx.convert.findings import Refusal
from hk2nnx.convert.rules.layers import LayerRule
from hk2nnx.convert.sites import Site
from hk2nnx.mappings.constructors import BY_HAIKU, INPUT

_LAYER = LayerRule()  # not registered: only renders calls handed to it


def _part(site: Site, call: cst.Call, qualname: str) -> Site:
    return Site(_LAYER, site.method, call, env=site.env,
                data={"qualname": qualname, "construct": site.data["construct"]})


def build_layer(site: Site, plan, call: cst.Call, qualname: str,
                in_dim: dims.Dim) -> tuple[str, dims.Dim]:
    """NNX code for the table layer `call` fed `in_dim`, and the size it puts out."""
    mapping = BY_HAIKU[qualname]
    part = _fed(site, call, qualname, in_dim)
    if in_dim is None and mapping.in_features:
        raise Refusal(site.data["construct"], "the size of its input cannot be followed through "
                      "the code; pass it to the constructor by hand or give --input",
                      mapping.section)
    return _LAYER.build(part, plan), _LAYER.out_dim(part, plan, part.inputs)


def _fed(site: Site, call: cst.Call, qualname: str, in_dim: dims.Dim) -> Site:
    part = _part(site, call, qualname)
    part.inputs = {next(c.haiku for c in BY_HAIKU[qualname].call if c.role == INPUT): in_dim}
    return part


def input_size(site: Site, plan, name: str) -> dims.Dim:
    """The size flowing into the container: the data flow's, else the trace's."""
    from hk2nnx.convert.traced import traced_size

    size = (site.inputs or {}).get(name)
    if size is None:
        traced = traced_size(plan.analysis, site, 0)
        size = cst.parse_expression(traced) if traced else None
    return size


def container(head: str, parts: list[str], plan, limit: int = 72) -> str:
    """`head(a, b, ...)` (`nnx.List([a, b, ...])`) on one line when short, else one element per
    line (as if unindented: libcst indents continuation lines with the statement)."""
    opening, closing = ("([", "])") if head == "nnx.List" else ("(", ")")
    line = f"{head}{opening}{', '.join(parts)}{closing}"
    if len(line) <= limit:
        return line
    unit = plan.ctx.tree.default_indent
    return f"{head}{opening}\n" + "".join(f"{unit}{p},\n" for p in parts) + closing
