"""Lists of modules whose length a constructor argument decides: one comprehension in NNX too.

`self.layers = [hk.Linear(n, name=f"layer_{i}") for i, n in enumerate(sizes)]` keeps its loop;
only the element is converted, and when a loop in a method feeds each module's output to the
next, the input sizes are chained in the comprehension:
`nnx.List([nnx.Linear(d_in, n, rngs=rngs) for i, (d_in, n) in enumerate(zip((in_features,
*sizes), sizes))])`.
"""

from __future__ import annotations

import re

import libcst as cst
import libcst.matchers as m

from hk2nnx.convert import dims, hoist
from hk2nnx.convert.findings import Refusal
from hk2nnx.convert.names import fresh, split_number

_ENUMERATE = m.Call(func=m.Name("enumerate"), args=[m.Arg(keyword=None)])
_RANGE = m.Call(func=m.Name("range"), args=[m.Arg(keyword=None)])


def loop_parts(comp: cst.CompFor) -> dict | None:
    """The counter (numbering the modules from 0), the value and the sequence of the loop."""
    target, it = comp.target, comp.iter
    if m.matches(it, _ENUMERATE) and m.matches(target, m.Tuple(
            elements=[m.Element(m.Name()), m.Element(m.Name())])):
        names = [e.value.value for e in target.elements]
        return {"counter": names[0], "value": names[1], "seq": it.args[0].value}
    if m.matches(it, _RANGE) and m.matches(target, m.Name()):
        return {"counter": target.value, "value": None, "seq": None}
    if m.matches(target, m.Name()):
        return {"counter": None, "value": target.value, "seq": it}
    return None


def first_name_call(call: cst.Call, counter: str | None, construct: str, refuse) -> cst.Call:
    """`call` as the first module: `name=f"layer_{i}"` -> `name="layer_0"` (Haiku's name)."""
    args = []
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == "name" and m.matches(
                arg.value, m.FormattedString()):
            parts = arg.value.parts
            if not (counter and len(parts) == 2 and m.matches(parts[0], m.FormattedStringText())
                    and parts[0].value.endswith("_") and m.matches(
                        parts[1], m.FormattedStringExpression(expression=m.Name(counter)))
                    and not parts[1].format_spec and not parts[1].conversion):
                raise refuse(f'name= must be f"<name>_{{{counter or "i"}}}", numbered by the '
                             "loop's counter from 0")
            arg = arg.with_changes(value=cst.SimpleString(repr(parts[0].value + "0")))
        args.append(arg)
    return call.with_changes(args=args)


def build(site, plan, part, first: dims.Dim, name: str, chained: bool) -> str:
    """The comprehension building every module, sizes chained when `chained`."""
    comp: cst.CompFor | cst.For = site.data["comp"]
    loop = site.data["runtime"]
    reads = {n for n in (loop["counter"], loop["value"]) if n}
    _check_siblings(site, plan)
    if first is None:
        raise Refusal(site.data["construct"], "the size of its input cannot be followed through "
                      "the code; pass it to the constructor by hand", "Basic Module definition")
    target, it = comp.target, comp.iter
    part.inputs = {name: first}
    out = part.rule.out_dim(part, plan, part.inputs)
    if chained and dims.code(out) == loop["value"] and loop["seq"] is not None:
        taken = {n.value for n in m.findall(site.data["held"], m.Name())} | set(plan.features)
        d_in = fresh("d_in", taken)
        seq = plan.ctx.code(loop["seq"])
        pairs = f"zip(({dims.code(first)}, *{seq}), {seq})"
        part.inputs = {name: cst.Name(d_in)}
        element = part.rule.build(part, plan)
        header = (f"{loop['counter']}, ({d_in}, {loop['value']})", f"enumerate({pairs})") \
            if loop["counter"] and re.search(rf"\b{loop['counter']}\b", element) else (
                f"{d_in}, {loop['value']}", pairs)
        return _comprehension(element, header, plan)
    if chained and dims.same(out, first):
        header = (plan.ctx.code(target), plan.ctx.code(it))  # sizes kept: all fed the same
    elif chained and out is not None and not any(n.value in reads for n in hoist.loads(out)):
        if loop["counter"] is None:
            raise Refusal(site.data["construct"], "chained sizes need the loop's counter "
                          "(enumerate)", "Basic Module definition")
        part.inputs = {name: cst.parse_expression(
            f"{dims.code(first)} if {loop['counter']} == 0 else {dims.code(out)}")}
        header = (plan.ctx.code(target), plan.ctx.code(it))
    elif not chained:
        header = (plan.ctx.code(target), plan.ctx.code(it))
    else:
        raise Refusal(site.data["construct"], "each module's output size depends on the loop in "
                      "a way the converter does not follow", "Basic Module definition")
    return _comprehension(part.rule.build(part, plan), header, plan)


def _comprehension(element: str, header: tuple[str, str], plan) -> str:
    line = f"nnx.List([{element} for {header[0]} in {header[1]}])"
    if len(line) <= 72:
        return line
    unit = plan.ctx.tree.default_indent
    return f"nnx.List([\n{unit}{element}\n{unit}for {header[0]} in {header[1]}\n])"


def out_dim(site, plan, part, first: dims.Dim, name: str, chained: bool) -> dims.Dim:
    """The size after the last module, in `__init__` terms when the code shows it."""
    loop = site.data["runtime"]
    part.inputs = {name: first}
    out = part.rule.out_dim(part, plan, part.inputs)
    if out is not None and loop["value"] and dims.code(out) == loop["value"] and loop["seq"]:
        return cst.parse_expression(f"{plan.ctx.code(loop['seq'])}[-1]")
    reads = {n for n in (loop["counter"], loop["value"]) if n}
    if out is None or any(n.value in reads for n in hoist.loads(out)):
        return None
    return out


def _check_siblings(site, plan) -> None:
    """Haiku numbers modules after the list by its length, which only the data knows."""
    base = split_number(site.data["inner"][0])[0]
    for other in plan.sites:
        if other is not site and other.is_module and other.method == site.method and (
                other.haiku_name and split_number(other.haiku_name)[0] == base):
            raise Refusal(site.data["construct"], f"another `{base}` is built in the same method; "
                          "its Haiku name depends on the list's length", "Basic Module definition")
