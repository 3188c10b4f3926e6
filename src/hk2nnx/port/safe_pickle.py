"""Loads pickled checkpoints as plain data only, refusing any global that is not an array builder.

A pickle runs whatever callables it names, so `pickle.load` on a downloaded checkpoint runs the
downloader's code. Here every global the pickle asks for goes through `find_class`, which hands
out only the data builders below (numpy arrays, dtypes and scalars, jax arrays rebuilt as numpy,
`OrderedDict` as `dict`), each wrapped so it rejects object and structured dtypes. Anything else
raises UnsafePickleError before it is called. Each lookup returns a fresh wrapper, so a pickle's
BUILD opcode can never alter a shared type or function, and the loaded tree is checked once more
so no object array can slip through a dtype's `__setstate__`.
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from hk2nnx.port.formats import dtypes
from hk2nnx.port.formats.errors import CheckpointError, UnsafePickleError, short_reason

_ALLOWED_TEXT = "only arrays, numbers, strings, lists, tuples and dicts are allowed"
_JAX_HINT = "; convert jax values with np.asarray (or jax.device_get) before pickling"


class _Refused(Exception):
    """Raised inside the unpickler; `load` turns it into UnsafePickleError naming the file."""


class _Token:
    """A named stand-in for a class (`numpy.ndarray`, `ml_dtypes.bfloat16`): never callable."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


class _Builder:
    """A fresh callable per lookup, so no shared function object is ever handed to a pickle."""

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn

    def __call__(self, *args: Any) -> Any:
        return self.fn(*args)


def _dtype(obj: Any, align: bool = False, copy: bool = True) -> np.dtype:
    """Always a private copy: BUILD then sets state on it, never on numpy's shared float32."""
    if isinstance(obj, (str, bytes)):
        spec: Any = obj.decode("latin-1") if isinstance(obj, bytes) else obj
    elif isinstance(obj, _Token) and obj.name in dtypes.EXTENDED:
        spec = dtypes.EXTENDED[obj.name]
    else:
        raise _Refused(f"a numpy dtype built from {type(obj).__name__}")
    try:
        result = np.dtype(spec, False, True)
    except TypeError:
        raise _Refused(f"an unknown numpy dtype {spec!r}") from None
    if not dtypes.is_allowed(result):
        raise _Refused(f"a numpy array of dtype {dtypes.describe(result)}")
    return result


def _checked_shape(shape: Any) -> tuple[int, ...]:
    if not isinstance(shape, (tuple, list)) or not all(isinstance(d, int) for d in shape):
        raise _Refused("a numpy array with a non-integer shape")
    return tuple(shape)


def _reconstruct(subtype: Any, shape: Any, code: Any) -> np.ndarray:
    """numpy's own `_reconstruct` for plain ndarrays; the data arrives later via `__setstate__`."""
    if not isinstance(subtype, _Token) or subtype.name != "ndarray":
        raise _Refused(f"an array of class {getattr(subtype, 'name', type(subtype).__name__)}")
    return np.ndarray(_checked_shape(shape), dtype=_dtype(code))


def _frombuffer(buf: Any, dtype: Any, shape: Any, order: str, axis_order: Any = None) -> np.ndarray:
    """numpy's protocol-5 array builder, for `pickle.dumps(x, protocol=5)`."""
    if not isinstance(dtype, np.dtype) or not dtypes.is_allowed(dtype):
        raise _Refused(f"a numpy array of dtype {dtype!r}")
    if not isinstance(buf, (bytes, bytearray)) or order not in ("C", "F", "K"):
        raise _Refused("a numpy array from a non-bytes buffer")
    array = np.frombuffer(buf, dtype=dtype)
    if order == "K" and axis_order is not None:
        return array.reshape(_checked_shape(shape), order="C").transpose(axis_order)
    return array.reshape(_checked_shape(shape), order="F" if order == "F" else "C")


def _scalar(dtype: Any, data: Any) -> np.generic:
    if not isinstance(dtype, np.dtype) or not dtypes.is_allowed(dtype):
        raise _Refused(f"a numpy scalar of dtype {dtype!r}")
    raw = data.encode("latin-1") if isinstance(data, str) else data
    if not isinstance(raw, bytes) or len(raw) != dtype.itemsize:
        raise _Refused("a numpy scalar with malformed data")
    return np.frombuffer(raw, dtype=dtype)[0]


def _jax_array(fun: Any, args: Any, arr_state: Any, aval_state: Any) -> np.ndarray:
    """jax pickles arrays as numpy `_reconstruct` + state; rebuild that as numpy, skip devices."""
    if getattr(fun, "fn", None) is not _reconstruct or not isinstance(args, tuple) \
            or not isinstance(aval_state, dict):
        raise _Refused("a jax array built from something other than numpy data")
    array = _reconstruct(*args)
    array.__setstate__(arr_state)
    return array


def _codecs_encode(text: Any, encoding: str = "utf-8") -> bytes:
    """Protocol 0-2 pickles spell bytes as `_codecs.encode(text, 'latin1')`; nothing else."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise _Refused(f"_codecs.encode with encoding {encoding!r}")
    return text.encode("latin-1")


def _empty_bytes(*args: Any) -> bytes:
    """Protocol 0-2 spell `b""` as `bytes()`; with arguments bytes() could allocate at will."""
    if args:
        raise _Refused("bytes() with arguments")
    return b""


_NUMPY_CORES = ("numpy.core", "numpy._core")
# (module, name) -> a factory for what the pickle receives; each call makes a fresh object.
_SAFE_GLOBALS: dict[tuple[str, str], Callable[[], Any]] = {
    **{(f"{core}.multiarray", "_reconstruct"): lambda: _Builder(_reconstruct)
       for core in _NUMPY_CORES},
    **{(f"{core}.multiarray", "scalar"): lambda: _Builder(_scalar) for core in _NUMPY_CORES},
    **{(f"{core}.numeric", "_frombuffer"): lambda: _Builder(_frombuffer)
       for core in _NUMPY_CORES},
    ("numpy", "ndarray"): lambda: _Token("ndarray"),
    ("numpy", "dtype"): lambda: _Builder(_dtype),
    ("jax._src.array", "_reconstruct_array"): lambda: _Builder(_jax_array),
    ("_codecs", "encode"): lambda: _Builder(_codecs_encode),
    **{(builtins, "bytes"): lambda: _Builder(_empty_bytes)
       for builtins in ("builtins", "__builtin__")},
    ("collections", "OrderedDict"): lambda: dict,
    **{("ml_dtypes", name): (lambda name=name: _Token(name)) for name in dtypes.EXTENDED},
}


class RestrictedUnpickler(pickle.Unpickler):
    """An Unpickler whose `find_class` knows only the plain-data builders above."""

    def find_class(self, module: str, name: str) -> Any:
        factory = _SAFE_GLOBALS.get((module, name))
        if factory is None:
            hint = _JAX_HINT if module.split(".")[0] in ("jax", "jaxlib") else ""
            raise _Refused(f"'{module}.{name}'" + hint)
        return factory()

    def persistent_load(self, pid: Any) -> Any:
        raise _Refused("a persistent object reference")


_PLAIN = (str, bytes, int, float, complex, bool, type(None))


def _check_tree(root: Any) -> None:
    """Walks what was loaded: containers, plain scalars and allowed-dtype arrays only."""
    stack, seen = [root], set()
    while stack:
        node = stack.pop()
        if id(node) in seen or isinstance(node, _PLAIN):
            continue
        seen.add(id(node))
        if isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, (list, tuple)):
            stack.extend(node)
        elif isinstance(node, (np.ndarray, np.generic)):
            if not dtypes.is_allowed(node.dtype):
                raise _Refused(f"a numpy array of dtype {dtypes.describe(node.dtype)}")
        else:
            raise _Refused(f"an object of type {type(node).__name__}")


def loads(data: bytes, source: str = "<bytes>") -> Any:
    """Unpickles plain data from `data`; `source` names the file in error messages."""
    try:
        result = RestrictedUnpickler(io.BytesIO(data)).load()
        _check_tree(result)
    except _Refused as refused:
        raise UnsafePickleError(
            f"{source}: refused to load {refused} from the pickle ({_ALLOWED_TEXT}); "
            "nothing was executed") from None
    except RecursionError:
        raise CheckpointError(f"{source}: pickle nests too deeply to be a checkpoint") from None
    except Exception as err:  # any failure inside the unpickler means a damaged file
        raise CheckpointError(f"{source}: not a readable pickle ({short_reason(err)}); the file "
                              "is truncated or corrupted") from None
    return result


def load(path: str | Path) -> Any:
    """Reads a whole pickle file through `loads`; pickles cannot be streamed."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise CheckpointError(f"{path}: cannot read ({err.strerror or err})") from None
    return loads(data, str(path))


__all__ = ["RestrictedUnpickler", "UnsafePickleError", "load", "loads"]
