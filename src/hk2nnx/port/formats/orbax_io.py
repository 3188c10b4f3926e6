"""Orbax checkpoint directories, restored to numpy with no target tree.

NNX-side directories we write are an orbax StandardCheckpointer item holding the nested NNX state
dict (`{"block": {"linear": {"kernel": x}}}`; list indices stay string keys such as `"0"`, which
`nnx.replace_by_pure_dict` turns back into ints). Orbax refuses zero-size arrays, so those, and
the residual Haiku leaves, go to the sidecar file `hk2nnx_sidecar.safetensors` in the same
directory (keys as in `layout`); orbax ignores it. Reading accepts an item directory or a
directory holding exactly one item (an orbax CheckpointManager step).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from hk2nnx.port.formats import layout, safetensors_io
from hk2nnx.port.formats.atomic import remove
from hk2nnx.port.formats.errors import CheckpointError, reading
from hk2nnx.port.formats.layout import Leaf, Side

SIDECAR = "hk2nnx_sidecar.safetensors"
_ITEM_MARKERS = ("_METADATA", "_CHECKPOINT_METADATA", "manifest.ocdbt")


def _is_item(path: Path) -> bool:
    return any((path / marker).exists() for marker in _ITEM_MARKERS)


def _item_dir(path: Path, source: str) -> Path | None:
    if _is_item(path):
        return path
    items = [child for child in sorted(path.iterdir()) if child.is_dir() and _is_item(child)]
    if len(items) == 1:
        return items[0]
    if not items and (path / SIDECAR).exists():
        return None
    found = f"{len(items)} items ({', '.join(i.name for i in items)})" if items else "no item"
    raise CheckpointError(f"{source}: not an orbax checkpoint directory ({found}); pass the "
                          "item directory itself")


def _to_numpy(tree: Any) -> Any:
    if isinstance(tree, Mapping):
        return {str(k): _to_numpy(v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return [_to_numpy(v) for v in tree]
    return np.asarray(tree) if hasattr(tree, "__array__") else tree


def _restore(item: Path, source: str) -> Any:
    import orbax.checkpoint as ocp  # slow import, only when an orbax directory is used

    with reading(source, "an orbax checkpoint"), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sharding info not provided")
        checkpointer = ocp.PyTreeCheckpointer()
        try:
            return _to_numpy(checkpointer.restore(item.resolve()))
        finally:
            checkpointer.close()


def read_leaves(path: Path, side: Side) -> list[Leaf]:
    source = str(path)
    item = _item_dir(path, source)
    sidecar = path / SIDECAR
    if side == "haiku":
        if sidecar.exists():
            layout.check_side({layout.META_LAYOUT: "nnx"}, side, source)
        return layout.haiku_leaves_from_object(_restore(item, source), source) if item else []
    extra = list(safetensors_io.read_leaves(sidecar, side)) if sidecar.exists() else []
    tree = _restore(item, source) if item else {}
    return layout.flatten_nested(tree, source) + extra


def _save(target: Path, tree: dict) -> None:
    import orbax.checkpoint as ocp

    checkpointer = ocp.StandardCheckpointer()
    try:
        checkpointer.save(target.resolve(), tree)
        checkpointer.wait_until_finished()
    finally:
        checkpointer.close()


def _remove_orbax_leftovers(target: Path) -> None:
    for stray in target.parent.glob(f"{target.name}.*orbax-checkpoint-tmp*"):
        remove(stray)


def write_leaves(tmp: Path, leaves: Iterable[Leaf], side: Side, source: str) -> None:
    leaves = list(leaves)
    nnx = [leaf for leaf in leaves if leaf.kind == "nnx"]
    layout.nest(nnx, source)  # refuses clashing paths before anything is written
    stored = [leaf for leaf in nnx if leaf.array.size]
    try:
        if stored:
            _save(tmp, layout.nest(stored, source))
        else:
            tmp.mkdir()
    except BaseException:
        _remove_orbax_leftovers(tmp)
        raise
    extra = [leaf for leaf in leaves if leaf.kind != "nnx" or not leaf.array.size]
    safetensors_io.write_leaves(tmp / SIDECAR, extra, side, source)
