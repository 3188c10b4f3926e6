"""The sizes NNX needs at construction that Haiku infers at the first call, read from a trace.

Compat classes take Haiku's constructor arguments under Haiku's names, plus these eager
arguments (`input_size`, `num_features`, ...). The converter reads them here, from the leaf
shapes and call inputs a trace records, so a compat layer can be written without running code.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping

from hk2nnx.program.build import relative_ref
from hk2nnx.program.model import Program, TensorSpec


@dataclasses.dataclass(frozen=True)
class LayerView:
    """What a trace knows about one Haiku layer instance."""

    leaves: Mapping[str, TensorSpec]  # relative ref -> spec, stacked axes removed
    inputs: tuple[TensorSpec | None, ...]  # first __call__'s positional inputs (None: static)

    def shape(self, ref: str) -> tuple[int, ...]:
        return self.leaves[ref].shape


def _first_input(view: LayerView) -> TensorSpec:
    if not view.inputs or view.inputs[0] is None:
        raise ValueError("the trace recorded no array input for this layer")
    return view.inputs[0]


EAGER: dict[str, Callable[[LayerView], dict[str, object]]] = {
    "BatchNorm": lambda v: {"num_features": math.prod(v.shape("~/mean_ema/average"))},
    "ExponentialMovingAverage": lambda v: {"shape": v.shape("hidden"),
                                           "dtype": v.leaves["hidden"].dtype},
    "Bias": lambda v: {"input_size": _first_input(v).shape[1:]},
    "Embed": lambda v: dict(zip(("vocab_size", "embed_dim"), v.shape("embeddings"))),
    "LSTM": lambda v: {"input_size": v.shape("linear/w")[0] - v.shape("linear/w")[1] // 4},
    "GRU": lambda v: {"input_size": v.shape("w_i")[0]},
    "VanillaRNN": lambda v: {"input_size": v.shape("linear/w")[0]},
    "MultiHeadAttention": lambda v: {"in_features": v.shape("query/w")[0],
                                     "key_features": v.shape("key/w")[0],
                                     "value_features": v.shape("value/w")[0]},
    "SpectralNorm": lambda v: {"shape": v.shape("u0")},
    "VectorQuantizer": lambda v: {},
    "VectorQuantizerEMA": lambda v: {},
}


def layer_view(program: Program, layer_path: str) -> LayerView:
    """The leaves under `layer_path` (by relative ref) and its first call's inputs."""
    leaves = {}
    for v in program.variables:
        if v.module == layer_path or v.module.startswith(layer_path + "/"):
            ref = relative_ref(layer_path, v.module, v.name)
            leaves[ref] = TensorSpec(v.spec.shape[v.stacked:], v.spec.dtype)
    call = next((c for c in program.calls
                 if c.module == layer_path and c.method == "__call__"), None)
    return LayerView(leaves, tuple(_spec_or_none(t) for t in (call.inputs if call else ())))


def _spec_or_none(text: str) -> TensorSpec | None:
    try:
        return TensorSpec.parse(text)
    except ValueError:
        return None


def eager_arguments(compat_class: str, program: Program, layer_path: str) -> dict[str, object]:
    """The eager keyword arguments of `compat_class` for the Haiku layer at `layer_path`."""
    if compat_class not in EAGER:
        raise ValueError(f"no eager arguments known for {compat_class}; known: "
                         f"{', '.join(EAGER)}")
    return EAGER[compat_class](layer_view(program, layer_path))
