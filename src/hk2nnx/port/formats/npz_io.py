"""The .npz format, read and written member by member so no archive is held twice in memory.

Each member's shape and dtype come from its .npy header without reading the data; a member whose
bytes go to the output unchanged is copied through in chunks.

numpy cannot describe bfloat16 and the other ml_dtypes in a .npy header, so files we write store
those arrays' raw bits as unsigned integers and name the real dtype in the metadata member
`__hk2nnx_meta__` (a JSON string array, loadable without pickle). Foreign files that saved
bfloat16 with plain `np.savez` hold 2-byte void arrays (`|V2`); those are read as bfloat16, the
only 2-byte dtype numpy lacks.
"""

from __future__ import annotations

import contextlib
import json
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

import numpy as np

from hk2nnx.port.formats import dtypes, layout, sinks
from hk2nnx.port.formats.errors import CheckpointError, reading
from hk2nnx.port.formats.flatkeys import FlatDecoder, FlatEncoder
from hk2nnx.port.formats.layout import Leaf, Side
from hk2nnx.port.formats.lazy import CHUNK, LazyLeaf, Payload, Slot, write_payload

META_MEMBER = "__hk2nnx_meta__"
META_DTYPES = "hk2nnx_dtypes"  # JSON {key: dtype name} for arrays stored as raw bits
_VOID_AS = {2: "bfloat16"}


def _meta(archive: np.lib.npyio.NpzFile, source: str) -> dict[str, str]:
    if META_MEMBER not in archive.files:
        return {}
    meta = json.loads(str(archive[META_MEMBER][()]))
    if not isinstance(meta, dict):
        raise CheckpointError(f"{source}: member {META_MEMBER} is not a JSON object")
    return meta


def _decode(array: np.ndarray, stored: str | None, source: str, key: str) -> np.ndarray:
    """Undoes the raw-bits storage of extended dtypes; then the usual dtype check."""
    name = stored or (_VOID_AS.get(array.dtype.itemsize) if array.dtype.kind == "V"
                      and array.dtype.fields is None else None)
    if name is not None:
        if name not in dtypes.EXTENDED:
            raise CheckpointError(f"{source}: {key!r} claims unknown dtype {name!r}")
        array = array.view(dtypes.EXTENDED[name])
    return layout.as_array(array, source, key)


def _member_header(handle: IO[bytes]) -> tuple[tuple[int, ...], bool, np.dtype]:
    """(shape, fortran_order, dtype) from a .npy member's header; leaves `handle` at the data."""
    version = np.lib.format.read_magic(handle)
    read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
            else np.lib.format.read_array_header_2_0)
    return read(handle)


def _lazy(archive: np.lib.npyio.NpzFile, decoder: FlatDecoder, key: str, stored: str | None,
          source: str) -> LazyLeaf:
    member = key + ".npy" if key + ".npy" in archive.zip.NameToInfo else key
    with archive.zip.open(member) as handle:
        shape, fortran, dtype = _member_header(handle)
    real = _decode(np.empty(0, dtype), stored, source, key).dtype

    def load() -> np.ndarray:
        with reading(source, "npz"):
            return _decode(archive[key], stored, source, key)

    def raw() -> Iterator[memoryview]:
        """The member's bytes after its header, as stored (C order, native byte order)."""
        with reading(source, "npz"), archive.zip.open(member) as handle:
            _member_header(handle)
            while chunk := handle.read(CHUNK):
                yield memoryview(chunk)

    same_bytes = not fortran and dtype.isnative and not dtype.hasobject
    return LazyLeaf(*decoder.place(key), tuple(shape), real, load=load,
                    raw=raw if same_bytes else None)


@contextlib.contextmanager
def open_leaves(path: Path, side: Side) -> Iterator[list[LazyLeaf]]:
    """Every member's name, shape and dtype from its .npy header; data is read when asked for."""
    source = str(path)
    with reading(source, "npz"):
        archive = np.load(path, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise CheckpointError(f"{source}: holds a single array (.npy), not a named archive")
    with archive:
        with reading(source, "npz"):
            keys = [k for k in archive.files if k != META_MEMBER]
            meta = _meta(archive, source)
            decoder = FlatDecoder.for_file(keys, meta, side, source)
            stored = json.loads(meta.get(META_DTYPES, "{}"))
            lazies = [_lazy(archive, decoder, key, stored.get(key), source) for key in keys]
        yield lazies


def read_leaves(path: Path, side: Side) -> Iterator[Leaf]:
    with open_leaves(path, side) as lazies:
        yield from sinks.loaded(lazies)


def _header(archive_member: IO[bytes], dtype: np.dtype, shape: tuple[int, ...]) -> None:
    header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False,
              "shape": shape}
    try:
        np.lib.format.write_array_header_1_0(archive_member, header)
    except ValueError:  # a header too long for version 1.0
        np.lib.format.write_array_header_2_0(archive_member, header)


class NpzSink(sinks.Sink):
    """Each leaf becomes a member as it arrives; the metadata member comes last."""

    def __init__(self, tmp: Path, slots: list[Slot], side: Side, source: str) -> None:
        super().__init__(tmp, slots, side, source)
        self.encoder = FlatEncoder(side, source)
        self.extended: dict[str, str] = {}
        self.archive = zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED, allowZip64=True)

    def write(self, slot: Slot, payload: Payload) -> None:
        key, dtype = self.encoder.key(slot), slot.dtype
        if dtypes.is_extended(dtype):
            self.extended[key] = dtype.name
            dtype = dtypes.bits_dtype(dtype)
        with self.archive.open(key + ".npy", "w", force_zip64=True) as handle:
            _header(handle, dtype, slot.shape)
            write_payload(handle, payload, slot, self.source)

    def finish(self) -> None:
        with self.archive:
            meta = {**self.encoder.meta(), META_DTYPES: json.dumps(self.extended)}
            with self.archive.open(META_MEMBER + ".npy", "w") as handle:
                np.lib.format.write_array(handle, np.array(json.dumps(meta)), allow_pickle=False)

    def abandon(self) -> None:
        self.archive.close()


def write_leaves(tmp: Path, leaves: Iterable[Leaf], side: Side, source: str) -> None:
    sinks.write_all(NpzSink, tmp, leaves, side, source)
