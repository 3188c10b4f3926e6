"""Leaves known by name, shape and dtype before their data is read, and their bytes in chunks.

A streaming port plans from `LazyLeaf`s (the file's header says everything but the values), then
reads each array when its move runs and drops it after writing. A leaf whose bytes go to the
output unchanged (a rename or reshape) is copied chunk by chunk through one small buffer and is
never held whole. Writers receive `Slot`s (what will be written) up front, then payloads in order.
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Callable, Iterator
from typing import IO

import numpy as np

from hk2nnx.port.formats.errors import CheckpointError
from hk2nnx.port.formats.layout import Kind, Leaf
from hk2nnx.port.formats.spans import DIRECT, Span, copy_span

CHUNK = 8 << 20  # bytes per read or write of a streamed array


@dataclasses.dataclass(frozen=True, eq=False)
class Slot:
    """One leaf of a checkpoint, without its values: where it belongs, its shape and dtype."""

    kind: Kind
    module: str
    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    origin: int | None = None  # offset of bytes copied through from a source file (alignment)

    @property
    def label(self) -> str:
        return self.name if self.kind == "nnx" else f"{self.module}/{self.name}"

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize

    @classmethod
    def of(cls, leaf: Leaf) -> Slot:
        return cls(leaf.kind, leaf.module, leaf.name, tuple(leaf.array.shape), leaf.array.dtype)


@dataclasses.dataclass(frozen=True, eq=False)
class LazyLeaf(Slot):
    """A source leaf: `load()` reads the array; `raw()`, where the format allows, yields its
    C-order bytes chunk by chunk (checked as `load` would check them)."""

    load: Callable[[], np.ndarray] = dataclasses.field(repr=False, default=None)  # type: ignore
    raw: Callable[[], Iterator[memoryview]] | None = dataclasses.field(repr=False, default=None)
    span: Span | None = dataclasses.field(repr=False, default=None)  # where the bytes lie

    def chunks(self) -> Iterator[memoryview]:
        return self.raw() if self.raw is not None else array_chunks(self.load())


def eager(kind: Kind, module: str, name: str, value: object) -> LazyLeaf:
    """A leaf already in memory (pickle, msgpack, orbax, or a caller's tree)."""
    array = np.asarray(value)
    return LazyLeaf(kind, module, name, tuple(array.shape), array.dtype, load=lambda: array)


def eager_leaf(leaf: Leaf) -> LazyLeaf:
    return eager(leaf.kind, leaf.module, leaf.name, leaf.array)


Payload = np.ndarray | LazyLeaf


def payload_array(payload: Payload, slot: Slot) -> np.ndarray:
    """The payload as an array of the slot's shape (a pass-through leaf may be a reshape)."""
    array = payload if isinstance(payload, np.ndarray) else payload.load()
    return array.reshape(slot.shape) if tuple(array.shape) != slot.shape else array


def payload_chunks(payload: Payload) -> Iterator[memoryview]:
    return array_chunks(payload) if isinstance(payload, np.ndarray) else payload.chunks()


def array_chunks(array: np.ndarray) -> Iterator[memoryview]:
    """The C-order bytes of `array`, at most CHUNK at a time; only strided arrays are copied,
    one chunk at a time."""
    if array.size == 0:
        return
    if array.flags.c_contiguous:
        flat = memoryview(array.reshape(-1).view(np.uint8))
        for start in range(0, len(flat), CHUNK):
            yield flat[start: start + CHUNK]
        return
    if array.dtype.itemsize not in (1, 2, 4, 8):
        yield memoryview(np.ascontiguousarray(array).reshape(-1).view(np.uint8))
        return
    bits = array.view(np.dtype(f"u{array.dtype.itemsize}"))
    for block in np.nditer(bits, flags=["external_loop", "buffered", "zerosize_ok"],
                           buffersize=max(1, CHUNK // array.dtype.itemsize), order="C"):
        yield memoryview(np.ascontiguousarray(block).view(np.uint8))


def file_chunks(handle: IO[bytes], offset: int, nbytes: int, source: str) -> Iterator[memoryview]:
    """`nbytes` bytes of an open file from `offset`, read into one reused buffer; each chunk is
    valid until the next one is asked for."""
    view = memoryview(bytearray(min(CHUNK, nbytes)))
    handle.seek(offset)
    left = nbytes
    while left:
        got = handle.readinto(view[: min(left, len(view))])
        if not got:
            raise CheckpointError(f"{source}: ends {left} bytes early; the file is truncated")
        yield view[:got]
        left -= got


def write_payload(handle: IO[bytes], payload: Payload, slot: Slot, source: str,
                  checksum: bool = False, direct: bool = False) -> int:
    """Writes the payload's bytes; returns their CRC-32 (0 unless `checksum`). A payload of the
    wrong size is refused: the slot's shape and dtype were promised to the file's header. With
    `direct` (`handle` is a real file), bytes lying in a source file are copied by the kernel."""
    if (direct and DIRECT and isinstance(payload, LazyLeaf) and payload.span is not None
            and payload.span.nbytes == slot.nbytes):
        return copy_span(payload.span, handle, checksum)
    written = crc = 0
    for chunk in payload_chunks(payload):
        handle.write(chunk)
        written += len(chunk)
        if checksum:
            crc = zlib.crc32(chunk, crc)
    if written != slot.nbytes:
        raise CheckpointError(f"{source}: {slot.label}: {written} bytes of data where "
                              f"{slot.dtype.name}{list(slot.shape)} needs {slot.nbytes}")
    return crc
