"""Renders a Program as a deterministic, column-aligned text report for people and golden files."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from hk2nnx.mappings.layers import for_classes
from hk2nnx.program.build import owners as claims
from hk2nnx.program.model import CallRecord, ModuleRecord, Program

_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
ROOT_MARK = "<model>"


def summary(program: Program) -> str:
    """The module tree, every variable, calls, RNG users and transforms of `program`.

    Output is stable across runs (no memory addresses, no dict-order surprises) so that golden
    files can pin the trace and the naming scheme; `hk2nnx inspect` prints the same text.
    """
    sections = [
        _header(program),
        _section("Modules", _module_table(program)),
        _section("Variables", _variable_table(program)),
        _section("Calls", _call_lines(program.calls)),
        _section("RNG users", list(program.rng_users)),
        _section("Transforms", [_transform(t.kind, t.scope, t.detail) for t in program.transforms]),
    ]
    return "\n\n".join(sections) + "\n"


def _header(program: Program) -> str:
    n_params = len(program.params)
    n_state = len(program.state)
    lines = [
        f"Program: {len(program.modules)} modules, {len(program.variables)} variables "
        f"({n_params} params, {n_state} state), {program.parameter_count():,} parameters, "
        f"{_state_count(program):,} state values",
        f"inputs: {' '.join(program.inputs) or '(none)'}",
        f"methods: {', '.join(program.methods)}",
        f"root: {program.root + ' (the NNX model itself)' if program.root else '(none)'}",
    ]
    return "\n".join(lines)


def _section(title: str, lines: Sequence[str]) -> str:
    body = [f"  {line}".rstrip() for line in lines] if lines else ["  (none)"]
    return "\n".join([title, *body])


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """Rows padded into left-aligned columns; numeric columns (header `params`...) right-aligned."""
    rows = [list(header), *[list(r) for r in rows]]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    right = {i for i, h in enumerate(header) if h in ("params", "state", "stacked")}
    out = []
    for row in rows:
        cells = [c.rjust(w) if i in right else c.ljust(w)
                 for i, (c, w) in enumerate(zip(row, widths))]
        out.append("  ".join(cells).rstrip())
    return out


def _state_count(program: Program, prefix: str = "") -> int:
    return sum(v.spec.size for v in program.state
               if not prefix or v.module == prefix or v.module.startswith(prefix + "/"))


def _tree_order(modules: Sequence[ModuleRecord]) -> list[tuple[int, ModuleRecord]]:
    """Modules depth-first from the roots, children in the order Haiku built them."""
    children: dict[str | None, list[ModuleRecord]] = {}
    for record in modules:
        children.setdefault(record.parent, []).append(record)
    out: list[tuple[int, ModuleRecord]] = []

    def visit(parent: str | None, depth: int) -> None:
        for record in children.get(parent, ()):
            out.append((depth, record))
            visit(record.path, depth + 1)

    visit(None, 0)
    return out


def _module_table(program: Program) -> list[str]:
    if not program.modules:
        return []
    owners = {key: owner.layer_path for key, owner in claims(program).items()}
    layers = set(owners.values())
    rows = []
    for depth, m in _tree_order(program.modules):
        mapping = for_classes(m.bases) if m.path in layers else None
        own = [layer for (module, _), layer in owners.items() if module == m.path]
        absorbed = bool(own) and all(layer != m.path for layer in own)
        layer = mapping.nnx if mapping else ""
        rows.append([
            "  " * depth + m.path, m.cls,
            "-" if absorbed else (m.nnx_path or ROOT_MARK),
            "(leaves move with the enclosing layer)" if absorbed else layer,
            _count(m.stacked),
            f"{program.parameter_count(m.path):,}", f"{_state_count(program, m.path):,}",
        ])
    return table(["haiku path", "class", "nnx path", "nnx layer", "stacked", "params", "state"],
                 rows)


def _variable_table(program: Program) -> list[str]:
    if not program.variables:
        return []
    layouts = _layouts(program)
    rows = [
        [v.module, v.name, v.collection, str(v.spec), _compact(v.nnx_path), _count(v.stacked),
         layouts.get(v.haiku_key, "-"), _scrub(v.init or "-")]
        for v in program.variables
    ]
    return table(["haiku module", "name", "collection", "spec", "nnx path", "stacked", "layout",
                  "init"], rows)


def _layouts(program: Program) -> dict[tuple[str, str], str]:
    """How the port moves each leaf (`rename`, `flatten`, ...), from the layer table."""
    from hk2nnx.port.plan import program_moves  # port depends on program, not the reverse

    return {key: move.op.describe() for move in program_moves(program) for key in move.haiku}


def _call_lines(calls: Sequence[CallRecord]) -> list[str]:
    """One line per distinct call, in first-seen order; repeats (scan, unrolls) counted."""
    counts: dict[CallRecord, int] = {}
    for call in calls:
        counts[call] = counts.get(call, 0) + 1
    lines = []
    for call, n in counts.items():
        text = (f"{call.module}.{call.method}({', '.join(map(_scrub, call.inputs))}) -> "
                f"{', '.join(map(_scrub, call.outputs)) or 'None'}")
        lines.append(text + (f"  (x{n})" if n > 1 else ""))
    return lines


def _transform(kind: str, scope: str, detail: str) -> str:
    return f"{kind} at {scope or '?'}" + (f" ({_scrub(detail)})" if detail else "")


def _compact(nnx_paths: str) -> str:
    """`a.ii.kernel,a.hi.kernel` -> `a.{ii,hi}.kernel`: one leaf fanning out stays one column."""
    paths = [p.split(".") for p in nnx_paths.split(",")]
    if len(paths) == 1:
        return nnx_paths
    head = 0
    while all(len(p) > head + 1 and p[head] == paths[0][head] for p in paths):
        head += 1
    tail = 0
    while all(len(p) > head + tail + 1 and p[-tail - 1] == paths[0][-tail - 1] for p in paths):
        tail += 1
    middles = [".".join(p[head:len(p) - tail]) for p in paths]
    parts = paths[0][:head] + ["{" + ",".join(middles) + "}"] + paths[0][len(paths[0]) - tail:]
    return ".".join(parts)


def _count(n: int) -> str:
    return str(n) if n else ""


def _scrub(text: str) -> str:
    return _ADDRESS.sub("", text)
