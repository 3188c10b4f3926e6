"""Name helpers: Haiku's default module names, generated identifiers, qualified-name tests."""

from __future__ import annotations

import re
from collections.abc import Iterable

_LOWER = set("abcdefghijklmnopqrstuvwxyz")
_UPPER = {c.upper() for c in _LOWER}
_NUMBERED = re.compile(r"^(.*)_(0|[1-9]\d*)$")

HAIKU = "haiku"


def haiku_default_name(class_name: str) -> str:
    """The name Haiku gives an unnamed module of this class: `Conv2D` -> `conv2_d`."""
    out = []
    for i, ch in enumerate(class_name):
        after_lower = i > 0 and (class_name[i - 1] in _LOWER or class_name[i - 1].isdigit())
        before_lower = 0 < i < len(class_name) - 1 and class_name[i + 1] in _LOWER
        if ch in _UPPER and (after_lower or before_lower):
            out.append("_")
        out.append(ch)
    return "".join(out).lower()


def split_number(name: str) -> tuple[str, int | None]:
    """Haiku's explicit numbering: `linear_2` -> (`linear`, 2); `linear` -> (`linear`, None)."""
    found = _NUMBERED.match(name)
    return (found.group(1), int(found.group(2))) if found else (name, None)


def camel(name: str) -> str:
    """`forward_fn` -> `ForwardFn`, for classes generated from functions or state names."""
    parts = [p for p in re.split(r"[_\W]+", name) if p]
    return "".join(p[:1].upper() + p[1:] for p in parts) or "Module"


def fresh(base: str, taken: Iterable[str]) -> str:
    """`base`, or `base_1`, `base_2`, ... whichever is not taken."""
    used = set(taken)
    if base not in used:
        return base
    n = 1
    while f"{base}_{n}" in used:
        n += 1
    return f"{base}_{n}"


def is_haiku(qualname: str | None) -> bool:
    return bool(qualname) and (qualname == HAIKU or qualname.startswith(HAIKU + "."))
