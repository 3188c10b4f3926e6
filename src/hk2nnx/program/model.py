"""The shared model of a Haiku program: what trace records and convert, port and verify read."""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Literal

import numpy as np

Collection = Literal["params", "state"]

_SHORT_DTYPES = {
    "float64": "f64", "float32": "f32", "float16": "f16", "bfloat16": "bf16",
    "int64": "i64", "int32": "i32", "int16": "i16", "int8": "i8",
    "uint64": "u64", "uint32": "u32", "uint16": "u16", "uint8": "u8",
    "bool": "bool", "complex64": "c64", "complex128": "c128",
}
_LONG_DTYPES = {short: long for long, short in _SHORT_DTYPES.items()}


@dataclasses.dataclass(frozen=True)
class TensorSpec:
    """Shape and dtype of one array, printed the way Haiku's summaries do (`f32[1,10]`)."""

    shape: tuple[int, ...]
    dtype: str

    @classmethod
    def of(cls, value: Any) -> TensorSpec:
        return cls(tuple(int(d) for d in value.shape), np.dtype(value.dtype).name)

    @classmethod
    def parse(cls, text: str) -> TensorSpec:
        """Parses `f32[1,784]`; raises ValueError with the accepted form otherwise."""
        text = text.strip()
        head, sep, rest = text.partition("[")
        if not sep or not rest.endswith("]"):
            raise ValueError(f"cannot parse spec {text!r}: expected dtype[shape], e.g. f32[1,784]")
        dtype = _LONG_DTYPES.get(head, head)
        try:
            dtype = np.dtype(dtype).name if dtype != "bfloat16" else "bfloat16"
        except TypeError:
            raise ValueError(f"cannot parse spec {text!r}: unknown dtype {head!r}") from None
        body = rest[:-1].strip()
        try:
            shape = tuple(int(d) for d in body.split(",") if d.strip()) if body else ()
        except ValueError:
            raise ValueError(f"cannot parse spec {text!r}: shape must be integers") from None
        if any(d < 0 for d in shape):
            raise ValueError(f"cannot parse spec {text!r}: negative dimension")
        return cls(shape, dtype)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1

    def __str__(self) -> str:
        return f"{_SHORT_DTYPES.get(self.dtype, self.dtype)}[{','.join(map(str, self.shape))}]"


@dataclasses.dataclass(frozen=True)
class ModuleRecord:
    """One Haiku module instance as the trace saw it."""

    path: str  # Haiku module name, e.g. "model/~/block/linear_1"
    cls: str  # qualified class name, e.g. "haiku.Linear" or "my_pkg.models.Block"
    bases: tuple[str, ...]  # qualified names along the MRO, for mapping subclasses of layers
    args: tuple[str, ...]  # constructor positional arguments, as repr()
    kwargs: tuple[tuple[str, str], ...]  # constructor keyword arguments, as repr()
    attrs: tuple[tuple[str, str], ...]  # all constructor arguments bound by name, defaults included
    parent: str | None  # Haiku path of the enclosing module, None at top level
    nnx_path: str  # attribute path in NNX, e.g. "block.linear_1"; "" for the root
    stacked: int = 0  # leading axes added by layer_stack around this module


@dataclasses.dataclass(frozen=True)
class VariableRecord:
    """One parameter or state leaf: where Haiku keeps it and where NNX will."""

    module: str  # Haiku module name that owns it ("~" for top-level functions)
    name: str  # Haiku leaf name; need not be an identifier
    collection: Collection
    spec: TensorSpec  # full shape, stacked axes included
    init: str | None  # initializer description, e.g. "TruncatedNormal(stddev=0.5)"
    nnx_path: str  # e.g. "block.linear.kernel"
    stacked: int = 0  # leading axes added by layer_stack

    @property
    def haiku_key(self) -> tuple[str, str]:
        return (self.module, self.name)


@dataclasses.dataclass(frozen=True)
class CallRecord:
    """One method call on a module, with abstract inputs and outputs."""

    module: str
    method: str
    inputs: tuple[str, ...]  # TensorSpec strings or repr of static values
    outputs: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class TransformRecord:
    """A Haiku transform seen around modules: layer_stack, scan, vmap, remat, lift."""

    kind: str
    scope: str  # Haiku path prefix the transform applies to ("" for unknown)
    detail: str = ""


@dataclasses.dataclass(frozen=True)
class Program:
    """Everything known about one Haiku program, and the naming scheme that maps it to NNX."""

    modules: tuple[ModuleRecord, ...]
    variables: tuple[VariableRecord, ...]
    calls: tuple[CallRecord, ...] = ()
    rng_users: tuple[str, ...] = ()  # module paths that drew RNG keys ("~" at top level)
    transforms: tuple[TransformRecord, ...] = ()
    methods: tuple[str, ...] = ("__call__",)  # apply methods (several for multi_transform)
    inputs: tuple[str, ...] = ()
    root: str | None = None  # the single top-level module stripped from NNX paths, if any

    @property
    def stack_scopes(self) -> frozenset[str]:
        """Haiku path prefixes made by layer_stack, named or not: each adds one stacked axis."""
        return frozenset(t.scope for t in self.transforms if t.kind == "layer_stack")

    def module(self, path: str) -> ModuleRecord | None:
        return next((m for m in self.modules if m.path == path), None)

    def variable(self, module: str, name: str) -> VariableRecord | None:
        return next((v for v in self.variables if v.module == module and v.name == name), None)

    def by_nnx_path(self) -> dict[str, VariableRecord]:
        return {v.nnx_path: v for v in self.variables}

    @property
    def params(self) -> tuple[VariableRecord, ...]:
        return tuple(v for v in self.variables if v.collection == "params")

    @property
    def state(self) -> tuple[VariableRecord, ...]:
        return tuple(v for v in self.variables if v.collection == "state")

    def parameter_count(self, prefix: str = "") -> int:
        return sum(
            v.spec.size
            for v in self.params
            if not prefix or v.module == prefix or v.module.startswith(prefix + "/")
        )

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=1, sort_keys=False, default=str)
