"""port_to_nnx / port_to_haiku: move weights and state between Haiku trees and NNX models."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import jax.numpy as jnp
import numpy as np
from flax import nnx

from hk2nnx.mappings.layers import for_nnx_class, held_mode
from hk2nnx.port import plan as plan_mod
from hk2nnx.port import stream
from hk2nnx.port.containers import model_moves
from hk2nnx.port.formats.lazy import eager, payload_array
from hk2nnx.port.plan import HaikuKey, Ledger, Move, PortError
from hk2nnx.program import naming
from hk2nnx.program.model import Program


@dataclasses.dataclass
class PortResult:
    """What a port did: the ledger, and Haiku leaves NNX has no place for (kept for the way back)."""

    ledger: Ledger
    residual: dict[HaikuKey, np.ndarray]
    moves: list[Move]


def nnx_variables(model: nnx.Module) -> dict[str, nnx.Variable]:
    """Every Variable of a model by dotted path, RNG streams excluded."""
    out = {}
    for path, node in nnx.iter_graph(model):
        if isinstance(node, nnx.Variable) and not isinstance(node, nnx.RngState):
            out[".".join(map(str, path))] = node
    return out


def held_classes(model: nnx.Module) -> dict[str, str]:
    """`module.Class` of every submodule by dotted path ("" for the model itself)."""
    return {".".join(map(str, p)): f"{type(n).__module__}.{type(n).__name__}"
            for p, n in nnx.iter_graph(model) if isinstance(n, nnx.Module)}


def _leaves(params: Mapping, state: Mapping | None) -> list[tuple[HaikuKey, str, np.ndarray]]:
    out = []
    for collection, tree in (("params", params), ("state", state or {})):
        for module, leaves in tree.items():
            for name, value in leaves.items():
                out.append(((module, name), collection, value))
    return out


def _moves_from_model(params, state, model) -> list[Move]:
    """Without a trace: layer rules are chosen by the NNX class found at each module's path."""
    leaves = _leaves(params, state)
    modules = sorted({k[0] for k, _, _ in leaves})
    names = naming.module_paths(modules)
    held = held_classes(model)
    bridge = getattr(model, "_hk2nnx_haiku_layout", False)

    def layer_of(path: str):
        cls = held.get(names.get(path, naming.module_paths([path]).get(path, "")))
        if bridge or cls is None:
            return None
        refs = {plan_mod._ref(path, k) for k, _, _ in leaves
                if k[0] == path or k[0].startswith(path + "/")}
        return for_nnx_class(cls.rpartition(".")[2], refs, held_mode(cls))

    stacked = [(k, c, naming.parse(k[0]).stacked) for k, c, _ in leaves]
    return plan_mod.moves_for(stacked, modules, layer_of, lambda p: {})


def _merged(params: Mapping | None, state: Mapping | None) -> dict[str, dict]:
    """One {module: {leaf: array}} view of both collections (a module may own both kinds)."""
    tree: dict[str, dict] = {module: dict(leaves) for module, leaves in (params or {}).items()}
    for module, leaves in (state or {}).items():
        clash = set(tree.get(module, {})) & set(leaves)
        if clash:
            raise PortError(f"{module}: {sorted(clash)} is both a parameter and a state leaf")
        tree.setdefault(module, {}).update(leaves)
    return tree


def port_to_nnx(
    params: Mapping, state: Mapping | None, model: nnx.Module, *,
    program: Program | None = None, cast: bool = False,
) -> PortResult:
    """Fills `model` in place from Haiku `params`/`state`; raises PortError listing every fault.

    With `program` (from `hk2nnx.trace`) layer rules come from the Haiku classes; without it,
    from the NNX classes found at each path of the naming scheme.
    """
    if program is not None and not getattr(model, "_hk2nnx_haiku_layout", False):
        moves = model_moves(program, model)
    else:
        moves = _moves_from_model(params, state, model)
    tree = _merged(params, state)
    targets = nnx_variables(model)
    ledger, residual, filled, failed = Ledger(), {}, set(), set()
    for move in moves:
        absent = [f"{m}/{n}" for m, n in move.haiku if n not in tree.get(m, {})]
        if absent:
            ledger.unfilled.extend(f"{t} (checkpoint lacks {', '.join(absent)})"
                                   for t in move.nnx if t in targets)
            failed.update(move.nnx)
            continue
        missing = [t for t in move.nnx if t not in targets]
        if missing:
            ledger.unconsumed.extend(f"{m}/{n} (no NNX leaf {', '.join(missing)})"
                                     for m, n in move.haiku)
            continue
        want = [targets[t].get_value() for t in move.nnx]
        try:
            ys = plan_mod.forward_arrays(move, tree, [tuple(w.shape[move.lead:]) for w in want])
        except ValueError as err:
            ledger.mismatched.append(f"{move.describe()}: {err}")
            failed.update(move.nnx)
            continue
        if not _check_shapes(move, ys, want, ledger, cast):
            failed.update(move.nnx)
            continue
        for target, y, w in zip(move.nnx, ys, want):
            targets[target].set_value(jnp.asarray(y, dtype=w.dtype if cast else y.dtype))
            filled.add(target)
        ledger.moves.append(move.describe())
        _keep_residual(move, tree, ys, residual, ledger)
    ledger.unfilled.extend(sorted(set(targets) - filled - failed))
    ledger.check()
    return PortResult(ledger, residual, moves)


def _check_shapes(move: Move, ys, want, ledger: Ledger, cast: bool) -> bool:
    ok = True
    for target, y, w in zip(move.nnx, ys, want):
        if tuple(y.shape) != tuple(w.shape):
            ledger.mismatched.append(f"{target}: checkpoint gives {tuple(y.shape)}, model has "
                                     f"{tuple(w.shape)}")
            ok = False
        elif not cast and np.dtype(y.dtype) != np.dtype(w.dtype):
            ledger.mismatched.append(f"{target}: checkpoint dtype {np.dtype(y.dtype).name}, model "
                                     f"dtype {np.dtype(w.dtype).name} (pass cast=True to convert)")
            ok = False
    return ok


def _keep_residual(move: Move, tree, ys: list, residual, ledger: Ledger) -> None:
    """Many-to-fewer moves lose leaves; keep each source that the inverse would not rebuild."""
    xs = [np.asarray(tree[m][n]) for m, n in move.haiku]
    lost = plan_mod.lost_sources(move, xs, ys)
    residual.update((move.haiku[i], xs[i]) for i in lost)
    if lost:
        ledger.notes.append(plan_mod.residual_note(move))


def port_to_haiku(
    model: nnx.Module, program: Program, residual: Mapping[HaikuKey, np.ndarray] | None = None,
) -> tuple[dict, dict]:
    """Haiku-shaped (params, state) from an NNX model; exact where `residual` is given."""
    values = {path: np.asarray(v.get_value()) for path, v in nnx_variables(model).items()}
    if getattr(model, "_hk2nnx_haiku_layout", False):
        moves = _moves_from_model(_skeleton(program, "params"), _skeleton(program, "state"), model)
    else:
        moves = model_moves(program, model)
    return from_nnx_arrays(values, program, residual, moves=moves)


def _skeleton(program: Program, collection: str) -> dict:
    tree: dict = {}
    for v in program.variables:
        if v.collection == collection:
            tree.setdefault(v.module, {})[v.name] = None
    return tree


def to_nnx_arrays(
    params: Mapping, state: Mapping | None, program: Program,
) -> tuple[dict[str, np.ndarray], dict[HaikuKey, np.ndarray], Ledger]:
    """Flat {NNX path: array} without a model (for writing checkpoints), plus residual and ledger."""
    leaves = [eager(kind, module, name, value)
              for kind, tree in (("params", params), ("state", state or {}))
              for module, values in tree.items() for name, value in values.items()]
    plan = stream.forward_plan(leaves, program)
    plan.ledger.check()
    out: dict[str, np.ndarray] = {}
    residual: dict[HaikuKey, np.ndarray] = {}
    for slot, payload in plan.items():
        if slot.kind == "residual":
            residual[(slot.module, slot.name)] = payload_array(payload, slot)
        else:
            out[slot.name] = payload_array(payload, slot)
    return out, residual, plan.ledger


def from_nnx_arrays(
    values: Mapping[str, np.ndarray], program: Program,
    residual: Mapping[HaikuKey, np.ndarray] | None = None, *, moves: list[Move] | None = None,
) -> tuple[dict, dict]:
    """Inverse of to_nnx_arrays: Haiku (params, state) shaped as `program` says."""
    leaves = [eager("nnx", "", path, value) for path, value in values.items()]
    leaves += [eager("residual", module, name, value)
               for (module, name), value in (residual or {}).items()]
    plan = stream.reverse_plan(leaves, program, moves)
    plan.ledger.check()
    trees: dict[str, dict] = {"params": {}, "state": {}}
    for slot, payload in plan.items():
        trees[slot.kind].setdefault(slot.module, {})[slot.name] = payload_array(payload, slot)
    return trees["params"], trees["state"]


__all__ = [
    "PortError",
    "PortResult",
    "from_nnx_arrays",
    "nnx_variables",
    "port_to_haiku",
    "port_to_nnx",
    "to_nnx_arrays",
]
