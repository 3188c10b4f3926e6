"""The .npz format, read and written member by member so no archive is held twice in memory.

numpy cannot describe bfloat16 and the other ml_dtypes in a .npy header, so files we write store
those arrays' raw bits as unsigned integers and name the real dtype in the metadata member
`__hk2nnx_meta__` (a JSON string array, loadable without pickle). Foreign files that saved
bfloat16 with plain `np.savez` hold 2-byte void arrays (`|V2`); those are read as bfloat16, the
only 2-byte dtype numpy lacks.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

import numpy as np

from hk2nnx.port.formats import dtypes, layout
from hk2nnx.port.formats.errors import CheckpointError, reading
from hk2nnx.port.formats.flatkeys import FlatDecoder, FlatEncoder
from hk2nnx.port.formats.layout import Leaf, Side

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


def read_leaves(path: Path, side: Side) -> Iterator[Leaf]:
    source = str(path)
    with reading(source, "npz"):
        archive = np.load(path, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise CheckpointError(f"{source}: holds a single array (.npy), not a named archive")
    with archive, reading(source, "npz"):
        keys = [k for k in archive.files if k != META_MEMBER]
        meta = _meta(archive, source)
        decoder = FlatDecoder.for_file(keys, meta, side, source)
        stored = json.loads(meta.get(META_DTYPES, "{}"))
        for key in keys:
            yield decoder.leaf(key, _decode(archive[key], stored.get(key), source, key))


def _write_member(archive: zipfile.ZipFile, key: str, array: np.ndarray) -> None:
    handle: IO[bytes]
    with archive.open(key + ".npy", "w", force_zip64=True) as handle:
        np.lib.format.write_array(handle, array, allow_pickle=False)


def write_leaves(tmp: Path, leaves: Iterable[Leaf], side: Side, source: str) -> None:
    """Streams: each leaf becomes a member as it arrives; the metadata member comes last."""
    encoder = FlatEncoder(side, source)
    extended: dict[str, str] = {}
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        for leaf in leaves:
            key, array = encoder.key(leaf), leaf.array
            if dtypes.is_extended(array.dtype):
                extended[key] = array.dtype.name
                array = array.view(dtypes.bits_dtype(array.dtype))
            _write_member(archive, key, array)
        meta = {**encoder.meta(), META_DTYPES: json.dumps(extended)}
        _write_member(archive, META_MEMBER, np.array(json.dumps(meta)))
