"""The table of checkpoint formats, and which one a path means (by extension; a dir: orbax)."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

from hk2nnx.port.formats import msgpack_io, npz_io, orbax_io, pickle_io, safetensors_io
from hk2nnx.port.formats.errors import CheckpointError
from hk2nnx.port.formats.layout import Leaf, Side
from hk2nnx.port.formats.lazy import LazyLeaf, Slot, eager_leaf
from hk2nnx.port.formats.sinks import CollectSink, Sink

Reader = Callable[[Path, Side], Iterable[Leaf]]
Writer = Callable[[Path, Iterable[Leaf], Side, str], None]
Opener = Callable[[Path, Side], AbstractContextManager[list[LazyLeaf]]]
_BOTH: frozenset[Side] = frozenset(("haiku", "nnx"))
_HAIKU: frozenset[Side] = frozenset(("haiku",))
_NNX: frozenset[Side] = frozenset(("nnx",))


@dataclasses.dataclass(frozen=True)
class Format:
    """One checkpoint format: how to recognise it, and which sides it reads and writes."""

    name: str
    suffixes: tuple[str, ...]  # empty for directory formats
    read: Reader
    write: Writer
    reads: frozenset[Side]
    writes: frozenset[Side]
    lazy: Opener | None = None  # formats that can read one leaf at a time
    sink: type[Sink] | None = None  # formats that can write one leaf at a time

    def open_leaves(self, path: Path, side: Side) -> AbstractContextManager[list[LazyLeaf]]:
        """Leaves with shape and dtype known, data read on demand (or already in memory)."""
        return self.lazy(path, side) if self.lazy else _in_memory(self.read, path, side)

    def sink_for(self, tmp: Path, slots: list[Slot], side: Side, source: str) -> Sink:
        if self.sink is not None:
            return self.sink(tmp, slots, side, source)
        return CollectSink(tmp, slots, side, source, self.write)


@contextlib.contextmanager
def _in_memory(read: Reader, path: Path, side: Side) -> Iterator[list[LazyLeaf]]:
    yield [eager_leaf(leaf) for leaf in read(path, side)]


FORMATS: tuple[Format, ...] = (
    Format("safetensors", (".safetensors",), safetensors_io.read_leaves,
           safetensors_io.write_leaves, _BOTH, _BOTH, safetensors_io.open_leaves,
           safetensors_io.SafetensorsSink),
    Format("npz", (".npz",), npz_io.read_leaves, npz_io.write_leaves, _BOTH, _BOTH,
           npz_io.open_leaves, npz_io.NpzSink),
    Format("pickle", (".pkl", ".pickle"), pickle_io.read_leaves, pickle_io.write_leaves,
           _HAIKU, _HAIKU),
    Format("msgpack", (".msgpack", ".mpk"), msgpack_io.read_leaves, msgpack_io.write_leaves,
           _HAIKU, _HAIKU),
    Format("orbax", (), orbax_io.read_leaves, orbax_io.write_leaves, _BOTH, _NNX),
)
_BY_NAME = {f.name: f for f in FORMATS}
_BY_SUFFIX = {suffix: f for f in FORMATS for suffix in f.suffixes}


def _supported(side: Side, attr: str) -> str:
    names = [f"{f.name} ({', '.join(f.suffixes) or 'a directory'})" for f in FORMATS
             if side in getattr(f, attr)]
    return ", ".join(names)


def _pick(path: Path, fmt: str | None, directory: bool) -> Format | None:
    if fmt is not None:
        if fmt not in _BY_NAME:
            raise CheckpointError(f"{path}: unknown format {fmt!r}; known: {', '.join(_BY_NAME)}")
        return _BY_NAME[fmt]
    return _BY_NAME["orbax"] if directory else _BY_SUFFIX.get(path.suffix.lower())


def for_reading(path: Path, side: Side, fmt: str | None = None) -> Format:
    if not path.exists():
        raise CheckpointError(f"{path}: no such file or directory")
    found = _pick(path, fmt, path.is_dir())
    if found is None or side not in found.reads:
        raise CheckpointError(f"{path}: cannot read this as a {side.upper()}-side checkpoint; "
                              f"readable: {_supported(side, 'reads')}")
    return found


def for_writing(path: Path, side: Side, fmt: str | None = None) -> Format:
    """By extension; a path without one (or an existing directory) means an orbax directory."""
    found = _pick(path, fmt, path.is_dir() or not path.suffix)
    if found is None or side not in found.writes:
        raise CheckpointError(f"{path}: cannot write a {side.upper()}-side checkpoint here; "
                              f"writable: {_supported(side, 'writes')}")
    return found
