"""The .pkl/.pickle format: read through the restricted unpickler, written as plain dicts."""

from __future__ import annotations

import pickle
from collections.abc import Iterable
from pathlib import Path

from hk2nnx.port import safe_pickle
from hk2nnx.port.formats import layout
from hk2nnx.port.formats.layout import Leaf, Side

PROTOCOL = 4  # arrays go through numpy's `_reconstruct`, which the restricted reader accepts


def read_leaves(path: Path, side: Side) -> list[Leaf]:
    """The whole pickle is loaded (pickles cannot be streamed), then checked leaf by leaf."""
    return layout.haiku_leaves_from_object(safe_pickle.load(path), str(path))


def write_leaves(tmp: Path, leaves: Iterable[Leaf], side: Side, source: str) -> None:
    """`{"params": {module: {leaf: ndarray}}, "state": {...}}`: only dicts and numpy arrays."""
    params, state = layout.haiku_trees(leaves)
    with open(tmp, "wb") as handle:
        pickle.dump({"params": params, "state": state}, handle, protocol=PROTOCOL)
