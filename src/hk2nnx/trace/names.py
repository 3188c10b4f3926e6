"""Public names for Haiku classes and readable descriptions of initializers."""

from __future__ import annotations

import functools
import inspect
from typing import Any

import haiku as hk


@functools.cache
def _public_haiku_names() -> dict[type, str]:
    names: dict[type, str] = {}
    for prefix, namespace in (("haiku.nets", hk.nets), ("haiku.experimental", hk.experimental),
                              ("haiku", hk)):
        for attr, value in vars(namespace).items():
            if inspect.isclass(value) and not attr.startswith("_"):
                names[value] = f"{prefix}.{attr}"
    return names


def qualified_name(cls: type) -> str:
    """`haiku.Linear` for Haiku's public classes, `module.QualName` for everything else."""
    return _public_haiku_names().get(cls) or f"{cls.__module__}.{cls.__qualname__}"


def describe_initializer(init: Any) -> str | None:
    """`TruncatedNormal(stddev=0.25, mean=0.0)`, `zeros`, or the callable's name."""
    if init is None:
        return None
    if isinstance(init, functools.partial):
        inner = describe_initializer(init.func)
        args = ", ".join([repr(a) for a in init.args] +
                         [f"{k}={v!r}" for k, v in init.keywords.items()])
        return f"{inner}({args})"
    if type(init).__module__.startswith("haiku.") and hasattr(init, "__dict__"):
        fields = ", ".join(f"{k}={_scalar(v)}" for k, v in sorted(vars(init).items()))
        return f"{type(init).__name__}({fields})"
    return getattr(init, "__qualname__", None) or getattr(init, "__name__", None) or repr(init)


def _scalar(value: Any) -> str:
    try:
        return repr(float(value)) if not isinstance(value, (str, bool, int)) else repr(value)
    except (TypeError, ValueError):
        return repr(value)
