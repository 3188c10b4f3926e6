"""Where each Haiku leaf lives inside the bridge: the naming scheme's module paths, Haiku layout."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import jax.numpy as jnp
from flax import nnx

from hk2nnx.program import naming
from hk2nnx.program.model import Program

# Haiku classes whose state is a running statistic (NNX calls those BatchStat).
_STATISTICS = ("haiku.BatchNorm", "haiku.ExponentialMovingAverage")


class HaikuState(nnx.Variable):
    """A Haiku state leaf that is not a running statistic (counters, caches, custom state)."""


class HaikuScope(nnx.Module):
    """An empty container standing for one Haiku module along a path."""


@dataclasses.dataclass(frozen=True)
class Slot:
    """One Haiku leaf and the attribute path that holds it in the bridge."""

    module: str
    name: str
    collection: str
    path: tuple[str, ...]

    @property
    def dotted(self) -> str:
        return ".".join(self.path)


def slots(params: Mapping, state: Mapping) -> tuple[Slot, ...]:
    """Paths computed exactly as `port_to_nnx` does for a Haiku-layout model.

    The naming scheme is applied to the modules that own leaves (params and state alike), which
    is the set `hk2nnx.port.api` sees when it maps a checkpoint onto this bridge.
    """
    modules = sorted({m for tree in (params, state) for m in tree})
    names = naming.module_paths(modules)
    out = []
    for collection, tree in (("params", params), ("state", state)):
        for module, leaves in tree.items():
            for name in leaves:
                dotted = naming.join(names[module], naming.sanitize(name))
                out.append(Slot(module, name, collection, tuple(dotted.split("."))))
    return tuple(out)


def variable_type(slot: Slot, program: Program) -> type[nnx.Variable]:
    if slot.collection == "params":
        return nnx.Param
    for record in program.modules:
        inside = slot.module == record.path or slot.module.startswith(record.path + "/")
        if inside and any(b in _STATISTICS for b in record.bases):
            return nnx.BatchStat
    return HaikuState


def install(root: nnx.Module, layout: tuple[Slot, ...], params: Mapping, state: Mapping,
            program: Program) -> None:
    """Creates scopes and variables on `root`; refuses names that would shadow anything."""
    trees = {"params": params, "state": state}
    for slot in layout:
        node = root
        for part in slot.path[:-1]:
            child = getattr(node, part, None) if part in vars(node) else None
            if child is None:
                _check_free(node, part, slot)
                child = HaikuScope()
                setattr(node, part, child)
            elif not isinstance(child, HaikuScope):
                _clash(part, slot)
            node = child
        _check_free(node, slot.path[-1], slot)
        value = jnp.asarray(trees[slot.collection][slot.module][slot.name])
        setattr(node, slot.path[-1], variable_type(slot, program)(value))


def _check_free(node: nnx.Module, name: str, slot: Slot) -> None:
    if name in vars(node) or hasattr(type(node), name):
        _clash(name, slot)


def _clash(name: str, slot: Slot) -> None:
    raise ValueError(
        f"cannot place Haiku leaf {slot.module}/{slot.name} at {slot.dotted!r}: the name "
        f"{name!r} is already taken (a bridge attribute, a method, or another leaf)")


def lookup(root: nnx.Module, slot: Slot) -> nnx.Variable:
    node = root
    for part in slot.path:
        node = getattr(node, part)
    return node


def gather(root: nnx.Module, layout: tuple[Slot, ...]) -> tuple[dict, dict]:
    """Haiku (params, state) dicts holding the current values of the variables."""
    trees: dict[str, dict] = {"params": {}, "state": {}}
    for slot in layout:
        value = lookup(root, slot).get_value()
        trees[slot.collection].setdefault(slot.module, {})[slot.name] = value
    return trees["params"], trees["state"]


def scatter_state(root: nnx.Module, layout: tuple[Slot, ...], state: Mapping) -> None:
    """Writes Haiku's new state into the variables; a leaf apply invented is an error."""
    by_key = {(s.module, s.name): s for s in layout if s.collection == "state"}
    for module, leaves in state.items():
        for name, value in leaves.items():
            slot = by_key.get((module, name))
            if slot is None:
                raise ValueError(f"Haiku apply returned state {module}/{name} that init did not "
                                 "create; the bridge has no variable for it")
            lookup(root, slot).set_value(value)
