"""Assembles a Program from raw observations, applying the naming scheme and the layer table."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Iterable, Mapping

from hk2nnx.mappings.layers import IDIOMATIC, LayerMapping, LeafRule, for_classes, matching
from hk2nnx.program import naming
from hk2nnx.program.model import ModuleRecord, Program, TensorSpec, VariableRecord


@dataclasses.dataclass(frozen=True)
class RawVariable:
    module: str
    name: str
    collection: str
    spec: TensorSpec
    init: str | None = None


@dataclasses.dataclass(frozen=True)
class Ownership:
    """Which layer entry claims a leaf, and the rule that moves it."""

    layer_path: str
    mapping: LayerMapping
    rule: LeafRule


def ancestors(path: str) -> list[str]:
    """Haiku module paths enclosing `path`, outermost first, `path` itself last."""
    tokens = path.split("/")
    return ["/".join(tokens[: i + 1]) for i in range(len(tokens)) if not tokens[i].startswith("~")]


def relative_ref(layer_path: str, module: str, name: str) -> str:
    rest = module[len(layer_path):].lstrip("/")
    return f"{rest}/{name}" if rest else name


def claim(
    module: str, name: str, layer_of: Callable[[str], LayerMapping | None]
) -> Ownership | None:
    """The outermost enclosing layer whose table entry names this leaf."""
    for candidate in ancestors(module):
        mapping = layer_of(candidate)
        if mapping is None:
            continue
        rule = mapping.rule_for(relative_ref(candidate, module, name))
        if rule is not None:
            return Ownership(candidate, mapping, rule)
    return None


def nnx_leaf_paths(
    leaves: Iterable[tuple[str, str]],
    module_paths: Iterable[str],
    layer_of: Callable[[str], LayerMapping | None],
    stack_scopes: Collection[str] = (),
) -> tuple[dict[tuple[str, str], str], dict[tuple[str, str], Ownership]]:
    """NNX path of each Haiku leaf (module, name), and the layer rule claiming it, if any."""
    leaves = list(leaves)
    # Ancestors too: a layer may own leaves only through children (LSTM's `linear`).
    leaf_modules = {m for m, _ in leaves}
    known = set(module_paths) | leaf_modules | {
        a for m in leaf_modules for a in ancestors(m) if naming.parse(a, stack_scopes).segments}
    mod_names = naming.module_paths(known, stack_scopes=stack_scopes)
    paths: dict[tuple[str, str], str] = {}
    owners: dict[tuple[str, str], Ownership] = {}
    for module, name in leaves:
        owner = claim(module, name, layer_of)
        if owner is None:
            paths[(module, name)] = naming.join(mod_names[module], naming.sanitize(name))
            continue
        owners[(module, name)] = owner
        base = mod_names[owner.layer_path]
        paths[(module, name)] = ",".join(naming.join(base, t) for t in owner.rule.nnx)
    return paths, owners


def layer_lookup(
    program: Program, held: Mapping[str, str] | None = None,
) -> Callable[[str], LayerMapping | None]:
    """The table entry for a Haiku module path of `program` (by class, subclasses included).

    `held` maps NNX paths to the class names a real model holds there; with it, each layer takes
    the target (faithful compat or idiomatic) that the model was built with.
    """
    records = {m.path: m for m in program.modules}

    def layer_of(path: str) -> LayerMapping | None:
        record = records.get(path)
        if record is None:
            return None
        if held is None:
            return for_classes(record.bases)
        base = for_classes(record.bases, IDIOMATIC)
        return matching(base, held.get(record.nnx_path)) if base is not None else None

    return layer_of


def owners(program: Program) -> dict[tuple[str, str], Ownership]:
    """The table layer claiming each leaf of `program`; leaves no layer claims are absent."""
    _, found = nnx_leaf_paths([v.haiku_key for v in program.variables],
                              [m.path for m in program.modules], layer_lookup(program),
                              program.stack_scopes)
    return found


def build_program(
    modules: Mapping[str, dict],
    variables: Iterable[RawVariable],
    **extra,
) -> Program:
    """`modules` maps Haiku path -> {cls, bases, args, kwargs, parent}; NNX paths are derived.

    Named layer stacks are read from the `layer_stack` records in `transforms`.
    """
    variables = list(variables)
    scopes = frozenset(t.scope for t in extra.get("transforms", ()) if t.kind == "layer_stack")

    def layer_of(path: str) -> LayerMapping | None:
        info = modules.get(path)
        return for_classes(tuple(info["bases"])) if info else None

    leaf_paths, _ = nnx_leaf_paths(
        [(v.module, v.name) for v in variables], modules.keys(), layer_of, scopes
    )
    mod_names = naming.module_paths(set(modules) | {v.module for v in variables},
                                    stack_scopes=scopes)
    records = tuple(
        ModuleRecord(
            path=path, cls=info["cls"], bases=tuple(info["bases"]), args=tuple(info["args"]),
            kwargs=tuple(info["kwargs"]), attrs=tuple(info.get("attrs", ())), parent=info.get("parent"),
            nnx_path=mod_names[path], stacked=naming.parse(path, scopes).stacked,
        )
        for path, info in modules.items()
    )
    var_records = tuple(
        VariableRecord(
            module=v.module, name=v.name, collection=v.collection, spec=v.spec, init=v.init,
            nnx_path=leaf_paths[(v.module, v.name)],
            stacked=naming.parse(v.module, scopes).stacked,
        )
        for v in variables
    )
    root = naming.root_of(mod_names, scopes) \
        if all(naming.parse(v.module, scopes).segments for v in variables) else None
    return Program(modules=records, variables=var_records, root=root, **extra)
