"""Signature edits: parameters NNX drops (name, mode flags) or adds (sizes, rngs)."""

from __future__ import annotations

import libcst as cst

_NAME = "name"


def _tidy(items: list[cst.Param], had_trailing: bool) -> list[cst.Param]:
    if items and not had_trailing:
        items[-1] = items[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
    return items


def _trailing(params: cst.Parameters) -> bool:
    every = [*params.posonly_params, *params.params, *params.kwonly_params]
    return bool(every) and isinstance(every[-1].comma, cst.Comma) and not (
        params.star_kwarg or isinstance(params.star_arg, cst.Param))


def without(params: cst.Parameters, names: set[str]) -> cst.Parameters:
    """`params` minus the named parameters."""
    trailing = _trailing(params)
    kept = [p for p in params.params if p.name.value not in names]
    kwonly = [p for p in params.kwonly_params if p.name.value not in names]
    star = params.star_arg
    if not kwonly and isinstance(star, cst.ParamStar):
        star = cst.MaybeSentinel.DEFAULT
    if kwonly:
        return params.with_changes(params=kept, kwonly_params=_tidy(kwonly, trailing),
                                   star_arg=star)
    return params.with_changes(params=_tidy(kept, trailing), kwonly_params=kwonly,
                               star_arg=star)


def for_nnx(params: cst.Parameters, features: list[str], rngs: bool) -> cst.Parameters:
    """`__init__(self, a, name=None)` -> `__init__(self, in_features: int, a, rngs: nnx.Rngs)`."""
    params = without(params, {_NAME})
    plain = list(params.params)
    head, rest = plain[:1], plain[1:]
    added = [cst.Param(cst.Name(f), annotation=cst.Annotation(cst.Name("int"))) for f in features]
    plain = head + added + rest
    kwonly = list(params.kwonly_params)
    if rngs:
        new = cst.Param(cst.Name("rngs"), annotation=cst.Annotation(
            cst.parse_expression("nnx.Rngs")))
        if kwonly or any(p.default is not None for p in plain):
            kwonly.append(new)
        else:
            plain.append(new)
    star = params.star_arg
    if kwonly and isinstance(star, cst.MaybeSentinel):
        star = cst.ParamStar()
    return params.with_changes(params=plain, kwonly_params=kwonly, star_arg=star)



def positional_names(fn: cst.FunctionDef, skip_self: bool = True) -> list[str]:
    """Names of the parameters that can be passed by position (`self` dropped if asked)."""
    names = [p.name.value for p in [*fn.params.posonly_params, *fn.params.params]]
    return names[1:] if skip_self else names


def all_names(fn: cst.FunctionDef, skip_self: bool = True) -> list[str]:
    return positional_names(fn, skip_self) + [p.name.value for p in fn.params.kwonly_params]
