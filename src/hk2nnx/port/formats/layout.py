"""How leaves are named inside checkpoint files, and the check that a loaded tree is a checkpoint.

Flat files (npz, safetensors) hold one array per key:

* Haiku side: `<module>/<leaf>`, split at the LAST `/` (module paths contain `/`, leaf names
  must not). Files we write mark state leaves in the metadata key `hk2nnx_state_keys` (a JSON
  list); foreign files are all params, unless every key starts with `params/` or `state/`.
* NNX side: the dotted NNX path (`block.linear.kernel`); leaves NNX has no place for, kept for an
  exact way back, under `__hk2nnx_residual__/<module>/<leaf>`.

Metadata written with every file: `hk2nnx_format_version`, `hk2nnx_layout` (`haiku` or `nnx`)
and `source` (where the weights came from: `haiku` for NNX-side files, `nnx` for reverse ports).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Literal

import numpy as np

from hk2nnx.port.formats import dtypes
from hk2nnx.port.formats.errors import CheckpointError

Side = Literal["haiku", "nnx"]
Kind = Literal["params", "state", "nnx", "residual"]
HaikuKey = tuple[str, str]

FORMAT_VERSION = "1"
RESIDUAL_PREFIX = "__hk2nnx_residual__/"
META_VERSION = "hk2nnx_format_version"
META_LAYOUT = "hk2nnx_layout"
META_SOURCE = "source"
META_STATE_KEYS = "hk2nnx_state_keys"
_SOURCE_OF = {"nnx": "haiku", "haiku": "nnx"}
_READER_OF = {"haiku": "read_haiku_checkpoint", "nnx": "read_nnx_checkpoint"}
_SIDE_TEXT = {"haiku": "a Haiku-side", "nnx": "an NNX-side"}
_COLLECTIONS = ("params", "state")


@dataclasses.dataclass(frozen=True, eq=False)
class Leaf:
    """One stored array and where it belongs."""

    kind: Kind  # "params"/"state" on the Haiku side; "nnx"/"residual" on the NNX side
    module: str  # Haiku module path; "" for kind "nnx"
    name: str  # Haiku leaf name, or the dotted NNX path for kind "nnx"
    array: np.ndarray

    @property
    def label(self) -> str:
        return self.name if self.kind == "nnx" else f"{self.module}/{self.name}"


def faults_text(faults: list[str], limit: int = 8) -> str:
    """All faults in one line, the first `limit` spelled out."""
    shown = "; ".join(faults[:limit])
    return shown + (f"; and {len(faults) - limit} more" if len(faults) > limit else "")


def as_array(value: Any, source: str, where: str) -> np.ndarray:
    """A native-order numpy array of an allowed dtype, or CheckpointError naming the leaf."""
    if isinstance(value, np.generic):
        value = np.asarray(value)
    elif not isinstance(value, np.ndarray):
        if not all(hasattr(value, a) for a in ("__array__", "shape", "dtype")):
            raise CheckpointError(f"{source}: {where} holds a {type(value).__name__}, "
                                  "not an array")
        value = np.asarray(value)
    if not dtypes.is_allowed(value.dtype):
        raise CheckpointError(f"{source}: {where} has dtype {dtypes.describe(value.dtype)}; "
                              f"checkpoints hold only {', '.join(sorted(dtypes.ALLOWED_NAMES))}")
    return dtypes.to_native_order(value)


def metadata(side: Side, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    return {META_VERSION: FORMAT_VERSION, META_LAYOUT: side, META_SOURCE: _SOURCE_OF[side],
            **(extra or {})}


def check_side(meta: Mapping[str, str], side: Side, source: str) -> None:
    """Refuses a file we wrote for the other side, pointing at the right reader."""
    layout = meta.get(META_LAYOUT)
    if layout in _READER_OF and layout != side:
        raise CheckpointError(f"{source}: this is {_SIDE_TEXT[layout]} checkpoint written by "
                              f"hk2nnx; read it with {_READER_OF[layout]}")


# --- Haiku trees (pickle, msgpack, orbax) ---------------------------------------------------

def _is_collections(obj: Mapping) -> bool:
    """`{"params": {module: {leaf: array}}, "state": ...}` rather than a module named params."""
    return (bool(obj) and set(obj) <= set(_COLLECTIONS) and "params" in obj
            and all(isinstance(tree, Mapping)
                    and all(isinstance(m, Mapping) for m in tree.values())
                    for tree in obj.values()))


def _split_collections(obj: Any, source: str) -> tuple[Any, Any]:
    if isinstance(obj, (tuple, list)) and len(obj) == 2 and all(
            isinstance(x, Mapping) for x in obj):
        return obj[0], obj[1]
    if isinstance(obj, Mapping):
        return (obj["params"], obj.get("state", {})) if _is_collections(obj) else (obj, {})
    raise CheckpointError(
        f"{source}: not a Haiku checkpoint: expected {{module: {{leaf: array}}}}, "
        f"{{'params': ..., 'state': ...}} or (params, state), got a {type(obj).__name__}")


def _module_leaves(kind: Kind, module: Any, leaves: Any, source: str,
                   faults: list[str]) -> Iterator[Leaf]:
    if not isinstance(module, str) or not isinstance(leaves, Mapping):
        faults.append(f"{kind} entry {module!r} holds a {type(leaves).__name__}, "
                      "not a dict of leaves")
        return
    for name, value in leaves.items():
        if not isinstance(name, str):
            faults.append(f"{module!r} has a non-string leaf name {name!r}")
            continue
        try:
            yield Leaf(kind, module, name, as_array(value, source, f"{module}/{name}"))
        except CheckpointError as err:
            faults.append(str(err).partition(": ")[2])


def _checked_leaves(params: Any, state: Any, source: str) -> list[Leaf]:
    """Every fault in the trees' shape listed in one error, or all leaves."""
    out: list[Leaf] = []
    faults: list[str] = []
    for kind, tree in (("params", params), ("state", state)):
        if not isinstance(tree, Mapping):
            faults.append(f"{kind} is a {type(tree).__name__}, not a dict of modules")
            continue
        for module, leaves in tree.items():
            out.extend(_module_leaves(kind, module, leaves, source, faults))
    if faults:
        raise CheckpointError(f"{source}: not a Haiku checkpoint {{module: {{leaf: array}}}}: "
                              + faults_text(faults))
    return out


def haiku_leaves_from_object(obj: Any, source: str) -> list[Leaf]:
    """Leaves of a loaded Haiku tree in any of the accepted shapes."""
    return _checked_leaves(*_split_collections(obj, source), source)


def haiku_trees(leaves: Iterable[Leaf]) -> tuple[dict, dict]:
    """(params, state) as nested dicts `{module: {leaf: array}}`."""
    trees: dict[str, dict] = {"params": {}, "state": {}}
    for leaf in leaves:
        trees[leaf.kind].setdefault(leaf.module, {})[leaf.name] = leaf.array
    return trees["params"], trees["state"]


def haiku_leaves(params: Mapping, state: Mapping | None, source: str) -> list[Leaf]:
    """Leaves to write from caller-given trees, checked like a loaded checkpoint."""
    return _checked_leaves(params, {} if state is None else state, source)


# --- NNX nested dicts (orbax) ---------------------------------------------------------------

def nest(leaves: Iterable[Leaf], source: str) -> dict:
    """`{"a.b.kernel": x}` -> `{"a": {"b": {"kernel": x}}}`; numeric parts stay strings."""
    root: dict = {}
    for leaf in leaves:
        *parents, last = leaf.name.split(".")
        node = root
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise CheckpointError(f"{source}: {leaf.name!r} lies under another leaf")
        if last in node:
            raise CheckpointError(f"{source}: {leaf.name!r} is both a leaf and a prefix")
        node[last] = leaf.array
    return root


def _walk(tree: Any, source: str, prefix: str) -> Iterator[Leaf]:
    if not isinstance(tree, Mapping):
        yield Leaf("nnx", "", prefix, as_array(tree, source, prefix or "the root"))
        return
    for key, value in tree.items():
        yield from _walk(value, source, f"{prefix}.{key}" if prefix else str(key))


def flatten_nested(tree: Any, source: str) -> list[Leaf]:
    """Dotted leaves of a nested dict. `orbax.save(nnx.state(model))` stores each Variable as
    `{"value": x}`; when every leaf is so wrapped, the `.value` suffix is dropped."""
    leaves = list(_walk(tree, source, ""))
    if leaves and all(leaf.name.endswith(".value") for leaf in leaves):
        leaves = [dataclasses.replace(leaf, name=leaf.name[: -len(".value")]) for leaf in leaves]
    return leaves
