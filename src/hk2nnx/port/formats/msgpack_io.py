"""Flax msgpack files (`flax.serialization.msgpack_serialize`): data-only, so no code can run."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from flax import serialization

from hk2nnx.port.formats import layout
from hk2nnx.port.formats.errors import reading
from hk2nnx.port.formats.layout import Leaf, Side


def read_leaves(path: Path, side: Side) -> list[Leaf]:
    source = str(path)
    with reading(source, "flax msgpack"):
        tree = serialization.msgpack_restore(path.read_bytes())
    return layout.haiku_leaves_from_object(tree, source)


def write_leaves(tmp: Path, leaves: Iterable[Leaf], side: Side, source: str) -> None:
    """One in-memory encoding (msgpack cannot stream): `{"params": ..., "state": ...}`."""
    params, state = layout.haiku_trees(leaves)
    tmp.write_bytes(serialization.msgpack_serialize({"params": params, "state": state}))
