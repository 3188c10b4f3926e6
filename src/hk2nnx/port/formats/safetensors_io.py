"""The .safetensors format, read and written one tensor at a time.

Reading: `safe_open` checks the header against the file (offsets, sizes); each tensor is then
read from its byte range only when asked for, or copied through in chunks. Writing: the header
(every name, dtype, shape and offset) comes first, from the slots, then each tensor's bytes as
they arrive. safetensors has no checksum, so files we write carry a CRC-32 per tensor in the
metadata key `hk2nnx_crc32` (JSON), checked on read: a flipped byte in our own files is an error,
not silently different weights. The CRCs are known only at the end, so the header is first
written with room for the widest values, then rewritten in place, padded with spaces (allowed).
"""

from __future__ import annotations

import contextlib
import json
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

import numpy as np
from safetensors import SafetensorError, TensorSpec, safe_open

from hk2nnx.port.formats import dtypes, sinks
from hk2nnx.port.formats.errors import CheckpointError, reading
from hk2nnx.port.formats.flatkeys import FlatDecoder, FlatEncoder
from hk2nnx.port.formats.layout import Leaf, Side
from hk2nnx.port.formats.lazy import LazyLeaf, Payload, Slot, file_chunks, write_payload
from hk2nnx.port.formats.spans import Span

META_CRC = "hk2nnx_crc32"
_WIDEST_CRC = 0xFFFFFFFF
_PAGE = 4096


def _code(dtype: np.dtype) -> str:
    """safetensors' name for a dtype; the library refuses the ones the format lacks."""
    return TensorSpec(dtype=dtype.name, shape=[0], data_ptr=0, data_len=0).dtype


def _dtypes_by_code() -> dict[str, np.dtype]:
    out = {}
    for name in sorted(dtypes.ALLOWED_NAMES):
        dtype = dtypes.EXTENDED[name] if name in dtypes.EXTENDED else np.dtype(name)
        with contextlib.suppress(SafetensorError):  # no safetensors code (complex128, int4, ...)
            out[_code(dtype)] = dtype
    return out


_DTYPE_OF = _dtypes_by_code()


def _crcs(meta: dict[str, str], source: str) -> dict[str, int]:
    try:
        crcs = json.loads(meta.get(META_CRC, "{}"))
    except ValueError:
        raise CheckpointError(f"{source}: metadata {META_CRC} is not JSON") from None
    return crcs if isinstance(crcs, dict) else {}


def _corrupt(source: str, key: str) -> CheckpointError:
    return CheckpointError(f"{source}: tensor {key!r} fails its CRC-32 check; the file is "
                           "corrupted")


def _read_exact(handle: IO[bytes], offset: int, nbytes: int, source: str) -> bytearray:
    buffer = bytearray(nbytes)
    view, got = memoryview(buffer), 0
    handle.seek(offset)
    while got < nbytes:
        n = handle.readinto(view[got:])
        if not n:
            raise CheckpointError(f"{source}: ends {nbytes - got} bytes early; the file is "
                                  "truncated")
        got += n
    return buffer


def _lazy(handle: IO[bytes], decoder: FlatDecoder, key: str, entry: dict, start: int,
          crc: int | None, source: str) -> LazyLeaf:
    dtype = _DTYPE_OF.get(entry["dtype"])
    if dtype is None:
        raise CheckpointError(f"{source}: {key} has dtype {entry['dtype']}; checkpoints hold "
                              f"only {', '.join(sorted(dtypes.ALLOWED_NAMES))}")
    shape = tuple(entry["shape"])
    begin, end = (start + offset for offset in entry["data_offsets"])

    def load() -> np.ndarray:
        with reading(source, "safetensors"):
            data = _read_exact(handle, begin, end - begin, source)
        array = np.frombuffer(data, np.uint8).view(dtype).reshape(shape)
        if crc is not None and zlib.crc32(data) != crc:
            raise _corrupt(source, key)
        return array

    def raw() -> Iterator[memoryview]:
        running = 0
        with reading(source, "safetensors"):
            for chunk in file_chunks(handle, begin, end - begin, source):
                running = zlib.crc32(chunk, running) if crc is not None else 0
                yield chunk
        if crc is not None and running != crc:
            raise _corrupt(source, key)

    return LazyLeaf(*decoder.place(key), shape, dtype, load=load, raw=raw,
                    span=Span(handle, begin, end - begin, crc, source, key))


@contextlib.contextmanager
def open_leaves(path: Path, side: Side) -> Iterator[list[LazyLeaf]]:
    """Every tensor's name, shape and dtype from the header; data is read when asked for."""
    source = str(path)
    with reading(source, "safetensors"):
        with safe_open(str(path), framework="np") as handle:  # checks offsets against the file
            meta = handle.metadata() or {}
            keys = list(handle.keys())
        with open(path, "rb") as handle:
            size = int.from_bytes(handle.read(8), "little")
            header = json.loads(handle.read(size))
    decoder = FlatDecoder.for_file(keys, meta, side, source)
    crcs = _crcs(meta, source)
    with open(path, "rb", buffering=0) as handle:
        yield [_lazy(handle, decoder, key, header[key], 8 + size, crcs.get(key), source)
               for key in keys]


def read_leaves(path: Path, side: Side) -> Iterator[Leaf]:
    with open_leaves(path, side) as lazies:
        yield from sinks.loaded(lazies)


def _aligned_size(size: int, slots: list[Slot], entries: dict, keys: list[str]) -> int:
    """A header size (>= `size`, a multiple of 8) that puts the largest copied-through tensor at
    the same place within a page as in its source file: the kernel copies it page by page,
    markedly faster than across page boundaries. Trailing spaces pad the header."""
    through = [(slot.nbytes, i) for i, slot in enumerate(slots) if slot.origin is not None]
    if not through:
        return size
    _, i = max(through)
    start = 8 + entries[keys[i]]["data_offsets"][0]
    pad = (slots[i].origin - start - size) % _PAGE
    return size + pad if pad % 8 == 0 else size


class SafetensorsSink(sinks.Sink):
    """Header first (with room for the CRCs), then each tensor's bytes as they come."""

    def __init__(self, tmp: Path, slots: list[Slot], side: Side, source: str) -> None:
        super().__init__(tmp, slots, side, source)
        encoder = FlatEncoder(side, source)
        self.keys = [encoder.key(slot) for slot in slots]
        self.entries, offset = {}, 0
        for key, slot in zip(self.keys, slots):
            self.entries[key] = {"dtype": _code(slot.dtype), "shape": list(slot.shape),
                                 "data_offsets": [offset, offset + slot.nbytes]}
            offset += slot.nbytes
        self.meta = encoder.meta()
        self.crcs: dict[str, int] = {}
        placeholder = self._header(dict.fromkeys(self.keys, _WIDEST_CRC))
        self.size = _aligned_size(len(placeholder), slots, self.entries, self.keys)
        self.handle = open(tmp, "wb")  # noqa: SIM115  (closed by finish or abandon)
        self.handle.write(self.size.to_bytes(8, "little") + placeholder.ljust(self.size))

    def _header(self, crcs: dict[str, int]) -> bytes:
        meta = {**self.meta, META_CRC: json.dumps(crcs)}
        blob = json.dumps({"__metadata__": meta, **self.entries}, separators=(",", ":")).encode()
        return blob + b" " * (-len(blob) % 8)

    def write(self, slot: Slot, payload: Payload) -> None:
        key = self.keys[self.done]
        self.crcs[key] = write_payload(self.handle, payload, slot, self.source, checksum=True,
                                       direct=True)

    def finish(self) -> None:
        with self.handle:
            self.handle.seek(8)
            self.handle.write(self._header(self.crcs).ljust(self.size))

    def abandon(self) -> None:
        self.handle.close()


def write_leaves(tmp: Path, leaves: Iterable[Leaf], side: Side, source: str) -> None:
    sinks.write_all(SafetensorsSink, tmp, leaves, side, source)
