"""Public read/write functions for Haiku-side and NNX-side checkpoints, in any registered format."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from pathlib import Path

import numpy as np

from hk2nnx.port.formats import layout, registry
from hk2nnx.port.formats.atomic import atomic_output
from hk2nnx.port.formats.errors import CheckpointError, short_reason
from hk2nnx.port.formats.layout import HaikuKey, Leaf, Side
from hk2nnx.port.formats.lazy import LazyLeaf, Payload, Slot
from hk2nnx.port.formats.registry import Format
from hk2nnx.port.plan import PortError

PathLike = str | Path


def _read(path: PathLike, side: Side, fmt: str | None) -> Iterator[Leaf]:
    """Picks the format now, so a missing or unknown file fails before iteration starts."""
    path = Path(path)
    return iter(registry.for_reading(path, side, fmt).read(path, side))


def iter_haiku_leaves(path: PathLike, *, fmt: str | None = None) -> Iterator[Leaf]:
    """Leaves of a Haiku checkpoint one at a time (`leaf.kind` is "params" or "state").

    npz and safetensors are read one array at a time, so a loop that converts and drops each
    leaf never holds the checkpoint twice; pickle, msgpack and orbax load whole, then yield.
    """
    return _read(path, "haiku", fmt)


def read_haiku_checkpoint(path: PathLike, *, fmt: str | None = None) -> tuple[dict, dict]:
    """(params, state) as `{module: {leaf: np.ndarray}}` from any supported file or directory."""
    return layout.haiku_trees(iter_haiku_leaves(path, fmt=fmt))


def iter_nnx_leaves(path: PathLike, *, fmt: str | None = None) -> Iterator[Leaf]:
    """Leaves of an NNX-side checkpoint: kind "nnx" (dotted path in `name`) or "residual"."""
    return _read(path, "nnx", fmt)


def read_nnx_checkpoint(
    path: PathLike, *, fmt: str | None = None,
) -> tuple[dict[str, np.ndarray], dict[HaikuKey, np.ndarray]]:
    """({nnx_path: array}, {(haiku_module, leaf): array}) from .safetensors, .npz or orbax."""
    flat: dict[str, np.ndarray] = {}
    residual: dict[HaikuKey, np.ndarray] = {}
    for leaf in iter_nnx_leaves(path, fmt=fmt):
        if leaf.kind == "residual":
            residual[(leaf.module, leaf.name)] = leaf.array
        else:
            flat[leaf.name] = leaf.array
    return flat, residual


def _write_with(path: PathLike, side: Side, overwrite: bool, fmt: str | None,
                fill: Callable[[Path, Format, str], None]) -> Path:
    """Runs `fill(tmp, format, source)` inside the atomic writer; failures become one line."""
    out = Path(path)
    found = registry.for_writing(out, side, fmt)
    try:
        with atomic_output(out, overwrite=overwrite) as tmp:
            fill(tmp, found, str(out))
    except (CheckpointError, PortError):
        raise
    except OSError as err:
        reason = err.strerror or short_reason(err)
        raise CheckpointError(f"{out}: cannot write ({reason})") from None
    except Exception as err:  # noqa: BLE001  (a format library's failure, as one line)
        reason = short_reason(err)
        raise CheckpointError(f"{out}: cannot write as {found.name} ({reason})") from None
    return out


def _write(path: PathLike, leaves: Iterable[Leaf], side: Side, overwrite: bool,
           fmt: str | None) -> Path:
    return _write_with(path, side, overwrite, fmt,
                       lambda tmp, found, source: found.write(tmp, leaves, side, source))


def open_leaves(path: PathLike, side: Side, *,
                fmt: str | None = None) -> AbstractContextManager[list[LazyLeaf]]:
    """`with open_leaves(path, side) as leaves:` every leaf's place, shape and dtype; data is
    read by `leaf.load()` (npz and safetensors read it only then; other formats load whole)."""
    path = Path(path)
    return registry.for_reading(path, side, fmt).open_leaves(path, side)


def write_stream(path: PathLike, slots: list[Slot], items: Iterable[tuple[Slot, Payload]],
                 side: Side, *, overwrite: bool = False, fmt: str | None = None) -> Path:
    """Writes a checkpoint whose leaves (`slots`) are known up front and whose data arrives one
    leaf at a time; npz and safetensors hold at most one leaf, others gather them first."""
    def fill(tmp: Path, found: Format, source: str) -> None:
        with found.sink_for(tmp, slots, side, source) as sink:
            for slot, payload in items:
                sink.put(slot, payload)
                del payload  # before the next leaf is read

    return _write_with(path, side, overwrite, fmt, fill)


def write_haiku_checkpoint(
    path: PathLike, params: Mapping, state: Mapping | None = None, overwrite: bool = False,
    *, fmt: str | None = None,
) -> Path:
    """Writes Haiku (params, state) atomically as .npz, .safetensors (keys `module/leaf`), .pkl
    or flax .msgpack; never replaces an existing file unless `overwrite`."""
    leaves = layout.haiku_leaves(params, state, str(path))
    return _write(path, leaves, "haiku", overwrite, fmt)


def nnx_leaves(flat: Mapping[str, object], residual: Mapping[HaikuKey, object] | None,
               source: str) -> list[Leaf]:
    """Leaves to write from a flat `{nnx_path: array}` and residual `{(module, leaf): array}`."""
    leaves = []
    for key, value in flat.items():
        if not isinstance(key, str) or not key:
            raise CheckpointError(f"{source}: NNX path {key!r} is not a non-empty string")
        leaves.append(Leaf("nnx", "", key, layout.as_array(value, source, key)))
    for key, value in (residual or {}).items():
        if not (isinstance(key, tuple) and len(key) == 2 and all(isinstance(k, str) for k in key)):
            raise CheckpointError(f"{source}: residual key {key!r} is not (module, leaf)")
        array = layout.as_array(value, source, "/".join(key))
        leaves.append(Leaf("residual", key[0], key[1], array))
    return leaves


def write_nnx_checkpoint(
    path: PathLike, flat: Mapping[str, object],
    residual: Mapping[HaikuKey, object] | None = None, overwrite: bool = False,
    *, fmt: str | None = None,
) -> Path:
    """Writes NNX-side weights atomically as .safetensors, .npz or an orbax directory (a path
    with no extension); `residual` keeps Haiku leaves NNX has no place for, for the way back."""
    return _write(path, nnx_leaves(flat, residual, str(path)), "nnx", overwrite, fmt)


def detect_format(path: PathLike, side: Side = "haiku") -> str:
    """The format name an existing checkpoint path would be read with."""
    return registry.for_reading(Path(path), side).name
