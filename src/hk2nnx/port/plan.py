"""Port plans: which Haiku leaves become which NNX leaves, through which op, with a ledger."""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Callable, Collection, Mapping

import numpy as np

from hk2nnx.mappings.layers import LayerMapping, LeafRule
from hk2nnx.port import ops
from hk2nnx.program.build import layer_lookup, nnx_leaf_paths
from hk2nnx.program.model import Program

HaikuKey = tuple[str, str]  # (module path, leaf name)
Tree = Mapping[str, Mapping[str, object]]


class PortError(ValueError):
    """The checkpoint and the model do not line up; the message lists every leaf at fault."""


@dataclasses.dataclass(frozen=True)
class Move:
    """One rule applied to one layer instance."""

    haiku: tuple[HaikuKey, ...]
    nnx: tuple[str, ...]
    op: ops.Op
    lead: int
    collection: str
    attrs: tuple[tuple[str, object], ...] = ()

    def describe(self) -> str:
        src = ", ".join(f"{m}/{n}" for m, n in self.haiku)
        return f"{src} -> {', '.join(self.nnx)} ({self.op.describe()})"


@dataclasses.dataclass
class Ledger:
    """Accounts for every leaf on both sides; `check` raises with all faults at once."""

    moves: list[str] = dataclasses.field(default_factory=list)
    unconsumed: list[str] = dataclasses.field(default_factory=list)
    unfilled: list[str] = dataclasses.field(default_factory=list)
    mismatched: list[str] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.unconsumed or self.unfilled or self.mismatched)

    def check(self) -> None:
        if self.ok:
            return
        parts = []
        for title, items in (("source leaves not consumed", self.unconsumed),
                             ("target leaves not filled", self.unfilled),
                             ("shape/dtype mismatches", self.mismatched)):
            if items:
                parts.append(f"{len(items)} {title}: " + "; ".join(items))
        raise PortError("port incomplete: " + " | ".join(parts))


def literal_attrs(program: Program, layer_path: str) -> dict:
    record = program.module(layer_path)
    out = {}
    for key, text in getattr(record, "attrs", ()) if record else ():
        try:
            out[key] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            continue
    return out


def moves_for(
    leaves: list[tuple[HaikuKey, str, int]],
    module_paths: list[str],
    layer_of: Callable[[str], LayerMapping | None],
    attrs_of: Callable[[str], dict],
    stack_scopes: Collection[str] = (),
) -> list[Move]:
    """Groups leaves (key, collection, lead) into moves, by the layer rule that claims them."""
    paths, owners = nnx_leaf_paths([k for k, _, _ in leaves], module_paths, layer_of,
                                   stack_scopes)
    info = {k: (c, lead) for k, c, lead in leaves}
    grouped: dict[tuple[str, LeafRule], list[HaikuKey]] = {}
    moves = []
    for key, _, lead in leaves:
        owner = owners.get(key)
        if owner is None:
            moves.append(Move((key,), (paths[key],), ops.Identity(), lead, info[key][0]))
            continue
        grouped.setdefault((owner.layer_path, owner.rule), []).append(key)
    for (layer_path, rule), keys in grouped.items():
        by_ref = {_ref(layer_path, k): k for k in keys}
        ordered = tuple(by_ref[r] for r in rule.haiku if r in by_ref)
        if len(ordered) != len(rule.haiku):
            moves.extend(Move((k,), (paths[k].split(",")[0],), ops.Identity(), info[k][1],
                              info[k][0]) for k in ordered)
            continue
        targets = tuple(paths[ordered[0]].split(","))
        moves.append(Move(ordered, targets, rule.op, info[ordered[0]][1], rule.collection,
                          tuple(sorted(attrs_of(layer_path).items()))))
    return moves


def _ref(layer_path: str, key: HaikuKey) -> str:
    module, name = key
    rest = module[len(layer_path):].lstrip("/")
    return f"{rest}/{name}" if rest else name


def program_moves(program: Program, held: Mapping[str, str] | None = None) -> list[Move]:
    """Moves for every leaf of `program`; `held` (NNX path -> class name of a real model) picks
    each layer's faithful or idiomatic target."""
    leaves = [(v.haiku_key, v.collection, v.stacked) for v in program.variables]
    return moves_for(leaves, [m.path for m in program.modules], layer_lookup(program, held),
                     lambda p: literal_attrs(program, p), program.stack_scopes)


def haiku_shapes(move: Move, specs: Mapping[HaikuKey, tuple[int, ...]]) -> list[tuple[int, ...]]:
    return [tuple(specs[k][move.lead:]) for k in move.haiku]


def forward_arrays(move: Move, tree: Tree, nnx_shapes: list[tuple[int, ...]] | None) -> list:
    return forward_of(move, [np.asarray(tree[m][n]) for m, n in move.haiku], nnx_shapes)


def forward_of(move: Move, xs: list, nnx_shapes: list[tuple[int, ...]] | None = None) -> list:
    """The move's NNX arrays from its Haiku arrays (shapes predicted unless given)."""
    shapes = nnx_shapes or move.op.predict([x.shape[move.lead:] for x in xs], dict(move.attrs))
    return move.op.forward(xs, move.lead, shapes)


def lost_sources(move: Move, xs: list, ys: list) -> list[int]:
    """Indices of the Haiku arrays a many-to-fewer move's inverse would not rebuild exactly."""
    if len(move.haiku) <= len(move.nnx):
        return []
    rebuilt = move.op.inverse(ys, move.lead, [x.shape[move.lead:] for x in xs])
    return [i for i, (x, r) in enumerate(zip(xs, rebuilt)) if not np.array_equal(x, r)]


def residual_note(move: Move) -> str:
    return (f"{move.op.describe()}: NNX keeps one value where Haiku keeps {len(move.haiku)}; "
            "the others are kept as residual for an exact way back")
