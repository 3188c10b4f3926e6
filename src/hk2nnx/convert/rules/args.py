"""Shared argument handling for rules: binding call arguments to names, rendering keyword lists."""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from hk2nnx.convert.findings import Refusal


def bind(call: cst.Call, names: list[str] | tuple[str, ...]) -> dict[str, cst.Arg]:
    """A call's arguments by parameter name: positions follow `names`, keywords their own."""
    out: dict[str, cst.Arg] = {}
    for i, arg in enumerate(call.args):
        if arg.keyword is not None:
            out[arg.keyword.value] = arg
        elif not arg.star and i < len(names):
            out[names[i]] = arg
    return out


def bind_required(call: cst.Call, names: tuple[str, ...], required: int, usage: str,
                  info) -> dict[str, cst.Arg]:
    """`bind`, refusing a call with *args/**kwargs or without its first `required` arguments."""
    bound = bind(call, names)
    if has_star(call) or not set(names[:required]) <= set(bound):
        raise Refusal(usage.partition("(")[0], f"call it as {usage}", info.section, info.code)
    return bound


def has_star(call: cst.Call) -> bool:
    return any(arg.star for arg in call.args)


def literal_string(expr: cst.BaseExpression) -> str | None:
    if m.matches(expr, m.SimpleString()):
        return expr.evaluated_value
    return None


def render(positional: list[str], keywords: list[tuple[str, str]]) -> str:
    """`a, b, k=v` from rendered pieces."""
    return ", ".join([*positional, *(f"{k}={v}" for k, v in keywords)])


def drop_args(call: cst.Call, drop: set[int]) -> cst.Call:
    """`call` without the arguments at the given indices; a lone argument left goes inline."""
    if not drop:
        return call
    kept = [a for i, a in enumerate(call.args) if i not in drop]
    if not kept:
        return call.with_changes(args=[], whitespace_before_args=cst.SimpleWhitespace(""))
    last = call.args[-1]
    kept[-1] = kept[-1].with_changes(comma=last.comma,
                                     whitespace_after_arg=last.whitespace_after_arg)
    if len(kept) == 1:
        kept[0] = kept[0].with_changes(comma=cst.MaybeSentinel.DEFAULT,
                                       whitespace_after_arg=cst.SimpleWhitespace(""))
        return call.with_changes(args=kept, whitespace_before_args=cst.SimpleWhitespace(""))
    return call.with_changes(args=kept)


def with_keyword(call: cst.Call, keyword: str, code: str) -> cst.Call:
    """`call` with `keyword=code` appended."""
    args = list(call.args)
    if args and args[-1].comma is cst.MaybeSentinel.DEFAULT:
        args[-1] = args[-1].with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
    args.append(cst.Arg(cst.parse_expression(code), keyword=cst.Name(keyword),
                        equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace(""))))
    return call.with_changes(args=args)
