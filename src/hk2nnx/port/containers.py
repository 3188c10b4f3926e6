"""Moves for a real NNX model, following the naming scheme into nnx.List / nnx.Sequential.

Converted code may hold numbered Haiku siblings in one container (`hk2nnx.program.naming`,
"containers"); the scheme's own paths stay primary and are kept wherever the model has them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TypeVar

from flax import nnx

from hk2nnx.port import plan as plan_mod
from hk2nnx.port.plan import Move
from hk2nnx.program import naming
from hk2nnx.program.model import Program

T = TypeVar("T")


def _dotted(path: tuple) -> str:
    return ".".join(map(str, path))


def model_layout(model: nnx.Module) -> tuple[set[str], dict[str, list[str]], dict[str, str]]:
    """Every path of `model`, its containers' module paths in order, and each module's class."""
    present, containers, held = set(), {}, {}
    for path, node in nnx.iter_graph(model):
        dotted = _dotted(path)
        present.add(dotted)
        if not isinstance(node, nnx.Module):
            continue
        held[dotted] = f"{type(node).__module__}.{type(node).__name__}"
        if isinstance(node, nnx.Sequential):
            elements, prefix = node.layers, (*path, "layers")
        elif isinstance(node, nnx.List):
            elements, prefix = node, path
        else:
            continue
        containers[dotted] = [_dotted((*prefix, i)) for i, element in enumerate(elements)
                              if isinstance(element, nnx.Module)]
    return present, containers, held


def model_moves(program: Program, model: nnx.Module) -> list[Move]:
    """`program_moves` with targets (and the classes held there) found as the model holds them."""
    present, containers, held = model_layout(model)

    def resolve(path: str) -> str:
        return naming.resolve_in_containers(path, present, containers)

    if not containers:
        return plan_mod.program_moves(program, held)
    by_scheme = dict(held)
    for record in program.modules:
        if record.nnx_path not in held and resolve(record.nnx_path) in held:
            by_scheme[record.nnx_path] = held[resolve(record.nnx_path)]
    return [dataclasses.replace(move, nnx=tuple(resolve(t) for t in move.nnx))
            for move in plan_mod.program_moves(program, by_scheme)]


def keyed_as_model(flat: Mapping[str, T], model: nnx.Module) -> dict[str, T]:
    """An NNX-side checkpoint's keys (the scheme's paths) as `model` holds them."""
    present, containers, _ = model_layout(model)
    if not containers:
        return dict(flat)
    return {naming.resolve_in_containers(k, present, containers): v for k, v in flat.items()}
