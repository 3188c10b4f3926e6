"""The .safetensors format: read one tensor at a time through `safe_open`, written in one call.

safetensors has no checksum, so files we write carry a CRC-32 per tensor in the metadata key
`hk2nnx_crc32` (JSON), checked on read: a flipped byte in our own files is an error, not silently
different weights. Writing hands the library pointers to the caller's arrays (no copy).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
from safetensors import TensorSpec, safe_open, serialize_file

from hk2nnx.port.formats import layout
from hk2nnx.port.formats.errors import CheckpointError, reading
from hk2nnx.port.formats.flatkeys import FlatDecoder, FlatEncoder
from hk2nnx.port.formats.layout import Leaf, Side

META_CRC = "hk2nnx_crc32"


def _contiguous(array: np.ndarray) -> np.ndarray:
    return array if array.flags.c_contiguous else array.copy(order="C")


def _crc(array: np.ndarray) -> int:
    return zlib.crc32(_contiguous(array).reshape(-1).view(np.uint8))


def _crcs(meta: dict[str, str], source: str) -> dict[str, int]:
    try:
        crcs = json.loads(meta.get(META_CRC, "{}"))
    except ValueError:
        raise CheckpointError(f"{source}: metadata {META_CRC} is not JSON") from None
    return crcs if isinstance(crcs, dict) else {}


def read_leaves(path: Path, side: Side) -> Iterator[Leaf]:
    source = str(path)
    with reading(source, "safetensors"), safe_open(str(path), framework="np") as handle:
        meta = handle.metadata() or {}
        keys = list(handle.keys())
        decoder = FlatDecoder.for_file(keys, meta, side, source)
        crcs = _crcs(meta, source)
        for key in keys:
            array = layout.as_array(handle.get_tensor(key), source, key)
            if key in crcs and _crc(array) != crcs[key]:
                raise CheckpointError(f"{source}: tensor {key!r} fails its CRC-32 check; the "
                                      "file is corrupted")
            yield decoder.leaf(key, array)


def write_leaves(tmp: Path, leaves: Iterable[Leaf], side: Side, source: str) -> None:
    encoder = FlatEncoder(side, source)
    arrays = {encoder.key(leaf): _contiguous(leaf.array) for leaf in leaves}
    specs = {key: TensorSpec(dtype=a.dtype.name, shape=list(a.shape), data_ptr=a.ctypes.data,
                             data_len=a.nbytes) for key, a in arrays.items()}
    crcs = {key: _crc(a) for key, a in arrays.items()}
    serialize_file(specs, str(tmp), metadata={**encoder.meta(), META_CRC: json.dumps(crcs)})
