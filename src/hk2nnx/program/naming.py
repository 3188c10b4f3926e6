"""THE naming scheme: the NNX attribute path of every Haiku module and leaf.

Haiku names modules by where they were built (`a/~/b` in `__init__`, `a/b` in `__call__`,
`a/~encode/b` in another method, `__layer_stack_*` around stacked layers); NNX names them by the
attribute that holds them. trace, convert and port all call this module, so a checkpoint ported by
`hk2nnx port` loads into code written by `hk2nnx convert` with no hand-written mapping.
"""

from __future__ import annotations

import dataclasses
import keyword
import re
from collections.abc import Collection, Iterable

INIT_SCOPE = "init"
CALL_SCOPE = "call"
LAYER_STACK_PREFIX = "__layer_stack"


@dataclasses.dataclass(frozen=True)
class Segment:
    """One module name in a Haiku path, with the method scope it was built in."""

    name: str
    scope: str  # INIT_SCOPE, CALL_SCOPE or the method name


@dataclasses.dataclass(frozen=True)
class ParsedPath:
    segments: tuple[Segment, ...]
    stacked: int  # number of layer_stack markers crossed

    @property
    def parent_key(self) -> tuple[Segment, ...]:
        return self.segments[:-1]


def sanitize(name: str) -> str:
    """A Python identifier for any Haiku name: `weird name` -> `weird_name`, `0w` -> `_0w`."""
    ident = re.sub(r"\W", "_", name, flags=re.ASCII)
    if not ident:
        ident = "_"
    if ident[0].isdigit():
        ident = "_" + ident
    if keyword.iskeyword(ident) or keyword.issoftkeyword(ident):
        ident += "_"
    return ident


def parse(path: str, stack_scopes: Collection[str] = ()) -> ParsedPath:
    """Splits a Haiku module path into named segments, dropping scope and layer_stack markers.

    Unnamed layer stacks are recognised by their `__layer_stack` prefix; a stack given `name=`
    looks like any module, so its full path must be in `stack_scopes` (see Program.stack_scopes).
    """
    segments: list[Segment] = []
    scope = CALL_SCOPE
    stacked = 0
    prefix = ""
    for token in path.split("/") if path else ():
        prefix = f"{prefix}/{token}" if prefix else token
        if token == "~":
            scope = INIT_SCOPE
        elif token.startswith("~"):
            scope = token[1:]
        elif token.startswith(LAYER_STACK_PREFIX) or prefix in stack_scopes:
            stacked += 1
            scope = CALL_SCOPE
        else:
            segments.append(Segment(token, scope))
            scope = CALL_SCOPE
    return ParsedPath(tuple(segments), stacked)


def _scope_rank(scope: str) -> tuple[int, str]:
    return (0, "") if scope == INIT_SCOPE else (1, "") if scope == CALL_SCOPE else (2, scope)


def module_paths(
    haiku_paths: Iterable[str], *, strip_root: bool | None = None,
    stack_scopes: Collection[str] = (),
) -> dict[str, str]:
    """Maps each Haiku module path to its NNX attribute path (dot-joined).

    Siblings that would share an attribute (`a/~/linear` and `a/linear` both exist in Haiku)
    are told apart by scope: the one built in `__init__` keeps the name, the others take the
    scope as a suffix (`linear_call`, `linear_encode`). With a single top-level module and
    `strip_root` unset, that module is the NNX model itself and its name is dropped.
    """
    parsed = {p: parse(p, stack_scopes) for p in set(haiku_paths)}
    resolved: dict[tuple[Segment, ...], str] = {(): ""}
    taken: dict[str, set[str]] = {}
    keys = sorted({k for pp in parsed.values() for k in _prefixes(pp.segments)},
                  key=lambda k: (len(k), [_scope_rank(s.scope) + (s.name,) for s in k]))
    for key in keys:
        parent = resolved[key[:-1]]
        seg = key[-1]
        used = taken.setdefault(parent, set())
        name = sanitize(seg.name)
        if name in used:
            suffix = "call" if seg.scope == CALL_SCOPE else sanitize(seg.scope)
            name = f"{name}_{suffix}"
            while name in used:
                name += "_"
        used.add(name)
        resolved[key] = f"{parent}.{name}" if parent else name
    roots = {k[0] for k in keys if len(k) == 1}
    if strip_root is None:
        strip_root = len(roots) == 1 and all(pp.segments for pp in parsed.values())
    out = {}
    for path, pp in parsed.items():
        full = resolved[pp.segments]
        if strip_root and roots:
            full = full.partition(".")[2] if "." in full else ""
        out[path] = full
    return out


def _prefixes(segments: tuple[Segment, ...]) -> list[tuple[Segment, ...]]:
    return [segments[: i + 1] for i in range(len(segments))]


def root_of(haiku_paths: Iterable[str], stack_scopes: Collection[str] = ()) -> str | None:
    """The single top-level Haiku module name, if the program has exactly one."""
    roots = set()
    for path in haiku_paths:
        segs = parse(path, stack_scopes).segments
        if not segs:
            return None
        roots.add(segs[0].name)
    return roots.pop() if len(roots) == 1 else None


def join(*parts: str) -> str:
    return ".".join(p for p in parts if p)


# -- containers (additive) ---------------------------------------------------------------------
# NNX may hold Haiku siblings numbered `B, B_1, ..., B_{n-1}` (or `B_0, ...`) in one container:
# an `nnx.List` or `nnx.Sequential` attribute named `Bs` (plural of the base), or the module
# itself when it is such a container (hk.nets.MLP -> nnx.Sequential). Element i of the container,
# counting modules only (a Sequential's functions are skipped), is the Haiku module `B_i`
# (`B` for 0). The scheme paths above stay primary; these are only tried where a model lacks them.
_NUMBER = re.compile(r"^(.*)_(0|[1-9]\d*)$")


def container_slot(name: str) -> tuple[str, int]:
    """`linear_2` -> (`linear`, 2); `linear` -> (`linear`, 0): a sibling's base and index."""
    found = _NUMBER.match(name)
    return (found.group(1), int(found.group(2))) if found else (name, 0)


def container_name(base: str) -> str:
    """The attribute holding siblings of Haiku base name `base`: `linear` -> `linears`."""
    return sanitize(base) + "s"


def resolve_in_containers(path: str, present: Collection[str],
                          containers: dict[str, list[str]]) -> str:
    """`path` (dotted, by the scheme) as a model holding containers has it; unchanged if absent.

    `present` holds every path of the model (modules, variables and their prefixes);
    `containers` maps the path of each nnx.List / nnx.Sequential to its modules' paths, in order.
    """
    if path in present:
        return path
    current = ""
    for segment in path.split("."):
        candidate = join(current, segment)
        if candidate in present:
            current = candidate
            continue
        base, index = container_slot(segment)
        held = next((containers[c] for c in (join(current, container_name(base)), current)
                     if c in containers and index < len(containers[c])), None)
        if held is None:
            return path
        current = held[index]
    return current
