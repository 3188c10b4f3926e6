"""The array dtypes a checkpoint may hold, by name, shared by every format and the pickle guard."""

from __future__ import annotations

import ml_dtypes
import numpy as np

NATIVE_NAMES = (
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float16", "float32", "float64", "complex64", "complex128",
)
# numpy has no native codes for these; files that cannot describe them store their raw bits.
EXTENDED_NAMES = (
    "bfloat16", "float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz",
    "float8_e4m3b11fnuz", "int4", "uint4",
)
EXTENDED: dict[str, np.dtype] = {
    name: np.dtype(getattr(ml_dtypes, name)) for name in EXTENDED_NAMES if hasattr(ml_dtypes, name)
}
ALLOWED_NAMES = frozenset(NATIVE_NAMES) | frozenset(EXTENDED)


def is_allowed(dtype: np.dtype) -> bool:
    """Plain numeric or bool, no fields, no objects: data that cannot carry code."""
    return dtype.fields is None and not dtype.hasobject and dtype.name in ALLOWED_NAMES


def is_extended(dtype: np.dtype) -> bool:
    return dtype.name in EXTENDED and dtype == EXTENDED[dtype.name]


def bits_dtype(dtype: np.dtype) -> np.dtype:
    """The unsigned integer dtype of the same width, to store an extended dtype's raw bits."""
    return np.dtype(f"<u{dtype.itemsize}")


def to_native_order(array: np.ndarray) -> np.ndarray:
    """Big-endian arrays (old pickles) become native order with identical values."""
    if array.dtype.byteorder not in (">", "<") or array.dtype.isnative:
        return array
    return array.astype(array.dtype.newbyteorder("="))


def describe(dtype: np.dtype) -> str:
    return dtype.str if dtype.name.startswith("void") else dtype.name
